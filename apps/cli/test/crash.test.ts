import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImapFlow } from 'imapflow';
import { afterEach, describe, expect, it } from 'vitest';
import { bin, type Setup, setup, twinbox } from './helpers.js';

let current: Setup | undefined;
afterEach(async () => {
  if (current) await rm(current.dir, { recursive: true, force: true });
  current = undefined;
});

const FOLDERS = { INBOX: 'INBOX', Archiv: 'Archiv', Lokal: 'Lokal' } as const;
/** Maildir++ directory of a folder. */
const dirOf = (root: string, folder: string) => (folder === 'INBOX' ? root : join(root, `.${folder}`));

const PADDING = `${'x'.repeat(78)}\r\n`.repeat(100);

/**
 * A message named by a token in its Subject; every tenth has no Message-ID, so it can only be paired
 * by content. Padded, so that a batch takes long enough to be killed in the middle of.
 */
function mail(token: string): string {
  const id = Number(token.replace(/\D/g, '')) % 10 === 0 ? '' : `Message-ID: <${token}@crash>\r\n`;
  return `${id}Subject: ${token}\r\nFrom: a@example.org\r\n\r\nBody of ${token}.\r\n${PADDING}`;
}

/** Token -> how many times, per folder, and whether every copy is whole and flagged as expected. */
type Holdings = Record<string, Record<string, string[]>>;

async function imapHoldings(client: ImapFlow): Promise<Holdings> {
  const out: Holdings = {};
  for (const folder of Object.values(FOLDERS)) {
    out[folder] = {};
    const exists = (await client.list()).some((b) => b.path === folder);
    if (!exists) continue;
    const lock = await client.getMailboxLock(folder);
    try {
      if ((client.mailbox || { exists: 0 }).exists === 0) continue;
      for await (const m of client.fetch('1:*', { uid: true, flags: true, source: true })) {
        const text = m.source!.toString('latin1');
        const token = /^Subject: (\S+)/m.exec(text)?.[1] ?? '?';
        expect(text, `message ${token} on the server is whole`).toBe(mail(token));
        note(out[folder]!, token, [...(m.flags ?? [])].filter((f) => f === '\\Flagged').join(''));
      }
    } finally {
      lock.release();
    }
  }
  return out;
}

/** Adds one copy of a message to a folder's holdings (a token seen twice is a duplicate). */
function note(folder: Record<string, string[]>, token: string, flags: string): void {
  const copies = folder[token] ?? [];
  copies.push(flags);
  folder[token] = copies;
}

async function maildirHoldings(root: string): Promise<Holdings> {
  const out: Holdings = {};
  for (const folder of Object.values(FOLDERS)) {
    out[folder] = {};
    for (const sub of ['cur', 'new']) {
      const dir = join(dirOf(root, folder), sub);
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const text = (await readFile(join(dir, name), 'latin1')).replace(/\r?\n/g, '\r\n');
        const token = /^Subject: (\S+)/m.exec(text)?.[1] ?? '?';
        expect(text, `message ${token} in the Maildir is whole`).toBe(mail(token));
        const info = name.split(':2,')[1] ?? '';
        note(out[folder]!, token, info.includes('F') ? '\\Flagged' : '');
      }
    }
  }
  return out;
}

/** Runs `twinbox sync` and SIGKILLs it as soon as it has printed `events` JSON events. */
async function syncKilledAfter(s: Setup, events: number): Promise<'killed' | 'finished'> {
  const child = spawn(process.execPath, [bin, '-c', s.config, '--json', 'sync'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...s.env },
  });
  let seen = 0;
  let buffered = '';
  let killed = false;
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    seen += lines.length;
    if (!killed && seen >= events) {
      killed = child.kill('SIGKILL');
    }
  });
  child.stderr.resume();
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (c, sig) => resolve([c, sig])),
  );
  if (signal === 'SIGKILL') return 'killed';
  expect(code, 'a sync that was not killed succeeds').toBe(0);
  return 'finished';
}

/** Kills syncs at growing points until one finishes; returns how many were killed mid-way. */
async function killUntilDone(s: Setup): Promise<number> {
  let killed = 0;
  for (const events of [1, 2, 3, 4, 6, 8, 11, 15, 20, 30, 45, 70, 100, 1e9]) {
    if ((await syncKilledAfter(s, events)) === 'finished') return killed;
    killed++;
  }
  throw new Error('no sync finished');
}

/** Sorted tokens -> flags, as both sides must hold them: each message exactly once. */
function expectHoldings(holdings: Holdings, expected: Record<string, Map<string, string>>, where: string) {
  for (const [folder, tokens] of Object.entries(expected)) {
    const held = holdings[folder] ?? {};
    const duplicates = Object.entries(held).filter(([, copies]) => copies.length > 1);
    expect(duplicates, `duplicates in ${folder} (${where})`).toEqual([]);
    expect(Object.keys(held).sort(), `messages in ${folder} (${where})`).toEqual([...tokens.keys()].sort());
    for (const [token, flags] of tokens)
      expect(held[token], `${token} in ${folder} (${where})`).toEqual([flags]);
  }
}

