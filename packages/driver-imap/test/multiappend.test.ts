import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageContent } from '@twinbox/core';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { type FakeImapOptions, FakeImapServer, FaultProxy } from '@twinbox/test-fake-imap';
import fc from 'fast-check';
import type { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ImapAccountOptions, ImapDriver, openImap } from '../src/index.js';
import { appendChunks, imapDateTime, uidSetOrder } from '../src/multiappend.js';
import { mail } from './helpers.js';
import { CuttingProxy } from './proxy.js';

const open: { close(): Promise<unknown> }[] = [];
const servers: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => {});
  for (const s of servers.splice(0)) await s.stop();
});

/** `count` messages of about `size` bytes each, with flags, a keyword and a date of their own. */
function batch(count: number, size = 0, tag = 'm'): (MessageContent & { messageId: string })[] {
  const line = `${'x'.repeat(76)}\r\n`;
  return Array.from({ length: count }, (_, i) => {
    const m = mail(`${tag}${i}`, line.repeat(Math.ceil(size / line.length)));
    return {
      body: m.body,
      messageId: m.messageId,
      flags: i % 3 === 0 ? ['\\Seen', '$label1'] : i % 3 === 1 ? ['\\Flagged'] : [],
      internalDate: Date.UTC(2020, i % 12, 1 + (i % 28), 10, i % 60, 7),
    };
  });
}

/**
 * How many messages of `folder` carry `messageId`, as another session sees it. A refusal says which command and
 * what the server said (imapflow's own error says only "Command failed"). A folder deleted and made
 * again by another session may still be refused for a moment while Dovecot closes the old one, under
 * load: the SELECT is tried again for up to 2 s before that counts as a failure.
 */
