import { execFile } from 'node:child_process';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SqliteState } from '@twinbox/state-sqlite';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { describe, expect, it } from 'vitest';
import { nothingWritten, twinbox } from './helpers.js';
import {
  expectNoBodies,
  imap,
  letters,
  maildirFolder,
  type Pair,
  pair,
  serverFolder,
  statePairs,
  sync,
  systemLetters,
  type User,
} from './proxy-pair.js';

// Issue 18's "must show" for folder renames, through the built binary: a 6,000-message folder renamed
// on the server or in the Maildir is renamed on the other side with one RENAME or one directory
// rename, and no body crosses the wire (every IMAP connection of the sync goes through a proxy that
// counts its bytes and keeps what the client sent).

const COUNT = 6000;
const OLD = 'Projects';
const NEW = 'Archive/Projects 2025';
/** The new folder's directory in a Maildir++ tree. */
const NEW_DIR = '.Archive.Projects 2025';
/** Each body carries this much filler, so that one body re-sent would show in the byte counts. */
const FILLER = `${'x'.repeat(76)}\n`.repeat(40);
const BODIES = COUNT * FILLER.length;

/** A fixture user, with the path of its Maildir on the server's disk. */
type ServerUser = Awaited<ReturnType<typeof newUser>>;

const seededFlags = (i: number) => [
  ...(i % 3 === 0 ? ['\\Seen'] : []),
  ...(i % 5 === 0 ? ['\\Flagged'] : []),
];

/**
 * `COUNT` messages in folder `OLD` of a fixture user, written straight into the server's Maildir (an
 * APPEND each would take longer than the test), owned as Dovecot's own files would be.
 */
async function seed(u: ServerUser): Promise<void> {
  const dir = join(u.maildir, `.${OLD}`);
  for (const root of [u.maildir, dir]) {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, sub), { recursive: true });
  }
  const names = Array.from({ length: COUNT }, (_, i) => i);
  for (let start = 0; start < COUNT; start += 200) {
    await Promise.all(
      names
        .slice(start, start + 200)
        .map((i) =>
          writeFile(
            join(dir, 'cur', `${1_700_000_000 + i}.M${i}P1.seed:2,${letters(seededFlags(i))}`),
            `Message-ID: <r${i}@renames>\nSubject: r${i}\nFrom: a@example.org\n\n${FILLER}`,
          ),
        ),
    );
  }
  const info = dovecot();
  if (process.getuid?.() === 0) {
    await promisify(execFile)('chown', ['-R', `${info.mailUid}:${info.mailGid}`, join(u.maildir, '..')]);
  }
}

/** Both sides hold every seeded message under the new name with its flags, and nothing under the old. */
async function expectRenamed(u: User, p: Pair): Promise<void> {
  const server = await serverFolder(u, NEW);
  const local = await maildirFolder(join(p.maildir, NEW_DIR));
  expect(server.size).toBe(COUNT);
  expect(local.size).toBe(COUNT);
  for (let i = 0; i < COUNT; i += 7) {
    const id = `<r${i}@renames>`;
    expect(server.get(id)?.flags, id).toEqual(seededFlags(i).sort());
    expect(systemLetters(local.get(id) ?? '?'), id).toBe(letters(seededFlags(i)));
  }
  const client = await imap(u);
  try {
    const names = (await client.list()).map((f) => f.path);
    expect(names).toContain(NEW);
    expect(names).not.toContain(OLD);
  } finally {
    await client.logout();
  }
  expect(await readdir(p.maildir)).not.toContain(`.${OLD}`);
}

/** What a sync that renamed the folder and sent no body may have cost, at most. */
const expectNoBodyTransferred = (p: Pair) => expectNoBodies(p, BODIES);

