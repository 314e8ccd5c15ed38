import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type CommandInfo, FakeImapServer, type Script } from '@twinbox/test-fake-imap';
import { afterEach, describe, expect, it } from 'vitest';
import { bin, type FakeServerPair, fakeServerPair, twinbox } from './helpers.js';

/**
 * The built binary against a scripted misbehaving server (issue 15, items 1 to 3): what the user sees
 * in exit codes and messages, and what ends up in the Maildir.
 */

let server: FakeImapServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  server = undefined;
  dir = undefined;
});

async function pairWith(fake: FakeImapServer, accountExtra = ''): Promise<FakeServerPair> {
  server = fake;
  const pair = await fakeServerPair(fake.account, accountExtra);
  dir = pair.dir;
  return pair;
}

function mail(folder: string, i: number, size = 0): Buffer {
  const filler = Array.from({ length: Math.ceil(size / 78) }, () => 'y'.repeat(76)).join('\r\n');
  return Buffer.from(
    `Message-ID: <${folder}.${i}@hostile.test>\r\nSubject: ${folder} ${i}\r\n\r\nBody ${i}\r\n${filler}\r\n`,
  );
}

/** The Message-IDs of the messages of a Maildir folder (Maildir++: `""` is the inbox). */
async function maildirIds(maildir: string, folder = ''): Promise<string[]> {
  const base = folder === '' ? maildir : join(maildir, `.${folder}`);
  const ids: string[] = [];
  for (const sub of ['cur', 'new']) {
    const names = await readdir(join(base, sub)).catch(() => [] as string[]);
    for (const name of names) {
      const text = await readFile(join(base, sub, name), 'latin1');
      ids.push(/^Message-ID: (.*)$/im.exec(text)?.[1]?.trim() ?? `(none in ${name})`);
    }
  }
  return ids.sort();
}

type Event = {
  type: string;
  aborted?: boolean;
  totals?: Record<string, number>;
  errors?: { code: string; message: string }[];
};

function events(stdout: string): Event[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event);
}

describe('messages whose flag list the IMAP library cannot parse (item 1)', () => {
  it('are all synced, each problem is reported by UID and folder, and the sync exits 1', async () => {
    const fake = await FakeImapServer.start();
    const raw = (text: string) => ({ rawFlags: Buffer.from(text, 'latin1') });
    for (let i = 1; i <= 7; i++) fake.add('INBOX', mail('inbox', i), ['\\Seen']);
    fake.add('INBOX', mail('inbox', 8), ['\\Seen', '\\Flagged'], raw('\\Seen \\Flagged foo\\bar'));
    fake.add('INBOX', mail('inbox', 9), ['\\Answered'], raw('\\Answered a(b'));
    fake.add('INBOX', mail('inbox', 10), ['\\Seen'], raw('\\Seen foo]bar'));
    fake.add('INBOX', mail('inbox', 11), ['\\Seen'], raw('\\Seen caf\xe9'));
    fake.add('INBOX', mail('inbox', 12), ['\\Draft'], raw('\\Draft "a quoted keyword"'));
    const p = await pairWith(fake);

    const first = await twinbox(['-c', p.config, '--json', 'sync'], p.env);
    expect(first.code, first.stderr).toBe(1);
    const expected = Array.from({ length: 12 }, (_, i) => `<inbox.${i + 1}@hostile.test>`).sort();
    expect(await maildirIds(p.maildir)).toEqual(expected);
    const folder = events(first.stdout).find((e) => e.type === 'folder-done');
    const codes = (folder?.errors ?? []).map((e) => e.code).sort();
    expect(codes).toEqual([
      'FLAGS_UNREADABLE',
      'FLAGS_UNREADABLE',
      'KEYWORD_UNSTORABLE',
      'KEYWORD_UNSTORABLE',
      'KEYWORD_UNSTORABLE',
    ]);
    expect(folder?.errors?.map((e) => e.message).join('\n')).toMatch(/UID 8 in INBOX/);
    // Flags read by SEARCH crossed over: message 8 is seen and flagged in the Maildir.
    const cur = await readdir(join(p.maildir, 'cur'));
    const eight = await Promise.all(
      cur.map(async (n) => [n, await readFile(join(p.maildir, 'cur', n), 'latin1')] as const),
    );
    expect(eight.find(([, text]) => text.includes('<inbox.8@'))?.[0]).toMatch(/:2,FS$/);

    // Nothing is copied twice, and the problems are still said (they are still there).
    const second = await twinbox(['-c', p.config, '--json', 'sync'], p.env);
    expect(second.code).toBe(1);
    expect(events(second.stdout).find((e) => e.type === 'pair-done')?.totals?.copied).toBe(0);
    expect(await maildirIds(p.maildir)).toEqual(expected);
  });
});

