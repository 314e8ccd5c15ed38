import type { FakeImapServer } from '@twinbox/test-fake-imap';
import { afterEach } from 'vitest';
import type { ImapDriver } from '../src/index.js';

/**
 * The fake servers and drivers a test file opens, to push them into: after each test the drivers are
 * closed (a failed close ignored), then the servers stopped.
 */
export function closedAfterEach(): { servers: FakeImapServer[]; drivers: ImapDriver[] } {
  const servers: FakeImapServer[] = [];
  const drivers: ImapDriver[] = [];
  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close().catch(() => {});
    for (const s of servers.splice(0)) await s.stop();
  });
  return { servers, drivers };
}
