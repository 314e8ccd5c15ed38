import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SqliteState } from '@twinbox/state-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { message, nothingWritten, type Setup, setup, twinbox } from './helpers.js';

let current: Setup | undefined;
afterEach(async () => {
  if (current) await rm(current.dir, { recursive: true, force: true });
  current = undefined;
});

async function seed(s: Setup) {
  const client = await s.imap();
  try {
    await client.mailboxCreate('Archiv/2024');
    await client.mailboxCreate('Привет');
    await client.append('INBOX', message('one'), ['\\Seen']);
    await client.append('INBOX', message('two'), []);
    await client.append('INBOX', message('three'), ['\\Flagged', '$label1']);
    await client.append('Archiv/2024', message('old'), ['\\Seen', '\\Answered']);
    await client.append('Привет', message('hello'), ['\\Seen']);
  } finally {
    await client.logout();
  }
}

/** Every file under the Maildir with its flags letters: what the user's mail reader sees. */
async function maildirSnapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const dir = entry.parentPath.slice(root.length);
    if (!/\/(cur|new)$/.test(dir)) continue;
    const text = await readFile(join(entry.parentPath, entry.name), 'latin1');
    out.push(`${dir} ${/^Message-ID: (.*)$/m.exec(text)?.[1]} ${entry.name.split(':2,')[1] ?? ''}`);
  }
  return out.sort();
}

describe.each(['threads', 'inline'] as const)(
  'twinbox sync, end to end (built binary, Dovecot, a Maildir), workers = %s',
  (mode) => {
    it('first sync, changes on both sides, second sync, check finds no difference, a no-op sync writes nothing', async () => {
      const s = await setup('', mode);
      current = s;
      await seed(s);
      const first = await twinbox(['-c', s.config, 'sync'], s.env);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/mail: copied 5, flagged 0, deleted 0/);
      const snapshot = await maildirSnapshot(s.maildir);
      expect(snapshot).toEqual([
        '/.Archiv.2024/cur <old@e2e> RS',
        '/.Привет/cur <hello@e2e> S',
        '/cur <one@e2e> S',
        '/cur <three@e2e> Fa',
        '/new <two@e2e> ',
      ]);
      const firstCheck = await twinbox(['-c', s.config, 'check'], s.env);
      expect(firstCheck.code, firstCheck.stdout + firstCheck.stderr).toBe(0);

      // The user reads "two" in mutt (new/ to cur/, seen) and drops a message into the Maildir;
      // on the server, "one" is flagged and "old" deleted.
      const [two] = await readdir(join(s.maildir, 'new'));
      await rename(join(s.maildir, 'new', two!), join(s.maildir, 'cur', `${two}:2,S`));
      await writeFile(
        join(s.maildir, 'new', '1700000000.local.host'),
        message('local').toString().replaceAll('\r\n', '\n'),
      );
      const client = await s.imap();
      try {
        let lock = await client.getMailboxLock('INBOX');
        try {
          await client.messageFlagsAdd({ header: { 'message-id': '<one@e2e>' } }, ['\\Flagged']);
        } finally {
          lock.release();
        }
        lock = await client.getMailboxLock('Archiv/2024');
        try {
          await client.messageDelete('1:*');
        } finally {
          lock.release();
        }
      } finally {
        await client.logout();
      }

      const second = await twinbox(['-c', s.config, 'sync'], s.env);
      expect(second.code).toBe(0);
      expect(second.stdout).toMatch(/mail: copied 1, flagged 2, deleted 1/);
      const check = await twinbox(['-c', s.config, 'check'], s.env);
      expect(check.stdout).toMatch(/no difference/);
      expect(check.code).toBe(0);
      expect(await maildirSnapshot(s.maildir)).toEqual([
        '/.Привет/cur <hello@e2e> S',
        '/cur <one@e2e> FS',
        '/cur <three@e2e> Fa',
        '/cur <two@e2e> S',
        '/new <local@e2e> ',
      ]);

      const before = await maildirSnapshot(s.maildir);
      const third = await twinbox(['-c', s.config, '--json', 'sync'], s.env);
      expect(third.code).toBe(0);
      const done = third.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; totals?: Record<string, number> });
      const totals = done.find((e) => e.type === 'pair-done')?.totals;
      expect(totals).toMatchObject(nothingWritten);
      expect(await maildirSnapshot(s.maildir)).toEqual(before);
    });

    it('a dry run says what it would do and changes nothing, neither the stores nor the state', async () => {
      const s = await setup('', mode);
      current = s;
      await seed(s);
      const dry = await twinbox(['-c', s.config, 'sync', '--dry-run'], s.env);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toMatch(/would copy 5/);
      expect(await readdir(s.maildir).catch(() => [])).toEqual(['cur', 'new', 'tmp']);
      expect(await maildirSnapshot(s.maildir)).toEqual([]);
      const state = await SqliteState.open({ path: join(s.dir, 'state', 'mail.sqlite') });
      try {
        expect(await state.listFolderPairs()).toEqual([]);
      } finally {
        await state.close();
      }
      const status = await twinbox(['-c', s.config, 'status'], s.env);
      expect(status.stdout).toMatch(/never synced/);
      expect(status.stdout).toMatch(/pending INBOX: copy 3 →, 0 ←/);
    });

    it('sync --folder limits the sync to matching folders; folders lists an account', async () => {
      const s = await setup('', mode);
      current = s;
      await seed(s);
      const r = await twinbox(['-c', s.config, 'sync', '--folder', 'Archiv/*'], s.env);
      expect(r.code).toBe(0);
      expect(await maildirSnapshot(s.maildir)).toEqual(['/.Archiv.2024/cur <old@e2e> RS']);
      const folders = await twinbox(['-c', s.config, 'folders', 'remote'], s.env);
      expect(folders.stdout.split('\n')).toEqual(expect.arrayContaining(['INBOX', 'Archiv/2024', 'Привет']));
      // Listing a Maildir account that does not exist yet says so and creates nothing.
      await rm(s.maildir, { recursive: true, force: true });
      const local = await twinbox(['-c', s.config, 'folders', 'local'], s.env);
      expect(local.code).toBe(4);
      await expect(stat(s.maildir)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('exit codes: wrong password 3, unreachable server 4, pair locked by another sync 5, unknown pair 2', async () => {
      const s = await setup('', mode);
      current = s;
      const wrong = await twinbox(['-c', s.config, 'sync'], { ...s.env, TWINBOX_TEST_PASSWORD: 'wrong' });
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toMatch(/refused the login/);
      expect(wrong.stderr).not.toContain(s.password);

      const text = await readFile(s.config, 'utf8');
      await writeFile(s.config, text.replace(/^port = \d+$/m, 'port = 1'));
      const unreachable = await twinbox(['-c', s.config, 'sync'], s.env);
      expect(unreachable.code).toBe(4);
      await writeFile(s.config, text);

      const holder = await SqliteState.open({ path: join(s.dir, 'state', 'mail.sqlite') });
      try {
        const locked = await twinbox(['-c', s.config, 'sync'], s.env);
        expect(locked.code).toBe(5);
        expect(locked.stderr).toMatch(/lock/i);
      } finally {
        await holder.close();
      }
      const unknown = await twinbox(['-c', s.config, 'sync', 'nope'], s.env);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/no pair named "nope"/);
    });
  },
);

