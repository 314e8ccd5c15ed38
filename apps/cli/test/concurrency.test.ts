import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import type { ImapFlow } from 'imapflow';
import { afterEach, describe, expect, it } from 'vitest';
import { nothingWritten, pairTotals, twinbox } from './helpers.js';
import { account, imap, type User } from './proxy-pair.js';

// Folders synced at once (`concurrency = 4`) against the real drivers, through the built binary: ten
// folders, nested ones among them, changed on both sides in most folders at once (new messages, flag
// changes, deletions, messages moved between folders, a folder created, one deleted, one renamed), then
// one sync must leave both sides equal by content and flags, with nothing lost or duplicated, and a
// second sync must write nothing.

const FOLDERS = ['INBOX', 'A', 'A/B', 'A/B/C', 'Work', 'Work/Old', 'Lists', 'Lists/dev', 'Archive', 'Drafts'];
const PER_FOLDER = 4;

/** Folder → Message-ID → system flags (sorted): what a store holds, or should. */
type Contents = Map<string, Map<string, string[]>>;

/** One side of the pair, changed the way another program would change it. */
interface Store {
  append(folder: string, id: string, flags?: string[]): Promise<void>;
  addFlag(folder: string, id: string, flag: string): Promise<void>;
  remove(folder: string, id: string): Promise<void>;
  move(from: string, to: string, id: string): Promise<void>;
  createFolder(folder: string): Promise<void>;
  deleteFolder(folder: string): Promise<void>;
  renameFolder(from: string, to: string): Promise<void>;
  contents(): Promise<Contents>;
  close(): Promise<void>;
}

const body = (id: string) =>
  Buffer.from(
    `Message-ID: <${id}@conc>\r\nSubject: ${id}\r\nFrom: a@example.org\r\n\r\nBody of ${id}.\r\n${'x'.repeat(id.length * 7)}\r\n`,
  );
const SYSTEM = ['\\Answered', '\\Flagged', '\\Seen'];

async function imapStore(u: User): Promise<Store> {
  const client: ImapFlow = await imap(u);
  const uidOf = async (folder: string, id: string) => {
    const uids = (await client.search({ header: { 'message-id': `<${id}@conc>` } }, { uid: true })) || [];
    expect(uids, `${id} in ${folder}`).toHaveLength(1);
    return String(uids[0]);
  };
  const inFolder = async <T>(folder: string, fn: () => Promise<T>) => {
    const lock = await client.getMailboxLock(folder);
    try {
      return await fn();
    } finally {
      lock.release();
    }
  };
  return {
    async append(folder, id, flags = []) {
      await client.append(folder, body(id), flags);
    },
    addFlag: (folder, id, flag) =>
      inFolder(folder, async () => {
        await client.messageFlagsAdd(await uidOf(folder, id), [flag], { uid: true });
      }),
    remove: (folder, id) =>
      inFolder(folder, async () => {
        await client.messageDelete(await uidOf(folder, id), { uid: true });
      }),
    move: (from, to, id) =>
      inFolder(from, async () => {
        await client.messageMove(await uidOf(from, id), to, { uid: true });
      }),
    async createFolder(folder) {
      await client.mailboxCreate(folder);
    },
    async deleteFolder(folder) {
      await client.mailboxDelete(folder);
    },
    async renameFolder(from, to) {
      await client.mailboxRename(from, to);
    },
    async contents() {
      // A session of its own: this one's view of the folder it has selected may lag behind the sync's.
      const reader = await imap(u);
      const out: Contents = new Map();
      for (const box of await reader.list()) {
        if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) continue;
        const found = new Map<string, string[]>();
        const lock = await reader.getMailboxLock(box.path);
        try {
          if (!reader.mailbox || reader.mailbox.exists === 0) continue;
          for await (const m of reader.fetch('1:*', { envelope: true, flags: true })) {
            const id = m.envelope?.messageId?.replace(/^<|@conc>$/g, '') ?? '(none)';
            expect(found.has(id), `${id} twice in ${box.path} on the server`).toBe(false);
            found.set(id, [...(m.flags ?? [])].filter((f) => SYSTEM.includes(f)).sort());
          }
        } finally {
          lock.release();
          out.set(box.path, found);
        }
      }
      await reader.logout();
      return out;
    },
    close: () => client.logout(),
  };
}

const LETTERS: Record<string, string> = { '\\Answered': 'R', '\\Flagged': 'F', '\\Seen': 'S' };
const FLAG_OF: Record<string, string> = { R: '\\Answered', F: '\\Flagged', S: '\\Seen' };

