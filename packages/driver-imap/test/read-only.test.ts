import { FakeImapServer } from '@twinbox/test-fake-imap';
import { afterEach, describe, expect, it } from 'vitest';
import { ImapDriver } from '../src/index.js';

let server: FakeImapServer | undefined;
let driver: ImapDriver | undefined;
afterEach(async () => {
  await driver?.close().catch(() => {});
  await server?.stop();
  driver = undefined;
  server = undefined;
});

const mail = (i: number) => Buffer.from(`Message-ID: <m${i}@ro.test>\r\nSubject: ${i}\r\n\r\nBody ${i}\r\n`);

/** Commands that change a mailbox, or open one so that it can be changed (and expunged on CLOSE). */
const WRITES =
  /^(SELECT|STORE|UID STORE|APPEND|EXPUNGE|UID EXPUNGE|CREATE|DELETE|RENAME|COPY|UID COPY|MOVE|UID MOVE|SUBSCRIBE|UNSUBSCRIBE|CLOSE)$/;

describe('an IMAP account opened read-only', () => {
  it('lists, describes, reads and counts with EXAMINE only, and the server sees no write', async () => {
    server = await FakeImapServer.start();
    server.add('INBOX', mail(1), ['\\Seen']);
    server.add('INBOX', mail(2), []);
    server.add('Work', mail(3), ['\\Flagged', 'todo']);
    driver = await ImapDriver.connect({ ...server.account, readOnly: true });
    for (const path of [['INBOX'], ['Work']]) {
      const listing = await driver.listMessages(path, {});
      if (listing.kind !== 'full') throw new Error('a first listing is full');
      const ids = listing.messages.map((m) => m.id);
      expect((await driver.describeMessages(path, ids)).length).toBe(ids.length);
      for (const read of await driver.readMessages(path, ids)) expect(read).toHaveProperty('body');
      expect(await driver.countMessages(path)).toBe(ids.length);
    }
    const names = server.log.map((c) => c.name);
    expect(names).toContain('EXAMINE');
    expect(names.filter((n) => WRITES.test(n))).toEqual([]);
    // The unseen message is still unseen: nothing was marked read by the reads.
    expect(server.folder('INBOX')!.messages[1]!.flags).toEqual([]);
  });

  it('rejects every write with READ_ONLY and sends nothing for it', async () => {
    server = await FakeImapServer.start();
    server.add('INBOX', mail(1), []);
    driver = await ImapDriver.connect({ ...server.account, readOnly: true });
    await driver.listMessages(['INBOX'], {});
    const sent = server.log.length;
    const writes = [
      driver.createFolder(['New']),
      driver.deleteFolder(['INBOX', 'Old']),
      driver.appendMessages(['INBOX'], [{ body: mail(2), flags: [] }]),
      driver.setFlags(['INBOX'], [{ id: '1', add: ['\\Seen'], remove: [] }]),
      driver.deleteMessages(['INBOX'], ['1']),
    ];
    for (const write of writes) await expect(write).rejects.toMatchObject({ code: 'READ_ONLY' });
    expect(server.log.slice(sent)).toEqual([]);
    expect(server.folder('INBOX')!.messages.map((m) => [m.uid, m.flags])).toEqual([[1, []]]);
  });
});

describe('countMessages', () => {
  it("is the server's STATUS MESSAGES, also for a message whose FETCH answer cannot be parsed", async () => {
    server = await FakeImapServer.start();
    server.add('INBOX', mail(1), ['\\Seen']);
    server.add('INBOX', mail(2), ['\\Seen'], { rawFlags: Buffer.from('\\Seen foo\\bar', 'latin1') });
    // A server whose SEARCH also leaves that message out defeats the listing's own recovery: the
    // listing is short, and only the count says so.
    server.script = (cmd, answer) => {
      if (!/SEARCH/.test(cmd.name) || !/ALL/i.test(cmd.args)) return undefined;
      const text = answer()
        .toString('latin1')
        .replace(/^\* SEARCH 1 2\r\n/m, '* SEARCH 1\r\n');
      return { send: text, after: 'done' };
    };
    driver = await ImapDriver.connect(server.account);
    const listing = await driver.listMessages(['INBOX'], {});
    expect(listing.kind === 'full' && listing.messages.map((m) => m.id)).toEqual(['1']);
    expect(await driver.countMessages(['INBOX'])).toBe(2);
    expect(server.log.filter((c) => c.name === 'STATUS').at(-1)?.args).toMatch(/MESSAGES/);
  });

  it('rejects for a folder the server does not have', async () => {
    server = await FakeImapServer.start();
    driver = await ImapDriver.connect(server.account);
    await expect(driver.countMessages(['Gone'])).rejects.toMatchObject({ code: 'FOLDER_GONE' });
  });
});
