import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteState } from '@twinbox/state-sqlite';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import type { ImapFlow } from 'imapflow';
import { afterEach, describe, expect, it } from 'vitest';
import { imapAccount, imapClient, message, nothingWritten, twinbox } from './helpers.js';

/**
 * Pairs of two accounts of the same kind, end to end with the built binary: IMAP↔IMAP (two Dovecot
 * users) and Maildir↔Maildir (a Maildir++ tree and an `fs` one). Each side is read back directly, not
 * through twinbox: folder names, each message once by the token in its Subject, its flags and its bytes.
 */

let dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  dirs = [];
});

/**
 * Folder → its messages as `token [flags]`, sorted. A name that only holds other folders (IMAP
 * `\Noselect`, a Maildir++ `.A.B` without `.A`, an `fs` directory without cur/new/tmp) is marked as such.
 */
type Snapshot = Record<string, string[]>;

const NAME_ONLY = '(name only, holds folders)';

interface JsonEvent {
  type: string;
  dryRun?: boolean;
  totals?: Record<string, number>;
}

function events(stdout: string): JsonEvent[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as JsonEvent);
}

/** `twinbox --json sync`, checked for success without an error; its totals. */
async function sync(config: string, env: Record<string, string>, extra: string[] = []) {
  const r = await twinbox(['-c', config, '--json', 'sync', ...extra], env);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const done = events(r.stdout).find((e) => e.type === 'pair-done');
  expect(done, r.stdout).toBeDefined();
  expect(done!.dryRun).toBe(extra.includes('--dry-run'));
  expect(done!.totals!.errors, r.stdout).toBe(0);
  return done!.totals!;
}

async function expectNoDifference(config: string, env: Record<string, string>) {
  const r = await twinbox(['-c', config, 'check'], env);
  expect(r.stdout + r.stderr).toMatch(/no difference/);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

/** The pair's state has never recorded a folder: what a dry run on a fresh pair must leave. */
async function expectStateEmpty(dir: string) {
  const path = join(dir, 'state', 'mail.sqlite');
  if (!(await stat(path).catch(() => undefined))) return;
  const state = await SqliteState.open({ path });
  try {
    expect(await state.listFolderPairs()).toEqual([]);
  } finally {
    await state.close();
  }
}

async function workDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'twinbox-pairs-'));
  dirs.push(dir);
  return dir;
}

function stateAndPair(dir: string): string {
  return `[state]
dir = "${join(dir, 'state')}"

[pairs.mail]
left = "left"
right = "right"
`;
}

// ---------------------------------------------------------------------------------------------------
// IMAP↔IMAP

interface ImapAccount {
  user: string;
  password: string;
}

const connect = (account: ImapAccount): Promise<ImapFlow> => imapClient(account);

async function withImap<T>(account: ImapAccount, body: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = await connect(account);
  try {
    return await body(client);
  } finally {
    await client.logout();
  }
}

/** Runs `body` with `folder` selected. */
async function inFolder(client: ImapFlow, folder: string, body: () => Promise<unknown>) {
  const lock = await client.getMailboxLock(folder);
  try {
    await body();
  } finally {
    lock.release();
  }
}

const subjectOf = (body: Buffer) => /^Subject: (.*?)\r?$/m.exec(body.toString('utf8'))?.[1] ?? '?';

/** Every folder of the account, every message in it by Subject and flags; each body must be the one appended. */
async function imapSnapshot(account: ImapAccount): Promise<Snapshot> {
  return withImap(account, async (client) => {
    const out: Snapshot = {};
    for (const box of await client.list()) {
      const messages: string[] = [];
      out[box.path] = messages;
      if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) {
        messages.push(NAME_ONLY);
        continue;
      }
      await inFolder(client, box.path, async () => {
        if (!client.mailbox || client.mailbox.exists === 0) return;
        for await (const m of client.fetch('1:*', { uid: true, flags: true, source: true })) {
          const token = subjectOf(m.source!);
          // The whole message, byte for byte, as it was first appended on either side.
          expect(m.source!.equals(message(token)), `${box.path}: ${token}`).toBe(true);
          const flags = [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort();
          messages.push(`${token} [${flags.join(' ')}]`);
        }
      });
      messages.sort();
    }
    return out;
  });
}