function maildirStore(root: string): Store {
  const dirOf = (folder: string) =>
    folder === 'INBOX' ? root : join(root, `.${folder.replaceAll('/', '.')}`);
  /** The file of message `id` in `folder`: [sub, name]. */
  const fileOf = async (folder: string, id: string): Promise<[string, string]> => {
    const hits: [string, string][] = [];
    for (const sub of ['cur', 'new']) {
      for (const name of await readdir(join(dirOf(folder), sub))) {
        const text = await readFile(join(dirOf(folder), sub, name), 'latin1');
        if (text.includes(`<${id}@conc>`)) hits.push([sub, name]);
      }
    }
    expect(hits, `${id} in ${folder}`).toHaveLength(1);
    return hits[0]!;
  };
  let n = 0;
  const make = async (dir: string) => {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
  };
  return {
    async append(folder, id, flags = []) {
      const info = flags
        .map((f) => LETTERS[f]!)
        .sort()
        .join('');
      await writeFile(join(dirOf(folder), 'cur', `${Date.now()}.conc${n++}.test:2,${info}`), body(id));
    },
    async addFlag(folder, id, flag) {
      const [sub, name] = await fileOf(folder, id);
      const [base, info = ''] = name.split(':2,');
      const letters = [...new Set([...info, LETTERS[flag]!])].sort().join('');
      await rename(join(dirOf(folder), sub, name), join(dirOf(folder), 'cur', `${base}:2,${letters}`));
    },
    async remove(folder, id) {
      const [sub, name] = await fileOf(folder, id);
      await unlink(join(dirOf(folder), sub, name));
    },
    async move(from, to, id) {
      const [sub, name] = await fileOf(from, id);
      await rename(join(dirOf(from), sub, name), join(dirOf(to), sub, name));
    },
    createFolder: (folder) => make(dirOf(folder)),
    deleteFolder: (folder) => rm(dirOf(folder), { recursive: true }),
    renameFolder: (from, to) => rename(dirOf(from), dirOf(to)),
    async contents() {
      const out: Contents = new Map();
      const dirs = (await readdir(root)).filter((d) => d.startsWith('.') && d !== '.' && d !== '..');
      for (const [folder, dir] of [
        ['INBOX', root],
        ...dirs.map((d) => [d.slice(1).replaceAll('.', '/'), join(root, d)]),
      ] as const) {
        if (!(await readdir(join(dir, 'cur')).catch(() => undefined))) continue;
        const found = new Map<string, string[]>();
        for (const sub of ['cur', 'new']) {
          for (const name of await readdir(join(dir, sub))) {
            const text = await readFile(join(dir, sub, name), 'latin1');
            const id = /^Message-ID: <(.*)@conc>/m.exec(text)?.[1] ?? `(none ${name})`;
            expect(found.has(id), `${id} twice in ${folder} in the Maildir`).toBe(false);
            const info = name.split(':2,')[1] ?? '';
            found.set(id, [...info].flatMap((l) => (FLAG_OF[l] ? [FLAG_OF[l]] : [])).sort());
          }
        }
        out.set(folder, found);
      }
      return out;
    },
    close: async () => {},
  };
}

/** The model both stores must match: changed along with them. */
class Expected {
  readonly folders: Contents = new Map();
  add(folder: string, id: string, flags: string[] = []) {
    if (!this.folders.has(folder)) this.folders.set(folder, new Map());
    this.folders.get(folder)!.set(id, [...flags].sort());
  }
  flag(folder: string, id: string, flag: string) {
    const flags = this.folders.get(folder)!.get(id)!;
    this.folders.get(folder)!.set(id, [...new Set([...flags, flag])].sort());
  }
  remove(folder: string, id: string) {
    expect(this.folders.get(folder)!.delete(id)).toBe(true);
  }
  move(from: string, to: string, id: string) {
    const flags = this.folders.get(from)!.get(id)!;
    this.remove(from, id);
    this.add(to, id, flags);
  }
  rename(from: string, to: string) {
    for (const [name, content] of [...this.folders]) {
      if (name !== from && !name.startsWith(`${from}/`)) continue;
      this.folders.delete(name);
      this.folders.set(to + name.slice(from.length), content);
    }
  }
}

/** Plain, sorted objects of a store's contents, for a readable comparison. */
const plain = (c: Contents) =>
  Object.fromEntries(
    [...c]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([folder, ms]) => [folder, Object.fromEntries([...ms].sort(([a], [b]) => (a < b ? -1 : 1)))]),
  );

interface Setup {
  dir: string;
  config: string;
  env: Record<string, string>;
  left: Store;
  right: Store;
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function setup(kind: 'maildir' | 'imap', workers: 'threads' | 'inline'): Promise<Setup> {
  const leftUser = await newUser();
  const rightUser = kind === 'imap' ? await newUser() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'twinbox-conc-'));
  const config = join(dir, 'config.toml');
  const port = dovecot().port;
  await writeFile(
    config,
    `workers = "${workers}"
concurrency = 4

[state]
dir = "${join(dir, 'state')}"

${account('remote', leftUser, port)}
${rightUser ? account('other', rightUser, port) : `[accounts.local]\ntype = "maildir"\npath = "Mail"\n`}
[pairs.mail]
left = "remote"
right = "${rightUser ? 'other' : 'local'}"
`,
  );
  const left = await imapStore(leftUser);
  const right = rightUser ? await imapStore(rightUser) : maildirStore(join(dir, 'Mail'));
  cleanup.push(
    () => rm(dir, { recursive: true, force: true }),
    () => left.close(),
    () => right.close(),
  );
  const env = { XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_STATE_HOME: join(dir, 'xdg-state') };
  return { dir, config, env, left, right };
}