describe('twinbox sync with limits (built binary, Dovecot, a Maildir)', () => {
  it('max-age and max-size hold back new messages on both sides, say so, and copy them once lifted', async () => {
    const s = await setup('max-age = "30d"\nmax-size = "4k"', 'threads');
    current = s;
    const ancient = new Date(Date.UTC(2003, 4, 5, 6, 7, 8));
    const client = await s.imap();
    try {
      await client.append('INBOX', message('recent'), ['\\Seen']);
      await client.append('INBOX', message('ancient'), ['\\Seen'], ancient);
      await client.append(
        'INBOX',
        Buffer.concat([message('big'), Buffer.from(`${'x'.repeat(78)}\r\n`.repeat(100))]),
        [],
      );
    } finally {
      await client.logout();
    }
    // In the Maildir, a file's mtime is its arrival time, as Dovecot and mbsync keep it.
    const text = (tag: string) => message(tag).toString().replaceAll('\r\n', '\n');
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(s.maildir, sub), { recursive: true });
    await writeFile(join(s.maildir, 'cur', '1700000000.a.host:2,S'), text('local-recent'));
    const old = join(s.maildir, 'cur', '1000000000.b.host:2,S');
    await writeFile(old, text('local-ancient'));
    await utimes(old, ancient, ancient);

    const first = await twinbox(['-c', s.config, 'sync'], s.env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /INBOX: copied 1 →, 1 ←, too large \(not copied\) 1, too old \(not copied\) 2/,
    );
    expect(first.stdout).toMatch(/too large \(not copied\) 1, too old \(not copied\) 2, errors 0/);
    const ids = (await maildirSnapshot(s.maildir)).map((line) => line.split(' ')[1]);
    expect(ids.sort()).toEqual(['<local-ancient@e2e>', '<local-recent@e2e>', '<recent@e2e>']);
    // Held back, nothing else happens on the next sync: no copy, no deletion. (Whether they are counted
    // again depends on whether a side lists in full: a Maildir written in the last 2 s does.)
    const again = await twinbox(['-c', s.config, 'sync'], s.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/mail: copied 0, flagged 0, deleted 0, /);

    // check knows the limits: what they hold back is no difference.
    const heldCheck = await twinbox(['-c', s.config, 'check'], s.env);
    expect(heldCheck.code, heldCheck.stdout + heldCheck.stderr).toBe(0);
    expect(heldCheck.stdout).toMatch(/no difference \(3 messages on one side only are held back/);

    // Lifting the limits brings every held-back message over at once.
    const config = await readFile(s.config, 'utf8');
    await writeFile(s.config, config.replace('max-age = "30d"\nmax-size = "4k"', ''));
    const lifted = await twinbox(['-c', s.config, 'sync'], s.env);
    expect(lifted.code, lifted.stderr).toBe(0);
    expect(lifted.stdout).toMatch(/mail: copied 3, flagged 0, deleted 0/);
    const check = await twinbox(['-c', s.config, 'check'], s.env);
    expect(check.code, check.stdout).toBe(0);
  });
});
