import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  type ChangeNotice,
  type FolderPath,
  folderKey,
  isInbox,
  StoreError,
  type WatchStatus,
} from '@twinbox/core';
import { KEYWORDS_FILE } from './keywords.js';
import type { FolderLayout } from './layout.js';
import { mapLimit } from './limit.js';

/**
 * A notice waits this long for the events after the one that started it, so a burst (an MDA
 * delivering a batch, mutt moving 500 messages) becomes one notice: a sync started at the first event
 * would list the folder while the rest of the burst was still landing anyway.
 */
export const SETTLE_QUIET_MS = 30;
/** …but no longer than this after the first event, so a steady trickle still gets through. */
export const SETTLE_MAX_MS = 250;
/** While some directory could not be watched (a limit reached), how often to try it again. */
export const RETRY_MS = 60_000;
/** Structural events (a folder made or removed) usually come in a run: one rescan after it settles. */
const RESCAN_DELAY_MS = 20;

/** `fs.watch` as far as this module uses it: a seam for tests that simulate a full inotify table. */
export type WatchFunction = (
  dir: string,
  listener: (event: string, name: string | null) => void,
) => FSWatcher;

const defaultWatch: WatchFunction = (dir, listener) =>
  fsWatch(dir, { encoding: 'utf8' }, (event, name) => listener(event, name));

/**
 * What a watched directory is to the watch: `mail` is a folder's `new/` or `cur/` (any entry change is
 * a change of that folder); `tree` is a directory that holds folders or their `cur`/`new`, where only
 * a directory appearing or vanishing matters (a folder made, removed or renamed).
 */
type Role = { kind: 'mail'; path: FolderPath } | { kind: 'tree'; path?: FolderPath | undefined };

/** Seams for tests: how a directory is watched, and how soon a failed one is tried again. */
export interface WatcherOptions {
  watch?: WatchFunction | undefined;
  retryMs?: number | undefined;
}

interface Failure {
  code: string;
  message: string;
  /** The folder the directory belongs to, when it is a folder's. */
  path?: FolderPath | undefined;
}

interface Waiter {
  resolve(notice: ChangeNotice): void;
  reject(err: Error): void;
  signal?: AbortSignal | undefined;
  onAbort?: (() => void) | undefined;
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException | null)?.code ?? 'EIO';
}