async function imapPair(): Promise<{
  dir: string;
  config: string;
  env: Record<string, string>;
  left: ImapAccount;
  right: ImapAccount;
}> {
  const info = dovecot();
  const left = await newUser();
  const right = await newUser();
  const dir = await workDir();
  await writeFile(join(dir, 'ca.pem'), info.ca);
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `${imapAccount('left', left.user, 'TWINBOX_LEFT_PASSWORD')}\n${imapAccount('right', right.user, 'TWINBOX_RIGHT_PASSWORD')}\n${stateAndPair(dir)}`,
  );
  const env = {
    TWINBOX_LEFT_PASSWORD: left.password,
    TWINBOX_RIGHT_PASSWORD: right.password,
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    XDG_STATE_HOME: join(dir, 'xdg-state'),
  };
  return { dir, config, env, left, right };
}

async function seedImap(account: ImapAccount, folders: string[], messages: [string, string, string[]][]) {
  await withImap(account, async (client) => {
    for (const folder of folders) await client.mailboxCreate(folder);
    for (const [folder, token, flags] of messages) await client.append(folder, message(token), flags);
  });
}

/** The fixture's special-use folders, which Dovecot creates for every user. */
const specialFolders: Snapshot = { Drafts: [], Junk: [], Sent: [], Trash: [] };

/** What both IMAP accounts hold after the first sync. */
const imapFirst: Snapshot = {
  ...specialFolders,
  INBOX: [
    'both [\\Seen]',
    'l-flagged [$label1 \\Flagged]',
    'l-read [\\Seen]',
    'l-unread []',
    'r-answered [\\Answered \\Seen]',
    'r-unread []',
  ],
  Archive: ['l-archive [\\Seen]'],
  'Archive/2024': ['l-2024 [\\Answered \\Seen]', 'r-2024 [\\Seen]'],
  Привет: ['l-privet [\\Seen]', 'r-privet []'],
  'Left only': ['l-only [\\Flagged]'],
  Right: [],
  'Right/Only': [],
  'Right/Only/Deep': ['r-deep []'],
};

/** And after the changes on both sides and the second sync. */
const imapSecond: Snapshot = {
  ...specialFolders,
  INBOX: [
    'both [\\Seen]',
    'l-flagged [$label1]',
    'l-new [\\Draft]',
    'l-unread [\\Flagged \\Seen]',
    'r-answered [\\Answered \\Seen]',
    'r-new []',
    'r-unread [\\Seen]',
  ],
  Archive: ['l-archive [\\Seen]'],
  'Archive/2024': ['l-2024 [\\Answered \\Seen]'],
  Привет: ['l-privet [\\Flagged \\Seen]', 'r-privet []'],
  Right: ['l-right []'],
  'Right/Only': [],
  'Right/Only/Deep': ['r-deep []'],
  Projects: [],
  'Projects/Ελλάδα': ['l-project [\\Seen]'],
  'Right new': ['r-folder []'],
};

