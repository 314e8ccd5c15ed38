import { createHash, randomBytes } from 'node:crypto';
import { type BigIntStats, lstatSync, renameSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
// Lets the thread's event loop run (messages, timers) in the middle of a long synchronous batch.
import { setImmediate } from 'node:timers/promises';
import {
  type ChangeNotice,
  type DescribeRequest,
  type Driver,
  type DriverCapabilities,
  displayFolder,
  type FlagOutcome,
  type FlagUpdate,
  FolderError,
  type FolderInfo,
  type FolderMarker,
  type FolderPath,
  folderKey,
  isInbox,
  isRefusedFolder,
  type ListedFolder,
  type ListedMessage,
  type Listing,
  type ListRequest,
  type MessageContent,
  MessageError,
  type MoveOutcome,
  messageIdFromHeaders,
  normalizeFlags,
  quoteName,
  type RefusedFolder,
  StoreError,
  type WatchRequest,
  type WatchStatus,
  type WriteOutcome,
} from '@twinbox/core';
import { type Delivery, deliverBatch, fsyncDir } from './durable.js';
import { countBareLf, fromDisk, toDisk } from './eol.js';
import {
  dateFromUnique,
  infoStart,
  parseMaildirName,
  renamedForFlags,
  sizeField,
  sizesFromName,
} from './filename.js';
import { type BirthStat, devicesWithBirthTimes, folderIdOf } from './folder-id.js';
import { type KeywordMap, readKeywords, writeKeywords } from './keywords.js';
import { FolderLayout, type FolderNameEncoding, MAX_NAME_BYTES, type MaildirLayoutName } from './layout.js';
import { mapLimit } from './limit.js';
import { FileReader } from './read-file.js';
import {
  cleanTmp,
  type Entries,
  type Entry,
  folderStamp,
  matchFolder,
  type Scan,
  scanFolder,
  UNRELIABLE,
} from './scan.js';
import { newUniqueName } from './unique.js';
import { MaildirWatcher } from './watch.js';

/** The directories of a Maildir itself, never folders of the `fs` layout. */
const MAILDIR_DIRS = new Set(['cur', 'new', 'tmp']);

/** How to open a Maildir tree. */
export interface MaildirOptions {
  /** The tree's root directory. */
  root: string;
  /** Default `maildir++`. See {@link MaildirLayoutName}. */
  layout?: MaildirLayoutName | undefined;
  /** `maildir++` only: the character joining levels in a directory name. Default `.`. */
  separator?: string | undefined;
  /** Directory of the inbox, when it is not where the layout puts it (mbsync's `Inbox`). */
  inbox?: string | undefined;
  /**
   * Default true: a message is reported written only once it would survive a power loss. False skips
   * the fsyncs (mbsync's `FSync no`): faster, and a crash of the machine may lose recent writes.
   */
  fsync?: boolean | undefined;
  /** Default true: make the root and the inbox when they do not exist. Ignored when `readOnly`. */
  create?: boolean | undefined;
  /**
   * Default false. True changes nothing on disk, ever: `open` makes no directory (a missing root is a
   * `STORE_MISSING` error), listings leave old debris in `tmp/` alone, the inbox is listed only if it
   * is a Maildir, and every write method (`createFolder`, `deleteFolder`, `renameFolder`,
   * `appendMessages`, `setFlags`, `deleteMessages`, `moveMessages`) rejects with a `READ_ONLY` StoreError: for a verifier such as
   * `twinbox check`, which must not change what it inspects.
   */
  readOnly?: boolean | undefined;
  /**
   * How folder names are spelled on disk: `utf-8` (the default), or `modified-utf-7`, IMAP's own
   * spelling, which Dovecot (without `:UTF-8`), mbsync and OfflineIMAP write: use it to take over a
   * Maildir one of them made, so its folders are found rather than made again.
   */
  folderNames?: FolderNameEncoding | undefined;
}

/** Maildir has no UIDVALIDITY: a message's unique name is never reused, so ids never change epoch. */
const EPOCH = 'maildir';
/** Starts a marker value from {@link MaildirDriver.markerAfterWrites}: a digest of files, not a stamp. */
const SETTLED = 'files:';

/**
 * A digest of a folder's files (where each is and its whole name, so its flags) and of its keyword
 * letters, which give some of those flags their meaning. Sorted, so the same files give the same
 * digest however they were found; SHA-256, so that two different sets of files never share one.
 */
function filesDigest(entries: Entries, keywords: string): string {
  const names: string[] = [];
  for (const entry of entries.values()) names.push(`${entry.sub}/${entry.name}`);
  names.sort();
  return createHash('sha256').update(keywords).update('\0').update(names.join('\0')).digest('base64url');
}
/** Standard info letters, by IMAP flag (lower case). `P` (passed) is `$Forwarded`, as mutt and mbsync read it. */
const SYSTEM_LETTER: Readonly<Record<string, string>> = {
  '\\draft': 'D',
  '\\flagged': 'F',
  $forwarded: 'P',
  '\\answered': 'R',
  '\\seen': 'S',
  '\\deleted': 'T',
};
/**
 * How many renames of one batch are made before the thread's event loop gets a turn. They
 * are synchronous (see {@link setFlags}); the turn keeps a huge batch from holding the thread for long.
 */
const RENAMES_PER_TURN = 256;

/** How many files {@link MaildirDriver.deleteMessages} removes at once (see there). */
const UNLINKS_AT_ONCE = 8;

/** Directories made 0700 and files 0600: mail is for its owner only. */
const DIR_MODE = 0o700;

/** How often a folder's `tmp/` is cleaned of debris by the listings (see `#tmpDue`). */
const TMP_CLEAN_EVERY_MS = 10 * 60_000;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function toBytes(data: Buffer): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A Maildir tree as a Twinbox store, shared safely with Dovecot, mutt/neomutt, notmuch, mbsync and
 * OfflineIMAP.
 *
 * - A message's id is the unique part of its file name: it survives flag renames and moves between
 *   `new/` and `cur/` by other programs. Messages in `new/` without info are unseen.
 * - Flags live in the `:2,` info (D F P R S T), keywords as Dovecot's letters (`dovecot-keywords`).
 *   Info letters this driver does not know are kept when it renames a file.
 * - The marker is the inode and mtime of `new/`, `cur/` and `dovecot-keywords`: an unchanged folder
 *   costs three `stat`s, a changed one a read of its directory entries, never of file contents.
 *   Since a marker this driver gave, a changed folder is answered as a `delta` against the files that
 *   listing saw, whoever changed them: its own writes cost a lookup each, not a listing of the whole
 *   folder.
 * - Writes go through `tmp/`, are fsynced in batches, and are reported only once durable.
 * - Messages are kept with LF line endings on disk and handed out with CRLF; a body that does not
 *   fit that (CR CR LF, a bare LF) still comes back byte for byte (see `eol.ts`).
 * - It can be watched ({@link watch}): inotify on every folder's `new/` and `cur/`, no connection.
 */
export class MaildirDriver implements Driver {
  readonly capabilities: DriverCapabilities = { keywords: true };
  readonly #layout: FolderLayout;
  readonly #fsync: boolean;
  /**
   * Each folder's messages as of its last scan, kept up to date by our own writes: where to find a
   * file without listing again. Shares its map with {@link #listed} until the first write (see
   * {@link #ownEntries}).
   */
  readonly #entries = new Map<string, Entries>();
  /**
   * Each folder's last listing: its marker and the files it saw, exactly as listed. A later listing
   * since that marker answers with what differs from them (a `delta`), so a folder changed by a few
   * files costs a directory read and those files, not a listing of every message (and the state's
   * pairs for all of them) again. One per folder: a listing since any other marker is full.
   */
  readonly #listed = new Map<string, { marker: string; entries: Entries; keywords: string }>();
  /**
   * Folders whose {@link #entries} are exactly their last listing's files plus this driver's own writes
   * since: what {@link markerAfterWrites} may vouch for. A rescan (a file that moved under us, a move
   * between folders) takes in other programs' changes too, which the state does not hold, so it drops
   * the folder from here until its next listing.
   */
  readonly #ownWritesOnly = new Set<string>();
  /** Folders this driver appended to since their last listing: {@link markerAfterWrites} looks at them. */
  readonly #appendedSince = new Set<string>();
  readonly #reader = new FileReader();
  /**
   * The stamp an `unchanged` listing proved, by folder, until a write first needs the folder's files:
   * read then, at that stamp still, they are the files that listing stood for.
   */
  readonly #proven = new Map<string, string>();
  /** The first read of a folder's files for writes, shared by the writes that run at once. */
  readonly #loading = new Map<string, Promise<Entries>>();
  /** Tells this driver's markers of unreliable stamps from any other instance's (another process). */
  readonly #token = randomBytes(6).toString('base64url');
  /** Counts listings, so that every unreliable marker of this driver is a new one. */
  #listings = 0;
  /** When each folder's `tmp/` was last cleaned by a listing (Date.now()), by directory. */
  readonly #tmpCleaned = new Map<string, number>();
  readonly #keywords = new Map<string, KeywordMap>();
  /** See {@link MaildirOptions.readOnly}. */
  readonly #readOnly: boolean;
  /** The last folder creation, deletion or rename queued (see {@link #oneAtATime}). */
  #treeChange: Promise<unknown> = Promise.resolve();
  /** The running watch, from {@link watch} to {@link unwatch}, and its start. */
  #watch: { watcher: MaildirWatcher; started: Promise<WatchStatus> } | undefined;

  private constructor(layout: FolderLayout, fsync: boolean, readOnly: boolean) {
    this.#layout = layout;
    this.#fsync = fsync;
    this.#readOnly = readOnly;
  }

  static async open(options: MaildirOptions): Promise<MaildirDriver> {
    const layout = new FolderLayout({
      root: options.root,
      layout: options.layout ?? 'maildir++',
      separator: options.separator ?? '.',
      inbox: options.inbox,
      names: options.folderNames,
    });
    const readOnly = options.readOnly === true;
    const driver = new MaildirDriver(layout, options.fsync ?? true, readOnly);
    let rootStat: import('node:fs').Stats | undefined;
    try {
      rootStat = await stat(layout.root);
    } catch (err) {
      if (errno(err) !== 'ENOENT')
        throw new StoreError(`Cannot open the Maildir at ${layout.root}: ${(err as Error).message}.`, {
          code: 'STORE_UNREADABLE',
          cause: err,
        });
    }
    if (rootStat && !rootStat.isDirectory())
      throw new StoreError(`The Maildir root ${layout.root} is not a directory.`, {
        code: 'STORE_NOT_DIRECTORY',
      });
    if (!rootStat && readOnly)
      throw new StoreError(
        `The Maildir root ${layout.root} does not exist; it was opened read-only, so it was not created.`,
        { code: 'STORE_MISSING' },
      );
    if (!rootStat && options.create === false)
      throw new StoreError(
        `The Maildir root ${layout.root} does not exist. Create it, or let Twinbox create it.`,
        { code: 'STORE_MISSING' },
      );
    if (readOnly) return driver;
    try {
      await mkdir(layout.root, { recursive: true, mode: DIR_MODE });
      await driver.#ensureMaildir(layout.inboxDir);
    } catch (err) {
      throw new StoreError(`Cannot set up the Maildir at ${layout.root}: ${(err as Error).message}.`, {
        code: 'STORE_UNWRITABLE',
        cause: err,
      });
    }
    return driver;
  }

  /** The root directory, resolved. */
  get root(): string {
    return this.#layout.root;
  }

  /** Rejects a write in read-only mode, before anything on disk is touched. */
  #writable(what: string, path: FolderPath): void {
    if (!this.#readOnly) return;
    throw new StoreError(
      `The Maildir at ${this.#layout.root} was opened read-only, so it cannot ${what} ${JSON.stringify(displayFolder(path))}.`,
      { code: 'READ_ONLY' },
    );
  }

  // ---- folders ----------------------------------------------------------------------------------

  /**
   * A directory that is a Maildir but whose name this layout would never write (an invalid modified
   * UTF-7 run, an empty level, a control character): refused by that name, never read another way.
   */
  #refused(name: string): RefusedFolder {
    return {
      refused: name,
      code: 'FOLDER_NAME_REFUSED',
      message: `The Maildir at ${this.#layout.root} holds a folder directory named ${quoteName(name)}, which Twinbox cannot map to a folder and back to the same directory name. Nothing is created, synced or deleted for it; rename it, or exclude it from the pair.`,
    };
  }

  /**
   * See {@link Driver.listFolders}. Every folder but the inbox whose directory is there (`.A` in
   * `maildir++`, `A/` in `fs`; a `maildir++` parent listed only as a name has none) gets an `id` from that
   * directory's device, inode and birth time (see `folder-id.ts`): one `lstat` per folder beside the
   * `cur/` stat the listing makes anyway. The inbox gets none: it is never renamed.
   */
  async listFolders(): Promise<ListedFolder[]> {
    const found = new Map<string, FolderInfo>();
    const refused: RefusedFolder[] = [];
    /** Each listed folder's directory stat, and every stat that may prove birth times real. */
    const dirStats = new Map<string, BigIntStats>();
    const evidence: (BirthStat | undefined)[] = [];
    const add = (path: FolderPath, selectable: boolean, dir?: BigIntStats) => {
      const key = folderKey(path);
      const known = found.get(key);
      if (known && (known.selectable || !selectable)) return;
      found.set(key, { path: [...path], selectable });
      if (dir && !isInbox(path)) dirStats.set(key, dir);
      else dirStats.delete(key);
    };
    const finish = (): ListedFolder[] => {
      const proven = devicesWithBirthTimes([...evidence, ...dirStats.values()]);
      for (const [key, dir] of dirStats) {
        const id = folderIdOf(dir, proven);
        const folder = found.get(key);
        if (id !== undefined && folder) folder.id = id;
      }
      return [...found.values(), ...refused];
    };
    evidence.push(await statBig(this.#layout.root));
    // Opened for writing, the inbox was made by `open`; read-only, it is there only if it is.
    if (!this.#readOnly || (await isMaildir(this.#layout.inboxDir))) add(['INBOX'], true);
    if (this.#layout.options.layout === 'maildir++') {
      const dirents = (await this.#readRoot()).filter(
        (d) => d.isDirectory() && d.name.startsWith('.') && d.name !== '.' && d.name !== '..',
      );
      // Stat in parallel (the thread pool has four threads), then read the answers in listing order.
      const stats = await mapLimit(dirents, 8, (d) => folderStats(join(this.#layout.root, d.name)));
      for (const [i, dirent] of dirents.entries()) {
        const path = this.#layout.pathOfDotDir(dirent.name);
        if (path && isInbox(path)) continue;
        const { cur, dir } = stats[i]!;
        if (!cur?.isDirectory()) continue;
        if (!path) {
          refused.push(this.#refused(dirent.name));
          continue;
        }
        evidence.push(cur);
        add(path, true, dir);
        // Maildir++ lets `.a.b` exist without `.a`: the parent is there as a name only.
        for (let depth = 1; depth < path.length; depth++) add(path.slice(0, depth), false);
      }
      return finish();
    }
    const walk = async (dir: string, prefix: FolderPath, depth: number): Promise<boolean> => {
      if (depth > 64) return false;
      let any = false;
      let dirents: import('node:fs').Dirent[];
      try {
        dirents = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory());
      } catch {
        return false;
      }
      const levels = dirents.map((d) => this.#layout.fsLevel(d.name));
      const stats = await mapLimit(dirents, 8, async (d, i) =>
        levels[i] === undefined ? undefined : folderStats(join(dir, d.name)),
      );
      for (const [i, dirent] of dirents.entries()) {
        const level = levels[i];
        const sub = join(dir, dirent.name);
        if (level === undefined) {
          // Hidden directories and cur/new/tmp are no folders; any other Maildir here is a refused name.
          const relativeName = relative(this.#layout.root, sub);
          if (!dirent.name.startsWith('.') && !MAILDIR_DIRS.has(dirent.name) && (await isMaildir(sub)))
            refused.push(this.#refused(relativeName));
          continue;
        }
        const path = [...prefix, level];
        if (isInbox(path) && sub !== this.#layout.inboxDir) continue;
        const { cur, dir: self } = stats[i]!;
        const selectable = cur?.isDirectory() === true;
        if (selectable) evidence.push(cur);
        const hasChildren = await walk(sub, path, depth + 1);
        if (selectable || hasChildren) {
          add(path, selectable, self);
          any = true;
        }
      }
      return any;
    };
    await walk(this.#layout.root, [], 0);
    return finish();
  }

  createFolder(path: FolderPath): Promise<void> {
    return this.#oneAtATime(() => this.#createFolder(path));
  }

  /**
   * Runs one change of the folder tree after the ones queued before it. Each looks at the tree and
   * then changes it (a name that collides with an existing folder's, a parent without subfolders),
   * and the engine syncs several folders at once: two creations of names a person would take for one
   * (`café` in NFC and NFD) would both pass the check, and a parent deleted while a folder is made
   * inside it would take the new folder along.
   */
  #oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const run = this.#treeChange.then(change);
    this.#treeChange = run.catch(() => {});
    return run;
  }

  async #createFolder(path: FolderPath): Promise<void> {
    this.#writable('create the folder', path);
    if (isInbox(path)) return this.#ensureMaildir(this.#layout.inboxDir);
    const dir = this.#layout.dirOf(path);
    await this.#refuseCollision(path);
    try {
      // Parents first, each a Maildir of its own (what Dovecot and mbsync make too).
      for (let depth = 1; depth < path.length; depth++) {
        const parent = path.slice(0, depth);
        if (!isInbox(parent)) await this.#ensureMaildir(this.#layout.dirOf(parent));
      }
      await this.#ensureMaildir(dir);
    } catch (err) {
      throw new FolderError(
        `Cannot create the folder ${JSON.stringify(displayFolder(path))} at ${dir}: ${(err as Error).message}.`,
        { code: 'FOLDER_CREATE_FAILED', cause: err },
      );
    }
  }

  deleteFolder(path: FolderPath): Promise<void> {
    return this.#oneAtATime(() => this.#deleteFolder(path));
  }

  async #deleteFolder(path: FolderPath): Promise<void> {
    this.#writable('delete the folder', path);
    if (isInbox(path)) throw new FolderError('The inbox cannot be deleted.', { code: 'FOLDER_IS_INBOX' });
    const dir = this.#layout.dirOf(path);
    this.#entries.delete(dir);
    this.#listed.delete(dir);
    this.#ownWritesOnly.delete(dir);
    this.#proven.delete(dir);
    this.#keywords.delete(dir);
    if (!(await exists(dir))) return;
    // Moved aside first, then removed: a crash in between leaves the folder gone, never half there.
    const trash = join(
      this.#layout.root,
      this.#layout.options.layout === 'fs' ? '.twinbox-trash' : 'twinbox-trash',
    );
    await mkdir(trash, { recursive: true, mode: DIR_MODE });
    const aside = join(trash, newUniqueName());
    try {
      if (this.#layout.options.layout === 'fs' && (await hasSubfolders(dir))) {
        // Its subfolders live inside it and stay: only its own mail goes.
        await mkdir(aside, { mode: DIR_MODE });
        for (const name of await readdir(dir)) {
          if (name === 'cur' || name === 'new' || name === 'tmp' || name.startsWith('dovecot'))
            await rename(join(dir, name), join(aside, name));
        }
      } else {
        await rename(dir, aside);
      }
      if (this.#fsync) await fsyncDir(dirname(dir));
      await rm(aside, { recursive: true, force: true });
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw new FolderError(
        `Cannot delete the folder ${JSON.stringify(displayFolder(path))} at ${dir}: ${(err as Error).message}.`,
        { code: 'FOLDER_DELETE_FAILED', cause: err },
      );
    }
  }

  /**
   * See {@link Driver.renameFolder}: the folder's directory is renamed, and so every message keeps its
   * file, its unique name (its id), flags, keywords (`dovecot-keywords` goes along) and mtime. The epoch
   * is the same for every folder and the marker is the identity and mtime of `new/` and `cur/`, which a
   * rename of their parent leaves as they were: a listing of `to` since a marker of `from` answers
   * `unchanged`, and every id the caller paired under `from` names the same message under `to`. That is
   * also what a rename by another program (`mv`, a mail client) looks like, which is how the engine
   * tells a renamed folder from a deleted one and a new one.
   *
   * In the `fs` layout one directory rename carries the subfolders. In `maildir++` every subfolder is a
   * directory of its own beside the folder (`.A.B` next to `.A`), so each is renamed in turn, the folder
   * itself last (why is said where the driver gathers them); a subfolder whose name this layout refuses to read goes
   * along by its name, so nothing is left behind under the old one. Missing parents of `to` are made as
   * {@link createFolder} makes them, and the directories changed are fsynced before this resolves.
   */
  renameFolder(from: FolderPath, to: FolderPath): Promise<void> {
    return this.#oneAtATime(() => this.#renameFolder(from, to));
  }

  async #renameFolder(from: FolderPath, to: FolderPath): Promise<void> {
    this.#writable('rename the folder', from);
    const names = `${JSON.stringify(displayFolder(from))} to ${JSON.stringify(displayFolder(to))}`;
    const refuse = (why: string) =>
      new FolderError(`Cannot rename the folder ${names}: ${why}.`, { code: 'FOLDER_RENAME_REFUSED' });
    if (isInbox(from) || isInbox(to))
      throw refuse('the inbox can be neither renamed nor replaced; move its messages instead');
    if (isBelow(to, from)) throw refuse('the new name is the folder itself or one of its subfolders');
    // Both names checked as any folder name: nothing below is ever written outside the root.
    const fromDir = this.#layout.dirOf(from);
    const toDir = this.#layout.dirOf(to);
    const listed = await this.listFolders();
    if (!listed.some((f) => !isRefusedFolder(f) && folderKey(f.path) === folderKey(from)))
      throw new FolderError(
        `Cannot rename the folder ${names}: there is no folder ${JSON.stringify(displayFolder(from))} in the Maildir at ${this.#layout.root} (any more). List the folders again.`,
        { code: 'FOLDER_GONE' },
      );
    const taken = (dir: string) =>
      new FolderError(
        `Cannot rename the folder ${names}: ${dir} exists already. Pick another name, or move or remove that directory first.`,
        { code: 'FOLDER_EXISTS' },
      );
    if (listed.some((f) => !isRefusedFolder(f) && f.selectable && folderKey(f.path) === folderKey(to)))
      throw taken(toDir);
    if (isWithin(this.#layout.inboxDir, fromDir))
      throw refuse(`the inbox (${this.#layout.inboxDir}) lies inside it`);
    await this.#refuseCollision(to, from);

    // Source and target directories, outermost first. Every target is checked before anything moves:
    // rename(2) would put a directory over an empty one without a word.
    const moves =
      this.#layout.options.layout === 'fs'
        ? [{ from: fromDir, to: toDir }]
        : await this.#dotDirsBelow(fromDir, toDir, names);
    for (const move of moves) if (await exists(move.to)) throw taken(move.to);
    if (moves.some((move) => move.from === this.#layout.inboxDir))
      throw refuse(`the inbox (${this.#layout.inboxDir}) is one of its directories`);

    try {
      for (let depth = 1; depth < to.length; depth++) {
        const parent = to.slice(0, depth);
        if (isInbox(parent)) continue;
        const dir = this.#layout.dirOf(parent);
        // Only what is missing: a parent that is there stays as it is (a Maildir or just a directory).
        if (!(await exists(dir))) await this.#ensureMaildir(dir);
      }
    } catch (err) {
      throw new FolderError(
        `Cannot rename the folder ${names}: making the parent folders of the new name failed: ${(err as Error).message}.`,
        { code: 'FOLDER_CREATE_FAILED', cause: err },
      );
    }

    // Whatever happens below, no cached listing of either name (or of a folder below) may be used again:
    // a directory seen under a name is not the one there now.
    const forget = () => {
      for (const move of moves) {
        this.#forget(move.from);
        this.#forget(move.to);
      }
    };
    forget();
    try {
      // Children first, the folder itself last (see #dotDirsBelow for why).
      for (const move of [...moves].reverse()) await rename(move.from, move.to);
      if (this.#fsync) {
        for (const dir of new Set(moves.flatMap((move) => [dirname(move.from), dirname(move.to)])))
          await fsyncDir(dir);
      }
    } catch (err) {
      const code = errno(err);
      throw new FolderError(
        `Cannot rename the folder ${names}: ${(err as Error).message}. Part of it may have moved: list the folders again before retrying.`,
        {
          code:
            code === 'ENOENT'
              ? 'FOLDER_GONE'
              : code === 'EEXIST' || code === 'ENOTEMPTY'
                ? 'FOLDER_EXISTS'
                : 'FOLDER_RENAME_FAILED',
          cause: err,
        },
      );
    } finally {
      forget();
    }
  }

  /**
   * The `maildir++` directories of a rename, the folder's own first: `.A` (when there, which it need
   * not be for a folder that exists only as the parent of `.A.B`) and every `.A.<…>` directory, each
   * with its new name. A directory whose name this layout refuses (listed as refused) but that starts
   * with the folder's name and a separator is taken along by its name, its tail kept as it is.
   *
   * They are renamed children first and the folder itself last. A crash in the middle (each single
   * rename is atomic; the set is not, and Maildir++ has no way to make it so) then leaves the folder
   * whole and readable under its old name, its own messages in place, with some subfolders already
   * moved, each whole, under the new name: to the engine's next sync those read as subfolders renamed
   * by another program (same ids, same epoch), which it recognises, and the old folder as unchanged.
   * The other order would leave the old name a mere parent of leftover subfolders while its messages
   * appear elsewhere. A retry of the same rename finishes it: targets already moved are no longer
   * sources, and a new name that exists only as the parent of moved subfolders has no directory yet.
   */
  async #dotDirsBelow(
    fromDir: string,
    toDir: string,
    names: string,
  ): Promise<{ from: string; to: string }[]> {
    const fromName = basename(fromDir);
    const toName = basename(toDir);
    const prefix = `${fromName}${this.#layout.options.separator}`;
    const moves = (await exists(fromDir)) ? [{ from: fromDir, to: toDir }] : [];
    for (const dirent of await this.#readRoot()) {
      // By its spelling, which takes a refused name along too: a level never holds the separator, so
      // every name starting `.A.` is below `A`.
      if (!dirent.isDirectory() || !dirent.name.startsWith(prefix)) continue;
      const target = `${toName}${dirent.name.slice(fromName.length)}`;
      if (Buffer.byteLength(target) > MAX_NAME_BYTES)
        throw new FolderError(
          `Cannot rename the folder ${names}: its subfolder directory ${quoteName(dirent.name)} would be named ${quoteName(target)}, longer than ${MAX_NAME_BYTES} bytes. Pick a shorter name.`,
          { code: 'FOLDER_NAME_UNSAFE' },
        );
      moves.push({ from: join(this.#layout.root, dirent.name), to: join(this.#layout.root, target) });
    }
    return moves;
  }

  /** Drops every cached view of a folder directory and, in the `fs` layout, of the folders inside it. */
  #forget(dir: string): void {
    const inside = `${dir}${sep}`;
    const caches = [
      this.#entries,
      this.#listed,
      this.#ownWritesOnly,
      this.#proven,
      this.#keywords,
      this.#tmpCleaned,
    ];
    for (const cache of caches) {
      for (const key of [...cache.keys()]) if (key === dir || key.startsWith(inside)) cache.delete(key);
    }
  }

  // ---- messages ---------------------------------------------------------------------------------

  async listMessages(path: FolderPath, request: ListRequest): Promise<Listing> {
    const dir = this.#layout.dirOf(path);
    const since = request.since?.epoch === EPOCH ? request.since : undefined;
    // A marker from markerAfterWrites names the folder's files, not a stamp: the folder is read.
    const settled = since?.value.startsWith(SETTLED) ? since.value.slice(SETTLED.length) : undefined;
    try {
      let stamp: Awaited<ReturnType<typeof folderStamp>>;
      if (since && settled === undefined && !since.value.includes(UNRELIABLE)) {
        stamp = await folderStamp(dir, Date.now(), !this.#readOnly);
        if (!stamp) throw this.#missing(path, dir);
        if (stamp.value === since.value) {
          if (!this.#entries.has(dir)) this.#proven.set(dir, stamp.value);
          return { kind: 'unchanged', marker: since };
        }
      }
      const scan = await scanFolder(dir, stamp, !this.#readOnly);
      if (!scan) throw this.#missing(path, dir);
      const keywords = await this.#keywordMap(dir, true);
      const keywordText = keywords.serialize();
      const previous = this.#listed.get(dir);
      // A stamp that proves nothing gets a token no other listing has: it then names this listing's
      // snapshot alone, never another one taken at the same stamp with other files in it.
      const value = scan.stamp.includes(UNRELIABLE)
        ? `${scan.stamp}${this.#token}${++this.#listings}`
        : scan.stamp;
      const marker: FolderMarker = { epoch: EPOCH, value };
      this.#listed.set(dir, { marker: value, entries: scan.entries, keywords: keywordText });
      this.#entries.set(dir, scan.entries);
      this.#ownWritesOnly.add(dir);
      this.#appendedSince.delete(dir);
      const flagsOfName = flagParser(keywords);
      const listedOf = (id: string, entry: Entry): ListedMessage => {
        const flags = flagsOfName(entry.name);
        const crlf = sizeField(id, ',W=');
        return crlf === undefined ? { id, flags } : { id, flags, size: crlf };
      };
      let listing: Listing;
      if (since && previous?.marker === since.value && previous.keywords === keywordText) {
        // The files as of `since` are known: the answer is what differs from them, whoever changed it
        // (our own writes since then included, which the state already holds and so cost a lookup
        // each). Compared name by name, not by mtime, so a change made by another program in the same
        // clock tick as one of ours is seen all the same.
        const changed: ListedMessage[] = [];
        const vanished: string[] = [];
        for (const [id, entry] of scan.entries) {
          if (previous.entries.get(id)?.name !== entry.name) changed.push(listedOf(id, entry));
        }
        for (const id of previous.entries.keys()) if (!scan.entries.has(id)) vanished.push(id);
        if (request.dates) await addDates(dir, scan.entries, changed);
        listing = { kind: 'delta', marker, changed, vanished };
      } else if (settled !== undefined && filesDigest(scan.entries, keywordText) === settled) {
        // Exactly the files the last sync left here, which the state holds: nothing to list, and no
        // pair to read. The new marker is this scan's stamp, which spares the next listing the read
        // when the folder stays as it is.
        listing = { kind: 'unchanged', marker };
      } else {
        const messages: ListedMessage[] = [];
        for (const [id, entry] of scan.entries) messages.push(listedOf(id, entry));
        if (request.dates) await addDates(dir, scan.entries, messages);
        listing = { kind: 'full', marker, messages };
      }
      if (!this.#readOnly && this.#tmpDue(dir)) await cleanTmp(dir);
      return listing;
    } catch (err) {
      throw this.#folderError(path, dir, 'list', err);
    }
  }

  /**
   * See {@link Driver.markerAfterWrites}. Our own writes move `new/` and `cur/`'s mtimes, so the
   * listing's stamp would make the next sync, in a process that did not see that listing, read the
   * folder and compare every file with every pair the state holds. The marker given instead names the
   * files the folder should hold now (the listing's, changed by our writes since: a digest of their
   * names and of the keyword letters), so that the next listing, which reads the directory anyway, can
   * tell by that digest alone that nothing else changed. Any other program's change since the listing
   * shows there as a different digest, whenever it was made, so no mtime window is involved.
   */
  async markerAfterWrites(path: FolderPath, marker: FolderMarker): Promise<FolderMarker> {
    const dir = this.#layout.dirOf(path);
    const listed = this.#listed.get(dir);
    const entries = this.#entries.get(dir);
    if (marker.epoch !== EPOCH || !listed || listed.marker !== marker.value || !entries) return marker;
    // Nothing written since the listing: its own marker says it all.
    if (entries === listed.entries || !this.#ownWritesOnly.has(dir)) return marker;
    // Letters our writes added to the keyword file (every folder of a first sync with keywords) leave
    // what the listing's letters mean as it was; any other change of the file is left to a listing.
    const keywords = this.#keywords.get(dir)?.serialize();
    if (keywords === undefined || !extendsKeywords(keywords, listed.keywords)) return marker;
    // Where we appended, the folder is looked at, once: another program's message that came since the
    // listing may be a twin of one of our copies, which the controller finds only if told (see
    // Driver.markerAfterWrites). Flag changes and deletions need no look: what they could miss, the
    // next listing, comparing the digest, sees.
    if (this.#appendedSince.delete(dir)) {
      // A look that fails vouches for nothing; the controller's own listing then says what is wrong.
      const match = await matchFolder(dir, entries, !this.#readOnly).catch(() => false as const);
      if (!match) return marker;
      // The stamp covers `dovecot-keywords` as it is now; the files' letters mean what this driver
      // takes them to mean only if the file still says what it last read or wrote there (read after
      // the stamp: a rewrite since shows as another stamp at the next listing).
      if (
        match.stamp !== null &&
        (await readKeywords(dir).then(
          (k) => k.serialize() === keywords,
          () => false,
        ))
      ) {
        // The look proved the files by the folder's stamp: the next listing, here or in another
        // process, costs three stats while the folder stays as it is, rather than a read of it.
        this.#listed.set(dir, { marker: match.stamp, entries, keywords });
        return { epoch: EPOCH, value: match.stamp };
      }
    }
    const value = `${SETTLED}${filesDigest(entries, keywords)}`;
    // In this process, the next listing answers a delta against these files, as against a listing's.
    this.#listed.set(dir, { marker: value, entries, keywords });
    return { epoch: EPOCH, value };
  }

  /**
   * Whether a folder's `tmp/` is due for its clean-up, which then counts as done. Once per
   * {@link TMP_CLEAN_EVERY_MS} per folder: debris is 36 hours old before it goes, so a few minutes
   * more do not matter, and reading `tmp/` at every listing cost a daemon's batch more than reading
   * `new/` and `cur/` (an ext4 directory never shrinks: a `tmp/` that once held a first sync's
   * thousands of files is read block by block however empty it is now).
   */
  #tmpDue(dir: string): boolean {
    const now = Date.now();
    const last = this.#tmpCleaned.get(dir);
    if (last !== undefined && now - last < TMP_CLEAN_EVERY_MS) return false;
    this.#tmpCleaned.set(dir, now);
    return true;
  }

  /**
   * The files in `cur/` and `new/`, counted apart from the listing's scan: names are read as bytes
   * (a name that is not UTF-8 counts), and two files with the same unique part count twice, where the
   * listing, keyed by it, sees one. Dot files and directories are not messages, as for Dovecot.
   */
  async countMessages(path: FolderPath): Promise<number> {
    const dir = this.#layout.dirOf(path);
    if (!(await isMaildir(dir))) throw this.#missing(path, dir);
    let count = 0;
    try {
      for (const sub of ['cur', 'new']) {
        let dirents: import('node:fs').Dirent<Buffer>[];
        try {
          dirents = await readdir(join(dir, sub), { withFileTypes: true, encoding: 'buffer' });
        } catch (err) {
          if (sub === 'new' && errno(err) === 'ENOENT') continue;
          throw err;
        }
        for (const dirent of dirents) if (!dirent.isDirectory() && dirent.name[0] !== 0x2e) count++;
      }
    } catch (err) {
      throw this.#folderError(path, dir, 'count the messages of', err);
    }
    return count;
  }

  /**
   * See {@link Driver.describeMessages}. A file is read (its head, or all of it when its name gives no
   * size) only for a Message-ID the request wants: a size outside `request.sizes` that the name gives
   * is enough.
   */
  async describeMessages(
    path: FolderPath,
    ids: readonly string[],
    request?: DescribeRequest,
  ): Promise<ListedMessage[]> {
    const dir = this.#layout.dirOf(path);
    const keywords = await this.#keywordMap(dir, false);
    const sizes = request?.sizes ? new Set(request.sizes) : undefined;
    const described = await mapLimit(ids, 16, async (id): Promise<ListedMessage | undefined> => {
      try {
        return await this.#withEntry(dir, id, async (entry) => {
          const parsed = parseMaildirName(entry.name);
          const { crlf } = sizesFromName(parsed.unique);
          const flags = flagsOf(parsed.flags, parsed.keywordLetters, keywords);
          if (sizes && crlf !== undefined && !sizes.has(crlf)) return { id, flags, size: crlf };
          const { head, size } = await this.#readHead(join(dir, entry.sub, entry.name), crlf === undefined);
          return { id, flags, size: crlf ?? size, messageId: messageIdFromHeaders(head) };
        });
      } catch (err) {
        if (err instanceof MessageError && err.code === 'MESSAGE_GONE') return undefined;
        throw err;
      }
    });
    return described.filter((m): m is ListedMessage => m !== undefined);
  }

  /** A message file's head (its whole body when its size is wanted and its name does not say it). */
  async #readHead(file: string, wantSize: boolean): Promise<{ head: Uint8Array; size: number }> {
    if (wantSize) {
      const data = toBytes((await this.#reader.read(file)).data);
      return { head: data, size: data.length + countBareLf(data) };
    }
    return { head: toBytes(await this.#reader.head(file)), size: 0 };
  }

  async readMessage(path: FolderPath, id: string): Promise<MessageContent> {
    const dir = this.#layout.dirOf(path);
    const keywords = await this.#keywordMap(dir, false);
    return this.#withEntry(dir, id, async (entry) => {
      const { data, mtimeMs } = await this.#reader.read(join(dir, entry.sub, entry.name));
      const parsed = parseMaildirName(entry.name);
      return {
        // `W` decides, as in the listing's size: both see the same name, so they always agree.
        body: fromDisk(toBytes(data), sizeField(parsed.unique, ',W=')),
        flags: flagsOf(parsed.flags, parsed.keywordLetters, keywords),
        internalDate: Math.floor(mtimeMs),
      };
    });
  }

  /**
   * Reads several files at once where the disk serves them in parallel (see FileReader). Null for a
   * message that vanished.
   */
  async readMessages(path: FolderPath, ids: readonly string[]): Promise<(MessageContent | null)[]> {
    return mapLimit(ids, 16, async (id) => {
      try {
        return await this.readMessage(path, id);
      } catch (err) {
        if (err instanceof MessageError && err.code === 'MESSAGE_GONE') return null;
        throw err;
      }
    });
  }

  async appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]> {
    this.#writable('append messages to', path);
    if (messages.length === 0) return [];
    const dir = this.#layout.dirOf(path);
    if (!(await isMaildir(dir))) throw this.#missing(path, dir);
    const flagsByMessage = messages.map((m) => normalizeFlags(m.flags));
    const { keywords, full } = await this.#ensureKeywords(dir, flagsByMessage.flat());
    const outcomes: (WriteOutcome | undefined)[] = new Array(messages.length).fill(undefined);
    const deliveries: Delivery[] = [];
    const index: number[] = [];
    for (const [i, message] of messages.entries()) {
      const flags = flagsByMessage[i]!;
      const refused = flags.find((f) => full.has(f.toLowerCase()));
      if (refused) {
        outcomes[i] = { ok: false, code: 'KEYWORD_LIMIT', message: this.#keywordLimit(path, refused) };
        continue;
      }
      const data = toDisk(message.body);
      // W is what readMessage will hand out: the body itself, byte for byte (see eol.ts).
      const unique = `${newUniqueName()},S=${data.length},W=${message.body.length}`;
      const letters = lettersFor(flags, keywords);
      // A message with no flag is delivered as new mail, which mail readers announce as such.
      const sub = letters.length === 0 ? 'new' : 'cur';
      const name = letters.length === 0 ? unique : `${unique}:2,${letters}`;
      deliveries.push({
        data,
        mtime: message.internalDate,
        tempName: unique,
        finalDir: join(dir, sub),
        finalName: name,
      });
      index.push(i);
    }
    const delivered = await deliverBatch(join(dir, 'tmp'), deliveries, this.#fsync);
    this.#appendedSince.add(dir);
    const entries = this.#ownEntries(dir);
    for (const [k, outcome] of delivered.entries()) {
      const d = deliveries[k]!;
      if (outcome.ok) {
        entries?.set(d.tempName, { sub: d.finalDir.endsWith('new') ? 'new' : 'cur', name: d.finalName });
        outcomes[index[k]!] = { ok: true, id: d.tempName };
      } else {
        const code =
          errno(outcome.error) === 'ENOSPC' || errno(outcome.error) === 'EDQUOT'
            ? 'STORE_FULL'
            : 'WRITE_FAILED';
        outcomes[index[k]!] = {
          ok: false,
          code,
          message: `Cannot write a message to the folder ${JSON.stringify(displayFolder(path))}: ${outcome.error.message}.`,
        };
      }
    }
    return outcomes as WriteOutcome[];
  }

  async setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]> {
    this.#writable('change flags in', path);
    if (updates.length === 0) return [];
    const dir = this.#layout.dirOf(path);
    if (!(await isMaildir(dir))) throw this.#missing(path, dir);
    const { keywords, full } = await this.#ensureKeywords(
      dir,
      updates.flatMap((u) => u.add),
    );
    const touched = new Set<string>();
    // Synchronous renames, one after the other: a rename lands in the page cache in microseconds, and
    // an asynchronous one is a round trip through libuv's thread pool that costs about three times its
    // CPU (200 renames here: 3.5 ms of CPU synchronously, 10-16 ms through the pool). Durability comes
    // from the directories' fsync below, which stays asynchronous.
    const outcomes: FlagOutcome[] = [];
    for (const [i, update] of updates.entries()) {
      if (i > 0 && i % RENAMES_PER_TURN === 0) await setImmediate();
      const refused = normalizeFlags(update.add).find((f) => full.has(f.toLowerCase()));
      if (refused) {
        outcomes.push({ id: update.id, ok: false, gone: false, message: this.#keywordLimit(path, refused) });
        continue;
      }
      try {
        await this.#withEntry(dir, update.id, async (entry) => {
          const name = renamedForFlags(entry.name, update, (k) => keywords.letterOf(k));
          if (name === entry.name) return;
          renameSync(join(dir, entry.sub, entry.name), join(dir, 'cur', name));
          touched.add(join(dir, 'cur'));
          if (entry.sub === 'new') touched.add(join(dir, 'new'));
          this.#ownEntries(dir)?.set(update.id, { sub: 'cur', name });
        });
        outcomes.push({ id: update.id, ok: true });
      } catch (err) {
        const gone = err instanceof MessageError && err.code === 'MESSAGE_GONE';
        outcomes.push({ id: update.id, ok: false, gone, message: (err as Error).message });
      }
    }
    await this.#syncDirs(touched);
    return outcomes;
  }

  async deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void> {
    this.#writable('delete messages in', path);
    if (ids.length === 0) return;
    const dir = this.#layout.dirOf(path);
    if (!(await isMaildir(dir))) throw this.#missing(path, dir);
    const touched = new Set<string>();
    // Every removal is tried before an error is thrown. Unlike the renames of setFlags, several at once
    // through libuv's pool: removing a file frees its blocks, which on a file system mounted with
    // `discard` (SSDs, VMs) waits for the device, ~0.1 ms a message, and one after the other those
    // waits held the thread. `bench/maildir.mjs --parts 3`: 300 removals 40 -> 17 ms on such a disk;
    // on tmpfs, where a removal waits for nothing, 5.6 -> 7.1 ms.
    const failures: unknown[] = [];
    await mapLimit(ids, UNLINKS_AT_ONCE, async (id) => {
      try {
        await this.#withEntry(dir, id, async (entry) => {
          await unlink(join(dir, entry.sub, entry.name));
          touched.add(join(dir, entry.sub));
          this.#ownEntries(dir)?.delete(id);
        });
      } catch (err) {
        if (!(err instanceof MessageError && err.code === 'MESSAGE_GONE')) failures.push(err);
      }
    });
    if (failures.length > 0) throw this.#folderError(path, dir, 'delete messages in', failures[0]);
    await this.#syncDirs(touched);
  }

  /**
   * See {@link Driver.moveMessages}: each file is renamed into `to`'s `cur/` (`new/` if it was in
   * `new/`), so it keeps its unique name (`newId` is the id it had), its flags and its mtime (the
   * arrival time); keyword letters are translated to `to`'s `dovecot-keywords`, and a message with a
   * keyword `to` has no free letter for stays where it is (`KEYWORD_LIMIT` in its outcome). The
   * directories touched are fsynced once, at the end, as for every write; both folders' markers move.
   *
   * A file of the same unique name already in `to` (an earlier copy left by another program) never
   * makes two files of one id: with the same bytes, that file is kept, renamed to the moved message's
   * flags and given its mtime, and the source file is removed; with other bytes, the moved file gets a
   * new unique name there (its size fields kept), which is its `newId`.
   */
  async moveMessages(from: FolderPath, to: FolderPath, ids: readonly string[]): Promise<MoveOutcome[]> {
    this.#writable('move messages out of', from);
    const fromDir = this.#layout.dirOf(from);
    const toDir = this.#layout.dirOf(to);
    if (fromDir === toDir) {
      throw new FolderError(
        `Cannot move messages of ${JSON.stringify(displayFolder(from))} into the same folder.`,
        { code: 'FOLDER_BAD' },
      );
    }
    if (ids.length === 0) return [];
    if (!(await isMaildir(fromDir))) throw this.#missing(from, fromDir);
    if (!(await isMaildir(toDir))) {
      throw new FolderError(
        `Cannot move messages into ${JSON.stringify(displayFolder(to))}: the folder does not exist in the Maildir (no ${join(toDir, 'cur')}). Create it first.`,
        { code: 'FOLDER_GONE' },
      );
    }
    const touched = new Set<string>();
    const outcomes: MoveOutcome[] = [];
    try {
      const sourceKeywords = await this.#keywordMap(fromDir, true);
      // The keywords the moved files carry, given letters in `to` once for the whole batch.
      const wantedKeywords = new Set<string>();
      const sourceEntries = await this.#rescan(fromDir);
      for (const id of ids) {
        const entry = sourceEntries.get(id);
        if (!entry) continue;
        for (const letter of parseMaildirName(entry.name).keywordLetters) {
          const keyword = sourceKeywords.keywordOf(letter);
          if (keyword) wantedKeywords.add(keyword);
        }
      }
      // Read fresh: letters are translated by the file as it is now, whoever wrote it last.
      await this.#keywordMap(toDir, true);
      const { keywords: targetKeywords } = await this.#ensureKeywords(toDir, [...wantedKeywords]);
      // Read fresh: a same-named file there is what decides between a plain rename and a collision.
      const targetEntries = await this.#rescan(toDir);
      for (const id of ids) {
        try {
          outcomes.push(
            await this.#withEntry(fromDir, id, (entry) =>
              this.#moveOne(
                { from, fromDir, toDir, to, id, entry },
                sourceKeywords,
                targetKeywords,
                targetEntries,
                touched,
              ),
            ),
          );
        } catch (err) {
          const gone = err instanceof MessageError && err.code === 'MESSAGE_GONE';
          outcomes.push({ id, ok: false, gone, message: (err as Error).message });
        }
      }
      await this.#syncDirs(touched);
    } catch (err) {
      throw this.#folderError(from, fromDir, 'move messages out of', err);
    }
    return outcomes;
  }

  /** Moves one message's file (see {@link moveMessages}); `touched` gathers the directories to fsync. */
  async #moveOne(
    move: { from: FolderPath; to: FolderPath; fromDir: string; toDir: string; id: string; entry: Entry },
    sourceKeywords: KeywordMap,
    targetKeywords: KeywordMap,
    targetEntries: Entries,
    touched: Set<string>,
  ): Promise<MoveOutcome> {
    const { fromDir, toDir, id, entry } = move;
    let unplaced: string | undefined;
    const name = withKeywordLetters(entry.name, (letter) => {
      const keyword = sourceKeywords.keywordOf(letter);
      if (keyword === undefined) return undefined;
      const translated = targetKeywords.letterOf(keyword);
      unplaced ??= translated === undefined ? keyword : undefined;
      return translated;
    });
    if (unplaced !== undefined) {
      return { id, ok: false, gone: false, message: this.#keywordLimit(move.to, unplaced) };
    }
    const source = join(fromDir, entry.sub, entry.name);
    const existing = targetEntries.get(id);
    let newId = id;
    let target = join(toDir, entry.sub, name);
    if (existing) {
      const there = join(toDir, existing.sub, existing.name);
      if (await sameBytes(source, there)) {
        // Already there, byte for byte: that file stays (renamed to the moved message's flags, given its
        // arrival time) and the source goes. A crash in between leaves it in both folders, not twice in one.
        const { mtime } = await stat(source);
        if (there !== target) await rename(there, target);
        await utimes(target, mtime, mtime);
        await unlink(source);
        touched.add(join(toDir, existing.sub)).add(join(toDir, entry.sub)).add(join(fromDir, entry.sub));
        this.#ownEntries(fromDir)?.delete(id);
        targetEntries.set(id, { sub: entry.sub, name });
        return { id, ok: true, newId: id };
      }
      // Another message under the same name: this one gets a new unique name, with its size fields,
      // which say how it is read (see eol.ts).
      const { disk, crlf } = sizesFromName(id);
      newId = `${newUniqueName()}${disk === undefined ? '' : `,S=${disk}`}${crlf === undefined ? '' : `,W=${crlf}`}`;
      target = join(toDir, entry.sub, `${newId}${name.slice(id.length)}`);
    }
    await rename(source, target);
    touched.add(join(fromDir, entry.sub)).add(join(toDir, entry.sub));
    this.#ownEntries(fromDir)?.delete(id);
    targetEntries.set(newId, { sub: entry.sub, name: target.slice(join(toDir, entry.sub).length + 1) });
    return { id, ok: true, newId };
  }

  // ---- watch ------------------------------------------------------------------------------------

  /**
   * Starts watching the whole tree, whatever `request` names (a Maildir watches every folder at the
   * same cost): every folder's `new/` and `cur/`, and the directories folders appear in, with one
   * inotify watch each. `tmp/` is not watched, since a delivery there is not mail until it is renamed
   * into `new/`. A second call while watching changes nothing and answers the status. Rejects with a
   * `WATCH_FAILED` StoreError when not one directory can be watched (the error says which limit to
   * raise). Works read-only as well: watching writes nothing.
   */
  watch(_request: WatchRequest): Promise<WatchStatus> {
    const running = this.#watch;
    if (running && !running.watcher.failed) return running.started.then(() => running.watcher.status());
    running?.watcher.stop();
    const watcher = new MaildirWatcher(this.#layout);
    const started = watcher.start();
    const current = { watcher, started };
    this.#watch = current;
    started.catch(() => {
      if (this.#watch === current) this.#watch = undefined;
    });
    return started;
  }

  /**
   * The folders whose `new/` or `cur/` gained, lost or renamed a file since the previous call (flag
   * changes are renames), at once if any, else as soon as one does; `all` after a folder was made,
   * removed or renamed, or when a directory could not be watched (a limit reached) or could again.
   * A burst of events is gathered for up to 250 ms into one notice. Changes made by this driver are
   * reported like anyone's. Rejects with `WATCH_STOPPED` when not watching (before {@link watch},
   * after {@link unwatch} or {@link close}), `ABORTED` when `signal` aborts, `WATCH_BUSY` when
   * another call is waiting, and `WATCH_FAILED` once nothing can be watched any more (the root was
   * removed).
   */
  nextChange(signal?: AbortSignal): Promise<ChangeNotice> {
    const running = this.#watch;
    if (!running)
      return Promise.reject(
        new StoreError(`The Maildir at ${this.#layout.root} is not being watched; call watch() first.`, {
          code: 'WATCH_STOPPED',
        }),
      );
    return running.watcher.nextChange(signal);
  }

  /** Stops watching: every inotify watch is removed, and a waiting {@link nextChange} rejects. Idempotent. */
  async unwatch(): Promise<void> {
    const running = this.#watch;
    this.#watch = undefined;
    running?.watcher.stop();
  }

  async close(): Promise<void> {
    await this.unwatch();
    this.#entries.clear();
    this.#listed.clear();
    this.#ownWritesOnly.clear();
    this.#appendedSince.clear();
    this.#proven.clear();
    this.#keywords.clear();
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /**
   * Runs `op` on a message's current file. If the file moved since we last looked (another program
   * renamed it: ENOENT), the folder is scanned again and `op` retried once on the new name; a message
   * found nowhere is `MESSAGE_GONE`.
   */
  async #withEntry<T>(dir: string, id: string, op: (entry: Entry) => Promise<T>): Promise<T> {
    let entries = this.#entries.get(dir);
    let fresh = false;
    if (!entries) {
      // One read for all the calls that start at once (a description or a read runs 16), not one each.
      const loading = this.#loading.get(dir);
      if (loading) {
        // Begun before this call: not fresh for it, so a file missing there is looked for again.
        entries = await loading;
      } else {
        const load = this.#firstScan(dir).finally(() => this.#loading.delete(dir));
        this.#loading.set(dir, load);
        entries = await load;
        fresh = true;
      }
    }
    for (;;) {
      const entry = entries.get(id);
      if (entry) {
        try {
          return await op(entry);
        } catch (err) {
          if (errno(err) !== 'ENOENT' || fresh) {
            if (errno(err) === 'ENOENT') break;
            throw new MessageError(`Cannot use the message ${id} in ${dir}: ${(err as Error).message}.`, {
              code: 'MESSAGE_IO',
              cause: err,
            });
          }
        }
      } else if (fresh) {
        break;
      }
      entries = await this.#rescan(dir);
      fresh = true;
    }
    throw new MessageError(`The message ${id} is no longer in ${dir}: another program removed it.`, {
      code: 'MESSAGE_GONE',
    });
  }

  /**
   * The folder's entries, ready for a write to change them: a copy once, while they are still the map
   * the last listing saw, since that snapshot must stay what was listed.
   */
  #ownEntries(dir: string): Entries | undefined {
    const entries = this.#entries.get(dir);
    if (!entries || entries !== this.#listed.get(dir)?.entries) return entries;
    const own = new Map(entries);
    this.#entries.set(dir, own);
    return own;
  }

  /**
   * The folder's files, read for writes after a listing that did not read them. If that listing was
   * `unchanged` and the folder is still at the stamp it proved, they are the files it stood for, so
   * {@link markerAfterWrites} can vouch for them plus our writes, as after a listing that read them.
   */
  async #firstScan(dir: string): Promise<Entries> {
    const proven = this.#proven.get(dir);
    this.#proven.delete(dir);
    const { entries, stamp } = await this.#scan(dir);
    if (proven !== undefined && stamp === proven) {
      const keywords = (await this.#keywordMap(dir, false)).serialize();
      this.#listed.set(dir, { marker: proven, entries, keywords });
      this.#ownWritesOnly.add(dir);
    }
    return entries;
  }

  async #rescan(dir: string): Promise<Entries> {
    return (await this.#scan(dir)).entries;
  }

  async #scan(dir: string): Promise<Scan> {
    this.#ownWritesOnly.delete(dir);
    const scan = await scanFolder(dir, undefined, !this.#readOnly);
    if (!scan) throw new FolderError(`The folder at ${dir} no longer exists.`, { code: 'FOLDER_MISSING' });
    this.#entries.set(dir, scan.entries);
    return scan;
  }

  async #keywordMap(dir: string, reread: boolean): Promise<KeywordMap> {
    let map = reread ? undefined : this.#keywords.get(dir);
    if (!map) {
      map = await readKeywords(dir);
      this.#keywords.set(dir, map);
    }
    return map;
  }

  /** Letters for every keyword in `flags`, adding new ones to the folder's file; `full` has those with no free letter. */
  async #ensureKeywords(
    dir: string,
    flags: readonly string[],
  ): Promise<{ keywords: KeywordMap; full: Set<string> }> {
    const wanted = normalizeFlags(flags).filter(
      (f) => !f.startsWith('\\') && !SYSTEM_LETTER[f.toLowerCase()],
    );
    let keywords = await this.#keywordMap(dir, false);
    if (wanted.every((k) => keywords.letterOf(k))) return { keywords, full: new Set() };
    // Another program may have added keywords since we read the file: start from what is on disk.
    const { map, full } = (await this.#keywordMap(dir, true)).with(wanted);
    if (map.size !== (this.#keywords.get(dir)?.size ?? 0)) await writeKeywords(dir, map, this.#fsync);
    this.#keywords.set(dir, map);
    keywords = map;
    return { keywords, full: new Set(full.map((k) => k.toLowerCase())) };
  }

  async #syncDirs(dirs: Set<string>): Promise<void> {
    if (!this.#fsync) return;
    for (const dir of dirs) await fsyncDir(dir);
  }

  async #ensureMaildir(dir: string): Promise<void> {
    const created = !(await exists(dir));
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true, mode: DIR_MODE });
    if (this.#layout.options.layout === 'maildir++' && dir !== this.#layout.inboxDir) {
      // The Maildir++ mark of a subfolder, which Dovecot and Courier write and some tools check.
      await writeFile(join(dir, 'maildirfolder'), '', { mode: 0o600, flag: 'a' });
    }
    if (created && this.#fsync) {
      await fsyncDir(dir);
      await fsyncDir(dirname(dir));
    }
  }

  async #readRoot(): Promise<import('node:fs').Dirent[]> {
    try {
      return await readdir(this.#layout.root, { withFileTypes: true });
    } catch (err) {
      throw new StoreError(`Cannot read the Maildir root ${this.#layout.root}: ${(err as Error).message}.`, {
        code: 'STORE_UNREADABLE',
        cause: err,
      });
    }
  }

  /** Two folder names that differ only in Unicode normalisation would be one folder to a person. */
  async #refuseCollision(path: FolderPath, renamed?: FolderPath): Promise<void> {
    const wanted = folderKey(path.map((l) => l.normalize('NFC')));
    for (const folder of await this.listFolders()) {
      if (isRefusedFolder(folder) || folderKey(folder.path) === folderKey(path)) continue;
      // The folder being renamed (and what it carries) leaves its name: `Café` may become `Café`.
      if (renamed && isBelow(folder.path, renamed)) continue;
      if (folderKey(folder.path.map((l) => l.normalize('NFC'))) === wanted)
        throw new FolderError(
          `The folder ${JSON.stringify(displayFolder(path))} cannot be created: the Maildir already has ${JSON.stringify(displayFolder(folder.path))}, the same name in another Unicode normalisation. Rename one of them.`,
          { code: 'FOLDER_NAME_COLLISION' },
        );
    }
  }

  #missing(path: FolderPath, dir: string): FolderError {
    return new FolderError(
      `The folder ${JSON.stringify(displayFolder(path))} does not exist in the Maildir (no ${join(dir, 'cur')}).`,
      { code: 'FOLDER_MISSING' },
    );
  }

  #folderError(path: FolderPath, dir: string, what: string, err: unknown): Error {
    if (err instanceof FolderError || err instanceof StoreError) return err;
    return new FolderError(
      `Cannot ${what} the folder ${JSON.stringify(displayFolder(path))} at ${dir}: ${(err as Error).message}.`,
      { code: 'FOLDER_IO', cause: err },
    );
  }

  #keywordLimit(path: FolderPath, keyword: string): string {
    return `The keyword ${JSON.stringify(keyword)} cannot be stored in the folder ${JSON.stringify(displayFolder(path))}: its 26 keyword letters (dovecot-keywords) are all in use. Remove unused keywords from that folder's messages, or exclude the keyword.`;
  }
}

/**
 * `name` with each keyword letter of its info replaced by `translate`'s (dropped where it gives none),
 * the other letters kept; the name itself when no letter changes.
 */
function withKeywordLetters(name: string, translate: (letter: string) => string | undefined): string {
  const at = infoStart(name);
  if (at < 0) return name;
  const info = name.slice(at + 3);
  const letters = new Set<string>();
  for (const letter of info) {
    if (letter < 'a' || letter > 'z') letters.add(letter);
    else {
      const translated = translate(letter);
      if (translated !== undefined) letters.add(translated);
    }
  }
  const before = new Set(info);
  if (letters.size === before.size && [...letters].every((l) => before.has(l))) return name;
  return `${name.slice(0, at + 3)}${[...letters].sort().join('')}`;
}

/**
 * Whether the keyword file's text `now` keeps every letter of `before` for the same keyword (both as
 * {@link KeywordMap.serialize} writes them: one `<index> <keyword>` line per letter), so a file name
 * read under `before` means the same under `now`.
 */
function extendsKeywords(now: string, before: string): boolean {
  if (now === before) return true;
  const lines = new Set(now.split('\n'));
  return before.split('\n').every((line) => lines.has(line));
}

/**
 * Whether two files hold the same bytes (sizes first: a differing size needs no read). False when one
 * of them is gone: the caller's rename then finds out which.
 */
async function sameBytes(a: string, b: string): Promise<boolean> {
  try {
    const [sa, sb] = await Promise.all([stat(a), stat(b)]);
    if (sa.size !== sb.size) return false;
    const [da, db] = await Promise.all([readFile(a), readFile(b)]);
    return da.equals(db);
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Flags by file name; many files share one info string (`:2,S`), so each distinct one is parsed once. */
function flagParser(keywords: KeywordMap): (name: string) => string[] {
  const byInfo = new Map<string, string[]>();
  return (name) => {
    const at = infoStart(name);
    const info = at < 0 ? '' : name.slice(at + 3);
    let flags = byInfo.get(info);
    if (!flags) {
      const parsed = parseMaildirName(`x:2,${info}`);
      flags = flagsOf(parsed.flags, parsed.keywordLetters, keywords);
      byInfo.set(info, flags);
    }
    return flags;
  };
}

function flagsOf(flags: readonly string[], letters: readonly string[], keywords: KeywordMap): string[] {
  if (letters.length === 0) return [...flags];
  const all = [...flags];
  for (const letter of letters) {
    const keyword = keywords.keywordOf(letter);
    if (keyword) all.push(keyword);
  }
  return normalizeFlags(all);
}

function letterFor(flag: string, keywords: KeywordMap): string | undefined {
  return SYSTEM_LETTER[flag.toLowerCase()] ?? (flag.startsWith('\\') ? undefined : keywords.letterOf(flag));
}

/** The info letters of a flag set, sorted as the spec asks. */
function lettersFor(flags: readonly string[], keywords: KeywordMap): string {
  const letters = new Set<string>();
  for (const flag of flags) {
    const letter = letterFor(flag, keywords);
    if (letter) letters.add(letter);
  }
  return [...letters].sort().join('');
}

/** Whether `path` is `top` or a folder below it. */
function isBelow(path: FolderPath, top: FolderPath): boolean {
  return path.length >= top.length && folderKey(path.slice(0, top.length)) === folderKey(top);
}

/** Whether the directory `inner` is `outer` or lies inside it. */
function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}${sep}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * A bigint stat (birth time to the nanosecond), or undefined when there is nothing to stat (any more).
 * `follow` as `isMaildir` does for `cur/`; a folder directory itself is known to be no symlink.
 */
async function statBig(path: string, follow = false): Promise<BigIntStats | undefined> {
  // Synchronous, as every stat of a folder's directories: an asynchronous stat costs about ten times
  // the CPU, in its round trip through libuv's thread pool, and a sync stats every folder.
  try {
    return (follow ? statSync : lstatSync)(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** A folder directory's own stat (its identity) and its `cur/` stat (whether it is a Maildir), together. */
async function folderStats(
  dir: string,
): Promise<{ cur: BigIntStats | undefined; dir: BigIntStats | undefined }> {
  const [cur, self] = await Promise.all([statBig(join(dir, 'cur'), true), statBig(dir)]);
  return { cur, dir: self };
}

async function isMaildir(dir: string): Promise<boolean> {
  try {
    return statSync(join(dir, 'cur'), { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}

async function hasSubfolders(dir: string): Promise<boolean> {
  for (const dirent of await readdir(dir, { withFileTypes: true })) {
    if (dirent.isDirectory() && !['cur', 'new', 'tmp'].includes(dirent.name)) return true;
  }
  return false;
}

/**
 * The header block of a message file (up to the first empty line) and, when `wantSize`, its size with
 * CRLF line endings, which needs the whole file. Without `wantSize` only the head is read.
 */

/**
 * Gives listed messages their arrival time: the file's mtime, as Dovecot and mbsync (CopyArrivalDate)
 * keep it. One stat per message, which is why it is done only when asked. A file renamed meanwhile by
 * another program falls back on the delivery time its name starts with.
 */
async function addDates(dir: string, entries: Entries, messages: ListedMessage[]): Promise<void> {
  await mapLimit(messages, 32, async (m) => {
    const entry = entries.get(m.id);
    if (!entry) return;
    try {
      m.date = Math.floor((await stat(join(dir, entry.sub, entry.name))).mtimeMs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const date = dateFromUnique(m.id);
      if (date !== undefined) m.date = date;
    }
  });
}
