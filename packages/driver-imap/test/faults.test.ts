import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
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
  proxy.refuse(false);
  for (const c of open.splice(0)) await c.close();
});

/** A driver that reaches the fixture through the proxy (plain IMAP on loopback). */
async function throughProxy(reconnect = { initialDelayMs: 50, attempts: 5 }) {
  const { user, password } = await newUser();
  const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
  const driver = await ImapDriver.connect({ ...account, reconnect });
  open.push(driver);
  const direct = await openImap({ ...account, port: dovecot().port });
  open.push({ close: () => direct.logout() });
  return { driver, direct, user };
}

/** How many messages of `folder` carry this Message-ID, as another session sees it. */
async function countById(client: ImapFlow, folder: string, messageId: string): Promise<number> {
  const lock = await client.getMailboxLock(folder);
  try {
    // The session's view of a folder it has selected catches up with others' changes at a NOOP.
    await client.noop();
    const found = await client.search({ header: { 'message-id': messageId } }, { uid: true });
    return found ? found.length : 0;
  } finally {
    lock.release();
  }
}

/** A message of about `size` bytes. */
function bigMail(tag: string, size: number) {
  const line = `${'x'.repeat(76)}\r\n`;
  return mail(tag, line.repeat(Math.ceil(size / line.length)));
}

describe('a dropped connection', () => {
  it('is reopened on the next call, which re-selects the folder and checks its epoch', async () => {
    const { driver } = await throughProxy();
    const before = proxy.connections;
    await driver.createFolder(['Drop']);
    const [outcome] = await driver.appendMessages(['Drop'], [{ body: mail('a').body, flags: [] }]);
    const first = fullOf(await driver.listMessages(['Drop'], {}));
    proxy.cutAll();
    const again = await driver.listMessages(['Drop'], { since: first.marker });
    expect(again).toEqual({ kind: 'unchanged', marker: first.marker });
    expect(outcome?.ok && (await driver.readMessage(['Drop'], outcome.id)).body.byteLength).toBeGreaterThan(
      0,
    );
    expect(proxy.connections - before).toBe(1);
  });

  it('waits with backoff while the server is away, and fails with CONNECTION_LOST if it stays away', async () => {
    const { driver } = await throughProxy({ initialDelayMs: 100, attempts: 3 });
    await driver.listMessages(['INBOX'], {});
    proxy.cutAll();
    proxy.refuse(true);
    setTimeout(() => proxy.refuse(false), 200);
    const started = Date.now();
    expect((await driver.listMessages(['INBOX'], {})).kind).toBe('full');
    // 100 ms, then 200 ms: the second or third attempt gets through.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);

    proxy.cutAll();
    proxy.refuse(true);
    const error = await driver.listMessages(['INBOX'], {}).catch((err: unknown) => err);
    expect(error).toMatchObject({ name: 'StoreError', code: 'CONNECTION_LOST' });
    expect((error as Error).message).toMatch(/3 attempts/);
  });

  it('mid-APPEND, before the server had the message: reported unconfirmed, not sent twice, the rest goes on', async () => {
    const { driver, direct } = await throughProxy();
    await driver.createFolder(['Cut']);
    const big = bigMail('big', 2_000_000);
    const small = mail('small');
    const connections = proxy.connections;
    proxy.cutClientAfter('APPEND', 300_000);
    const outcomes = await driver.appendMessages(
      ['Cut'],
      [
        { body: big.body, flags: [] },
        { body: small.body, flags: ['\\Seen'] },
      ],
    );
    expect(proxy.connections - connections, 'the APPEND was cut off and a new session opened').toBe(1);
    expect(outcomes[0]).toMatchObject({ ok: false, code: 'APPEND_UNCONFIRMED' });
    expect((outcomes[0] as { message: string }).message).toContain(big.messageId);
    expect(outcomes[1]).toMatchObject({ ok: true });
    expect(await countById(direct, 'Cut', big.messageId)).toBe(0);
    expect(await countById(direct, 'Cut', small.messageId)).toBe(1);

    // The engine's retry on the next sync: now it is there exactly once.
    const [retry] = await driver.appendMessages(['Cut'], [{ body: big.body, flags: [] }]);
    expect(retry).toMatchObject({ ok: true });
    expect(await countById(direct, 'Cut', big.messageId)).toBe(1);
  });

  it('mid-APPEND, after the server stored it but before its answer arrived: found, reported once, with its UID', async () => {
    const { driver, direct } = await throughProxy();
    await driver.createFolder(['Lost']);
    const big = bigMail('stored', 500_000);
    const connections = proxy.connections;
    proxy.cutOnServerText('APPENDUID');
    const [outcome] = await driver.appendMessages(['Lost'], [{ body: big.body, flags: ['\\Flagged'] }]);
    expect(proxy.connections - connections, 'the answer was cut off and a new session opened').toBe(1);
    expect(outcome).toMatchObject({ ok: true });
    expect(await countById(direct, 'Lost', big.messageId)).toBe(1);
    const read = await driver.readMessage(['Lost'], (outcome as { id: string }).id);
    expect(new Uint8Array(read.body)).toEqual(big.body);
    expect(read.flags).toEqual(['\\Flagged']);
  });
});