async function countById(client: ImapFlow, folder: string, messageId: string): Promise<number> {
  const refused = (what: string, err: unknown) =>
    new Error(
      `${what} ${folder} refused: ${(err as { responseText?: string }).responseText ?? (err as Error).message}`,
    );
  let lock: Awaited<ReturnType<ImapFlow['getMailboxLock']>> | undefined;
  for (const started = Date.now(); !lock; ) {
    try {
      lock = await client.getMailboxLock(folder);
    } catch (err) {
      if (Date.now() - started > 2000) throw refused('SELECT', err);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    await client.noop().catch((err: unknown) => {
      throw refused('NOOP on', err);
    });
    const found = await client
      .search({ header: { 'message-id': messageId } }, { uid: true })
      .catch((err: unknown) => {
        throw refused('SEARCH in', err);
      });
    return found ? found.length : 0;
  } finally {
    lock.release();
  }
}

/** The bodies of the files in a folder of a fixture user's Maildir on the server (Maildir++ names). */
function storedFiles(user: string, folder: string): string[] {
  const dir = join(dovecot().homeRoot, user, 'Maildir', `.${folder}`);
  expect(existsSync(join(dir, 'cur')), `${dir} is a Maildir on the server`).toBe(true);
  return ['cur', 'new'].flatMap((sub) =>
    existsSync(join(dir, sub))
      ? readdirSync(join(dir, sub)).map((name) => readFileSync(join(dir, sub, name), 'latin1'))
      : [],
  );
}

describe('MULTIAPPEND on Dovecot (MULTIAPPEND, LITERAL+, UIDPLUS)', () => {
  let proxy: CuttingProxy;
  beforeAll(async () => {
    proxy = await CuttingProxy.start(dovecot().port);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  async function throughProxy() {
    const { user, password } = await newUser();
    const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
    const driver = await ImapDriver.connect({ ...account, reconnect: { initialDelayMs: 50, attempts: 5 } });
    open.push(driver);
    const direct = await openImap({ ...account, port: dovecot().port });
    open.push({ close: () => direct.logout() });
    return { driver, direct, user };
  }

  it('stores 150 messages with two APPEND commands, each with its own UID, bytes, flags and date', async () => {
    const { driver } = await throughProxy();
    await driver.createFolder(['Multi']);
    const messages = batch(150);
    proxy.record(true);
    const outcomes = await driver.appendMessages(['Multi'], messages);
    proxy.record(false);
    expect(proxy.commands().filter((c) => c === 'APPEND')).toHaveLength(2);
    // Every literal went non-synchronising: the server never had to say "go ahead".
    expect(proxy.recorded).not.toMatch(/\{\d+\}\r\n/);
    const ids = outcomes.map((o) => (o.ok ? o.id : `${o.code}: ${o.message}`));
    expect(new Set(ids).size).toBe(150);
    const read = await driver.readMessages(['Multi'], ids);
    for (const [i, m] of messages.entries()) {
      const got = read[i] as MessageContent;
      expect(new Uint8Array(got.body), `message ${i}`).toEqual(m.body);
      expect([...got.flags].sort(), `message ${i}`).toEqual([...m.flags].sort());
      expect(got.internalDate, `message ${i}`).toBe(m.internalDate);
    }
  });

  it('batches after the first to a selected folder send no STATUS: the UIDs come from APPENDUID', async () => {
    const { driver, direct } = await throughProxy();
    await driver.createFolder(['Cursor']);
    // Listed first, as the engine does: the folder is selected on the session that appends to it.
    await driver.listMessages(['Cursor'], {});
    const batches = [batch(3, 0, 'c1'), batch(3, 0, 'c2'), batch(3, 0, 'c3')];
    proxy.record(true);
    const ids: string[] = [];
    for (const [b, messages] of batches.entries()) {
      // Another client's message between two batches: it takes a UID the driver did not predict.
      if (b === 2) await direct.append('Cursor', mail('other').body);
      const outcomes = await driver.appendMessages(['Cursor'], messages);
      ids.push(...outcomes.map((o) => (o.ok ? o.id : `${o.code}: ${o.message}`)));
    }
    proxy.record(false);
    const commands = proxy.commands();
    expect(commands.filter((c) => c === 'APPEND')).toHaveLength(3);
    expect(
      commands.filter((c) => c === 'STATUS' || c === 'NOOP'),
      commands.join(' '),
    ).toEqual(['NOOP', 'STATUS']);
    expect(ids).toEqual(['1', '2', '3', '4', '5', '6', '8', '9', '10']);
    const read = await driver.readMessages(['Cursor'], ids);
    for (const [i, m] of batches.flat().entries()) {
      expect(new Uint8Array((read[i] as MessageContent).body), `message ${i}`).toEqual(m.body);
    }
  });

  it('after a batch that had to look for its messages, the next one asks STATUS again', async () => {
    const { driver } = await throughProxy();
    await driver.createFolder(['Recheck']);
    await driver.listMessages(['Recheck'], {});
    expect((await driver.appendMessages(['Recheck'], batch(2, 0, 'r1'))).every((o) => o.ok)).toBe(true);
    // The answer is lost: the session is reopened and the messages are found by content.
    proxy.cutOnServerText('APPENDUID');
    const second = await driver.appendMessages(['Recheck'], batch(2, 0, 'r2'));
    expect(second.map((o) => o.ok && o.id)).toEqual(['3', '4']);
    await driver.listMessages(['Recheck'], {});
    proxy.record(true);
    const third = await driver.appendMessages(['Recheck'], batch(2, 0, 'r3'));
    proxy.record(false);
    expect(third.map((o) => o.ok && o.id)).toEqual(['5', '6']);
    expect(proxy.commands()).toContain('STATUS');
  });

  it('a folder deleted and made again between two batches: the next batch is refused as EPOCH_CHANGED, nothing stored', async () => {
    const { driver, direct, user } = await throughProxy();
    await driver.createFolder(['Remade']);
    await driver.listMessages(['Remade'], {});
    const before = batch(2, 0, 'before');
    expect((await driver.appendMessages(['Remade'], before)).every((o) => o.ok)).toBe(true);
    // Another client's doing; its refusal would say why (imapflow's own error says "Command failed").
    const said = (what: string) => (e: { responseText?: string }) => {
      throw new Error(`${what} refused: ${e.responseText}`);
    };
    await direct.mailboxDelete('Remade').catch(said('DELETE'));
    await direct.mailboxCreate('Remade').catch(said('CREATE'));
    const late = batch(2, 0, 'late');
    await expect(driver.appendMessages(['Remade'], late)).rejects.toMatchObject({ code: 'EPOCH_CHANGED' });
    // Nothing stored, read from the server's own files: under load, Dovecot has answered another
    // session's SELECT of the remade folder with "Internal error occurred" for more than 2 s (CI,
    // twice), and what this asks is only what the store holds.
    const stored = storedFiles(user, 'Remade');
    for (const m of late) expect(stored.filter((body) => body.includes(m.messageId))).toEqual([]);
    // The two messages from before went with the old folder: the files read are the new folder's.
    for (const m of before) expect(stored.filter((body) => body.includes(m.messageId))).toEqual([]);
  });

  it('mid-command drop: the messages of that command are unconfirmed and not stored, the next command goes on', async () => {
    const { driver, direct } = await throughProxy();
    await driver.createFolder(['CutMany']);
    // 30 messages of ~50 KB: the first command holds 20 (1 MiB), the second 10.
    const messages = batch(30, 50_000, 'cut');
    const connections = proxy.connections;
    proxy.cutClientAfter('APPEND', 300_000);
    const outcomes = await driver.appendMessages(['CutMany'], messages);
    expect(proxy.connections - connections, 'the APPEND was cut off and a new session opened').toBe(1);
    const first = outcomes.slice(0, 20);
    expect(first.every((o) => !o.ok && o.code === 'APPEND_UNCONFIRMED')).toBe(true);
    expect(outcomes.slice(20).every((o) => o.ok)).toBe(true);
    for (const [i, m] of messages.entries()) {
      expect(await countById(direct, 'CutMany', m.messageId), `message ${i}`).toBe(i < 20 ? 0 : 1);
    }
  });

  it('a drop after the server stored the command: every message found by content, with its UID, none twice', async () => {
    const { driver, direct } = await throughProxy();
    await driver.createFolder(['LostAnswer']);
    const messages = batch(12, 2_000, 'lost');
    const connections = proxy.connections;
    proxy.cutOnServerText('APPENDUID');
    const outcomes = await driver.appendMessages(['LostAnswer'], messages);
    expect(proxy.connections - connections).toBe(1);
    const ids = outcomes.map((o) => (o.ok ? o.id : `${o.code}`));
    expect(new Set(ids).size).toBe(12);
    for (const [i, m] of messages.entries()) {
      expect(await countById(direct, 'LostAnswer', m.messageId)).toBe(1);
      const read = await driver.readMessage(['LostAnswer'], ids[i]!);
      expect(new Uint8Array(read.body)).toEqual(m.body);
    }
  });
});

describe('MULTIAPPEND on a Dovecot without UIDPLUS', () => {
  let server: DovecotServer;
  beforeAll(async () => {
    server = await startDovecot({
      extraConfig: 'imap_capability = IMAP4rev1 LITERAL+ MULTIAPPEND SASL-IR ID ENABLE IDLE NAMESPACE',
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('finds each message of a command by Message-ID and size; identical ones get their UIDs in order', async () => {
    const { user, password } = await server.addUser();
    const { info } = server;
    const driver = await ImapDriver.connect({
      host: 'localhost',
      port: info.tlsPort,
      tls: 'implicit',
      ca: info.ca,
      user,
      password,
    });
    open.push(driver);
    await driver.createFolder(['Twins']);
    const twin = new TextEncoder().encode('Subject: twin\r\n\r\nsame bytes, no Message-ID\r\n');
    const bodies = [mail('one').body, twin, twin, mail('two').body];
    const outcomes = await driver.appendMessages(
      ['Twins'],
      bodies.map((body, i) => ({ body, flags: i === 1 ? ['\\Seen'] : [] })),
    );
    const ids = outcomes.map((o) => (o.ok ? o.id : `${o.code}: ${o.message}`));
    expect(new Set(ids).size).toBe(4);
    for (const [i, id] of ids.entries()) {
      expect(new Uint8Array((await driver.readMessage(['Twins'], id)).body)).toEqual(bodies[i]);
    }
    expect((await driver.readMessage(['Twins'], ids[1]!)).flags).toEqual(['\\Seen']);
    expect((await driver.readMessage(['Twins'], ids[2]!)).flags).toEqual([]);
  });
});

/** The literals of a command as the fake server logs it (each shows as `\0<index>\0`). */
const literalsIn = (args: string) => (args.split('\u0000').length - 1) / 2;

describe('MULTIAPPEND against tooling/fake-imap', () => {
  async function serve(options: FakeImapOptions) {
    const server = await FakeImapServer.start(options);
    servers.push(server);
    return server;
  }
  async function connect(port: number, server: FakeImapServer) {
    const driver = await ImapDriver.connect({
      ...server.account,
      port,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50, attempts: 3 },
    });
    open.push(driver);
    return driver;
  }
  const appends = (server: FakeImapServer) => server.log.filter((c) => c.name === 'APPEND');
  const stored = (server: FakeImapServer, folder = 'INBOX') =>
    (server.folder(folder)?.messages ?? []).map((m) => m.body.toString('latin1'));
  const text = (m: MessageContent) => Buffer.from(m.body).toString('latin1');

  it('a server without MULTIAPPEND gets one APPEND per message', async () => {
    const server = await serve({});
    const driver = await connect(server.port, server);
    const messages = batch(5);
    const outcomes = await driver.appendMessages(['INBOX'], messages);
    expect(outcomes.map((o) => o.ok && o.id)).toEqual(['1', '2', '3', '4', '5']);
    expect(appends(server)).toHaveLength(5);
    expect(stored(server)).toEqual(messages.map(text));
  });

  it('without LITERAL+, one MULTIAPPEND with synchronising literals; the UID set maps to the messages in order', async () => {
    const server = await serve({ capabilities: ['IMAP4rev1', 'MULTIAPPEND', 'UIDPLUS'] });
    server.add('INBOX', 'Subject: there before\r\n\r\nx\r\n');
    const driver = await connect(server.port, server);
    const messages = batch(4, 6_000);
    const outcomes = await driver.appendMessages(['INBOX'], messages);
    expect(outcomes.map((o) => o.ok && o.id)).toEqual(['2', '3', '4', '5']);
    expect(appends(server)).toHaveLength(1);
    expect(stored(server).slice(1)).toEqual(messages.map(text));
    expect(server.folder('INBOX')?.messages[1]?.flags).toEqual(['\\Seen', '$label1']);
  });

  it('a NO to the command: nothing was stored, so each message goes alone and only the refused one fails', async () => {
    const server = await serve({ capabilities: ['IMAP4rev1', 'LITERAL+', 'MULTIAPPEND', 'UIDPLUS'] });
    const messages = batch(4, 0, 'no');
    const driver = await connect(server.port, server);
    let single = 0;
    server.script = (command) => {
      if (command.name !== 'APPEND') return undefined;
      const literals = literalsIn(command.args);
      // The MULTIAPPEND, and then the third message on its own, are refused.
      if (literals > 1 || ++single === 3) {
        return { send: `${command.tag} NO [TOOBIG] Message too large\r\n`, after: 'done' };
      }
      return undefined;
    };
    const outcomes = await driver.appendMessages(['INBOX'], messages);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.code))).toEqual(['ok', 'ok', 'MESSAGE_TOO_BIG', 'ok']);
    expect(stored(server)).toEqual([0, 1, 3].map((i) => text(messages[i]!)));
    // One MULTIAPPEND, then one APPEND per message.
    expect(appends(server)).toHaveLength(5);
  });

  it('a BAD to the command: per message from then on, for this and later batches', async () => {
    const server = await serve({ capabilities: ['IMAP4rev1', 'LITERAL+', 'MULTIAPPEND', 'UIDPLUS'] });
    const driver = await connect(server.port, server);
    server.script = (command) => {
      const literals = literalsIn(command.args);
      if (command.name === 'APPEND' && literals > 1) {
        return { send: `${command.tag} BAD Unknown arguments\r\n`, after: 'done' };
      }
      return undefined;
    };
    const first = batch(3, 0, 'bad');
    const second = batch(3, 0, 'later');
    expect((await driver.appendMessages(['INBOX'], first)).every((o) => o.ok)).toBe(true);
    expect(appends(server)).toHaveLength(4);
    expect((await driver.appendMessages(['INBOX'], second)).every((o) => o.ok)).toBe(true);
    expect(appends(server)).toHaveLength(7);
    expect(stored(server)).toEqual([...first, ...second].map(text));
  });

  it('an APPENDUID set that does not fit the messages: they are found by content instead, and the next batch asks STATUS', async () => {
    const server = await serve({ capabilities: ['IMAP4rev1', 'LITERAL+', 'MULTIAPPEND', 'UIDPLUS'] });
    const driver = await connect(server.port, server);
    await driver.listMessages(['INBOX'], {});
    let garble = true;
    server.script = (command, answer) => {
      if (command.name !== 'APPEND' || !garble) return undefined;
      // The true answer's effects, then a UID set written high to low, which names no order.
      const said = answer()
        .toString('latin1')
        .replace(/APPENDUID (\d+) (\d+):(\d+)/, 'APPENDUID $1 $3:$2');
      return { send: said, after: 'done' };
    };
    const messages = batch(3, 0, 'set');
    const outcomes = await driver.appendMessages(['INBOX'], messages);
    expect(outcomes.map((o) => o.ok && o.id)).toEqual(['1', '2', '3']);
    expect(server.log.some((c) => c.name === 'UID FETCH' || c.name === 'FETCH')).toBe(true);
    // What was found by content says nothing of the UIDs in between: the next batch starts from STATUS,
    // and the one after it, every message of the one before confirmed by APPENDUID, from that answer.
    garble = false;
    const statuses = () => server.log.filter((c) => c.name === 'STATUS').length;
    const before = statuses();
    expect((await driver.appendMessages(['INBOX'], batch(2, 0, 'next'))).map((o) => o.ok && o.id)).toEqual([
      '4',
      '5',
    ]);
    expect(statuses()).toBe(before + 1);
    expect((await driver.appendMessages(['INBOX'], batch(2, 0, 'last'))).map((o) => o.ok && o.id)).toEqual([
      '6',
      '7',
    ]);
    expect(statuses()).toBe(before + 1);
  });

  it('a drop mid-literal: nothing stored, every message of the command unconfirmed, none sent twice', async () => {
    const server = await serve({ capabilities: ['IMAP4rev1', 'LITERAL+', 'MULTIAPPEND', 'UIDPLUS'] });
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: server.port });
    servers.push(proxy);
    const driver = await connect(proxy.port, server);
    await driver.listFolders();
    const messages = batch(5, 3_000, 'drop');
    proxy.arm({ kind: 'cut', direction: 'up', afterBytes: 8_000 });
    const outcomes = await driver.appendMessages(['INBOX'], messages);
    expect(proxy.fired).toBe(true);
    expect(outcomes.every((o) => !o.ok && o.code === 'APPEND_UNCONFIRMED')).toBe(true);
    expect(stored(server)).toEqual([]);
    expect(appends(server)).toHaveLength(0);
    // The engine's next sync sends them again: once each.
    expect((await driver.appendMessages(['INBOX'], messages)).every((o) => o.ok)).toBe(true);
    expect(stored(server)).toEqual(messages.map(text));
  });
});

describe('the pieces', () => {
  it('appendChunks keeps order, bounds each run, and sends a message that must go alone by itself', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 3000 }), alone: fc.boolean() }), {
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 10 }),
        (messages, maxBytes, maxMessages) => {
          const chunks = appendChunks(
            messages.map((m) => m.size),
            (i) => messages[i]!.alone,
            { maxBytes, maxMessages },
          );
          expect(chunks.flat()).toEqual(messages.map((_, i) => i));
          for (const chunk of chunks) {
            expect(chunk.length).toBeGreaterThan(0);
            expect(chunk.length).toBeLessThanOrEqual(maxMessages);
            if (chunk.some((i) => messages[i]!.alone)) expect(chunk).toHaveLength(1);
            const bytes = chunk.reduce((n, i) => n + messages[i]!.size, 0);
            if (chunk.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
          }
        },
      ),
    );
  });

  it('uidSetOrder reads the sets a server writes and refuses what names no order', () => {
    expect(uidSetOrder('7')).toEqual([7]);
    expect(uidSetOrder('5:8')).toEqual([5, 6, 7, 8]);
    expect(uidSetOrder('1,3:4,9')).toEqual([1, 3, 4, 9]);
    for (const bad of ['8:5', '', '0', '1,,2', '*', '1:*', 'a', '1 2', '99999999999']) {
      expect(uidSetOrder(bad), bad).toBeUndefined();
    }
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 20 }),
        (uids) => {
          expect(uidSetOrder(uids.join(','))).toEqual(uids);
        },
      ),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        const uids = uidSetOrder(text);
        if (uids) for (const uid of uids) expect(uid >= 1 && uid <= 2 ** 32 - 1).toBe(true);
      }),
    );
  });

  it('imapDateTime writes the IMAP date-time of the same instant', () => {
    expect(imapDateTime(Date.UTC(2021, 4, 6, 7, 8, 9))).toBe('06-May-2021 07:08:09 +0000');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2099, 11, 31) }), (ms) => {
        const seconds = Math.floor(ms / 1000) * 1000;
        expect(Date.parse(imapDateTime(ms).replace(/^(\d\d)-(\w{3})-(\d{4})/, '$2 $1 $3'))).toBe(seconds);
      }),
    );
  });
});