describe('a server that drops the connection in the middle of every body FETCH (item 2)', () => {
  it('keeps what arrived whole, syncs every folder, and completes over a few syncs without a duplicate', async () => {
    const fake = await FakeImapServer.start();
    for (const folder of ['A', 'B']) for (let i = 1; i <= 12; i++) fake.add(folder, mail(folder, i, 3000));
    const cut: Script = (cmd: CommandInfo, answer) => {
      if (!cmd.name.endsWith('FETCH') || !/BODY/i.test(cmd.args)) return undefined;
      const full = answer();
      return {
        send: Buffer.concat([
          full.subarray(0, Math.floor(full.length * 0.6)),
          Buffer.from('\r\n* BYE bye\r\n'),
        ]),
        after: 'close',
      };
    };
    fake.script = cut;
    const p = await pairWith(fake);
    // Folders at once, each on a connection of its own (the account's `connections`): a drop under one
    // folder's FETCH does not cut the other's.
    const first = await twinbox(['-c', p.config, '--json', 'sync'], p.env);
    expect(first.code, first.stderr).toBe(1);
    const a = await maildirIds(p.maildir, 'A');
    const b = await maildirIds(p.maildir, 'B');
    // Each folder got most of its messages in this one sync: 60% of each attempt's answer is kept.
    expect(a.length).toBeGreaterThanOrEqual(10);
    expect(b.length).toBeGreaterThanOrEqual(10);
    expect(events(first.stdout).filter((e) => e.type === 'error')).toEqual([]);

    const failures = events(first.stdout)
      .filter((e) => e.type === 'folder-done')
      .flatMap((e) => e.errors ?? []);
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) expect(f.message).toMatch(/Message UID \d+ of [AB] could not be read/);

    // Still dropping: what is left (the last message never arrives whole) stays reported, nothing doubles.
    const second = await twinbox(['-c', p.config, '--json', 'sync'], p.env);
    expect(second.code).toBe(1);
    expect((await maildirIds(p.maildir, 'A')).length).toBeGreaterThanOrEqual(a.length);
    expect(new Set(await maildirIds(p.maildir, 'A')).size).toBe((await maildirIds(p.maildir, 'A')).length);

    // The server heals: the next sync completes both folders, each message exactly once.
    fake.script = undefined;
    const healed = await twinbox(['-c', p.config, 'sync'], p.env);
    expect(healed.code, healed.stderr).toBe(0);
    const all = (f: string) => Array.from({ length: 12 }, (_, i) => `<${f}.${i + 1}@hostile.test>`).sort();
    expect(await maildirIds(p.maildir, 'A')).toEqual(all('A'));
    expect(await maildirIds(p.maildir, 'B')).toEqual(all('B'));
  });
});