describe('kill -9 during twinbox sync (built binary, Dovecot, a Maildir)', () => {
  it('at many points of a first and a second sync: nothing lost, nothing duplicated, nothing half-written', async () => {
    const s = await setup('', 'threads');
    current = s;
    const expected: Record<string, Map<string, string>> = {
      INBOX: new Map(),
      Archiv: new Map(),
      Lokal: new Map(),
    };
    const client = await s.imap();
    try {
      await client.mailboxCreate('Archiv');
      for (let i = 0; i < 300; i++) {
        const folder = i < 220 ? 'INBOX' : 'Archiv';
        const flags = i % 7 === 0 ? ['\\Flagged'] : [];
        await client.append(folder, mail(`s${i}`), flags);
        expected[folder]!.set(`s${i}`, flags.join(''));
      }
    } finally {
      await client.logout();
    }
    for (const folder of ['INBOX', 'Lokal'])
      for (const sub of ['cur', 'new', 'tmp'])
        await mkdir(join(dirOf(s.maildir, folder), sub), { recursive: true });
    for (let i = 0; i < 150; i++) {
      const folder = i < 100 ? 'INBOX' : 'Lokal';
      const flagged = i % 5 === 0;
      const name = `17000${String(i).padStart(5, '0')}.M${i}P1.host${flagged ? ':2,F' : ':2,'}`;
      await writeFile(join(dirOf(s.maildir, folder), 'cur', name), mail(`l${i}`).replaceAll('\r\n', '\n'));
      expected[folder]!.set(`l${i}`, flagged ? '\\Flagged' : '');
    }

    const killedFirst = await killUntilDone(s);
    // The kills must have landed mid-sync, or this test shows nothing.
    expect(killedFirst).toBeGreaterThanOrEqual(4);
    expectHoldings(await maildirHoldings(s.maildir), expected, 'Maildir after the first sync');
    let imap = await s.imap();
    try {
      expectHoldings(await imapHoldings(imap), expected, 'server after the first sync');
    } finally {
      await imap.logout();
    }

    // Changes on both sides: flags, deletions and new messages, then the same killing again.
    imap = await s.imap();
    try {
      const lock = await imap.getMailboxLock('INBOX');
      try {
        // SEARCH SUBJECT matches substrings ("s1" in "s10"): find each message's UID by its exact token.
        const uid = new Map<string, number>();
        for await (const m of imap.fetch('1:*', { uid: true, envelope: true }))
          uid.set(m.envelope?.subject ?? '', m.uid);
        const flag: number[] = [];
        const gone: number[] = [];
        for (let i = 1; i < 40; i += 3) {
          flag.push(uid.get(`s${i}`)!);
          expected.INBOX!.set(`s${i}`, '\\Flagged');
        }
        for (let i = 2; i < 60; i += 4) {
          gone.push(uid.get(`s${i}`)!);
          expected.INBOX!.delete(`s${i}`);
        }
        await imap.messageFlagsAdd(flag, ['\\Flagged'], { uid: true });
        await imap.messageDelete(gone, { uid: true });
      } finally {
        lock.release();
      }
      for (let i = 300; i < 360; i++) {
        await imap.append('Archiv', mail(`s${i}`), []);
        expected.Archiv!.set(`s${i}`, '');
      }
    } finally {
      await imap.logout();
    }
    const cur = join(s.maildir, 'cur');
    for (const name of await readdir(cur)) {
      const token = /^Subject: (\S+)/m.exec(await readFile(join(cur, name), 'latin1'))?.[1] ?? '';
      const n = Number(token.slice(1));
      if (token.startsWith('l') && n % 6 === 1) {
        await unlink(join(cur, name));
        expected.INBOX!.delete(token);
      } else if (token.startsWith('l') && n % 6 === 2 && !name.includes('F')) {
        await rename(join(cur, name), join(cur, `${name.split(':2,')[0]}:2,F`));
        expected.INBOX!.set(token, '\\Flagged');
      }
    }
    for (let i = 150; i < 200; i++) {
      await writeFile(
        join(dirOf(s.maildir, 'Lokal'), 'new', `17001${i}.M${i}P2.host`),
        mail(`l${i}`).replaceAll('\r\n', '\n'),
      );
      expected.Lokal!.set(`l${i}`, '');
    }

    const killedSecond = await killUntilDone(s);
    expect(killedSecond).toBeGreaterThanOrEqual(2);
    expectHoldings(await maildirHoldings(s.maildir), expected, 'Maildir after the second sync');
    imap = await s.imap();
    try {
      expectHoldings(await imapHoldings(imap), expected, 'server after the second sync');
    } finally {
      await imap.logout();
    }
    const check = await twinbox(['-c', s.config, 'check'], s.env);
    expect(check.code, check.stdout).toBe(0);
    // And a sync after all that has nothing left to do.
    const last = await twinbox(['-c', s.config, 'sync'], s.env);
    expect(last.stdout).toMatch(/mail: copied 0, flagged 0, deleted 0, /);
  });
});
