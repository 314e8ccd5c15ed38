import type { FolderPath } from './folders.js';

/**
 * What a store's watch reports: the folders in which messages changed (added, removed, flags) since
 * the previous notice, or `all` when the driver cannot say which: it reconnected and may have missed
 * events, a folder was created, deleted or renamed, or more folders changed than it keeps track of.
 * A notice says only where to look; what changed is found by syncing those folders as usual, so a
 * notice that turns out to be about nothing (an event the sync itself caused) costs one cheap listing.
 */
export interface ChangeNotice {
  /** Paths as the driver names them (for a renamed side, as its wrapper names them). */
  folders: FolderPath[];
  all: boolean;
}

/** What to watch: see {@link Driver.watch}. */
export interface WatchRequest {
  /**
   * Folders whose messages to watch, or `all`. A store that watches everything at the same cost
   * (IMAP NOTIFY, a Maildir) may watch more than asked; IMAP IDLE needs a connection per folder and
   * watches only these.
   */
  folders: readonly FolderPath[] | 'all';
  /**
   * IMAP: at most this many connections for the watch, besides the session that syncs (NOTIFY needs
   * one for every folder, IDLE one per folder). Folders beyond it are reported
   * {@link WatchStatus.unwatched}. Default: the driver's own (the account's config).
   */
  maxConnections?: number;
}

/** How a store is being watched: for status displays, metrics and the caller's fallback. */
export interface WatchStatus {
  /**
   * `notify`: IMAP NOTIFY (RFC 5465), one connection for every folder; `idle`: IMAP IDLE, one
   * connection per watched folder; `fs`: file-system notifications (inotify and the like).
   */
  method: 'notify' | 'idle' | 'fs';
  /** Folders in which a change is reported; `all` when every folder is, present and future. */
  watched: FolderPath[] | 'all';
  /**
   * Folders asked for that are not watched (over the connection cap, or missing): only the caller's
   * periodic full pass sees changes in them.
   */
  unwatched: FolderPath[];
  /** Connections to a server held open for the watch (0 for a file-system watch). */
  connections: number;
}

/**
 * A store that can tell when it changes: the optional part of a {@link Driver} (and of a side's
 * controller) that a resident daemon uses to sync a change as it happens rather than on a timer.
 *
 * Contract:
 * - Between {@link watch} and {@link unwatch}, every change to a watched folder made by anyone,
 *   this driver included, is reported by {@link nextChange} at least once, except while the watch is
 *   broken (a dropped connection); once it is restored, an `all` notice covers what it may have missed.
 * - Notices are hints, never data: a caller must not treat a notice as proof of a change, nor the lack
 *   of one as proof that nothing changed (hence a periodic full pass beside any watch).
 * - The watch uses its own connections: it never delays or interferes with the sync's calls.
 */
export interface ChangeWatch {
  /**
   * Starts watching, or changes what is watched (a second call replaces the first request). Resolves
   * once the watch is in place: a change made after that is reported. Rejects with a `StoreError`
   * (`WATCH_UNSUPPORTED`) when the store offers no way to watch, so the caller polls instead.
   */
  watch(request: WatchRequest): Promise<WatchStatus>;
  /**
   * The changes seen since the previous call (or since {@link watch}): at once if there are any, else
   * as soon as one happens. Only one call at a time. Rejects with an `ABORTED` `StoreError` when
   * `signal` aborts (across a worker boundary pass no signal: abort through the call's own options),
   * with a `StoreError` when the watch failed for good, and with `WATCH_STOPPED` once
   * {@link unwatch} or `close` ends the watch.
   */
  nextChange(signal?: AbortSignal): Promise<ChangeNotice>;
  /** Stops watching and closes the watch's connections; a pending {@link nextChange} rejects. Idempotent. */
  unwatch(): Promise<void>;
}