describe('a server that stops answering (item 3)', () => {
  it('ends the sync within 60 s by default, exit 4, naming server, account, folder and command', async () => {
    const fake = await FakeImapServer.start();
    fake.add('INBOX', mail('inbox', 1));
    fake.script = (cmd) => (cmd.name === 'SELECT' ? { stall: true } : undefined);
    const p = await pairWith(fake);
    const started = Date.now();
    const result = await twinbox(['-c', p.config, 'sync'], p.env);
    const seconds = (Date.now() - started) / 1000;
    expect(result.code).toBe(4);
    expect(seconds).toBeLessThan(60);
    // The default deadline is 20 s: not the library's 5 minutes, and not cut short either.
    expect(seconds).toBeGreaterThan(19);
    expect(result.stderr).toContain(`127.0.0.1:${fake.port}`);
    expect(result.stderr).toContain('account user');
    expect(result.stderr).toContain('SELECT');
    expect(result.stderr).toContain('INBOX');
    expect(result.stderr).toMatch(/within 20 s/);
  }, 90_000);

  it('SIGTERM ends it within 10 s while a command is outstanding, exit 130, and what was done is recorded', async () => {
    const fake = await FakeImapServer.start();
    for (let i = 1; i <= 3; i++) fake.add('A', mail('A', i));
    for (let i = 1; i <= 3; i++) fake.add('B', mail('B', i));
    const selectsB = (cmd: CommandInfo) => cmd.name === 'SELECT' && /^"?B"?( |$)/.test(cmd.args);
    fake.script = (cmd) => (selectsB(cmd) ? { stall: true } : undefined);
    const p = await pairWith(fake, 'timeout = 600\n');
    // Folders at once, each on a connection of its own: A's commands do not wait behind B's stalled
    // SELECT, so A is done while B stalls.
    const child = spawn(process.execPath, [bin, '-c', p.config, '--json', 'sync'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...p.env },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 20_000;
    while (!fake.log.some(selectsB) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(fake.log.some(selectsB), 'the sync reached B').toBe(true);
    // A goes on beside B's stalled SELECT, on a connection of its own, and finishes.
    // (By its line as written: `out` may end in a line still being written.)
    const aDone = () => /^\{"type":"folder-done","pair":"mail","folder":"A",/m.test(out);
    while (!aDone() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(aDone(), 'A was synced while B stalled').toBe(true);
    const signalled = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect((Date.now() - signalled) / 1000).toBeLessThan(10);
    expect(code).toBe(130);
    const done = events(out).find((e) => e.type === 'pair-done');
    expect(done?.aborted).toBe(true);
    expect(done?.totals?.copied).toBe(3);
    expect(await maildirIds(p.maildir, 'A')).toHaveLength(3);

    // The server answers again: the next sync copies B only; A's messages were recorded as synced.
    fake.script = undefined;
    const again = await twinbox(['-c', p.config, '--json', 'sync'], p.env);
    expect(again.code, again.stderr).toBe(0);
    expect(events(again.stdout).find((e) => e.type === 'pair-done')?.totals?.copied).toBe(3);
    expect(await maildirIds(p.maildir, 'A')).toHaveLength(3);
    expect(await maildirIds(p.maildir, 'B')).toHaveLength(3);
  }, 60_000);
});

describe('a UIDVALIDITY that changes in the middle of a sync', () => {
  it('fails that folder alone, and the next sync pairs by content: nothing copied twice, nothing lost', async () => {
    const fake = await FakeImapServer.start();
    for (let i = 1; i <= 5; i++) fake.add('Work', mail('Work', i));
    for (let i = 1; i <= 2; i++) fake.add('INBOX', mail('inbox', i));
    const p = await pairWith(fake);
    expect((await twinbox(['-c', p.config, 'sync'], p.env)).code).toBe(0);

    // Three new messages; while their bodies are asked for, the server loses its index (new
    // UIDVALIDITY, every UID renumbered) and drops the connection.
    for (let i = 6; i <= 8; i++) fake.add('Work', mail('Work', i));
    fake.script = (cmd) => {
      if (!cmd.name.endsWith('FETCH') || !/BODY/i.test(cmd.args) || cmd.selected !== 'Work') return undefined;
      fake.renumber('Work');
      fake.script = undefined;
      return { bye: 'index lost' };
    };
    const second = await twinbox(['-c', p.config, '--json', 'sync'], p.env);
    expect(second.code, second.stderr).toBe(1);
    const work = events(second.stdout).find(
      (e) => e.type === 'folder-done' && (e as { folder?: string }).folder === 'Work',
    );
    expect(work?.errors?.map((e) => e.code)).toContain('EPOCH_CHANGED');

    const third = await twinbox(['-c', p.config, '--json', 'sync'], p.env);
    expect(third.code, third.stderr).toBe(0);
    const totals = events(third.stdout).find((e) => e.type === 'pair-done')?.totals;
    expect(totals).toMatchObject({ copied: 3, paired: 5 });
    const all = Array.from({ length: 8 }, (_, i) => `<Work.${i + 1}@hostile.test>`).sort();
    expect(await maildirIds(p.maildir, 'Work')).toEqual(all);
    expect(fake.folder('Work')?.messages).toHaveLength(8);
  });
});
