import { describeDriverConformance } from '@twinbox/core/testing';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import type { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImapAccountOptions, ImapDriver, openImap } from '../src/index.js';
import { appendAll, fullOf, mail } from './helpers.js';

/**
 * A Dovecot that advertises none of CONDSTORE, QRESYNC, UIDPLUS and MOVE (it still sends APPENDUID and
 * COPYUID codes, which the driver only trusts from a server that advertises UIDPLUS, so the fallback is
 * what runs; without MOVE a move is UID COPY, then \Deleted and EXPUNGE).
 */
const PLAIN_CAPABILITIES =
  'imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SPECIAL-USE NAMESPACE CHILDREN';

let server: DovecotServer;
beforeAll(async () => {
  server = await startDovecot({ extraConfig: PLAIN_CAPABILITIES });
});
afterAll(async () => {
  await server?.stop();
});

async function account(): Promise<ImapAccountOptions> {
  const { user, password } = await server.addUser();
  const { info } = server;
  return { host: 'localhost', port: info.tlsPort, tls: 'implicit', ca: info.ca, user, password };
}

describeDriverConformance(
  'ImapDriver against Dovecot without CONDSTORE, QRESYNC, UIDPLUS and MOVE',
  async () => ({
    driver: await ImapDriver.connect(await account()),
  }),
);

/** Another client marks a message \\Deleted and does not expunge it (yet). */
async function markDeleted(client: ImapFlow, folder: string, uid: string): Promise<void> {
  const lock = await client.getMailboxLock(folder);
  try {
    await client.messageFlagsAdd(uid, ['\\Deleted'], { uid: true });
  } finally {
    lock.release();
  }
}

/** What another client sees in `folder` now: each message's UID and flags. */
async function uidsAndFlags(client: ImapFlow, folder: string): Promise<[string, string[]][]> {
  const lock = await client.getMailboxLock(folder);
  try {
    await client.noop();
    const messages = await client.fetchAll('1:*', { uid: true, flags: true });
    return messages.map((m) => [String(m.uid), [...(m.flags ?? [])]]);
  } finally {
    lock.release();
  }
}

describe('ImapDriver on a server without CONDSTORE, QRESYNC, UIDPLUS and MOVE', () => {
  it('runs against a server that really does not advertise them', async () => {
    const client = await openImap(await account());
    try {
      for (const capability of ['CONDSTORE', 'QRESYNC', 'UIDPLUS', 'MOVE']) {
        expect(client.capabilities.has(capability), capability).toBe(false);
      }
      expect([...client.enabled]).toEqual([]);
    } finally {
      await client.logout();
    }
  });

  it('lists in full every time, with a marker that never claims "unchanged"', async () => {
    const driver = await ImapDriver.connect(await account());
    try {
      await driver.appendMessages(['INBOX'], [{ body: mail('a').body, flags: [] }]);
      const first = fullOf(await driver.listMessages(['INBOX'], {}));
      expect(first.marker.value).toBe('nomodseq');
      const again = fullOf(await driver.listMessages(['INBOX'], { since: first.marker }));
      expect(again.messages).toEqual(first.messages);
      expect(again.marker).toEqual(first.marker);
    } finally {
      await driver.close();
    }
  });

  it('finds the UID of each appended message by Message-ID and size, identical messages included', async () => {
    const driver = await ImapDriver.connect(await account());
    try {
      await driver.createFolder(['NoUidplus']);
      const twin = new TextEncoder().encode('Subject: twin\r\n\r\nsame bytes, no Message-ID\r\n');
      const bodies = [mail('one').body, twin, twin, mail('two').body];
      const outcomes = await driver.appendMessages(
        ['NoUidplus'],
        bodies.map((body, i) => ({ body, flags: i === 1 ? ['\\Seen'] : [] })),
      );
      const ids = outcomes.map((o) => (o.ok ? o.id : `${o.code}: ${o.message}`));
      expect(new Set(ids).size).toBe(4);
      for (const [i, id] of ids.entries()) {
        const read = await driver.readMessage(['NoUidplus'], id);
        expect(new Uint8Array(read.body), `message ${i}`).toEqual(bodies[i]);
      }
      // The twin sent first (with \Seen) got the lower UID: the flags tell them apart.
      expect((await driver.readMessage(['NoUidplus'], ids[1]!)).flags).toEqual(['\\Seen']);
      expect((await driver.readMessage(['NoUidplus'], ids[2]!)).flags).toEqual([]);
    } finally {
      await driver.close();
    }
  });

  it("deletes without expunging another client's \\Deleted messages", async () => {
    const options = await account();
    const driver = await ImapDriver.connect(options);
    const other = await openImap(options);
    try {
      await driver.createFolder(['Deleting']);
      const [keep, marked, gone] = await appendAll(driver, ['Deleting'], ['keep', 'marked', 'gone']);
      fullOf(await driver.listMessages(['Deleting'], {}));
      await markDeleted(other, 'Deleting', marked!);

      await driver.deleteMessages(['Deleting'], [gone!]);

      expect(await uidsAndFlags(other, 'Deleting')).toEqual([
        [keep, []],
        [marked, ['\\Deleted']],
      ]);
    } finally {
      await other.logout();
      await driver.close();
    }
  });

  it("moves by COPY and EXPUNGE without expunging another client's \\Deleted messages", async () => {
    const options = await account();
    const driver = await ImapDriver.connect(options);
    const other = await openImap(options);
    try {
      await driver.createFolder(['Moved']);
      const [keep, marked, move] = await appendAll(driver, ['INBOX'], ['keep', 'marked', 'move']);
      fullOf(await driver.listMessages(['INBOX'], {}));
      fullOf(await driver.listMessages(['Moved'], {}));
      // Another client marks a message \Deleted and has not expunged it yet.
      await markDeleted(other, 'INBOX', marked!);

      const outcomes = await driver.moveMessages(['INBOX'], ['Moved'], [move!]);
      expect(outcomes).toEqual([{ id: move, ok: true }]);

      expect(await uidsAndFlags(other, 'INBOX')).toEqual([
        [keep, []],
        [marked, ['\\Deleted']],
      ]);
      const moved = fullOf(await driver.listMessages(['Moved'], {})).messages;
      expect(moved.map((m) => m.flags)).toEqual([[]]);
    } finally {
      await other.logout();
      await driver.close();
    }
  });
});