/** What to do about a directory that could not be watched, by the error the kernel gave. */
function advice(code: string): string {
  switch (code) {
    case 'ENOSPC':
      return 'the limit of inotify watches is reached (ENOSPC): raise it, e.g. `sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/)';
    case 'EMFILE':
    case 'ENFILE':
      return `too many inotify instances or open files (${code}): raise \`fs.inotify.max_user_instances\` or the open-file limit (\`ulimit -n\`, systemd's LimitNOFILE=)`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code}): let this user read the directory`;
    default:
      return `the system refused (${code})`;
  }
}

/**
 * Watches a Maildir tree with one inotify watch per directory that matters: every folder's `new/` and
 * `cur/` (never `tmp/`: a delivery there is not mail until it is renamed into `new/`), and every
 * directory that may gain or lose a folder. Not `fs.watch(root, { recursive: true })`: on Linux with
 * Node 22 and 24 that puts a watch on every file (2,012 watches for 2,000 messages, measured), so a
 * large Maildir would exhaust `fs.inotify.max_user_watches`; Node 26 watches directories only.
 *
 * Events are not filtered by who made them: the driver's own writes are reported like anyone's, as
 * the `ChangeWatch` contract asks and as an IMAP server's notifications are (see the driver's README).
 */
export class MaildirWatcher {
  readonly #layout: FolderLayout;
  readonly #watchFn: WatchFunction;
  readonly #retryMs: number;
  /** By directory; `id` tells a directory made again under the same name (whose old watch is dead). */
  readonly #watchers = new Map<string, { fsw: FSWatcher; role: Role; id: string }>();
  readonly #failed = new Map<string, Failure>();
  /** Folders changed since the last notice, by key. */
  readonly #changed = new Map<string, FolderPath>();
  #all = false;
  #waiter: Waiter | undefined;
  #fatal: StoreError | undefined;
  #stopped = false;
  #settleTimer: NodeJS.Timeout | undefined;
  #firstEventAt = 0;
  #rescanTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  /** Why to scan again once the scan under way ends (something changed during it). */
  #againWhy: 'changed' | 'retry' | undefined;

  constructor(layout: FolderLayout, options: WatcherOptions = {}) {
    this.#layout = layout;
    this.#watchFn = options.watch ?? defaultWatch;
    this.#retryMs = options.retryMs ?? RETRY_MS;
  }

  /** True once nothing can be watched any more: {@link nextChange} rejects with the reason. */
  get failed(): boolean {
    return this.#fatal !== undefined;
  }

  /** Puts every watch in place. Rejects (`WATCH_FAILED`) when not one directory could be watched. */
  async start(): Promise<WatchStatus> {
    await this.#rescan('initial');
    if (this.#fatal) {
      const fatal = this.#fatal;
      this.stop();
      throw fatal;
    }
    return this.status();
  }

  status(): WatchStatus {
    const unwatched = new Map<string, FolderPath>();
    for (const failure of this.#failed.values())
      if (failure.path) unwatched.set(folderKey(failure.path), failure.path);
    let watched: FolderPath[] | 'all' = 'all';
    if (this.#failed.size > 0) {
      const folders = new Map<string, FolderPath>();
      for (const { role } of this.#watchers.values())
        if (role.kind === 'mail' && !unwatched.has(folderKey(role.path)))
          folders.set(folderKey(role.path), role.path);
      watched = [...folders.values()];
    }
    return { method: 'fs', watched, unwatched: [...unwatched.values()], connections: 0 };
  }

  nextChange(signal?: AbortSignal): Promise<ChangeNotice> {
    if (this.#stopped) return Promise.reject(stoppedError());
    if (this.#waiter)
      return Promise.reject(
        new StoreError(
          'nextChange() was called while another call was waiting; wait for it (or abort it) first.',
          { code: 'WATCH_BUSY' },
        ),
      );
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#pending()) return Promise.resolve(this.#take());
    return new Promise<ChangeNotice>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          if (this.#waiter !== waiter) return;
          this.#clearWaiter();
          reject(abortedError(signal));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiter = waiter;
    });
  }

  /** Closes every watch; a waiting {@link nextChange} rejects with `WATCH_STOPPED`. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#rescanTimer);
    clearTimeout(this.#retryTimer);
    for (const { fsw } of this.#watchers.values()) fsw.close();
    this.#watchers.clear();
    this.#changed.clear();
    const waiter = this.#waiter;
    this.#clearWaiter();
    waiter?.reject(stoppedError());
  }

  // ---- notices ----------------------------------------------------------------------------------

  #pending(): boolean {
    return this.#all || this.#changed.size > 0;
  }

  #take(): ChangeNotice {
    const notice: ChangeNotice = { folders: [...this.#changed.values()], all: this.#all };
    this.#changed.clear();
    this.#all = false;
    return notice;
  }

  #clearWaiter(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    if (waiter?.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  /** Something changed: the waiting call, if any, resolves once the burst settles. */
  #wake(): void {
    if (!this.#waiter || this.#stopped) return;
    const now = Date.now();
    if (this.#settleTimer === undefined) this.#firstEventAt = now;
    clearTimeout(this.#settleTimer);
    const wait = Math.max(0, Math.min(SETTLE_QUIET_MS, this.#firstEventAt + SETTLE_MAX_MS - now));
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined;
      // A folder was made or removed: the notice waits for the watches to follow, and says `all`.
      if (this.#rescanTimer || this.#scanning) return;
      const waiter = this.#waiter;
      if (!waiter || !this.#pending()) return;
      this.#clearWaiter();
      waiter.resolve(this.#take());
    }, wait);
  }

  #fail(err: StoreError): void {
    this.#fatal = err;
    const waiter = this.#waiter;
    this.#clearWaiter();
    waiter?.reject(err);
  }

  // ---- events -----------------------------------------------------------------------------------

  #onEvent(dir: string, role: Role, event: string, name: string | null): void {
    if (this.#stopped || this.#watchers.get(dir)?.role !== role) return;
    // A `change` is a file's content or attributes; entries appear, vanish and move as `rename`.
    const renamed = event === 'rename';
    // No name, or the watched directory's own name: the directory itself was removed or moved.
    if (name === null || (renamed && name === basename(dir))) {
      this.#scheduleRescan();
      if (role.kind === 'mail') this.#mark(role.path);
      return;
    }
    if (role.kind === 'mail') {
      // Dot files are not messages (the listing skips them too).
      if (!name.startsWith('.')) this.#mark(role.path);
      return;
    }
    if (name === KEYWORDS_FILE && role.path) {
      this.#mark(role.path);
      return;
    }
    if (!renamed) return;
    if (name === 'cur' || name === 'new') {
      this.#scheduleRescan();
      return;
    }
    const child = join(dir, name);
    if (child === this.#layout.inboxDir) {
      this.#scheduleRescan();
      return;
    }
    const candidate =
      this.#layout.options.layout === 'maildir++'
        ? dir === this.#layout.root && name.startsWith('.')
        : !name.startsWith('.') && name !== 'tmp';
    if (!candidate) return;
    if (this.#watchers.has(child) || this.#failed.has(child)) {
      this.#scheduleRescan();
      return;
    }
    lstat(child).then(
      (s) => {
        if (s.isDirectory()) this.#scheduleRescan();
      },
      () => {},
    );
  }

  #mark(path: FolderPath): void {
    this.#changed.set(folderKey(path), path);
    this.#wake();
  }

  #scheduleRescan(): void {
    if (this.#stopped || this.#rescanTimer) return;
    this.#rescanTimer = setTimeout(() => {
      this.#rescanTimer = undefined;
      this.#rescan('changed').catch(() => {});
    }, RESCAN_DELAY_MS);
  }

  // ---- watches ----------------------------------------------------------------------------------

  /**
   * Brings the watches in line with the tree: new directories watched, vanished ones dropped, failed
   * ones tried again. Once done, an `all` notice covers what changed meanwhile (after a structural
   * change, or when a directory could not be watched or now can): raised only now, so a caller that
   * lists the folders after it finds every new folder watched. The first scan raises none: a caller
   * starting a watch looks at everything anyway.
   */
  #rescan(why: 'initial' | 'changed' | 'retry'): Promise<void> {
    if (this.#scanning) {
      if (this.#againWhy !== 'changed') this.#againWhy = why === 'initial' ? 'retry' : why;
      return this.#scanning;
    }
    this.#scanning = (async () => {
      let current: typeof why | undefined = why;
      while (current && !this.#stopped) {
        const wanted = await this.#wanted();
        if (this.#stopped) return;
        this.#apply(wanted, current);
        current = this.#againWhy;
        this.#againWhy = undefined;
      }
    })().finally(() => {
      this.#scanning = undefined;
      // What was held back while the watches changed goes out now.
      if (this.#pending()) this.#wake();
    });
    return this.#scanning;
  }

  #apply(wanted: Map<string, { role: Role; id: string }>, why: 'initial' | 'changed' | 'retry'): void {
    const hadFailures = this.#failed.size;
    for (const [dir, { fsw, id }] of this.#watchers) {
      if (wanted.get(dir)?.id === id) continue;
      fsw.close();
      this.#watchers.delete(dir);
    }
    for (const dir of this.#failed.keys()) if (!wanted.has(dir)) this.#failed.delete(dir);
    let added = 0;
    let newFailures = 0;
    for (const [dir, { role, id }] of wanted) {
      if (this.#watchers.has(dir)) continue;
      const wasFailed = this.#failed.delete(dir);
      try {
        const fsw = this.#watchFn(dir, (event, name) => this.#onEvent(dir, role, event, name));
        fsw.on('error', (err) => this.#onWatcherError(dir, role, fsw, err));
        this.#watchers.set(dir, { fsw, role, id });
        added++;
      } catch (err) {
        const code = errno(err);
        // Gone between the scan and now: the watch on its parent reports that.
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        this.#failed.set(dir, { code, message: (err as Error).message, path: role.path });
        if (!wasFailed) newFailures++;
      }
    }
    if (this.#watchers.size === 0) {
      this.#fail(this.#nothingWatched());
      return;
    }
    if (this.#failed.size > 0 && !this.#retryTimer) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        if (!this.#stopped) this.#rescan('retry').catch(() => {});
      }, this.#retryMs);
      this.#retryTimer.unref();
    }
    // A folder newly watched may have changed before its watch; a folder left unwatched changes
    // unseen: either way only a look at every folder covers it.
    const restored = hadFailures > this.#failed.size;
    if (why === 'initial') return;
    if (why === 'changed' || newFailures > 0 || restored || (added > 0 && hadFailures > 0)) {
      this.#all = true;
      this.#wake();
    }
  }

  #onWatcherError(dir: string, role: Role, fsw: FSWatcher, err: Error): void {
    fsw.close();
    if (this.#watchers.get(dir)?.fsw === fsw) this.#watchers.delete(dir);
    const code = errno(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR')
      this.#failed.set(dir, { code, message: err.message, path: role.path });
    this.#scheduleRescan();
  }

  #nothingWatched(): StoreError {
    const first = this.#failed.entries().next().value;
    if (first) {
      const [dir, failure] = first;
      return new StoreError(
        `Cannot watch the Maildir at ${this.#layout.root} for changes: watching ${dir} failed because ${advice(failure.code)}. Until then, sync on a timer.`,
        { code: 'WATCH_FAILED' },
      );
    }
    return new StoreError(
      `Cannot watch the Maildir at ${this.#layout.root} for changes: it no longer exists or cannot be read. Restore it (or fix the account's path), then watch again.`,
      { code: 'WATCH_FAILED' },
    );
  }

  /** Every directory to watch now that exists, what it is, and its identity. */
  async #wanted(): Promise<Map<string, { role: Role; id: string }>> {
    const wanted = new Map<string, Role>();
    const layout = this.#layout;
    const mailDirs = (dir: string, path: FolderPath) => {
      wanted.set(join(dir, 'new'), { kind: 'mail', path });
      wanted.set(join(dir, 'cur'), { kind: 'mail', path });
    };
    if (layout.options.layout === 'maildir++') {
      wanted.set(layout.root, {
        kind: 'tree',
        path: layout.inboxDir === layout.root ? ['INBOX'] : undefined,
      });
      for (const name of await subdirs(layout.root)) {
        if (!name.startsWith('.') || name === '.' || name === '..') continue;
        const dir = join(layout.root, name);
        const path = layout.pathOfDotDir(name);
        // Watched even when not (yet) a folder: its `cur/` appearing makes it one.
        wanted.set(dir, { kind: 'tree', path: path && !isInbox(path) ? path : undefined });
        if (path && !isInbox(path)) mailDirs(dir, path);
      }
    } else {
      const walk = async (dir: string, prefix: FolderPath, depth: number) => {
        if (depth > 64) return;
        wanted.set(dir, { kind: 'tree', path: prefix.length > 0 ? prefix : undefined });
        if (prefix.length > 0) mailDirs(dir, prefix);
        for (const name of await subdirs(dir)) {
          const level = layout.fsLevel(name);
          if (level === undefined) continue;
          const path = [...prefix, level];
          const sub = join(dir, name);
          if (isInbox(path) && sub !== layout.inboxDir) continue;
          await walk(sub, path, depth + 1);
        }
      };
      await walk(layout.root, [], 0);
    }
    // The inbox, wherever it lives (mbsync's `Inbox` may put it outside the root).
    if (!wanted.has(layout.inboxDir)) wanted.set(layout.inboxDir, { kind: 'tree', path: ['INBOX'] });
    mailDirs(layout.inboxDir, ['INBOX']);
    // Elsewhere, the inbox's parent tells when the inbox itself is made or removed.
    const parent = dirname(layout.inboxDir);
    if (layout.inboxDir !== layout.root && !wanted.has(parent) && parent !== layout.inboxDir)
      wanted.set(parent, { kind: 'tree' });
    const found = new Map<string, { role: Role; id: string }>();
    await mapLimit([...wanted], 32, async ([dir, role]) => {
      const id = await identity(dir);
      if (id !== undefined) found.set(dir, { role, id });
    });
    return found;
  }
}

/** A directory's inode and birth time, or undefined when it is not a directory (or gone). */
async function identity(dir: string): Promise<string | undefined> {
  try {
    const s = await stat(dir, { bigint: true });
    return s.isDirectory() ? `${s.dev}:${s.ino}:${s.birthtimeNs}` : undefined;
  } catch {
    return undefined;
  }
}

/** The names of a directory's subdirectories; none when it cannot be read (gone, or not a directory). */
async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

function stoppedError(): StoreError {
  return new StoreError('The watch was stopped (unwatch() or close()); call watch() to start it again.', {
    code: 'WATCH_STOPPED',
  });
}

function abortedError(signal: AbortSignal): StoreError {
  return new StoreError('Waiting for a change was aborted.', { code: 'ABORTED', cause: signal.reason });
}