describe('twinbox sync, IMAP↔IMAP (built binary, two Dovecot users)', () => {
  it('first sync, changes on both sides, second sync: both accounts hold the same; dry runs and a third sync write nothing', async () => {
    const p = await imapPair();
    await seedImap(
      p.left,
      ['Archive', 'Archive/2024', 'Привет', 'Left only'],
      [
        // A parent that holds messages on the left, and is only a name (\Noselect) on the right.
        ['Archive', 'l-archive', ['\\Seen']],
        ['INBOX', 'both', ['\\Seen']],
        ['INBOX', 'l-read', ['\\Seen']],
        ['INBOX', 'l-unread', []],
        ['INBOX', 'l-flagged', ['\\Flagged', '$label1']],
        ['Archive/2024', 'l-2024', ['\\Seen', '\\Answered']],
        ['Привет', 'l-privet', ['\\Seen']],
        ['Left only', 'l-only', ['\\Flagged']],
      ],
    );
    await seedImap(
      p.right,
      ['Archive/2024', 'Привет', 'Right/Only/Deep'],
      [
        // The same message on both sides before the first sync: paired, not copied twice.
        ['INBOX', 'both', ['\\Seen']],
        ['INBOX', 'r-unread', []],
        ['INBOX', 'r-answered', ['\\Seen', '\\Answered']],
        ['Archive/2024', 'r-2024', ['\\Seen']],
        ['Привет', 'r-privet', []],
        ['Right/Only/Deep', 'r-deep', []],
      ],
    );
    const seededLeft = await imapSnapshot(p.left);
    const seededRight = await imapSnapshot(p.right);

    // A dry run first: it says what it would copy and changes neither account nor the state.
    const dry = await sync(p.config, p.env, ['--dry-run']);
    expect(dry.copied).toBe(12);
    expect(await imapSnapshot(p.left)).toEqual(seededLeft);
    expect(await imapSnapshot(p.right)).toEqual(seededRight);
    await expectStateEmpty(p.dir);

    const first = await sync(p.config, p.env);
    expect(first).toMatchObject({ copied: 12, flagged: 0, deleted: 0, paired: 1 });
    expect(await imapSnapshot(p.left)).toEqual(imapFirst);
    expect(await imapSnapshot(p.right)).toEqual(imapFirst);
    await expectNoDifference(p.config, p.env);

    // Changes on the left: a new message, one in `Right`, a new nested folder with a non-ASCII name,
    // flags, a message from the right deleted, and a folder deleted.
    await withImap(p.left, async (client) => {
      await client.append('INBOX', message('l-new'), ['\\Draft']);
      // `Right` was only a name holding folders on the right before the first sync.
      await client.append('Right', message('l-right'), []);
      await client.mailboxCreate('Projects/Ελλάδα');
      await client.append('Projects/Ελλάδα', message('l-project'), ['\\Seen']);
      await inFolder(client, 'INBOX', async () => {
        await client.messageFlagsAdd({ header: { subject: 'l-unread' } }, ['\\Seen', '\\Flagged']);
      });
      await inFolder(client, 'Привет', async () => {
        await client.messageFlagsAdd({ header: { subject: 'l-privet' } }, ['\\Flagged']);
      });
      await inFolder(client, 'Archive/2024', async () => {
        await client.messageDelete({ header: { subject: 'r-2024' } });
      });
      await client.mailboxDelete('Left only');
    });
    // On the right: a new message, a new folder, flags, and a message from the left deleted.
    await withImap(p.right, async (client) => {
      await client.append('INBOX', message('r-new'), []);
      await client.mailboxCreate('Right new');
      await client.append('Right new', message('r-folder'), []);
      await inFolder(client, 'INBOX', async () => {
        await client.messageFlagsAdd({ header: { subject: 'r-unread' } }, ['\\Seen']);
        await client.messageFlagsRemove({ header: { subject: 'l-flagged' } }, ['\\Flagged']);
        await client.messageDelete({ header: { subject: 'l-read' } });
      });
    });
    const changedLeft = await imapSnapshot(p.left);
    const changedRight = await imapSnapshot(p.right);

    const dryAgain = await sync(p.config, p.env, ['--dry-run']);
    expect(dryAgain).toMatchObject({ copied: 5, flagged: 4, deleted: 2, foldersDeleted: 1 });
    expect(await imapSnapshot(p.left)).toEqual(changedLeft);
    expect(await imapSnapshot(p.right)).toEqual(changedRight);

    const second = await sync(p.config, p.env);
    expect(second).toMatchObject({ copied: 5, flagged: 4, deleted: 2, foldersDeleted: 1 });
    expect(await imapSnapshot(p.left)).toEqual(imapSecond);
    expect(await imapSnapshot(p.right)).toEqual(imapSecond);
    await expectNoDifference(p.config, p.env);

    const third = await sync(p.config, p.env);
    expect(third).toMatchObject(nothingWritten);
    expect(await imapSnapshot(p.left)).toEqual(imapSecond);
    expect(await imapSnapshot(p.right)).toEqual(imapSecond);
  });
});