describe('round trips', () => {
  it('lists, describes and flags a folder of 300 messages with one command each, not one per message', async () => {
    const { driver } = await throughProxy();
    await driver.createFolder(['Many']);
    const outcomes = await driver.appendMessages(
      ['Many'],
      Array.from({ length: 300 }, (_, i) => ({ body: mail(`m${i}`).body, flags: [] })),
    );
    const ids = outcomes.map((o) => (o.ok ? o.id : 'failed'));
    await driver.listMessages(['INBOX'], {});

    proxy.record(true);
    const listing = fullOf(await driver.listMessages(['Many'], {}));
    expect(listing.messages).toHaveLength(300);
    // STATUS for the marker, SELECT (imapflow LISTs the folder first), and one FETCH for all messages.
    expect(proxy.commands().filter((c) => c !== 'LIST')).toEqual(['STATUS', 'SELECT', 'UID FETCH']);

    proxy.record(true);
    const described = await driver.describeMessages(['Many'], ids);
    expect(described).toHaveLength(300);
    expect(described.every((m) => m.messageId?.startsWith('<m'))).toBe(true);
    expect(proxy.commands()).toEqual(['UID FETCH']);
    // Consecutive UIDs travel as one range, not 300 numbers.
    expect(proxy.recorded.length).toBeLessThan(200);

    proxy.record(true);
    await driver.setFlags(
      ['Many'],
      ids.map((id) => ({ id, add: ['\\Seen'], remove: [] })),
    );
    expect(proxy.commands()).toEqual(['UID SEARCH', 'UID STORE']);
    proxy.record(false);
  });
});

describe('server refusals', () => {
  let quotaServer: DovecotServer;
  beforeAll(async () => {
    quotaServer = await startDovecot({
      extraConfig: [
        'mail_plugins = $mail_plugins quota',
        'plugin {',
        '  quota = maildir:User quota',
        '  quota_rule = *:storage=300K',
        '}',
      ].join('\n'),
    });
  });
  afterAll(async () => {
    await quotaServer?.stop();
  });

  it('an APPEND over quota fails that message only, naming folder and message', async () => {
    const { user, password } = await quotaServer.addUser();
    const { info } = quotaServer;
    const driver = await ImapDriver.connect({
      host: 'localhost',
      port: info.tlsPort,
      ca: info.ca,
      user,
      password,
    });
    open.push(driver);
    const big = bigMail('too-big', 400_000);
    const outcomes = await driver.appendMessages(
      ['INBOX'],
      [
        { body: mail('before').body, flags: [] },
        { body: big.body, flags: [] },
        { body: mail('after').body, flags: [] },
      ],
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(outcomes[1]).toMatchObject({ code: 'OVER_QUOTA' });
    const message = (outcomes[1] as { message: string }).message;
    expect(message).toContain('INBOX');
    expect(message).toContain(big.messageId);
    expect(message).toMatch(/quota/i);
  });

  it('a folder the server cannot write fails each message with the server words, and other folders go on', async () => {
    const { user, password } = await newUser();
    const info = dovecot();
    const driver = await ImapDriver.connect({
      host: 'localhost',
      port: info.tlsPort,
      ca: info.ca,
      user,
      password,
    });
    open.push(driver);
    await driver.createFolder(['Locked']);
    await driver.listMessages(['Locked'], {});
    const tmp = join(info.homeRoot, user, 'Maildir', '.Locked', 'tmp');
    await chmod(tmp, 0o500);
    try {
      const outcomes = await driver.appendMessages(
        ['Locked'],
        [
          { body: mail('x').body, flags: [] },
          { body: mail('y').body, flags: [] },
        ],
      );
      for (const o of outcomes) {
        expect(o).toMatchObject({ ok: false, code: 'APPEND_REFUSED' });
        expect((o as { message: string }).message).toMatch(/refused message \d of the batch .* for Locked: /);
      }
      const [ok] = await driver.appendMessages(['INBOX'], [{ body: mail('z').body, flags: [] }]);
      expect(ok).toMatchObject({ ok: true });
    } finally {
      await chmod(tmp, 0o700);
    }
  });
});
