import { statfsSync, statSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { uniqueOf } from './filename.js';
import { freshStampsProven } from './fresh-stamps.js';
import { KEYWORDS_FILE } from './keywords.js';

export type Subdir = 'new' | 'cur';

/** Where a message's file is now: which directory and its full current name. */
export interface Entry {
  sub: Subdir;
  name: string;
}

/** A folder's messages by id (the unique part of the file name). */
export type Entries = Map<string, Entry>;

/**
 * How long after a directory changed its mtime cannot prove that nothing changed since: a second change
 * within the file system's timestamp granularity (coarse on many: ext4 ticks, 1 s HFS+, 2 s FAT, an
 * NFS server's clock) leaves the mtime as it was. Within this window, a folder is always listed again.
 */
export const MTIME_WINDOW_MS = 2000;

/**
 * {@link MTIME_WINDOW_MS} on a local file system whose timestamps this kernel takes from its own clock,
 * to the jiffy at worst (1–10 ms; Linux 6.13 and later give a fine-grained time to a change that
 * follows a stat): a folder last changed longer ago than this is proven by its stamp. The 2 s window
 * would make a folder our own writes changed a second ago cost two directory reads per listing, and
 * a marker that proves nothing, so the next listing reads it again. Where a measure shows that every
 * change after a look moves the mtime (fresh-stamps.ts), no window at all.
 */
export const FINE_MTIME_WINDOW_MS = 250;

/**
 * statfs `f_type` of the local file systems that keep sub-second timestamps from the kernel's clock:
 * ext2/3/4, tmpfs, XFS, Btrfs, F2FS, ZFS. Anything else (NFS, SMB, FUSE, FAT, overlays) keeps the
 * 2 s window: its clock may be a server's, its granularity coarse.
 */
const FINE_FILE_SYSTEMS = new Set([0xef53, 0x01021994, 0x58465342, 0x9123683e, 0xf2f52010, 0x2fc12fc1]);

/** How long a file system's type is taken as known for a directory: a remount may change it. */
const FS_TYPE_TTL_MS = 10 * 60_000;

/** The statfs type of the file system a directory is on, by directory, with when it was read. */
const fsTypes = new Map<string, { type: number; at: number }>();

async function fsTypeOf(dir: string): Promise<number | undefined> {
  const now = Date.now();
  const known = fsTypes.get(dir);
  if (known && now - known.at < FS_TYPE_TTL_MS) return known.type;
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch {
    // Not there (yet): asked again next time.
    return undefined;
  }
  // Bounded: a daemon lists the same folders again and again, but folders come and go over months.
  if (fsTypes.size >= 10_000) fsTypes.clear();
  fsTypes.set(dir, { type, at: now });
  return type;
}

/** Appended to a marker value that must never match: taken while the folder was changing. */
export const UNRELIABLE = '!';

interface DirStamp {
  value: string;
  dev: bigint;
  mtimeMs: number;
  /** The mtime has a sub-second part: the file system keeps one (ext4 with 128-byte inodes does not). */
  subSecond: boolean;
}

async function dirStamp(dir: string): Promise<DirStamp | undefined> {
  try {
    // Synchronous: see statBig in driver.ts.
    const s = statSync(dir, { bigint: true });
    // Inode and birth time tell a directory made again apart from the old one (inodes are reused).
    return {
      value: `${s.ino}.${s.birthtimeNs}.${s.mtimeNs}`,
      dev: s.dev,
      mtimeMs: Number(s.mtimeMs),
      subSecond: s.mtimeNs % 1_000_000_000n !== 0n,
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The keyword file's identity, size and nanosecond mtime (`-` when there is none): its letters give
 * some flags their meaning, and Dovecot rewrites it (a new file renamed over it) without touching
 * `new/` or `cur/`.
 */
function keywordsStamp(dir: string): { value: string; mtimeMs: number } {
  try {
    const s = statSync(join(dir, KEYWORDS_FILE), { bigint: true });
    return { value: `${s.ino}.${s.size}.${s.mtimeNs}`, mtimeMs: Number(s.mtimeMs) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { value: '-', mtimeMs: 0 };
    throw err;
  }
}

/**
 * A folder's change stamp: identity (inode, birth time) and nanosecond mtime of `new/` and `cur/` (a
 * rename, delivery or removal by any program changes one of them; identity catches a folder deleted
 * and made again), and of `dovecot-keywords` (a rewrite that changes what a letter means).
 * `recent` says the stamp is too fresh to prove anything (see {@link MTIME_WINDOW_MS} and
 * {@link FINE_MTIME_WINDOW_MS}); never on a file system where every change after a look at a
 * directory moves its mtime ({@link freshStampsProven}; `canProbe`: whether measuring that, by a file
 * made and removed in `tmp/`, is allowed).
 * Undefined when `cur/` does not exist: the directory is not a Maildir.
 */
export async function folderStamp(
  dir: string,
  now = Date.now(),
  canProbe = false,
): Promise<{ value: string; recent: boolean } | undefined> {
  const [n, c, type] = await Promise.all([
    dirStamp(join(dir, 'new')),
    dirStamp(join(dir, 'cur')),
    fsTypeOf(join(dir, 'cur')),
  ]);
  if (!c) return undefined;
  const k = keywordsStamp(dir);
  const fine = type !== undefined && FINE_FILE_SYSTEMS.has(type);
  const newest = Math.max(c.mtimeMs, n?.mtimeMs ?? 0, k.mtimeMs);
  // A whole-second mtime may come from a file system that keeps no more: the wide window then.
  const window = fine && c.subSecond && (n?.subSecond ?? true) ? FINE_MTIME_WINDOW_MS : MTIME_WINDOW_MS;
  const value = `${n?.value ?? '-'}/${c.value}/${k.value}`;
  const proven =
    window === FINE_MTIME_WINDOW_MS &&
    (n === undefined || n.dev === c.dev) &&
    freshStampsProven(dir, `${c.dev}:${type}`, canProbe);
  return { value, recent: !proven && now - newest < window };
}

async function readSub(dir: string, sub: Subdir, into: Entries): Promise<void> {
  let names: import('node:fs').Dirent[];
  try {
    names = await readdir(join(dir, sub), { withFileTypes: true });
  } catch (err) {
    // A Maildir another program made without `new/` is still a Maildir.
    if (sub === 'new' && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const dirent of names) {
    const name = dirent.name;
    // Dot files are not messages (editors' and tools' leftovers); a name that is not valid UTF-8
    // cannot be opened again through a string, so it cannot be synced either.
    if (name.startsWith('.') || dirent.isDirectory() || name.includes('\uFFFD')) continue;
    into.set(uniqueOf(name), { sub, name });
  }
}

/** One pass: `new/` first, then `cur/`, so a message moved from one to the other in between is seen. */
async function pass(dir: string): Promise<Entries> {
  const entries: Entries = new Map();
  await readSub(dir, 'new', entries);
  await readSub(dir, 'cur', entries);
  return entries;
}

/**
 * Whether a folder holds exactly `entries`: the same files under the same names in the same
 * directories (read as names only, without a map of what is there: this runs after every sync that
 * delivered into the folder). When it does, `stamp` is the folder's stamp if it proves that (equal
 * before and after the read, and not {@link folderStamp recent}), else `null`. `false` when the folder
 * holds anything else, a name the listing would skip included: the caller then looks closer.
 */
export async function matchFolder(
  dir: string,
  entries: Entries,
  canProbe = false,
): Promise<{ stamp: string | null } | false> {
  const before = await folderStamp(dir, Date.now(), canProbe);
  if (!before) return false;
  let count = 0;
  for (const sub of ['new', 'cur'] as const) {
    let names: string[];
    try {
      names = await readdir(join(dir, sub));
    } catch (err) {
      if (sub === 'new' && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const entry = entries.get(uniqueOf(name));
      if (entry?.name !== name || entry.sub !== sub) return false;
      count++;
    }
  }
  if (count !== entries.size) return false;
  const after = await folderStamp(dir, Date.now(), canProbe);
  return { stamp: after && after.value === before.value && !after.recent ? after.value : null };
}

export interface Scan {
  entries: Entries;
  /** The folder's marker value as of this scan (ends in {@link UNRELIABLE} if it proves nothing). */
  stamp: string;
}

/**
 * Reads a folder's directory entries (never file contents). Directory reads are not atomic: a file
 * another program renames while we read can be missed, and a missed message would look deleted. So
 * the stamp is taken before and after; if it moved, the pass is repeated. When it cannot be trusted
 * to have moved (too fresh, or still moving after several tries), two passes are merged, so a message
 * renamed during one is found in the other under its new name. `first`: a stamp of `dir` the caller
 * has just taken, used as the first pass's before-stamp.
 */
export async function scanFolder(
  dir: string,
  first?: { value: string; recent: boolean },
  canProbe = false,
): Promise<Scan | undefined> {
  let previous: Entries | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    // The caller's stamp, taken just before, serves as the first pass's: two stats fewer.
    const before = attempt === 0 && first ? first : await folderStamp(dir, Date.now(), canProbe);
    if (!before) return undefined;
    const entries = await pass(dir);
    const after = await folderStamp(dir, Date.now(), canProbe);
    if (!after) return undefined;
    if (before.value === after.value && !after.recent) return { entries, stamp: after.value };
    if (before.value === after.value && previous)
      return { entries: union(previous, entries), stamp: after.value + UNRELIABLE };
    previous = previous ? union(previous, entries) : entries;
  }
  const last = await pass(dir);
  return { entries: union(previous ?? new Map(), last), stamp: `unstable${UNRELIABLE}` };
}

/** Both passes' messages; where both have one, the later pass's name (its newer flags) wins. */
function union(older: Entries, newer: Entries): Entries {
  const merged = new Map(older);
  for (const [id, entry] of newer) merged.set(id, entry);
  return merged;
}

/** The Maildir spec: a file left in `tmp/` for 36 hours is debris from a crashed writer. */
const TMP_MAX_AGE_MS = 36 * 3600 * 1000;

/** Removes debris from `tmp/`. Best effort: a file another program is writing is young, so it stays. */
export async function cleanTmp(dir: string, now = Date.now()): Promise<void> {
  const tmp = join(dir, 'tmp');
  let names: string[];
  try {
    names = await readdir(tmp);
  } catch {
    return;
  }
  for (const name of names) {
    const file = join(tmp, name);
    try {
      const s = await stat(file);
      if (s.isFile() && now - s.mtimeMs > TMP_MAX_AGE_MS) await unlink(file);
    } catch {
      // Gone already, or not ours to remove: either way not mail.
    }
  }
}
