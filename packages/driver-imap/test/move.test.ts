import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import type { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ImapAccountOptions, ImapDriver, openImap } from '../src/index.js';
import { fullOf, mail } from './helpers.js';
import { CuttingProxy } from './proxy.js';

let proxy: CuttingProxy;
beforeAll(async () => {
  proxy = await CuttingProxy.start(dovecot().port);
});
afterAll(async () => {
  await proxy?.stop();
});

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});

/** A driver through the counting proxy (plain IMAP on loopback), and another client straight to Dovecot. */
async function throughProxy() {
  const { user, password } = await newUser();
  const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
  const driver = await ImapDriver.connect({ ...account, reconnect: { initialDelayMs: 50 } });
  open.push(driver);
  const other = await openImap({ ...account, port: dovecot().port });
  open.push({ close: () => other.logout() });
  return { driver, other };
}

/** About 20 KB: a body that would show in the byte count if it crossed the connection. */
function bigMail(tag: string) {
  return mail(tag, `${'x'.repeat(76)}\r\n`.repeat(260));
}

/** Every message of `folder` as another session sees it: UID, Message-ID, flags, INTERNALDATE. */
async function seen(client: ImapFlow, folder: string) {
  const lock = await client.getMailboxLock(folder);
  try {
    await client.noop();
    const messages = await client.fetchAll(
      '1:*',
      { uid: true, flags: true, internalDate: true, envelope: true },
      { uid: true },
    );
    return messages.map((m) => ({
      uid: String(m.uid),
      messageId: m.envelope?.messageId,
      flags: [...(m.flags ?? [])].sort(),
      date: new Date(m.internalDate ?? 0).getTime(),
    }));
  } finally {
    lock.release();
  }
}