describe('folder renames end to end (built binary, Dovecot)', () => {
  it('a 6,000-message folder renamed on the server is renamed in the Maildir: nothing fetched, pairs kept', async () => {
    const u = await newUser();
    await seed(u);
    const p = await pair(u);
    expect(await sync(p)).toMatchObject({ copied: COUNT, errors: 0 });
    const before = await statePairs(p, OLD);
    expect(before).toHaveLength(COUNT);

    const client = await imap(u);
    try {
      await client.mailboxRename(OLD, NEW);
    } finally {
      await client.logout();
    }

    const dry = await twinbox(['-c', p.config, 'sync', '--dry-run'], p.env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`renamed ${OLD} → ${NEW} (on the right)`);
    expect(await readdir(p.maildir)).toContain(`.${OLD}`);

    p.proxy.reset();
    const renamed = await sync(p);
    expect(renamed).toMatchObject({ foldersRenamed: 1, copied: 0, deleted: 0, foldersDeleted: 0, errors: 0 });
    expectNoBodyTransferred(p);
    await expectRenamed(u, p);
    // The pairs moved with the folder: the same UIDs and file names, under the new name.
    expect(new Set((await statePairs(p, NEW)).map((x) => `${x.left} ${x.right}`))).toEqual(
      new Set(before.map((x) => `${x.left} ${x.right}`)),
    );

    p.proxy.reset();
    expect(await sync(p)).toMatchObject({ ...nothingWritten, foldersRenamed: 0 });
  });

  it('a 6,000-message folder renamed in the Maildir is renamed on the server by one RENAME: nothing uploaded, UIDs kept', async () => {
    const u = await newUser();
    await seed(u);
    const p = await pair(u);
    expect(await sync(p)).toMatchObject({ copied: COUNT, errors: 0 });
    const uids = [...(await serverFolder(u, OLD)).values()].map((m) => m.uid).sort((a, b) => a - b);

    // A mail client renames the folder: one directory rename in the Maildir++ tree.
    await rename(join(p.maildir, `.${OLD}`), join(p.maildir, NEW_DIR));

    const status = await twinbox(['-c', p.config, 'status'], p.env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`pending folder rename ${OLD} → ${NEW} (on the left)`);

    p.proxy.reset();
    const renamed = await sync(p);
    expect(renamed).toMatchObject({ foldersRenamed: 1, copied: 0, deleted: 0, foldersDeleted: 0, errors: 0 });
    expectNoBodyTransferred(p);
    expect(p.proxy.sent.match(/ RENAME /g) ?? []).toHaveLength(1);
    await expectRenamed(u, p);
    // The server kept the folder's messages under the same UIDs, and the state's pairs hold them.
    const after = [...(await serverFolder(u, NEW)).values()].map((m) => m.uid).sort((a, b) => a - b);
    expect(after).toEqual(uids);
    expect((await statePairs(p, NEW)).map((x) => Number(x.left)).sort((a, b) => a - b)).toEqual(uids);

    p.proxy.reset();
    expect(await sync(p)).toMatchObject({ ...nothingWritten, foldersRenamed: 0 });
  });

  it('an empty folder renamed in the Maildir is renamed on the server: proven by the directory, not by content', async () => {
    const u = await newUser();
    const client = await imap(u);
    try {
      await client.mailboxCreate('Leer');
    } finally {
      await client.logout();
    }
    const p = await pair(u);
    expect(await sync(p)).toMatchObject({ errors: 0 });
    // The Maildir's directory identity is recorded with the folder pair (Dovecot has no OBJECTID).
    const state = await SqliteState.open({ path: p.state });
    try {
      const record = (await state.listFolderPairs()).find((r) => r.key === 'Leer');
      expect(record?.ids?.right).toMatch(/^d\d+i\d+b\d+$/);
      expect(record?.ids?.left).toBeUndefined();
    } finally {
      await state.close();
    }

    await rename(join(p.maildir, '.Leer'), join(p.maildir, '.Auch leer'));
    p.proxy.reset();
    expect(await sync(p)).toMatchObject({
      foldersRenamed: 1,
      foldersCreated: 0,
      foldersDeleted: 0,
      errors: 0,
    });
    expect(p.proxy.sent).toMatch(/ RENAME "?Leer"? "Auch leer"/);
    const after = await imap(u);
    try {
      const names = (await after.list()).map((f) => f.path);
      expect(names).toContain('Auch leer');
      expect(names).not.toContain('Leer');
    } finally {
      await after.logout();
    }
    expect(await sync(p)).toMatchObject({ ...nothingWritten, foldersRenamed: 0 });
  });
});
