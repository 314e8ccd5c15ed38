import { describeDriverConformance } from '@twinbox/core/testing';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { describe, expect, it } from 'vitest';
import { ImapDriver, messageIdFromHeaders } from '../src/index.js';
import { appendAll, connectDriver, freshAccount, fullOf, otherClient } from './helpers.js';

async function connect(maxSessions?: number) {
  const info = dovecot();
  const { user, password } = await newUser();
  return ImapDriver.connect({
    host: 'localhost',
    port: info.tlsPort,
    tls: 'implicit',
    ca: info.ca,
    user,
    password,
    ...(maxSessions === undefined ? {} : { maxSessions }),
  });
}

describeDriverConformance('ImapDriver against Dovecot', async () => ({ driver: await connect() }));

// The same contract when calls run on several sessions (the CLI's default of 4 per account).
describeDriverConformance('ImapDriver against Dovecot, four sessions', async () => ({
  driver: await connect(4),
}));

describe('ImapDriver', () => {
  it('answers "unchanged" from one STATUS when HIGHESTMODSEQ did not move, and a full listing after a change', async () => {
    const driver = await connect();
    try {
      const body = new TextEncoder().encode('Message-ID: <m1@x>\r\nSubject: a\r\n\r\nhello\r\n');
      await driver.appendMessages(['INBOX'], [{ body, flags: ['\\Seen'] }]);
      const first = await driver.listMessages(['INBOX'], {});
      expect(first.kind).toBe('full');
      const again = await driver.listMessages(['INBOX'], { since: first.marker });
      expect(again).toEqual({ kind: 'unchanged', marker: first.marker });
      const [m] = first.kind === 'full' ? first.messages : [];
      await driver.setFlags(['INBOX'], [{ id: m!.id, add: ['\\Flagged'], remove: [] }]);
      const after = await driver.listMessages(['INBOX'], { since: first.marker });
      expect(after.kind).not.toBe('unchanged');
      expect(after.marker.epoch).toBe(first.marker.epoch);
    } finally {
      await driver.close();
    }
  });

  it('refuses a folder name holding the server delimiter rather than creating a different folder', async () => {
    const driver = await connect();
    try {
      await expect(driver.createFolder(['a/b'])).rejects.toMatchObject({ code: 'FOLDER_NAME_UNSAFE' });
    } finally {
      await driver.close();
    }
  });

  it('creates a folder that another client left as a name holding folders only (\\Noselect)', async () => {
    const account = await freshAccount();
    const other = await otherClient(account);
    try {
      // Dovecot makes `Parent` no folder of its own, only the name above `Parent/Child`.
      await other.mailboxCreate('Parent/Child');
    } finally {
      await other.logout();
    }
    const driver = await connectDriver(account);
    try {
      const parent = async () =>
        (await driver.listFolders()).find((f) => 'path' in f && f.path.join('/') === 'Parent');
      expect(await parent()).toMatchObject({ selectable: false });
      await driver.createFolder(['Parent']);
      expect(await parent()).toMatchObject({ selectable: true });
      const ids = await appendAll(driver, ['Parent'], ['in-parent']);
      expect(fullOf(await driver.listMessages(['Parent'], {})).messages.map((m) => m.id)).toEqual(ids);
    } finally {
      await driver.close();
    }
  });

  it('reads Message-ID from a folded header block', () => {
    expect(messageIdFromHeaders('Message-ID:\r\n <x@y>\r\n')).toBe('<x@y>');
    expect(messageIdFromHeaders('Subject: none\r\n')).toBeNull();
  });
});