// ---------------------------------------------------------------------------------------------------
// Maildir↔Maildir

/** How a Maildir tree maps folders to directories: Maildir++ (`.A.B`, inbox at the root) or `fs`. */
type Layout = 'maildir++' | 'fs';

function folderDir(root: string, layout: Layout, folder: string): string {
  if (layout === 'fs') return join(root, ...folder.split('/'));
  return folder === 'INBOX' ? root : join(root, `.${folder.split('/').join('.')}`);
}

function folderOfDir(rel: string, layout: Layout): string {
  if (layout === 'fs') return rel;
  return rel === '' ? 'INBOX' : rel.slice(1).split('.').join('/');
}

const lf = (token: string) => message(token).toString('utf8').replaceAll('\r\n', '\n');

let unique = 0;

/** Delivers a message as a mail reader would leave it: `cur/…:2,FLAGS`, or `new/` without flags. */
async function deliver(root: string, layout: Layout, folder: string, token: string, flags?: string) {
  const dir = folderDir(root, layout, folder);
  await makeMaildir(dir);
  const name = `${1_700_000_000 + unique++}.M${unique}P${process.pid}.pairs-test`;
  const file = flags === undefined ? join(dir, 'new', name) : join(dir, 'cur', `${name}:2,${flags}`);
  await writeFile(file, lf(token));
}

async function makeMaildir(dir: string) {
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
}

/** The file of the message with this token in a folder. */
async function fileOf(root: string, layout: Layout, folder: string, token: string): Promise<string> {
  const dir = folderDir(root, layout, folder);
  for (const sub of ['cur', 'new']) {
    for (const name of await readdir(join(dir, sub))) {
      const path = join(dir, sub, name);
      if (subjectOf(await readFile(path)) === token) return path;
    }
  }
  throw new Error(`no message ${token} in ${folder}`);
}

async function setFlags(root: string, layout: Layout, folder: string, token: string, flags: string) {
  const file = await fileOf(root, layout, folder, token);
  const name = file.split('/').pop()!.split(':2,')[0]!;
  await rename(file, join(folderDir(root, layout, folder), 'cur', `${name}:2,${flags}`));
}

/**
 * Every folder of the tree (a directory with cur, new and tmp, and the folders above one), every message
 * in it by Subject and flag letters; each file must hold the message as first delivered, LF endings.
 */
