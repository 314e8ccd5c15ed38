import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteState } from '@twinbox/state-sqlite';
import { dovecot } from '@twinbox/test-dovecot/inject';
import type { ImapFlow } from 'imapflow';
import { afterEach, expect } from 'vitest';
import { imapClient, pairTotals, twinbox } from './helpers.js';

// What the end-to-end tests of moves and renames share: a pair between a fixture user (through a
// proxy that counts the bytes) and a Maildir or a second user, run through the built binary, and
// readers of what each store holds afterwards.

/** A TCP proxy in front of the fixture's plain port that counts the bytes each way. */
export class CountingProxy {
  up = 0;
  down = 0;
  /** What the clients sent, as latin1 text. */
  sent = '';
  port = 0;
  readonly #server: Server;

  private constructor(target: number) {
    this.#server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      for (const s of [client, upstream]) s.on('error', () => {});
      client.on('data', (chunk: Buffer) => {
        this.up += chunk.length;
        this.sent += chunk.toString('latin1');
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        this.down += chunk.length;
        client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(target: number): Promise<CountingProxy> {
    const proxy = new CountingProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  reset(): void {
    this.up = 0;
    this.down = 0;
    this.sent = '';
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

export interface User {
  user: string;
  password: string;
}

export const account = (name: string, u: User, port: number) => `[accounts.${name}]
type = "imap"
host = "127.0.0.1"
port = ${port}
tls = "none"
user = "${u.user}"
password = "${u.password}"
`;

export interface Pair {
  dir: string;
  config: string;
  maildir: string;
  state: string;
  proxy: CountingProxy;
  env: Record<string, string>;
}

let current: Pair | undefined;
afterEach(async () => {
  if (!current) return;
  await current.proxy.stop();
  await rm(current.dir, { recursive: true, force: true });
  current = undefined;
});

/** A pair `mail` between `left` (IMAP, through the proxy) and either a Maildir or a second IMAP user. */
export async function pair(left: User, right?: User): Promise<Pair> {
  const proxy = await CountingProxy.start(dovecot().port);
  const dir = await mkdtemp(join(tmpdir(), 'twinbox-e2e-'));
  const maildir = join(dir, 'Mail');
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `[state]
dir = "${join(dir, 'state')}"

${account('remote', left, proxy.port)}
${right ? account('other', right, proxy.port) : `[accounts.local]\ntype = "maildir"\npath = "Mail"\n`}
[pairs.mail]
left = "remote"
right = "${right ? 'other' : 'local'}"
`,
  );
  const env = { XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_STATE_HOME: join(dir, 'xdg-state') };
  current = { dir, config, maildir, state: join(dir, 'state', 'mail.sqlite'), proxy, env };
  return current;
}

/** A logged-in IMAPS client of a fixture user. */
export const imap = (u: User): Promise<ImapFlow> => imapClient(u);

export type Totals = Record<string, number>;

/** A sync with `--json`: its totals. */
export async function sync(p: Pair, ...extra: string[]): Promise<Totals> {
  const r = await twinbox(['-c', p.config, '--json', 'sync', ...extra], p.env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return pairTotals(r.stdout);
}

/** A folder on the server: Message-ID → { uid, flags (sorted, \Recent left out) }. */
export async function serverFolder(
  u: User,
  folder: string,
): Promise<Map<string, { uid: number; flags: string[] }>> {
  const client = await imap(u);
  const found = new Map<string, { uid: number; flags: string[] }>();
  try {
    const lock = await client.getMailboxLock(folder);
    try {
      for await (const m of client.fetch('1:*', { envelope: true, flags: true, uid: true })) {
        const id = m.envelope?.messageId ?? `(none ${m.uid})`;
        expect(found.has(id), `${id} twice in ${folder}`).toBe(false);
        found.set(id, { uid: m.uid, flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort() });
      }
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
  return found;
}

export const MAILDIR_LETTERS: Record<string, string> = { '\\Seen': 'S', '\\Flagged': 'F', '\\Answered': 'R' };

/** A Maildir folder: Message-ID → its file name's flag letters (keywords as Dovecot's lowercase letters). */
export async function maildirFolder(dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const sub of ['cur', 'new']) {
    for (const name of await readdir(join(dir, sub)).catch(() => [])) {
      const text = await readFile(join(dir, sub, name), 'latin1');
      const id = /^Message-ID: (.*)$/m.exec(text)?.[1]?.trim() ?? `(none ${name})`;
      expect(found.has(id), `${id} twice in ${dir}`).toBe(false);
      found.set(id, name.split(':2,')[1] ?? '');
    }
  }
  return found;
}

/** The seeded flags of message `i` as a Maildir names them: system letters only, sorted. */
export const letters = (flags: string[]) =>
  flags
    .map((f) => MAILDIR_LETTERS[f] ?? '')
    .sort()
    .join('');
export const systemLetters = (name: string) => [...name.replace(/[^A-Z]/g, '')].sort().join('');

/** The state's pairs of the folder pair whose left is `folder`. */
export async function statePairs(p: Pair, folder: string) {
  const state = await SqliteState.open({ path: p.state });
  try {
    const record = (await state.listFolderPairs()).find((f) => f.left.join('/') === folder);
    expect(record, `a folder pair for ${folder}`).toBeDefined();
    return await state.loadPairs(record!.key);
  } finally {
    await state.close();
  }
}

/**
 * What a sync that moved or renamed and sent no body may have cost, at most: no command that fetches
 * a whole message or stores one went out, and the bytes agree. Listing and describing the folders
 * (Message-ID, size and flags, about a hundred bytes per message and side) and the UIDs of MOVE
 * commands stay well under `bodies`, the bytes of the messages, which one download or upload would
 * exceed on its own.
 */
export function expectNoBodies(p: Pair, bodies: number): void {
  expect(p.proxy.sent).not.toMatch(/BODY(\.PEEK)?\[\]|BINARY(\.PEEK)?\[\]|RFC822[ )]|\bAPPEND\b/i);
  expect(p.proxy.down, `bytes received (bodies are ${bodies})`).toBeLessThan(bodies / 4);
  expect(p.proxy.up, `bytes sent (bodies are ${bodies})`).toBeLessThan(bodies / 4);
}