async function syncOnce(s: Setup, inline: boolean) {
  const r = await twinbox(['-c', s.config, ...(inline ? ['--inline'] : []), '--json', 'sync'], s.env);
  expect(r.stderr).toBe('');
  expect(r.code, r.stdout).toBe(0);
  return pairTotals(r.stdout);
}

async function scenario(kind: 'maildir' | 'imap', workers: 'threads' | 'inline', inline: boolean) {
  const s = await setup(kind, workers);
  const want = new Expected();
  // Seeded on the server: PER_FOLDER messages in each folder, some seen, some flagged.
  for (const folder of FOLDERS) {
    if (folder !== 'INBOX') await s.left.createFolder(folder);
    for (let i = 0; i < PER_FOLDER; i++) {
      const id = `${folder.replaceAll('/', '-')}.${i}`;
      const flags = [...(i % 2 === 0 ? ['\\Seen'] : []), ...(i === 3 ? ['\\Flagged'] : [])];
      await s.left.append(folder, id, flags);
      want.add(folder, id, flags);
    }
  }
  // The fixture's own folders (Sent, Trash…) are synced too, empty.
  for (const folder of (await s.left.contents()).keys()) {
    if (!want.folders.has(folder)) want.folders.set(folder, new Map());
  }
  const first = await syncOnce(s, inline);
  expect(first).toMatchObject({ copied: FOLDERS.length * PER_FOLDER, errors: 0 });
  expect(plain(await s.right.contents())).toEqual(plain(want.folders));

  // The left (the server) changes.
  await s.left.append('INBOX', 'left-new.1');
  await s.left.append('INBOX', 'left-new.2', ['\\Seen']);
  want.add('INBOX', 'left-new.1');
  want.add('INBOX', 'left-new.2', ['\\Seen']);
  await s.left.addFlag('A', 'A.1', '\\Flagged');
  want.flag('A', 'A.1', '\\Flagged');
  await s.left.remove('A/B', 'A-B.0');
  want.remove('A/B', 'A-B.0');
  for (const id of ['Lists.0', 'Lists.1']) {
    await s.left.move('Lists', 'Archive', id);
    want.move('Lists', 'Archive', id);
  }
  await s.left.addFlag('Drafts', 'Drafts.1', '\\Seen');
  want.flag('Drafts', 'Drafts.1', '\\Seen');
  await s.left.deleteFolder('Work/Old');
  want.folders.delete('Work/Old');
  await s.left.createFolder('Projects');
  await s.left.append('Projects', 'projects.1');
  want.add('Projects', 'projects.1');

  // The right changes, in other messages (no conflict) and mostly other folders.
  await s.right.append('A', 'right-new.a', ['\\Flagged']);
  want.add('A', 'right-new.a', ['\\Flagged']);
  await s.right.addFlag('A/B/C', 'A-B-C.1', '\\Seen');
  want.flag('A/B/C', 'A-B-C.1', '\\Seen');
  await s.right.remove('A/B/C', 'A-B-C.2');
  want.remove('A/B/C', 'A-B-C.2');
  await s.right.append('Work', 'right-new.w');
  want.add('Work', 'right-new.w');
  await s.right.move('Work', 'A/B/C', 'Work.0');
  want.move('Work', 'A/B/C', 'Work.0');
  await s.right.addFlag('Archive', 'Archive.1', '\\Answered');
  want.flag('Archive', 'Archive.1', '\\Answered');
  await s.right.remove('INBOX', 'INBOX.3');
  want.remove('INBOX', 'INBOX.3');
  await s.right.renameFolder('Lists/dev', 'Lists/devel');
  want.rename('Lists/dev', 'Lists/devel');

  const second = await syncOnce(s, inline);
  expect(second).toMatchObject({
    errors: 0,
    moved: 3,
    foldersCreated: 1,
    foldersDeleted: 1,
    foldersRenamed: 1,
  });
  const [left, right] = await Promise.all([s.left.contents(), s.right.contents()]);
  expect(plain(left)).toEqual(plain(want.folders));
  expect(plain(right)).toEqual(plain(want.folders));

  const check = await twinbox(['-c', s.config, ...(inline ? ['--inline'] : []), 'check'], s.env);
  expect(check.code, check.stdout + check.stderr).toBe(0);
  expect(await syncOnce(s, inline)).toMatchObject(nothingWritten);
}

describe('folders synced at once (concurrency = 4), end to end against Dovecot', () => {
  it('IMAP ⇄ Maildir: changes on both sides in most folders, one sync, both equal, then nothing to do', async () => {
    await scenario('maildir', 'threads', false);
  });

  it('IMAP ⇄ IMAP: changes on both sides in most folders, one sync, both equal, then nothing to do', async () => {
    await scenario('imap', 'threads', false);
  });

  it('IMAP ⇄ Maildir with --inline: the same, with both sides and the state in one thread', async () => {
    await scenario('maildir', 'threads', true);
  });

  it('IMAP ⇄ IMAP with workers = "inline": the same', async () => {
    await scenario('imap', 'inline', false);
  });
});