describe('ImapDriver.moveMessages against Dovecot (MOVE, UIDPLUS)', () => {
  it("moves on the server: another client's keyword and the INTERNALDATE kept, new UIDs from COPYUID, no body on the wire", async () => {
    const { driver, other } = await throughProxy();
    await driver.createFolder(['Filed']);
    const mails = Array.from({ length: 20 }, (_, i) => bigMail(`big${i}`));
    const date = Date.parse('2021-05-06T07:08:09Z');
    const appended = await driver.appendMessages(
      ['INBOX'],
      mails.map((m, i) => ({ body: m.body, flags: i % 2 ? ['\\Seen'] : [], internalDate: date + i * 1000 })),
    );
    const ids = appended.map((o) => (o.ok ? o.id : `${o.code}: ${o.message}`));
    fullOf(await driver.listMessages(['INBOX'], {}));
    fullOf(await driver.listMessages(['Filed'], {}));
    // Another client labels some of them: nothing Twinbox knows of, which a re-upload would lose.
    const lock = await other.getMailboxLock('INBOX');
    try {
      await other.messageFlagsAdd(`${ids[0]},${ids[5]}`, ['$Important'], { uid: true });
    } finally {
      lock.release();
    }
    const before = await seen(other, 'INBOX');

    proxy.resetBytes();
    proxy.record(true);
    const outcomes = await driver.moveMessages(['INBOX'], ['Filed'], ids);
    proxy.record(false);

    // Bodies are 20 × 20 KB; the whole exchange (STATUS, SELECT, SEARCH, MOVE) is a few hundred bytes.
    const bodies = mails.reduce((n, m) => n + m.body.byteLength, 0);
    expect(bodies).toBeGreaterThan(400_000);
    expect(proxy.bytesUp + proxy.bytesDown).toBeLessThan(4_000);
    expect(proxy.commands()).not.toContain('APPEND');
    expect(proxy.recorded).not.toMatch(/BODY|RFC822|BINARY/i);
    expect(proxy.commands()).toContain('UID MOVE');

    expect(outcomes.map((o) => o.ok)).toEqual(ids.map(() => true));
    const after = await seen(other, 'Filed');
    expect(await seen(other, 'INBOX')).toEqual([]);
    for (const [i, outcome] of outcomes.entries()) {
      const was = before.find((m) => m.uid === ids[i])!;
      const now = after.find((m) => outcome.ok && m.uid === outcome.newId);
      expect(now, `message ${i} under its new UID`).toBeDefined();
      // Dovecot adds \Recent to a message new to a folder: the one flag that is the folder's, not the message's.
      expect({ ...now!, uid: was.uid, flags: now!.flags.filter((f) => f !== '\\Recent') }).toEqual(was);
    }
    expect(after.find((m) => m.messageId === mails[5]!.messageId)?.flags).toEqual([
      '$Important',
      '\\Recent',
      '\\Seen',
    ]);
  });

  it('reports UIDs the folder no longer has as gone, and moves the rest', async () => {
    const { driver } = await throughProxy();
    await driver.createFolder(['Filed']);
    const appended = await driver.appendMessages(
      ['INBOX'],
      ['a', 'b'].map((t) => ({ body: mail(t).body, flags: [] })),
    );
    const [a, b] = appended.map((o) => (o.ok ? o.id : ''));
    fullOf(await driver.listMessages(['INBOX'], {}));
    await driver.deleteMessages(['INBOX'], [a!]);
    const outcomes = await driver.moveMessages(['INBOX'], ['Filed'], [a!, b!, 'not-a-uid']);
    expect(outcomes).toMatchObject([
      { id: a, ok: false, gone: true },
      { id: b, ok: true },
      { id: 'not-a-uid', ok: false, gone: true },
    ]);
    const filed = fullOf(await driver.listMessages(['Filed'], {})).messages;
    expect(filed.map((m) => m.id)).toEqual([(outcomes[1] as { newId: string }).newId]);
  });

  it('refuses a target that does not exist, or whose UIDVALIDITY changed, before moving anything', async () => {
    const { driver, other } = await throughProxy();
    await driver.createFolder(['Filed']);
    const appended = await driver.appendMessages(['INBOX'], [{ body: mail('x').body, flags: [] }]);
    const id = appended[0]!.ok ? appended[0]!.id : '';
    await expect(driver.moveMessages(['INBOX'], ['Nowhere'], [id])).rejects.toMatchObject({
      code: 'FOLDER_GONE',
    });
    await expect(driver.moveMessages(['INBOX'], ['INBOX'], [id])).rejects.toMatchObject({
      code: 'FOLDER_BAD',
    });
    fullOf(await driver.listMessages(['Filed'], {}));
    // Another client deletes and makes the folder again: a new UIDVALIDITY.
    await other.mailboxDelete('Filed');
    await other.mailboxCreate('Filed');
    await expect(driver.moveMessages(['INBOX'], ['Filed'], [id])).rejects.toMatchObject({
      code: 'EPOCH_CHANGED',
    });
    expect(fullOf(await driver.listMessages(['INBOX'], {})).messages.map((m) => m.id)).toEqual([id]);
  });

  it('is not sent again after the connection drops during it: rejects with CONNECTION_LOST, no copy made twice', async () => {
    const { driver, other } = await throughProxy();
    await driver.createFolder(['Filed']);
    const mails = ['c1', 'c2', 'c3'].map((t) => mail(t));
    const appended = await driver.appendMessages(
      ['INBOX'],
      mails.map((m) => ({ body: m.body, flags: [] })),
    );
    const ids = appended.map((o) => (o.ok ? o.id : ''));
    fullOf(await driver.listMessages(['INBOX'], {}));
    proxy.record(true);
    // The server moves them; its answer is lost on the way.
    proxy.cutOnServerText('COPYUID');
    await expect(driver.moveMessages(['INBOX'], ['Filed'], ids)).rejects.toMatchObject({
      code: 'CONNECTION_LOST',
      scope: 'folder',
    });
    proxy.record(false);
    expect(proxy.commands().filter((c) => c === 'UID MOVE')).toHaveLength(1);
    // The driver works on, on a new session; every message is in exactly one of the two folders.
    const inbox = fullOf(await driver.listMessages(['INBOX'], {})).messages;
    const filed = fullOf(await driver.listMessages(['Filed'], {})).messages;
    expect(inbox.length + filed.length).toBe(3);
    const ids2 = [...(await seen(other, 'INBOX')), ...(await seen(other, 'Filed'))].map((m) => m.messageId);
    expect(ids2.sort()).toEqual(mails.map((m) => m.messageId).sort());
  });
});