async function maildirSnapshot(root: string, layout: Layout): Promise<Snapshot> {
  const out: Snapshot = {};
  const isMaildir = async (dir: string) => {
    const entries = new Set(await readdir(dir).catch(() => []));
    return entries.has('cur') && entries.has('new') && entries.has('tmp');
  };
  const folders: [string, string][] = [];
  if (layout === 'maildir++') {
    if (await isMaildir(root)) folders.push(['INBOX', root]);
    for (const entry of await readdir(root, { withFileTypes: true })) {
      if (!entry.isDirectory() || !entry.name.startsWith('.') || !(await isMaildir(join(root, entry.name))))
        continue;
      const folder = folderOfDir(entry.name, layout);
      folders.push([folder, join(root, entry.name)]);
      const levels = folder.split('/');
      for (let i = 1; i < levels.length; i++) out[levels.slice(0, i).join('/')] ??= [NAME_ONLY];
    }
  } else {
    const walk = async (dir: string, rel: string) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (!entry.isDirectory() || ['cur', 'new', 'tmp'].includes(entry.name) || entry.name.startsWith('.'))
          continue;
        const path = join(dir, entry.name);
        const folder = rel ? `${rel}/${entry.name}` : entry.name;
        if (await isMaildir(path)) folders.push([folder, path]);
        else out[folder] = [NAME_ONLY];
        await walk(path, folder);
      }
    };
    await walk(root, '');
  }
  for (const [folder, dir] of folders) {
    const messages: string[] = [];
    for (const sub of ['cur', 'new']) {
      for (const name of await readdir(join(dir, sub))) {
        const body = await readFile(join(dir, sub, name));
        const token = subjectOf(body);
        expect(body.toString('utf8'), `${folder}: ${token}`).toBe(lf(token));
        messages.push(`${token} [${name.split(':2,')[1] ?? ''}]`);
      }
    }
    out[folder] = messages.sort();
  }
  return out;
}

async function maildirPair() {
  const dir = await workDir();
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `[accounts.left]
type = "maildir"
path = "left"

[accounts.right]
type = "maildir"
path = "right"
layout = "fs"

${stateAndPair(dir)}`,
  );
  const env = { XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_STATE_HOME: join(dir, 'xdg-state') };
  return { dir, config, env, left: join(dir, 'left'), right: join(dir, 'right') };
}

/** What both trees hold after the first sync: every folder a Maildir of its own on both sides. */
const maildirFirst: Snapshot = {
  INBOX: ['both [S]', 'l-flagged [F]', 'l-read [S]', 'l-unread []', 'r-answered [RS]', 'r-unread []'],
  Archive: ['r-archive [S]'],
  'Archive/2024': ['l-2024 [RS]', 'r-2024 [S]'],
  Привет: ['l-privet [S]', 'r-privet []'],
  'Left only': ['l-only [F]'],
  Right: [],
  'Right/Only': [],
  'Right/Only/Deep': ['r-deep []'],
};

/** And after the changes on both sides and the second sync. */
const maildirSecond: Snapshot = {
  INBOX: [
    'both [S]',
    'l-flagged []',
    'l-new []',
    'l-unread [FS]',
    'r-answered [RS]',
    'r-new []',
    'r-unread [S]',
  ],
  Archive: ['r-archive [S]'],
  'Archive/2024': ['l-2024 [RS]'],
  Привет: ['l-privet [FS]', 'r-privet []'],
  Right: ['l-right []'],
  'Right/Only': [],
  'Right/Only/Deep': ['r-deep []'],
  Projects: [],
  'Projects/Ελλάδα': ['l-project [S]'],
  'Right new': ['r-folder [D]'],
};

