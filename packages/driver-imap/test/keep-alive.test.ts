import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { dovecot } from '@twinbox/test-dovecot/inject';
import { describe, expect, it } from 'vitest';
import { ImapDriver } from '../src/index.js';
import { freshAccount } from './helpers.js';

/** How many times `user` logged in, by the fixture's log. */
async function logins(user: string): Promise<number> {
  const log = await readFile(dovecot().logFile, 'utf8');
  return log.split('\n').filter((line) => line.includes('Login: user=<') && line.includes(`<${user}>`))
    .length;
}

/**
 * The socket's quiet timeout in these tests. The keep-alive NOOP comes every second at it: two seconds
 * of slack for a loaded machine (at 2 s, one second was not always enough on a CI run).
 */
const QUIET_MS = 3000;

describe('the sync session of a driver kept open between calls', () => {
  it('stays logged in past the quiet timeout: the next call needs no new login', async () => {
    const account = await freshAccount();
    const driver = await ImapDriver.connect({ ...account, timeoutMs: QUIET_MS });
    try {
      await driver.listFolders();
      const before = await logins(account.user);
      // Twice the quiet timeout with no call: without the keep-alive the socket timer ends the session.
      await sleep(2 * QUIET_MS + 500);
      await driver.listMessages(['INBOX'], {});
      expect(await logins(account.user)).toBe(before);
    } finally {
      await driver.close();
    }
  });

  it('lets a session go once it has been idle for keepAliveForMs: the next call logs in again', async () => {
    const account = await freshAccount();
    const driver = await ImapDriver.connect({
      ...account,
      timeoutMs: QUIET_MS,
      reconnect: { keepAliveForMs: 2500 },
    });
    try {
      await driver.listFolders();
      const before = await logins(account.user);
      // Used again within the window: kept alive, no login.
      await sleep(1500);
      await driver.listMessages(['INBOX'], {});
      expect(await logins(account.user)).toBe(before);
      // Then idle past it: closed by the driver, and the next call logs in at once.
      await sleep(4500);
      const started = Date.now();
      await driver.listMessages(['INBOX'], {});
      expect(await logins(account.user)).toBe(before + 1);
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await driver.close();
    }
  });

  it('without the keep-alive, the same wait costs a new login (so the test above can fail)', async () => {
    const account = await freshAccount();
    const driver = await ImapDriver.connect({
      ...account,
      timeoutMs: QUIET_MS,
      reconnect: { keepAliveMs: 0 },
    });
    try {
      await driver.listFolders();
      const before = await logins(account.user);
      await sleep(2 * QUIET_MS + 500);
      const started = Date.now();
      await driver.listMessages(['INBOX'], {});
      expect(await logins(account.user)).toBe(before + 1);
      // Found closed before any command: reopened at once, not after the drop backoff.
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await driver.close();
    }
  });
});
