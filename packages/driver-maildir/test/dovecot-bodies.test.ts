import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type DovecotServer, startDovecot, type TestUser } from '@twinbox/test-dovecot';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaildirDriver } from '../src/index.js';

/**
 * Issue 15, item 5, against a real server: bodies with CR CR LF, bare LF, bare CR, NUL and 8-bit
 * bytes, as Dovecot holds and serves them, come back from the Maildir driver byte for byte; and a
 * Maildir Twinbox wrote them to is served by Dovecot as Twinbox reads it.
 *
 * Two servers: Dovecot as shipped (`mail_save_crlf = no`: it saves LF, and so turns CR CR LF into
 * CR LF itself) and one that saves what it is given (`mail_save_crlf = yes`), which holds CR CR LF
 * the way Cyrus does.
 */

let lf: DovecotServer;
let crlf: DovecotServer;
beforeAll(async () => {
  [lf, crlf] = await Promise.all([startDovecot(), startDovecot({ extraConfig: 'mail_save_crlf = yes\n' })]);
}, 60_000);
afterAll(async () => {
  await Promise.all([lf?.stop(), crlf?.stop()]);
});

async function imap(server: DovecotServer, user: TestUser): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: server.info.host,
    port: server.info.tlsPort,
    secure: true,
    tls: { ca: [server.info.ca] },
    auth: { user: user.user, pass: user.password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Under root the mail belongs to Dovecot's mail user; elsewhere it is ours already. */
async function handOver(server: DovecotServer, dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { mailUid, mailGid } = server.info;
  await chown(dirname(dir), mailUid, mailGid);
  await chown(dir, mailUid, mailGid);
  for (const entry of await readdir(dir, { recursive: true }))
    await chown(join(dir, String(entry)), mailUid, mailGid);
}

const latin1 = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
const show = (bytes: Uint8Array) => JSON.stringify(Buffer.from(bytes).toString('latin1'));

const head = (tag: string) => `Message-ID: <${tag}@bodies>\r\nSubject: ${tag}\r\n\r\n`;
const bodies: Record<string, Uint8Array> = {
  'cr-cr-lf': latin1(`${head('cr-cr-lf')}${'a line ending in CR CR LF\r\r\n'.repeat(27)}end\r\n`),
  'bare-lf': latin1(`${head('bare-lf')}one\ntwo\n`),
  'mixed-lf': latin1(`${head('mixed-lf')}one\r\ntwo\nthree\r\n`),
  'bare-cr': latin1(`${head('bare-cr')}a\rb\r\r\r\nc\r`),
  'only-lf': latin1('\n\n\n\n'),
  nul: latin1(`${head('nul')}a\x00b\x00\r\n`),
  'eight-bit': latin1(`${head('eight-bit')}caf\xe9 \x80\xff\r\n`),
  plain: latin1(`${head('plain')}an ordinary line\r\n`),
};

/** Every message of INBOX as Dovecot serves it: BODY[] and RFC822.SIZE, in APPEND order. */
async function served(server: DovecotServer, user: TestUser): Promise<{ body: Uint8Array; size: number }[]> {
  const client = await imap(server, user);
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const out: { body: Uint8Array; size: number }[] = [];
      for await (const m of client.fetch('1:*', { source: true, size: true }))
        out.push({ body: new Uint8Array(m.source ?? Buffer.alloc(0)), size: m.size ?? -1 });
      return out;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

describe.each([
  ['as shipped (saves LF)', () => lf],
  ['with mail_save_crlf (saves what it is given)', () => crlf],
])('Dovecot %s', (_, server) => {
  it('what it serves comes back from the Maildir driver byte for byte, with its RFC822.SIZE', async () => {
    const user = await server().addUser();
    const client = await imap(server(), user);
    try {
      for (const body of Object.values(bodies)) await client.append('INBOX', Buffer.from(body), ['\\Seen']);
    } finally {
      await client.logout();
    }
    const messages = await served(server(), user);
    expect(messages).toHaveLength(Object.keys(bodies).length);

    const root = await mkdtemp(join(tmpdir(), 'twinbox-dovecot-bodies-'));
    try {
      const driver = await MaildirDriver.open({ root });
      const outcomes = await driver.appendMessages(
        ['INBOX'],
        messages.map((m) => ({ body: m.body, flags: ['\\Seen'] })),
      );
      const reader = await MaildirDriver.open({ root });
      const listing = await reader.listMessages(['INBOX'], {});
      if (listing.kind !== 'full') throw new Error('expected a full listing');
      for (const [i, outcome] of outcomes.entries()) {
        if (!outcome.ok) throw new Error(outcome.message);
        const { body, size } = messages[i]!;
        expect(size, 'Dovecot: RFC822.SIZE is the length of BODY[]').toBe(body.length);
        expect(show((await reader.readMessage(['INBOX'], outcome.id)).body)).toBe(show(body));
        expect(listing.messages.find((m) => m.id === outcome.id)?.size).toBe(size);
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('what Dovecot can hold', () => {
  it('CR CR LF only when it saves what it is given; it serves a NUL as 0x80 and a bare LF as CR LF', async () => {
    const sent = bodies['cr-cr-lf']!;
    const order = Object.keys(bodies);
    const results: Record<string, Uint8Array[]> = {};
    for (const [name, server] of [
      ['lf', lf],
      ['crlf', crlf],
    ] as const) {
      const user = await server.addUser();
      const client = await imap(server, user);
      try {
        for (const body of Object.values(bodies)) await client.append('INBOX', Buffer.from(body), []);
      } finally {
        await client.logout();
      }
      results[name] = (await served(server, user)).map((m) => m.body);
    }
    const at = (name: string) => order.indexOf(name);
    expect(show(results.crlf![at('cr-cr-lf')]!)).toBe(show(sent));
    // Dovecot as shipped saves with LF and reads CR CR LF as CR LF: 27 bytes short, as in the issue.
    expect(results.lf![at('cr-cr-lf')]!.length).toBe(sent.length - 27);
    for (const served of [results.lf!, results.crlf!]) {
      expect(show(served[at('nul')]!)).toBe(show(latin1(`${head('nul')}a\x80b\x80\r\n`)));
      expect(show(served[at('bare-lf')]!)).toBe(show(latin1(`${head('bare-lf')}one\r\ntwo\r\n`)));
    }
  });
});

describe('Dovecot serving a Maildir Twinbox wrote', () => {
  it('serves each body as Twinbox reads it, with the same size, and renames no file', async () => {
    const user = await lf.addUser();
    const driver = await MaildirDriver.open({ root: user.maildir });
    const sent = Object.values(bodies);
    for (const body of sent) {
      const [outcome] = await driver.appendMessages(['INBOX'], [{ body, flags: ['\\Seen'] }]);
      if (!outcome?.ok) throw new Error('append failed');
    }
    await driver.close();
    const names = async () => (await readdir(join(user.maildir, 'cur'))).sort();
    const before = await names();
    await handOver(lf, user.maildir);

    // Twice: the second time from Dovecot's cache and index, which the first fetch filled.
    for (let round = 0; round < 2; round++) {
      const messages = await served(lf, user);
      expect(messages).toHaveLength(sent.length);
      // By Message-ID, not by place: Dovecot numbers the files of one second in its own order.
      const idOf = (body: Uint8Array) =>
        /^Message-ID: (\S+)/m.exec(Buffer.from(body).toString('latin1'))?.[1];
      const byId = new Map(messages.map((m) => [idOf(m.body), m]));
      for (const body of sent) {
        const message = byId.get(idOf(body));
        // IMAP has no NUL in a literal: Dovecot sends 0x80 instead, whoever wrote the file.
        const expected = body.map((b) => (b === 0 ? 0x80 : b));
        expect(show(message?.body ?? new Uint8Array()), `round ${round}`).toBe(show(expected));
        expect(message?.size).toBe(body.length);
      }
    }
    // Dovecot renames a file whose S or W it finds wrong (dropping every field after the first comma).
    expect(await names()).toEqual(before);
    const log = await readFile(lf.info.logFile, 'utf8');
    expect(log).not.toMatch(/Corrupted|wrong [SW] value|Cached message size|[Bb]roken/);
  });
});