describe('twinbox sync, Maildir↔Maildir (built binary, a Maildir++ tree and an fs tree)', () => {
  it('first sync, changes on both sides, second sync: both trees hold the same; dry runs and a third sync write nothing', async () => {
    const p = await maildirPair();
    // Left, Maildir++: `.Archive.2024` without `.Archive`, as Dovecot leaves it.
    await deliver(p.left, 'maildir++', 'INBOX', 'both', 'S');
    await deliver(p.left, 'maildir++', 'INBOX', 'l-read', 'S');
    await deliver(p.left, 'maildir++', 'INBOX', 'l-unread');
    await deliver(p.left, 'maildir++', 'INBOX', 'l-flagged', 'F');
    await deliver(p.left, 'maildir++', 'Archive/2024', 'l-2024', 'RS');
    await deliver(p.left, 'maildir++', 'Привет', 'l-privet', 'S');
    await deliver(p.left, 'maildir++', 'Left only', 'l-only', 'F');
    // Right, fs: one directory per level; `Archive` a Maildir holding mail and `Archive/2024`, while
    // `Right` and `Right/Only` are only directories.
    await deliver(p.right, 'fs', 'INBOX', 'both', 'S');
    await deliver(p.right, 'fs', 'INBOX', 'r-unread', '');
    await deliver(p.right, 'fs', 'INBOX', 'r-answered', 'RS');
    await deliver(p.right, 'fs', 'Archive', 'r-archive', 'S');
    await deliver(p.right, 'fs', 'Archive/2024', 'r-2024', 'S');
    await deliver(p.right, 'fs', 'Привет', 'r-privet');
    await deliver(p.right, 'fs', 'Right/Only/Deep', 'r-deep');
    const seededLeft = await maildirSnapshot(p.left, 'maildir++');
    const seededRight = await maildirSnapshot(p.right, 'fs');

    const dry = await sync(p.config, p.env, ['--dry-run']);
    expect(dry.copied).toBe(12);
    expect(await maildirSnapshot(p.left, 'maildir++')).toEqual(seededLeft);
    expect(await maildirSnapshot(p.right, 'fs')).toEqual(seededRight);
    await expectStateEmpty(p.dir);

    const first = await sync(p.config, p.env);
    expect(first).toMatchObject({ copied: 12, flagged: 0, deleted: 0, paired: 1 });
    expect(await maildirSnapshot(p.left, 'maildir++')).toEqual(maildirFirst);
    expect(await maildirSnapshot(p.right, 'fs')).toEqual(maildirFirst);
    await expectNoDifference(p.config, p.env);

    // Left: a new message, one in `Right`, a new nested folder, flags, a message from the right
    // deleted, and a folder deleted.
    await deliver(p.left, 'maildir++', 'INBOX', 'l-new');
    await deliver(p.left, 'maildir++', 'Right', 'l-right');
    await deliver(p.left, 'maildir++', 'Projects/Ελλάδα', 'l-project', 'S');
    await setFlags(p.left, 'maildir++', 'INBOX', 'l-unread', 'FS');
    await setFlags(p.left, 'maildir++', 'Привет', 'l-privet', 'FS');
    await unlink(await fileOf(p.left, 'maildir++', 'Archive/2024', 'r-2024'));
    await rm(folderDir(p.left, 'maildir++', 'Left only'), { recursive: true });
    // Right: a new message, a new folder, flags, a message from the left deleted.
    await deliver(p.right, 'fs', 'INBOX', 'r-new');
    await deliver(p.right, 'fs', 'Right new', 'r-folder', 'D');
    await setFlags(p.right, 'fs', 'INBOX', 'r-unread', 'S');
    await setFlags(p.right, 'fs', 'INBOX', 'l-flagged', '');
    await unlink(await fileOf(p.right, 'fs', 'INBOX', 'l-read'));
    const changedLeft = await maildirSnapshot(p.left, 'maildir++');
    const changedRight = await maildirSnapshot(p.right, 'fs');

    const dryAgain = await sync(p.config, p.env, ['--dry-run']);
    expect(dryAgain).toMatchObject({ copied: 5, flagged: 4, deleted: 2, foldersDeleted: 1 });
    expect(await maildirSnapshot(p.left, 'maildir++')).toEqual(changedLeft);
    expect(await maildirSnapshot(p.right, 'fs')).toEqual(changedRight);

    const second = await sync(p.config, p.env);
    expect(second).toMatchObject({ copied: 5, flagged: 4, deleted: 2, foldersDeleted: 1 });
    expect(await maildirSnapshot(p.left, 'maildir++')).toEqual(maildirSecond);
    expect(await maildirSnapshot(p.right, 'fs')).toEqual(maildirSecond);
    await expectNoDifference(p.config, p.env);

    const third = await sync(p.config, p.env);
    expect(third).toMatchObject(nothingWritten);
    expect(await maildirSnapshot(p.left, 'maildir++')).toEqual(maildirSecond);
    expect(await maildirSnapshot(p.right, 'fs')).toEqual(maildirSecond);
  });
});
