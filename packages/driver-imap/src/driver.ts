import { AsyncLocalStorage } from 'node:async_hooks';
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
  isInbox,
  type ListedFolder,
  type ListedMessage,
  type Listing,
  type ListRequest,
  type MessageContent,
  MessageError,
  type MessageProblem,
  type MoveOutcome,
  normalizeFlags,
  quoteName,
  type ReadResult,
  type RefusedFolder,
  StoreError,
  SYSTEM_FLAGS,
  type SyncError,
  unstorableKeywords,
  type WatchRequest,
  type WatchStatus,
  type WriteOutcome,
} from '@twinbox/core';
import type { ImapFlow, ListResponse, StatusObject } from 'imapflow';
import {
  DEFAULT_TIMEOUT_MS,
  type ImapAccountOptions,
  openImap,
  StalledError,
  stalledCommand,
} from './connection.js';
import { connectionError, folderError, isConnectionLoss, serverAnswered, serverText } from './errors.js';
import { type FetchedRow, fetchBodies } from './fetch-bodies.js';
import { type FetchRow, item, readableVanished, uidFetch } from './fetch-rows.js';
import { type Attribute, type Untagged, untaggedHandlersOf } from './imapflow-internals.js';
import { idKey, listWithMailboxIds } from './mailbox-ids.js';
import {
  appendChunks,
  MULTIAPPEND_LIMITS,
  type MultiAppendAnswer,
  MultiAppendRefused,
  multiAppend,
} from './multiappend.js';
import { levelProblem, pathOfListedName, wireName } from './names.js';
import { SessionPool } from './pool.js';
import { interruptedError, type ReconnectOptions, Session } from './session.js';
import { isUid, uidSet } from './uids.js';
import { DEFAULT_WATCH_POLL_MS, ImapWatch } from './watch.js';
import { vouches, WriteLog } from './write-log.js';

/** Marker value of a server without CONDSTORE: it never proves a folder unchanged, so every listing is full. */
const NO_MODSEQ = 'nomodseq';

/**
 * Times a call is tried again on a new session after the connection dropped during it. After that the
 * folder fails alone (the server drops us whenever we touch it), and the other folders go on.
 */
const RETRIES_AFTER_DROP = 2;

/** Longest UID set markerAfterWrites puts in a SEARCH (characters). */
const MAX_SEARCH_SET = 16_384;

/**
 * Reconnections in a row without one more message read whole, before a batch read gives up on the
 * messages still missing (they are reported, and read again next time).
 */
const FRUITLESS_READS = 3;

/**
 * Keywords looked for by SEARCH when a message's flags could not be read from its FETCH answer: the
 * ones the folder's FLAGS response announced, up to this many (one SEARCH each).
 */
const MAX_KEYWORD_SEARCHES = 100;

/** imapflow's search keys for the system flags, which SEARCH can ask about even when FETCH garbles them. */
const SYSTEM_SEARCH: Record<string, string> = {
  '\\Answered': 'answered',
  '\\Deleted': 'deleted',
  '\\Draft': 'draft',
  '\\Flagged': 'flagged',
  '\\Seen': 'seen',
};

/** The Message-ID header in a header block, unfolded; null when there is none. */
export function messageIdFromHeaders(headers: Uint8Array | string | undefined): string | null {
  if (!headers) return null;
  const text = typeof headers === 'string' ? headers : new TextDecoder('latin1').decode(headers);
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  const match = /^message-id:[ \t]*(.*)$/im.exec(unfolded);
  const value = match?.[1]?.trim();
  return value ? value : null;
}

/**
 * The HIGHESTMODSEQ of `since` when a listing can be answered against it: same epoch (UIDVALIDITY),
 * and both markers from a server with CONDSTORE. Undefined means only a full listing will do.
 */
function sinceModseq(since: FolderMarker | undefined, now: FolderMarker): bigint | undefined {
  if (!since || since.epoch !== now.epoch || now.value === NO_MODSEQ) return undefined;
  if (!/^\d{1,20}$/.test(since.value)) return undefined;
  return BigInt(since.value);
}

/** A folder's marker from its STATUS: UIDVALIDITY as the epoch, HIGHESTMODSEQ as the value. */
function markerOf(status: FolderStatus): FolderMarker {
  return {
    epoch: String(status.uidValidity),
    value: status.highestModseq === undefined ? NO_MODSEQ : String(status.highestModseq),
  };
}

/** Options of {@link ImapDriver.connect}: the account, and how a dropped connection is reopened. */
export interface ImapDriverOptions extends ImapAccountOptions {
  reconnect?: ReconnectOptions;
  /**
   * Default false. True opens every folder with EXAMINE instead of SELECT, so the server itself
   * refuses any change through this session (no `\Seen` set by a read, no expunge on close), and every
   * write method (`createFolder`, `deleteFolder`, `appendMessages`, `setFlags`, `deleteMessages`)
   * rejects with a `READ_ONLY` StoreError before sending anything: for a verifier such as
   * `twinbox check`, which must not change what it inspects.
   */
  readOnly?: boolean;
  /**
   * Default 4. The most connections {@link ImapDriver.watch} opens besides the sync's session, when
   * the request does not say ({@link WatchRequest.maxConnections}). Only IMAP IDLE needs more than one
   * (one per watched folder); with NOTIFY one connection watches every folder. Servers limit
   * connections per user (Dovecot: 10 per IP by default), so keep the sum of all clients below that.
   */
  watchConnections?: number;
  /**
   * Default 500. While the account is active (the watch began or heard of a change in the last two
   * minutes), every watch connection ({@link ImapDriver.watch}) leaves IDLE every this many ms for a
   * NOOP and goes back: a server that holds its notifications back (Dovecot: 0.5 s after a change, not
   * configurable) reports at once what it holds when asked, so a change is heard sooner (on Dovecot,
   * about 0.25 s after it on average instead of 0.5 s). Costs three round trips per connection and
   * interval. A quiet account's connections send a NOOP every {@link watchQuietPollMs} instead, and
   * poll fast again from the next change they hear. A NOOP not answered within `timeoutMs` counts as a
   * dropped connection. 0: no NOOP, only what the server pushes (with a check every 25 minutes).
   */
  watchPollMs?: number;
  /**
   * Default 2000. How often, in ms, the watch connections of a quiet account (no change for two
   * minutes) send a NOOP: the check that a connection is alive, and the bound on how late a change the
   * server failed to report is heard. Dovecot's NOTIFY hears of changes in folders other than INBOX by
   * an inotify watch on its list index log, which a rotation of that log (once it is 8 KB and 5
   * minutes old) leaves watching the old file: until Dovecot's own check every
   * `mailbox_idle_check_interval` (30 s), such changes are reported only when a NOOP asks
   * (`bench/notify-rotation-probe.mjs`). Never more often than {@link watchPollMs}; ignored when that
   * is 0.
   */
  watchQuietPollMs?: number;
  /**
   * Default 1. The most IMAP sessions the driver opens at once for its calls (the watch's connections
   * are counted apart, see {@link watchConnections}). Above 1, calls on different folders run on
   * different sessions, each folder staying selected on its own session, so folders synced at once
   * neither wait for one another nor select one another out; a dropped or stalled session fails only
   * the call on it. Sessions beyond the first are opened when calls are waiting and closed once idle
   * for {@link ImapDriverOptions.extraSessionIdleMs}. Servers limit connections per user (Dovecot: 10
   * per IP by default): one the server refuses leaves the driver with the sessions it has for a minute
   * (for good if it refused the login). From 1 to 64.
   */
  maxSessions?: number;
  /**
   * Default 60,000 (a minute). How long a session beyond the first (see {@link maxSessions}) stays
   * open after its last call, so that the next sync of a busy account finds it logged in rather than
   * paying a handshake and a login again. The first session stays open until {@link ImapDriver.close}.
   */
  extraSessionIdleMs?: number;
}

/** See {@link ImapDriverOptions.watchConnections}. */
const DEFAULT_WATCH_CONNECTIONS = 4;

/** The STATUS items a listing's marker is built from (and a count and UIDNEXT, which cost nothing more). */
const STATUS_QUERY = { uidValidity: true, highestModseq: true, uidNext: true, messages: true } as const;

/** A folder's STATUS as imapflow gives it, with the UIDVALIDITY every use of it needs. */
type FolderStatus = StatusObject & { uidValidity: bigint };

/** What an append batch needs to find a message whose APPEND was not confirmed with its UID. */
interface AppendBatch {
  /** UIDNEXT before the batch: every message it stores gets a UID at least this. */
  uidNext: number;
  epoch: string;
  /** UIDPLUS advertised: an APPENDUID answer is the server's word for the new UID. */
  uidplus: boolean;
  /** UIDs this batch already reported, so no two of its messages get the same one. */
  claimed: Set<number>;
  /** Set when a message was looked for by content or refused: see {@link AppendCursor}. */
  unclean: boolean;
}

/**
 * What the driver knows of a folder after appending to it: every message it appended since the last
 * STATUS was confirmed by APPENDUID, under `epoch`, with UIDs below `uidNext`. The next append batch
 * to the folder on the same session (`client`, with the folder still selected there) starts from it
 * instead of a NOOP and a STATUS, which cost two round trips and the server a mailbox sync per batch
 * (a first sync of 6,046 messages sent 63 of each). `uidNext` is only a lower bound of the server's
 * UIDNEXT (another client may have appended since): it is where a message of the next batch is
 * looked for if its APPEND is not confirmed, and a lower start only means more UIDs to look at, each
 * matched by size and Message-ID and taken only when the count is exact. So it is kept only while
 * every append was confirmed: after a search by content or a refusal, the next batch sends a STATUS.
 */
interface AppendCursor {
  client: ImapFlow;
  epoch: string;
  uidNext: number;
}

/**
 * The IMAP driver: authenticated imapflow sessions, each reopened with backoff when it drops. Ids are
 * UIDs (decimal strings) under the folder's UIDVALIDITY, which is the marker's epoch; the marker's
 * value is HIGHESTMODSEQ, so with CONDSTORE an unchanged folder costs one STATUS, and with QRESYNC a
 * changed one costs one `UID FETCH … (CHANGEDSINCE … VANISHED)`. Without CONDSTORE every listing is full.
 *
 * Calls on different folders may come at once (the engine syncs `concurrency` folders together on one
 * driver). Each call runs on a session of its own, lent by a pool of up to
 * {@link ImapDriverOptions.maxSessions} sessions (1 by default, where the calls take turns): a folder's
 * calls go to the session that has it selected, so it stays selected there; a call on no folder (LIST,
 * CREATE, DELETE, RENAME) takes any. DELETE and RENAME first have every session that has the folder
 * (or one below it) selected leave it, while no call is on that session, so no call's folder is
 * closed under it and the server ends no session for it. A session that drops or stalls fails or
 * retries only the call on it.
 *
 * Folder paths map to the server's names by joining levels with its hierarchy delimiter; a level that
 * contains the delimiter cannot be represented and is refused. Names travel as modified UTF-7 and are
 * UTF-8 in every path the driver takes or gives. A listed name that does not map to a path and back to
 * the same name exactly is listed as a {@link RefusedFolder} (see `names.ts`), never read another way.
 * Keywords are assumed storable (PERMANENTFLAGS `\*`, as on Dovecot and most servers); a server that
 * refuses one fails that message.
 *
 * Without UIDPLUS, a new message's UID is found after its APPEND among the UIDs from the folder's
 * UIDNEXT before the batch, by Message-ID and size; and deletion is `\Deleted` and a plain EXPUNGE,
 * with the `\Deleted` mark another client set on other messages of the folder taken off for it and
 * put back after, so that EXPUNGE removes only ours.
 */
export class ImapDriver implements Driver {
  readonly capabilities: DriverCapabilities = { keywords: true };
  readonly #pool: SessionPool;
  /**
   * The session lent to the call in progress. Carried along the call's own async chain, so that the
   * methods reach "their" session through {@link #session} as they did when there was one, and two
   * calls running at once on two sessions never see each other's.
   */
  readonly #lease = new AsyncLocalStorage<Session>();
  readonly #delimiter: string;
  readonly #account: AccountLabel;
  /** UIDVALIDITY of each folder at its last listing: ids are only used within it. */
  readonly #epochs = new Map<string, string>();
  /**
   * Each folder's STATUS as the last {@link listFolders} got it with LIST-STATUS, by name: the next
   * listing of that folder takes it (once) instead of sending a STATUS of its own.
   */
  readonly #listedStatus = new Map<string, FolderStatus>();
  /** See {@link AppendCursor}: by the folder's name on the server. */
  readonly #appendCursors = new Map<string, AppendCursor>();
  /** See {@link ImapDriverOptions.readOnly}. */
  readonly #readOnly: boolean;
  /** What was written to each folder since its last listing, for {@link markerAfterWrites}. */
  readonly #writes = new WriteLog();

  readonly #watch: ImapWatch;

  /**
   * True once this driver's server answered a MULTIAPPEND with BAD: it advertises the extension but
   * does not parse the command, so every later batch goes one message per APPEND.
   */
  #multiAppendRefused = false;

  private constructor(
    pool: SessionPool,
    delimiter: string,
    account: AccountLabel,
    options: ImapDriverOptions,
  ) {
    this.#pool = pool;
    this.#delimiter = delimiter;
    this.#account = account;
    this.#readOnly = options.readOnly === true;
    this.#watch = new ImapWatch({
      open: () => openSession(options, account),
      nameOf: (path) => this.#name(path),
      delimiter,
      utf8Names: namesAreUtf8,
      timeoutMs: account.timeoutMs,
      maxConnections: options.watchConnections ?? DEFAULT_WATCH_CONNECTIONS,
      pollMs: options.watchPollMs ?? DEFAULT_WATCH_POLL_MS,
      ...(options.watchQuietPollMs === undefined ? {} : { quietPollMs: options.watchQuietPollMs }),
      account: `${account.user} at ${account.server}`,
    });
  }

  /** Connects and logs in (see {@link ImapAccountOptions} for the TLS and credential rules). */
  static async connect(options: ImapDriverOptions): Promise<ImapDriver> {
    const max = options.maxSessions ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 64) {
      throw new StoreError(
        `maxSessions must be a whole number from 1 to 64, not ${max}: it is how many IMAP connections the driver may open at once.`,
        { code: 'BAD_OPTIONS' },
      );
    }
    const idle = options.extraSessionIdleMs;
    if (idle !== undefined && (!Number.isFinite(idle) || idle < 0 || idle > 86_400_000)) {
      throw new StoreError(
        `extraSessionIdleMs must be a number of milliseconds from 0 to 86,400,000 (a day), not ${idle}: it is how long a session beyond the first stays open after its last call.`,
        { code: 'BAD_OPTIONS' },
      );
    }
    const account = labelOf(options);
    const open = () => openSession(options, account);
    // Kept open between calls (a resident daemon), a session would otherwise end at the socket's
    // quiet timeout, and the next sync would wait for a new login.
    const sessionOf = (client: ImapFlow) =>
      new Session(client, open, {
        keepAliveMs: Math.max(1000, (options.timeoutMs ?? DEFAULT_TIMEOUT_MS) - 5000),
        ...options.reconnect,
      });
    const client = await open();
    const session = sessionOf(client);
    let delimiter = client.namespace?.delimiter;
    if (!delimiter) {
      try {
        delimiter = (await client.list())[0]?.delimiter ?? '/';
      } catch (err) {
        await session.close();
        const stalled = stalledCommand(client);
        if (stalled) throw stallError(account, [], stalled);
        throw connectionError([], err);
      }
    }
    const pool = new SessionPool(session, async () => sessionOf(await open()), {
      max,
      ...(options.extraSessionIdleMs === undefined ? {} : { closeMs: options.extraSessionIdleMs }),
    });
    return new ImapDriver(pool, delimiter, account, options);
  }

  /** See {@link Driver.interrupt}: closes the connection now; every call after this rejects. */
  interrupt(): void {
    this.#pool.interrupt();
    void this.#watch.unwatch();
  }

  /**
   * See {@link ChangeWatch.watch}. Opens connections of its own, never the sync's session: with NOTIFY
   * (RFC 5465) one, which reports every personal folder, present and future (`watched: 'all'`);
   * without it IMAP IDLE, one connection per requested folder (INBOX first, `all` meaning every folder
   * listed now), at most `request.maxConnections` ({@link ImapDriverOptions.watchConnections}), the rest
   * reported `unwatched`, as are folders that do not exist. A connection that drops is restored with
   * backoff (1 s doubling to 60 s, with jitter), then an `all` notice covers what it may have missed; a
   * restore the server refuses (the login) makes {@link nextChange} reject with that error. Every
   * connection asks the server for news with a NOOP every {@link ImapDriverOptions.watchPollMs}. Rejects
   * with `WATCH_UNSUPPORTED` for a server with neither NOTIFY nor IDLE, and with `WATCH_BAD_REQUEST`
   * for a `maxConnections`, `watchPollMs` or `watchQuietPollMs` out of range.
   */
  watch(request: WatchRequest): Promise<WatchStatus> {
    if (this.#pool.interrupted) return Promise.reject(interruptedError());
    return this.#watch.watch(request);
  }

  /**
   * See {@link ChangeWatch.nextChange}: the folders changed since the last call, coalesced. A
   * second call while one waits rejects with `WATCH_BUSY`.
   */
  nextChange(signal?: AbortSignal): Promise<ChangeNotice> {
    return this.#watch.nextChange(signal);
  }

  /** See {@link ChangeWatch.unwatch}: closes the watch's connections; a waiting {@link nextChange} rejects. */
  unwatch(): Promise<void> {
    return this.#watch.unwatch();
  }

  /**
   * Rejects a write in read-only mode, before any command reaches the server. Otherwise the folder's
   * STATUS from the last LIST is dropped: it no longer describes the folder (or one by its name).
   */
  #writable(what: string, path: FolderPath): void {
    if (!this.#readOnly) {
      // The name #name gives (a name it refuses was never kept).
      this.#listedStatus.delete(isInbox(path) ? 'INBOX' : path.join(this.#delimiter));
      return;
    }
    throw new StoreError(
      `The IMAP account ${this.#account.user} at ${this.#account.server} was opened read-only, so it cannot ${what} ${displayFolder(path)}.`,
      { code: 'READ_ONLY' },
    );
  }

  /** The session of the call in progress (see {@link #on}); outside a call, the first one. */
  get #session(): Session {
    return this.#lease.getStore() ?? this.#pool.first;
  }

  /**
   * Runs a call on a session of its own, lent by the pool for `folder` (the server's name of the folder
   * it selects, for affinity; undefined for a call on no folder), and gives it back after. A call made
   * from inside another (readMessage's readMessages) stays on the caller's session.
   */
  async #on<T>(folder: string | undefined, op: () => Promise<T>): Promise<T> {
    if (this.#lease.getStore() !== undefined) return op();
    const lease = await this.#pool.acquire(folder);
    try {
      return await this.#lease.run(lease.session, op);
    } finally {
      lease.release();
    }
  }

  /** The server's name of `path` for the pool's affinity; undefined for a name the call will refuse. */
  #key(path: FolderPath): string | undefined {
    try {
      return this.#name(path);
    } catch {
      return undefined;
    }
  }

  /** The current imapflow client of the call's session; after a drop, {@link #run} replaces it. */
  get #client(): ImapFlow {
    return this.#session.client;
  }

  /**
   * Runs `op` on a live session. If the connection drops during it, the session is reopened (with
   * backoff) and `op` runs again, up to {@link RETRIES_AFTER_DROP} times: only for operations that are
   * safe to repeat (reads, flag deltas, deletions, folder creation); APPEND has its own recovery in
   * {@link appendMessages}. A server that stays silent past the timeout is not tried again: that ends
   * the account's sync with an error naming the command. A connection that cannot be reopened ends it
   * too; one that keeps dropping on this folder only fails the folder.
   */
  async #run<T>(path: FolderPath, op: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await this.#session.ready();
      const client = this.#client;
      try {
        return await op();
      } catch (err) {
        const failure = await this.#afterDrop(path, client, err, attempt >= RETRIES_AFTER_DROP);
        if (failure !== undefined) throw failure;
      }
    }
  }

  /**
   * What a failed call on `client` becomes. Undefined means: the connection dropped and was reopened,
   * try again. Otherwise the error to throw: the call's own (the server answered NO, a bug), a stall,
   * an interruption, or, once `giveUp`, the drop as an error of the folder (or of the store, for a call
   * on no folder).
   */
  async #afterDrop(path: FolderPath, client: ImapFlow, err: unknown, giveUp: boolean): Promise<unknown> {
    if (this.#session.interrupted) return interruptedError();
    const stalled = stalledCommand(client);
    if (stalled) return stallError(this.#account, path, stalled);
    if (err instanceof StalledError) return stallError(this.#account, path, err.command);
    if (!isConnectionLoss(err, this.#session.usable && this.#client === client)) return err;
    if (giveUp) return dropError(path, err);
    await this.#session.reopen();
    return undefined;
  }

  #name(path: FolderPath): string {
    if (isInbox(path)) return 'INBOX';
    for (const level of path) {
      const problem = levelProblem(level, this.#delimiter);
      if (problem) {
        throw new FolderError(
          `The folder ${quoteName(displayFolder(path))} cannot exist on this server: ${problem}.`,
          { code: 'FOLDER_NAME_UNSAFE' },
        );
      }
    }
    return path.join(this.#delimiter);
  }

  /**
   * Names travel as UTF-8 once the server accepted UTF8=ACCEPT or IMAP4rev2 (imapflow enables both
   * when offered, and then neither encodes nor decodes them), else as modified UTF-7.
   */
  get #utf8Names(): boolean {
    return namesAreUtf8(this.#client);
  }

  #refused(name: string, why: string): RefusedFolder {
    return {
      refused: name,
      code: 'FOLDER_NAME_REFUSED',
      message: `The IMAP server ${this.#account.server} (account ${this.#account.user}) lists a folder named ${quoteName(name)}, which Twinbox cannot map to a folder and back to the same name: ${why}. Nothing is created, synced or deleted for it; rename it on the server with another client, or exclude it from the pair.`,
    };
  }

  /**
   * LIST. On a server with LIST-STATUS (RFC 5819; Dovecot has it) the same command returns every
   * folder's STATUS too, and the next {@link listMessages} of each folder takes its marker from there:
   * a sync of unchanged folders then costs one round trip for all of them rather than a STATUS each.
   * That STATUS is as old as this call, as the one {@link listMessages} sends itself is as old as its
   * listing: a change made after it is seen by the listing that follows the next LIST. On a server
   * that also has OBJECTID (RFC 8474; Cyrus has it, Dovecot 2.3 not) that STATUS asks for MAILBOXID,
   * and each selectable folder's {@link FolderInfo.id} is its MAILBOXID as sent (a value that is not an
   * RFC 8474 objectid, or one listed for two folders, is left out); without LIST-STATUS no id is asked
   * for, since it would cost a STATUS per folder.
   */
  async listFolders(): Promise<ListedFolder[]> {
    return this.#on(undefined, () => this.#listFolders());
  }

  /** {@link listFolders} on the call's session. */
  async #listFolders(): Promise<ListedFolder[]> {
    const withStatus = this.#client.capabilities.has('LIST-STATUS');
    this.#listedStatus.clear();
    const { boxes, ids } = await this.#run([], async () => {
      // Dovecot answers the STATUS of the selected folder from the session's view (see #status), here
      // as in a STATUS command of its own: a NOOP first, so that view has caught up.
      if (withStatus && this.#client.mailbox) await this.#client.noop();
      if (!withStatus) return { boxes: await this.#client.list(), ids: undefined };
      // Ids only ride on LIST-STATUS: without it they would cost a STATUS per folder.
      if (this.#client.capabilities.has('OBJECTID')) return listWithMailboxIds(this.#client, STATUS_QUERY);
      return { boxes: await this.#client.list({ statusQuery: STATUS_QUERY }), ids: undefined };
    });
    const utf8 = this.#utf8Names;
    return boxes.map((box): ListedFolder => {
      const path = pathOfListedName(box.pathAsListed, box.delimiter, utf8);
      if (typeof path === 'string') return this.#refused(box.pathAsListed, path);
      const folder: FolderInfo = {
        path,
        selectable: !box.flags.has('\\Noselect') && !box.flags.has('\\NonExistent'),
      };
      if (box.specialUse && box.specialUse !== '\\Inbox') folder.specialUse = box.specialUse;
      // UIDVALIDITY is never 0 (RFC 3501's nz-number), but Dovecot's LIST-STATUS answers 0 for an INBOX
      // it has not made yet (a new account's, listed by one session while another opens it): kept, that
      // 0 would be the folder's epoch and its SELECT would then see an epoch change. Not kept, the
      // listing asks STATUS, which makes the INBOX.
      if (folder.selectable && box.status?.uidValidity) this.#keepStatus(path, box.status);
      if (folder.selectable && box.status?.messages !== undefined) folder.messages = box.status.messages;
      // Not kept past this call: every listing asks again, so a renamed or recreated folder is never
      // given an id from before.
      const id = folder.selectable ? ids?.get(idKey(box.pathAsListed)) : undefined;
      if (id !== undefined) folder.id = id;
      return folder;
    });
  }

  /** Keeps a listed folder's STATUS for its next listing, under the name that listing will send. */
  #keepStatus(path: FolderPath, status: NonNullable<ListResponse['status']>): void {
    let name: string;
    try {
      name = this.#name(path);
    } catch {
      // A name this driver cannot send: no listing will ask for it.
      return;
    }
    this.#listedStatus.set(name, status as FolderStatus);
  }

  async createFolder(path: FolderPath): Promise<void> {
    return this.#on(undefined, () => this.#createFolder(path));
  }

  /** {@link createFolder} on the call's session. */
  async #createFolder(path: FolderPath): Promise<void> {
    this.#writable('create the folder', path);
    if (isInbox(path)) return;
    const names = path.map((_, i) => this.#name(path.slice(0, i + 1)));
    const target = names[names.length - 1]!;
    await this.#run(path, async () => {
      // By the names as listed and as they will be sent: imapflow's decoded `path` is lenient, so a
      // broken spelling (`&ZeVnLIqe`) would pass for the folder to create (`&ZeVnLIqe-`).
      const utf8 = this.#utf8Names;
      const wire = (depth: number) => wireName(path.slice(0, depth + 1), this.#delimiter, utf8);
      const listed = new Map((await this.#client.list()).map((b) => [b.pathAsListed, b.flags]));
      // Parents first, as the contract asks, for servers that do not create them implicitly. A parent
      // listed at all will do; the folder itself must hold messages, so a name another client left
      // holding only folders (\Noselect, \NonExistent: `A` of `A/B`) is created too.
      for (const [depth, name] of names.entries()) {
        const flags = listed.get(wire(depth));
        const nameOnly = flags !== undefined && (flags.has('\\Noselect') || flags.has('\\NonExistent'));
        if (flags !== undefined && !(name === target && nameOnly)) continue;
        let exists: string | undefined;
        try {
          // imapflow answers ALREADYEXISTS (RFC 5530) with `created: false` rather than an error.
          const result = await this.#client.mailboxCreate(name);
          if (result && !result.created) exists = 'ALREADYEXISTS';
        } catch (err) {
          if (!/ALREADYEXISTS|already exists/i.test(serverText(err))) throw folderError('create', path, err);
          exists = serverText(err);
        }
        if (exists !== undefined && name === target && nameOnly) {
          throw new FolderError(
            `The server keeps ${JSON.stringify(displayFolder(path))} as a name that only holds other folders (\\Noselect), and did not make it a folder of its own (${exists}), so it cannot receive messages. Exclude it from the pair, or move its messages on the other side to another folder.`,
            { code: 'FOLDER_CREATE_FAILED' },
          );
        }
      }
    });
  }

  async deleteFolder(path: FolderPath): Promise<void> {
    this.#writable('delete the folder', path);
    const name = this.#name(path);
    await this.#leaveEverywhere((selected) => selected === name);
    await this.#on(undefined, () => this.#deleteFolder(path, name));
    this.#epochs.delete(name);
    this.#appendCursors.delete(name);
    this.#writes.forget((n) => n === name);
  }

  /** {@link deleteFolder} on the call's session. */
  async #deleteFolder(path: FolderPath, name: string): Promise<void> {
    await this.#run(path, async () => {
      // imapflow leaves the folder it deletes with an UNSELECT when it finds it selected. Sent while
      // another call's SELECT is in flight (the engine syncs folders at once on this session), that
      // UNSELECT would close the other call's folder under its FETCH or STORE. So the folder found
      // selected is deleted under its own mailbox lock, which waits for the other call's.
      const lock = await this.#lockIfSelected((selected) => selected === name);
      try {
        await this.#client.mailboxDelete(name);
      } catch (err) {
        if (!/NONEXISTENT|doesn't exist|does not exist|not found/i.test(serverText(err))) {
          throw folderError('delete', path, err);
        }
      } finally {
        lock?.release();
      }
    });
  }

  /**
   * Has every session of the pool that has a folder matching `matches` selected leave it, each while
   * no call is on it (see {@link SessionPool.leaveEverywhere}): Dovecot ends a session whose selected
   * folder another one deletes or renames, which would cut the call on it. The engine does not work
   * in a folder while it deletes or renames it, so none selects it again in between.
   */
  async #leaveEverywhere(matches: (selected: string) => boolean): Promise<void> {
    if (this.#lease.getStore() !== undefined) return;
    await this.#pool.leaveEverywhere(matches, (client) => leaveSelected(client));
  }

  /**
   * See {@link Driver.renameFolder}: one IMAP RENAME, which moves the folders below `from` along and no
   * message over the connection. Refused before anything is sent (`FOLDER_RENAME_REFUSED`) for the
   * inbox (RENAME INBOX moves its messages into a new folder and leaves INBOX in place) and for a `to`
   * below `from`; `FOLDER_NAME_UNSAFE` for a name this driver could not send or list back. The server's
   * NO maps by its response code (RFC 5530): `NONEXISTENT` to `FOLDER_GONE`, `ALREADYEXISTS` to
   * `FOLDER_EXISTS`; a NO without either is told apart by a LIST of both names. Missing parents of
   * `to` are the server's to make (RFC 3501; Dovecot does).
   *
   * Dovecot 2.3 keeps each folder's UIDVALIDITY and every message's UID across a RENAME (checked by this
   * package's tests), so ids listed under `from` stay good under `to`; a server that changes the
   * UIDVALIDITY shows it in the next listing, which the engine treats as a new epoch. Dovecot ends
   * every other session that has a renamed folder selected (a sync driver's, a watch's); this session
   * leaves such a folder first (UNSELECT), as imapflow only does for `from` itself.
   *
   * Not sent again after a dropped connection: the rename may have happened, and a second RENAME
   * would fail either way. It rejects with a `CONNECTION_LOST` {@link FolderError}; the next listing of
   * folders finds the folder under one of the two names.
   */
  async renameFolder(from: FolderPath, to: FolderPath): Promise<void> {
    this.#writable('rename the folder', from);
    this.#writable('rename a folder to', to);
    const where = `${displayFolder(from)} to ${displayFolder(to)}`;
    if (isInbox(from) || isInbox(to)) {
      throw new FolderError(
        `Cannot rename ${where}: the inbox is never renamed (on IMAP, RENAME INBOX moves its messages into a new folder and leaves the inbox in place). Move the messages instead.`,
        { code: 'FOLDER_RENAME_REFUSED' },
      );
    }
    if (isBelow(to, from)) {
      throw new FolderError(`Cannot rename ${where}: a folder cannot move below itself.`, {
        code: 'FOLDER_RENAME_REFUSED',
      });
    }
    const fromName = this.#name(from);
    const toName = this.#name(to);
    this.#checkListedBack(to);
    await this.#leaveEverywhere((selected) => this.#within(selected, fromName));
    await this.#on(undefined, () => this.#renameFolder(from, to, fromName, toName));
  }

  /** {@link renameFolder} on the call's session. */
  async #renameFolder(from: FolderPath, to: FolderPath, fromName: string, toName: string): Promise<void> {
    const where = `${displayFolder(from)} to ${displayFolder(to)}`;
    await this.#session.ready();
    const client = this.#client;
    // Leaving the selected folder is done under its lock, as in deleteFolder: another call's folder
    // is never closed under it.
    let lock: Awaited<ReturnType<ImapFlow['getMailboxLock']>> | undefined;
    try {
      lock = await this.#lockIfSelected((selected) => this.#within(selected, fromName));
      // Dovecot ends a session whose selected folder is below one it renames, so it is left first.
      // UNSELECT never expunges; without it, EXAMINE INBOX deselects just as safely (CLOSE would expunge).
      const selected = client.mailbox ? client.mailbox.path : undefined;
      if (selected !== undefined && selected !== fromName && this.#within(selected, fromName)) {
        await leaveSelected(client);
      }
      await client.mailboxRename(fromName, toName);
    } catch (err) {
      lock?.release();
      if (this.#session.interrupted) throw interruptedError();
      const stalled = stalledCommand(client);
      if (stalled) throw stallError(this.#account, from, stalled);
      if (err instanceof StalledError) throw stallError(this.#account, from, err.command);
      if (serverAnswered(err)) throw await this.#refusedRename(from, to, err);
      if (!isConnectionLoss(err, this.#session.usable && this.#client === client)) throw err;
      // Either name may hold the folder now: nothing cached for either is kept, and the epochs follow
      // to `to` too, so ids used there are checked against the folder they came from.
      this.#forgetNames(fromName, toName, false);
      throw new FolderError(
        `The IMAP connection dropped while renaming ${where} (${(err as Error).message}); the rename may or may not have happened. It was not sent again: the next sync lists the folders and finds it under one of the two names.`,
        { code: 'CONNECTION_LOST', cause: err },
      );
    }
    lock?.release();
    this.#forgetNames(fromName, toName, true);
    this.#watch.renamed(from, to);
  }

  /**
   * The mailbox lock of the selected folder when `matches` it, so that a command which leaves that
   * folder (UNSELECT) is not queued behind another call's SELECT and sent under that call's lock.
   * Undefined when no matching folder is selected, or when it cannot be selected again (gone: the
   * command that follows reports it).
   */
  async #lockIfSelected(
    matches: (selected: string) => boolean,
  ): Promise<Awaited<ReturnType<ImapFlow['getMailboxLock']>> | undefined> {
    const selected = this.#client.mailbox ? this.#client.mailbox.path : undefined;
    if (selected === undefined || !matches(selected)) return undefined;
    try {
      return await this.#client.getMailboxLock(selected, this.#readOnly ? { readOnly: true } : undefined);
    } catch {
      return undefined;
    }
  }

  /** Whether `name` is `parent` or a folder below it, by the server's names. */
  #within(name: string, parent: string): boolean {
    return name === parent || name.startsWith(parent + this.#delimiter);
  }

  /**
   * After a rename of `fromName` (`done`) or one that may have happened: the LIST-STATUS answers of both
   * trees are dropped (they describe folders under names that changed), and the UIDVALIDITY listed
   * for each folder below `fromName` moves with it, so a call on the new name with ids of the old
   * listing is checked against the epoch they belong to.
   */
  #forgetNames(fromName: string, toName: string, done: boolean): void {
    this.#writes.forget((name) => this.#within(name, fromName) || this.#within(name, toName));
    for (const name of [...this.#appendCursors.keys()]) {
      if (this.#within(name, fromName) || this.#within(name, toName)) this.#appendCursors.delete(name);
    }
    for (const name of [...this.#listedStatus.keys()]) {
      if (this.#within(name, fromName) || this.#within(name, toName)) this.#listedStatus.delete(name);
    }
    const moved = new Map<string, string>();
    for (const [name, epoch] of this.#epochs) {
      if (this.#within(name, toName)) this.#epochs.delete(name);
      else if (this.#within(name, fromName)) moved.set(toName + name.slice(fromName.length), epoch);
    }
    for (const [name, epoch] of moved) this.#epochs.set(name, epoch);
    if (done)
      for (const name of [...this.#epochs.keys()])
        if (this.#within(name, fromName)) this.#epochs.delete(name);
  }

  /** Refuses a path whose name would not list back as the same path (see `names.ts`). */
  #checkListedBack(path: FolderPath): void {
    const utf8 = this.#utf8Names;
    const back = pathOfListedName(wireName(path, this.#delimiter, utf8), this.#delimiter, utf8);
    if (typeof back !== 'string' && back.length === path.length && back.every((l, i) => l === path[i])) {
      return;
    }
    throw new FolderError(
      `The folder ${quoteName(displayFolder(path))} cannot exist on this server: its name would not list back as the same folder${typeof back === 'string' ? ` (${back})` : ''}.`,
      { code: 'FOLDER_NAME_UNSAFE' },
    );
  }

  /** A RENAME the server refused, classified: by its response code, else by a LIST of both names. */
  async #refusedRename(from: FolderPath, to: FolderPath, err: unknown): Promise<FolderError> {
    const where = `${displayFolder(from)} to ${displayFolder(to)}`;
    const responseCode = ((err as { serverResponseCode?: string }).serverResponseCode ?? '').toUpperCase();
    let code =
      responseCode === 'NONEXISTENT'
        ? 'FOLDER_GONE'
        : responseCode === 'ALREADYEXISTS'
          ? 'FOLDER_EXISTS'
          : undefined;
    if (code === undefined) {
      try {
        const utf8 = this.#utf8Names;
        const listed = new Set(
          (await this.#client.list()).filter((b) => !b.flags.has('NonExistent')).map((b) => b.pathAsListed),
        );
        if (!listed.has(wireName(from, this.#delimiter, utf8))) code = 'FOLDER_GONE';
        else if (listed.has(wireName(to, this.#delimiter, utf8))) code = 'FOLDER_EXISTS';
      } catch {
        // The refusal is reported as it came; the LIST only made it more precise.
      }
    }
    const advice =
      code === 'FOLDER_GONE'
        ? `${displayFolder(from)} does not exist (any more)`
        : code === 'FOLDER_EXISTS'
          ? `${displayFolder(to)} exists already; rename or remove it first`
          : 'check the names and the permissions on the server';
    return new FolderError(
      `The server refused to rename ${where}: ${serverText(err).replace(/\.$/, '')}. ${capitalize(advice)}.`,
      {
        code: code ?? 'FOLDER_RENAME_FAILED',
        cause: err,
      },
    );
  }

  async listMessages(path: FolderPath, request: ListRequest): Promise<Listing> {
    const name = this.#key(path);
    const listed = name === undefined ? undefined : this.#listedStatus.get(name);
    if (name !== undefined && listed !== undefined) {
      // Unchanged by the STATUS the last LIST brought: answered without a session, so that a sync of
      // unchanged folders listed at once opens no extra session for them.
      const marker = markerOf(listed);
      const since = sinceModseq(request.since, marker);
      if (since !== undefined && since === BigInt(marker.value)) {
        this.#listedStatus.delete(name);
        this.#epochs.set(name, marker.epoch);
        this.#writes.listed(name, marker, listed.messages);
        return { kind: 'unchanged', marker };
      }
    }
    return this.#on(name, () => this.#listMessages(path, request));
  }

  /** {@link listMessages} on the call's session. */
  async #listMessages(path: FolderPath, request: ListRequest): Promise<Listing> {
    const name = this.#name(path);
    // Taken once: a second listing of the folder (the engine lists a side again after an epoch change)
    // asks the server.
    const listed = this.#listedStatus.get(name);
    this.#listedStatus.delete(name);
    return this.#run(path, async () => {
      const status = listed ?? (await this.#status(path, name));
      const marker = markerOf(status);
      // Writes from now on are logged against this marker (and the count that goes with it); a listing
      // that fails after this leaves a log no commit will ask for.
      this.#writes.listed(name, marker, status.messages);
      this.#epochs.set(name, marker.epoch);
      const since = sinceModseq(request.since, marker);
      if (since !== undefined && since === BigInt(marker.value)) return { kind: 'unchanged', marker };
      // A marker from the LIST came from another session (its NOOP refreshed that session's view
      // only). Dovecot answers for a folder this session has selected from the session's own view,
      // which catches up with other sessions' changes only at its next command: without a NOOP first,
      // `1:*` would stop short of the messages the marker already counts.
      if (listed && this.#client.mailbox && this.#client.mailbox.path === name) await this.#client.noop();
      // The marker was read before the listing, so a change made while we list shows up next time.
      return this.#withFolder(path, name, async (): Promise<Listing> => {
        const mailbox = this.#client.mailbox || undefined;
        // A delta needs both halves: CHANGEDSINCE for the changed messages and QRESYNC's VANISHED for
        // the expunged ones. With CONDSTORE alone the expunged UIDs cannot be known without the old
        // set, which the driver does not keep, so the answer is a full listing.
        if (
          since !== undefined &&
          since < BigInt(marker.value) &&
          this.#client.enabled.has('QRESYNC') &&
          mailbox &&
          !mailbox.noModseq
        ) {
          const delta = await this.#changedSince(path, since, request.dates === true);
          // Otherwise a VANISHED line could not be read, and an expunge would go unlisted: the folder
          // is listed whole instead.
          if (delta) return { kind: 'delta', marker, ...delta };
        }
        const exists = (mailbox || { exists: 0 }).exists;
        if (exists === 0) return { kind: 'full', marker, messages: [] };
        // One FETCH for the whole folder, streamed: no round trip per message.
        const listed = new Map<number, ListedMessage>();
        const problems: MessageProblem[] = [];
        await uidFetch(this.#client, '1:*', listingItems(request.dates === true), undefined, (row) =>
          this.#take(path, row, listed, problems),
        );
        // imapflow skips a FETCH line it cannot parse (a malformed flag list), without a word: the
        // message would be missing, and a missing message reads as deleted. A server can also answer
        // for UIDs it does not have. So the count is checked against EXISTS, and on a mismatch SEARCH
        // says which UIDs exist: those the FETCH left out are read another way. A UID only the FETCH
        // named stays listed (dropping it on SEARCH's word could read as a deletion) and is reported.
        if (listed.size !== exists) {
          const all = new Set(((await this.#client.search({ all: true }, { uid: true })) || []) as number[]);
          for (const uid of listed.keys()) {
            if (all.has(uid)) continue;
            problems.push({
              id: String(uid),
              code: 'UID_UNCONFIRMED',
              message: `The server's FETCH named UID ${uid} in ${displayFolder(path)}, but its SEARCH does not: the server's answers disagree. Nothing is deleted for it; check the folder with another client.`,
            });
          }
          const missing = [...all].filter((uid) => !listed.has(uid));
          await this.#recover(path, missing, request.dates === true, listed, problems);
        }
        return {
          kind: 'full',
          marker,
          messages: [...listed.values()],
          ...(problems.length ? { problems } : {}),
        };
      });
    });
  }

  /**
   * `UID FETCH 1:* (FLAGS RFC822.SIZE [INTERNALDATE]) (CHANGEDSINCE m VANISHED)` on the selected folder: the server
   * answers with the messages whose MODSEQ is above `m` (added or flags changed) and one
   * `VANISHED (EARLIER)` line for the UIDs expunged since, which imapflow hands out as `expunge` events.
   */
  async #changedSince(
    path: FolderPath,
    since: bigint,
    dates: boolean,
  ): Promise<{ changed: ListedMessage[]; vanished: string[]; problems?: MessageProblem[] } | undefined> {
    const client = this.#client;
    const listed = new Map<number, ListedMessage>();
    const problems: MessageProblem[] = [];
    const answer = await this.#fetchChangedSince(since, listingItems(dates), (row) =>
      this.#take(path, row, listed, problems),
    );
    if (answer.unreadable) return undefined;
    const vanished = new Set([...answer.vanished].map(String));
    // A changed message whose FETCH line imapflow could not parse would be skipped, and the marker moves
    // past its change for good: SEARCH MODSEQ names every message changed since, to find any left out.
    // Always: imapflow drops some lines without a word in any log (an untagged line whose number is not
    // a number finds no handler), so nothing short of asking tells a whole answer from one with a gap.
    const changedUids = await client.search({ modseq: since + 1n }, { uid: true });
    const missing = (changedUids || []).filter((uid) => !listed.has(uid));
    if (missing.length > 0) await this.#recover(path, missing, dates, listed, problems);
    const changed = [...listed.values()];
    for (const m of changed) vanished.delete(m.id);
    return { changed, vanished: [...vanished], ...(problems.length ? { problems } : {}) };
  }

  /**
   * `UID FETCH 1:* (items) (CHANGEDSINCE since VANISHED)` on the selected folder: each row to `take`, in
   * the order sent, and the UIDs of the `VANISHED (EARLIER)` answer (imapflow hands them out as
   * `expunge` events) returned. `unreadable` when a VANISHED line was not one imapflow reads whole
   * (it skips such a set without a word): the vanished UIDs are then not all known.
   */
  async #fetchChangedSince(
    since: bigint,
    items: Attribute[],
    take: (row: FetchRow) => void,
  ): Promise<{ vanished: Set<number>; unreadable: boolean }> {
    const client = this.#client;
    const selected = client.mailbox ? client.mailbox.path : undefined;
    const vanished = new Set<number>();
    let unreadable = false;
    const onExpunge = (event: { path: string; uid?: number; vanished: boolean }) => {
      if (event.vanished && event.uid !== undefined && event.path === selected) vanished.add(event.uid);
    };
    // imapflow's own handler still reads each line (the session's state, the `expunge` events); this
    // one only looks at it first.
    const imapflowVanished = untaggedHandlersOf(client).VANISHED;
    const onVanished = async (untagged: Untagged) => {
      if (!imapflowVanished || !readableVanished(untagged)) unreadable = true;
      await imapflowVanished?.(untagged);
    };
    client.on('expunge', onExpunge);
    try {
      const modifiers = [item('CHANGEDSINCE'), item(since.toString()), item('VANISHED')];
      await uidFetch(client, '1:*', items, modifiers, take, onVanished);
    } finally {
      client.off('expunge', onExpunge);
    }
    return { vanished, unreadable };
  }

  /**
   * Adds one FETCH answer to a listing: the first answer for a UID only (a server that repeats one
   * does not make two messages of it), and a problem for keywords no store can hold. An answer
   * without a usable UID names no message; one without FLAGS (imapflow dropped an item it could not
   * read, or the row was the server's unsolicited word on something else) is left out, for the
   * checks after the FETCH to find: listed with no flags, it would clear them on the other side.
   */
  #take(
    path: FolderPath,
    msg: FetchRow,
    listed: Map<number, ListedMessage>,
    problems: MessageProblem[],
  ): void {
    if (msg.uid === undefined || listed.has(msg.uid) || !msg.flags) return;
    listed.set(msg.uid, listedOf(msg.uid, msg));
    const dropped = unstorableKeywords(msg.flags);
    if (dropped.length > 0) {
      problems.push({
        id: String(msg.uid),
        code: 'KEYWORD_UNSTORABLE',
        message: `Message UID ${msg.uid} in ${displayFolder(path)} has ${dropped.length === 1 ? 'a keyword' : `${dropped.length} keywords`} no IMAP store can hold (${summarize(dropped)}); the message is synced without ${dropped.length === 1 ? 'it' : 'them'}.`,
      });
    }
  }

  /**
   * Lists messages the server has but whose FETCH answer could not be read (imapflow skipped the
   * line): size and date from a FETCH without FLAGS, and flags from SEARCH, which asks the server
   * about one flag at a time and so never depends on parsing its flag list. Keywords are searched for
   * among those the folder's FLAGS response announced. Each such message is reported.
   */
  async #recover(
    path: FolderPath,
    uids: readonly number[],
    dates: boolean,
    listed: Map<number, ListedMessage>,
    problems: MessageProblem[],
  ): Promise<void> {
    if (uids.length === 0) return;
    const client = this.#client;
    const set = uidSet(uids);
    const found = new Map<number, ListedMessage>();
    const asked = new Set(uids);
    for await (const msg of client.fetch(
      set,
      { uid: true, size: true, internalDate: dates },
      { uid: true },
    )) {
      if (asked.has(msg.uid) && !found.has(msg.uid))
        found.set(msg.uid, listedOf(msg.uid, { ...msg, flags: new Set() }));
    }
    const flags = new Map<number, string[]>(uids.map((uid) => [uid, []]));
    const searchFlag = async (flag: string, query: Record<string, unknown>) => {
      const hits = await client.search({ uid: set, ...query }, { uid: true });
      for (const uid of hits || []) flags.get(uid)?.push(flag);
    };
    for (const flag of SYSTEM_FLAGS) await searchFlag(flag, { [SYSTEM_SEARCH[flag]!]: true });
    const announced = [...(client.mailbox ? client.mailbox.flags : [])].filter(
      (f) => !f.startsWith('\\') && unstorableKeywords([f]).length === 0,
    );
    for (const keyword of announced.slice(0, MAX_KEYWORD_SEARCHES)) await searchFlag(keyword, { keyword });
    for (const uid of uids) {
      const listing = found.get(uid) ?? { id: String(uid), flags: [] };
      listing.flags = normalizeFlags(flags.get(uid) ?? []);
      listed.set(uid, listing);
      const unknownSize = listing.size === undefined ? ' Its size could not be read either.' : '';
      problems.push({
        id: String(uid),
        code: 'FLAGS_UNREADABLE',
        message: `The server's answer for message UID ${uid} in ${displayFolder(path)} could not be parsed (a malformed flag list); the message is synced with the flags SEARCH found (${listing.flags.join(' ') || 'none'}), and keywords the folder does not announce are left out.${unknownSize}`,
      });
    }
  }

  async #status(path: FolderPath, name: string): Promise<FolderStatus> {
    let status: Awaited<ReturnType<ImapFlow['status']>> | undefined;
    try {
      // Dovecot answers STATUS of the selected folder from the session's view, which only catches up
      // with other sessions' changes at the next command on it: a NOOP first, or the marker is stale.
      if (this.#client.mailbox && this.#client.mailbox.path === name) await this.#client.noop();
      status = await this.#client.status(name, STATUS_QUERY);
    } catch (err) {
      throw folderError('list', path, err, 'FOLDER_GONE');
    }
    if (status && status.uidValidity !== undefined) return status as FolderStatus;
    if (!this.#session.usable) throw connectionError(path, new Error('the connection closed during STATUS'));
    // imapflow answers a refused STATUS (a folder that does not exist) with no status at all.
    throw new FolderError(`The IMAP folder ${displayFolder(path)} does not exist (STATUS was refused).`, {
      code: 'FOLDER_GONE',
    });
  }

  /** Runs `body` with the folder selected, after checking its UIDVALIDITY is the one last listed. */
  async #withFolder<T>(path: FolderPath, name: string, body: () => Promise<T>): Promise<T> {
    let lock: Awaited<ReturnType<ImapFlow['getMailboxLock']>>;
    try {
      // EXAMINE in read-only mode: the server then refuses any change, whatever imapflow sends.
      lock = await this.#client.getMailboxLock(name, this.#readOnly ? { readOnly: true } : undefined);
    } catch (err) {
      throw folderError('open', path, err, 'FOLDER_GONE');
    }
    try {
      const mailbox = this.#client.mailbox;
      const epoch = mailbox ? String(mailbox.uidValidity) : undefined;
      const listed = this.#epochs.get(name);
      if (listed !== undefined && epoch !== listed) throw epochChanged(path, listed, epoch);
      return await body();
    } finally {
      lock.release();
    }
  }

  /**
   * See {@link Driver.markerAfterWrites}. The folder's HIGHESTMODSEQ now, when everything that changed
   * since the listing's is this driver's own appends and removals (see {@link WriteLog}): STATUS gives
   * the HIGHESTMODSEQ and the count, then a FETCH CHANGEDSINCE the listing's shows what changed up to at
   * least that one, the count must be the listing's plus the appended less the vanished, and SEARCH
   * MODSEQ must show that nothing else changed. Costs three commands and a row per message appended,
   * where the next sync would otherwise list every one of them and compare it with its pair. Any
   * doubt, and any error on the way, answers `marker`: the next sync lists the writes again, as it
   * did before.
   */
  async markerAfterWrites(path: FolderPath, marker: FolderMarker): Promise<FolderMarker> {
    const name = this.#key(path);
    const writes = name === undefined ? undefined : this.#writes.writesSince(name, marker);
    if (name === undefined || writes === undefined) return marker;
    // The SEARCH below names the appended UIDs: past a length servers take in one command line
    // (Dovecot: 64 KiB), the check is not worth it.
    const appended = writes.appended.size > 0 ? uidSet(writes.appended.keys()) : undefined;
    if (appended !== undefined && appended.length > MAX_SEARCH_SET) return marker;
    try {
      return await this.#on(name, () =>
        this.#run(path, async () => {
          // Read before the check: a change made while it runs is either seen by it or left for the
          // next listing.
          const status = await this.#status(path, name);
          const now = markerOf(status);
          if (now.epoch !== marker.epoch || !/^\d{1,20}$/.test(now.value)) return marker;
          if (BigInt(now.value) <= writes.modseq) return marker;
          return this.#withFolder(path, name, async () => {
            const client = this.#client;
            if (!client.enabled.has('QRESYNC') || !client.mailbox || client.mailbox.noModseq) return marker;
            const rows: FetchRow[] = [];
            const { vanished, unreadable } = await this.#fetchChangedSince(
              writes.modseq,
              [item('UID'), item('FLAGS')],
              (row) => rows.push(row),
            );
            if (unreadable || !vouches(writes, rows, vanished)) return marker;
            // An expunge shows only in the VANISHED line, which imapflow skips without a word when it
            // cannot read its UID set: the counts, each from one STATUS, must then disagree.
            if (
              writes.messages === undefined ||
              status.messages !== writes.messages + writes.appended.size - vanished.size
            )
              return marker;
            // imapflow drops a FETCH line it cannot parse without a word: another client's change
            // whose row was lost would pass the check above. SEARCH names any changed message that
            // is not one of the appended ones.
            const others = await client.search(
              appended !== undefined
                ? { modseq: writes.modseq + 1n, not: { uid: appended } }
                : { modseq: writes.modseq + 1n },
              { uid: true },
            );
            return others && others.length === 0 ? now : marker;
          });
        }),
      );
    } catch {
      return marker;
    }
  }

  /**
   * STATUS MESSAGES: the server's own count, which needs no FETCH answer to be parsed, so a message the
   * listing could not see still counts here (see {@link Driver.countMessages}).
   */
  async countMessages(path: FolderPath): Promise<number> {
    return this.#on(this.#key(path), () => this.#countMessages(path));
  }

  /** {@link countMessages} on the call's session. */
  async #countMessages(path: FolderPath): Promise<number> {
    const name = this.#name(path);
    const status = await this.#run(path, () => this.#status(path, name));
    if (typeof status.messages !== 'number') {
      throw new FolderError(
        `The server did not say how many messages ${displayFolder(path)} holds (STATUS MESSAGES).`,
        {
          code: 'COUNT_UNKNOWN',
        },
      );
    }
    return status.messages;
  }

  async describeMessages(
    path: FolderPath,
    ids: readonly string[],
    request?: DescribeRequest,
  ): Promise<ListedMessage[]> {
    return this.#on(this.#key(path), () => this.#describeMessages(path, ids, request));
  }

  /**
   * {@link describeMessages} on the call's session. Without `request.sizes`, one FETCH of flags, size
   * and the Message-ID header for all of them. With it, the FETCH leaves the header out, and a second
   * asks for it only where the size is one the request names: the header is a literal per message for
   * imapflow to parse and, unless Dovecot has it cached, a message file to open on the server
   * (`node bench/describe-sizes.mjs --store imap`: 300 of 20,000 messages, 25.9 ms against 14.1).
   */
  async #describeMessages(
    path: FolderPath,
    ids: readonly string[],
    request: DescribeRequest | undefined,
  ): Promise<ListedMessage[]> {
    const wanted = [...new Set(ids)].filter(isUid);
    if (wanted.length === 0) return [];
    const name = this.#name(path);
    const sizes = request?.sizes ? new Set(request.sizes) : undefined;
    const header = sizes ? {} : { headers: ['message-id'] };
    return this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        const out = new Map<number, ListedMessage>();
        const asked = new Set(wanted);
        // One FETCH for all of them, with at most the Message-ID header: no bodies, no round trip each.
        const query = { uid: true, flags: true, size: true, ...header };
        const describe = (msg: { uid: number; flags?: Set<string>; size?: number; headers?: Buffer }) => {
          if (!asked.has(String(msg.uid)) || out.has(msg.uid)) return;
          out.set(msg.uid, {
            id: String(msg.uid),
            flags: normalizeFlags(msg.flags ?? []),
            size: msg.size ?? 0,
            ...(sizes ? {} : { messageId: messageIdFromHeaders(msg.headers) }),
          });
        };
        for await (const msg of this.#client.fetch(uidSet(wanted), query, { uid: true })) describe(msg);
        // A line imapflow could not parse (a malformed flag list) is skipped; left out here, the message
        // would count as vanished. Without FLAGS it parses; its flags come from the listing's recovery.
        const missing = wanted.filter((uid) => !out.has(Number(uid)));
        if (missing.length > 0) {
          const again = { uid: true, size: true, ...header };
          for await (const msg of this.#client.fetch(uidSet(missing), again, { uid: true })) describe(msg);
          const recovered = new Map<number, ListedMessage>();
          const unread = missing.map(Number).filter((uid) => out.has(uid));
          await this.#recover(path, unread, false, recovered, []);
          for (const [uid, m] of recovered) out.get(uid)!.flags = m.flags;
        }
        if (sizes) {
          const needed = [...out.values()]
            .filter((m) => m.size !== undefined && sizes.has(m.size))
            .map((m) => m.id);
          if (needed.length > 0) {
            const ask = { uid: true, headers: ['message-id'] };
            for await (const msg of this.#client.fetch(uidSet(needed), ask, { uid: true })) {
              const described = out.get(msg.uid);
              if (described) described.messageId = messageIdFromHeaders(msg.headers);
            }
          }
        }
        return [...out.values()];
      }),
    );
  }

  async readMessage(path: FolderPath, id: string): Promise<MessageContent> {
    const [result] = await this.readMessages(path, [id]);
    if (result === null || result === undefined) {
      throw new MessageError(`Message ${id} is no longer in ${displayFolder(path)}.`, {
        code: 'MESSAGE_GONE',
      });
    }
    if ('failed' in result) throw new MessageError(result.failed.message, { code: result.failed.code });
    return result;
  }

  /**
   * One UID FETCH for the whole batch, bodies included; a UID the server no longer has gives null.
   * Every message that arrives whole is kept: if the connection drops in the middle, the session is
   * reopened and only the messages still missing are asked for again, as long as each attempt brings
   * at least one more (else, after {@link FRUITLESS_READS} attempts, the rest are reported as failures
   * and read next time). A message the server has but whose answer cannot be parsed is a failure too.
   */
  async readMessages(path: FolderPath, ids: readonly string[]): Promise<ReadResult[]> {
    return this.#on(this.#key(path), () => this.#readMessages(path, ids));
  }

  /** {@link readMessages} on the call's session. */
  async #readMessages(path: FolderPath, ids: readonly string[]): Promise<ReadResult[]> {
    const wanted = [...new Set(ids)].filter(isUid);
    const results = new Map<string, ReadResult>();
    if (wanted.length > 0) {
      const name = this.#name(path);
      let fruitless = 0;
      for (;;) {
        const pending = wanted.filter((id) => !results.has(id));
        if (pending.length === 0) break;
        await this.#session.ready();
        const client = this.#client;
        const before = results.size;
        try {
          await this.#withFolder(path, name, () => this.#fetchBodies(path, pending, results));
          break;
        } catch (err) {
          fruitless = results.size > before ? 0 : fruitless + 1;
          const next = await this.#afterDrop(path, client, err, fruitless >= FRUITLESS_READS);
          if (next === undefined) continue;
          if ((next as { code?: unknown }).code !== 'CONNECTION_LOST') throw next;
          // The connection keeps dropping while these come: what arrived whole is kept, the rest waits.
          for (const id of pending) {
            if (results.has(id)) continue;
            results.set(id, {
              failed: {
                code: 'CONNECTION_LOST',
                message: `Message UID ${id} of ${displayFolder(path)} could not be read: the connection dropped ${fruitless} times in a row while it came (${(err as Error).message}). It is read again next sync.`,
              },
            });
          }
          break;
        }
      }
    }
    return ids.map((id) => results.get(id) ?? null);
  }

  /**
   * Fetches bodies of the selected folder into `results` as they arrive. A UID the answer left out is
   * asked for again without FLAGS (a malformed flag list makes imapflow skip the whole line); one still
   * missing is looked for by SEARCH: absent, it vanished (left out of `results`); present, it is a
   * failure, since its answer cannot be read.
   */
  async #fetchBodies(path: FolderPath, uids: readonly string[], results: Map<string, ReadResult>) {
    const pending = new Set(uids);
    const take = (msg: FetchedRow) => {
      const id = String(msg.uid);
      if (!pending.delete(id)) return;
      results.set(id, contentOf(msg));
    };
    try {
      await fetchBodies(this.#client, uidSet(uids), true, take);
      if (pending.size === 0) return;
      await fetchBodies(this.#client, uidSet(pending), false, take);
      if (pending.size === 0) return;
      const present = await this.#client.search({ uid: uidSet(pending) }, { uid: true });
      for (const uid of present || []) {
        const id = String(uid);
        if (!pending.has(id)) continue;
        results.set(id, {
          failed: {
            code: 'READ_UNPARSEABLE',
            message: `The server's answer for message UID ${id} of ${displayFolder(path)} could not be parsed, so it was not read; it is tried again next sync.`,
          },
        });
      }
    } catch (err) {
      if (!serverAnswered(err)) throw err;
      throw new FolderError(
        `The server refused to read messages of ${displayFolder(path)}: ${serverText(err)}`,
        {
          code: 'READ_REFUSED',
          cause: err,
        },
      );
    }
  }

  /**
   * Appends the messages in order. On a server with MULTIAPPEND (RFC 3502) consecutive messages travel
   * together, up to {@link MULTIAPPEND_LIMITS} per command (one transaction on the server, which is
   * what makes a first sync cheap for it); otherwise, and for a message over the server's APPENDLIMIT,
   * one APPEND each. A message is reported `ok` only with a UID the server confirmed: from APPENDUID
   * (UIDPLUS; for a MULTIAPPEND a UID set, one per message in order), or found after the APPEND by
   * Message-ID and size among the UIDs from UIDNEXT before the batch. A MULTIAPPEND the server refuses
   * stored none of its messages (RFC 3502): they are then looked for all the same (a server that
   * stored some anyway does not get them twice) and the rest sent one by one, so a refused message
   * (TOOBIG, APPENDLIMIT, quota) fails alone with its own answer. If the connection drops during an
   * APPEND, the session is reopened, every message of that command is looked for the same way and
   * none is sent a second time: one not found is `APPEND_UNCONFIRMED`, and the engine finds it by
   * content next time if it was stored after all; the commands after it go on.
   */
  async appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]> {
    const name = this.#key(path);
    const outcomes = await this.#logged(name, () => this.#appendMessages(path, messages));
    if (name === undefined) return outcomes;
    // A message not confirmed may have been stored all the same, under a UID the log cannot name.
    if (outcomes.some((o) => !o.ok)) this.#writes.unsure(name);
    for (const [i, o] of outcomes.entries()) {
      if (o.ok) this.#writes.appended(name, Number(o.id), appendFlags(messages[i]!));
    }
    return outcomes;
  }

  /**
   * Runs a write to the folder `name` on a session for it; a write that fails leaves the folder
   * `unsure` in the write log, since what the server kept of it is not known.
   */
  async #logged<T>(name: string | undefined, op: () => Promise<T>): Promise<T> {
    try {
      return await this.#on(name, op);
    } catch (err) {
      if (name !== undefined) this.#writes.unsure(name);
      throw err;
    }
  }

  /** {@link appendMessages} on the call's session. */
  async #appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]> {
    this.#writable('append messages to', path);
    if (messages.length === 0) return [];
    const name = this.#name(path);
    await this.#session.ready();
    const known = this.#appendCursor(name);
    this.#appendCursors.delete(name);
    let start: { epoch: string; uidNext: number };
    if (known) start = known;
    else if (!this.#client.mailbox || this.#client.mailbox.path !== name) {
      // Selected for the batch, its SELECT answering UIDVALIDITY and UIDNEXT as a STATUS would: the
      // pool then lends the folder's next batches this session, where the append cursor holds and no
      // STATUS is asked. Left unselected, each batch went to whichever session was free, and its STATUS
      // of a folder another session had just appended to made Dovecot read the folder's directory
      // again, all of it, batch after batch (an IMAP→IMAP first sync of 30,000 messages: 2× the
      // server CPU of a client appending on one session).
      const before = this.#client.mailbox || undefined;
      const selected = await this.#run(path, () =>
        this.#withFolder(path, name, async () => {
          // Only a SELECT sent now says what UIDNEXT is: imapflow sends none for a folder it has
          // selected already under the name it normalizes ours to (a namespace prefix), and its
          // mailbox object then holds the UIDNEXT of an older SELECT. A SELECT makes a new one.
          const mailbox = this.#client.mailbox || undefined;
          if (!mailbox || mailbox === before || mailbox.uidValidity === undefined) return undefined;
          return { epoch: String(mailbox.uidValidity), uidNext: Number(mailbox.uidNext ?? 1) };
        }),
      );
      start = selected ?? (await this.#statusStart(path, name));
    } else start = await this.#statusStart(path, name);
    const epoch = start.epoch;
    const listed = this.#epochs.get(name);
    // Ids are returned: a batch for a folder whose epoch moved since its listing must not start.
    if (listed !== undefined && listed !== epoch) throw epochChanged(path, listed, epoch);
    const batch: AppendBatch = {
      uidNext: start.uidNext,
      epoch,
      uidplus: this.#client.capabilities.has('UIDPLUS'),
      claimed: new Set(),
      unclean: false,
    };
    const client = this.#client;
    const limit = client.capabilities.get('APPENDLIMIT');
    const chunks =
      client.capabilities.has('MULTIAPPEND') && !this.#multiAppendRefused
        ? appendChunks(
            messages.map((m) => m.body.byteLength),
            // Over APPENDLIMIT: imapflow's APPEND refuses it without sending, as that message's outcome.
            (i) => typeof limit === 'number' && messages[i]!.body.byteLength > limit,
          )
        : messages.map((_, i) => [i]);
    const outcomes: WriteOutcome[] = [];
    for (const chunk of chunks) {
      const first = chunk[0]!;
      try {
        if (chunk.length === 1) {
          outcomes.push(
            await this.#appendOne(
              path,
              name,
              messages[first]!,
              describeInBatch(messages[first]!, first),
              batch,
            ),
          );
        } else {
          outcomes.push(...(await this.#appendMany(path, name, messages, chunk, batch)));
        }
      } catch (err) {
        // The store went away mid-batch (cannot reconnect, stalled, interrupted): the messages confirmed
        // so far are still reported, so they are recorded; these and the rest are not confirmed, and
        // one that was stored after all is paired by content next time.
        const code = (err as { code?: unknown }).code;
        // The folder was made again under its name before anything of the batch was confirmed (with
        // an append cursor, found only when the session that had it selected was cut): the batch is
        // refused as a whole, as a STATUS before it would have refused it.
        if (code === 'EPOCH_CHANGED' && outcomes.length === 0) throw err;
        for (const [rest, unsent] of messages.slice(first).entries()) {
          outcomes.push({
            ok: false,
            code: typeof code === 'string' ? code : 'APPEND_UNCONFIRMED',
            message: `${capitalize(describeInBatch(unsent, first + rest))} was not confirmed in ${displayFolder(path)}: ${(err as Error).message}`,
          });
        }
        break;
      }
    }
    this.#keepAppendCursor(name, client, batch, outcomes);
    return outcomes;
  }

  /**
   * The folder's {@link AppendCursor} if it still holds: same session, the folder selected there under
   * the cursor's UIDVALIDITY (the session's own view of it, as a STATUS on that session would answer).
   */
  #appendCursor(name: string): AppendCursor | undefined {
    const cursor = this.#appendCursors.get(name);
    const client = this.#client;
    if (!cursor || cursor.client !== client || !this.#session.usable) return undefined;
    const mailbox = client.mailbox;
    if (!mailbox || mailbox.path !== name || String(mailbox.uidValidity) !== cursor.epoch) return undefined;
    return cursor;
  }

  /** Where an append batch starts, from STATUS (after a NOOP when the folder is selected here). */
  async #statusStart(path: FolderPath, name: string): Promise<{ epoch: string; uidNext: number }> {
    const status = await this.#run(path, () => this.#status(path, name));
    return { epoch: String(status.uidValidity), uidNext: status.uidNext ?? 1 };
  }

  /** Keeps the cursor after a batch every message of which the server confirmed by APPENDUID. */
  #keepAppendCursor(name: string, client: ImapFlow, batch: AppendBatch, outcomes: WriteOutcome[]): void {
    if (!batch.uidplus || batch.unclean || client !== this.#client || !this.#session.usable) return;
    if (outcomes.some((o) => !o.ok)) return;
    let uidNext = batch.uidNext;
    for (const uid of batch.claimed) if (uid >= uidNext) uidNext = uid + 1;
    this.#appendCursors.set(name, { client, epoch: batch.epoch, uidNext });
  }

  /** The messages of `messages` at `indices` (two or more, in order) in one MULTIAPPEND. */
  async #appendMany(
    path: FolderPath,
    name: string,
    messages: readonly MessageContent[],
    indices: readonly number[],
    batch: AppendBatch,
  ): Promise<WriteOutcome[]> {
    const folder = displayFolder(path);
    const chosen = indices.map((i) => messages[i]!);
    const label = (k: number) => describeInBatch(chosen[k]!, indices[k]!);
    const bodies = chosen.map((m) => m.body);
    await this.#session.ready();
    const client = this.#client;
    let answer: MultiAppendAnswer;
    try {
      answer = await multiAppend(
        client,
        wireName(isInbox(path) ? ['INBOX'] : path, this.#delimiter, namesAreUtf8(client)),
        chosen.map((m) => ({ body: m.body, flags: appendFlags(m), internalDate: m.internalDate })),
      );
    } catch (err) {
      if (err instanceof MultiAppendRefused) {
        if (err.responseStatus === 'BAD') this.#multiAppendRefused = true;
        if (err.serverResponseCode === 'TRYCREATE')
          return chosen.map((_, k) => refused(folder, label(k), err));
        // None was stored (RFC 3502), unless the server breaks that promise: what it kept is found
        // first, and the rest goes one message per APPEND, each with its own answer.
        const found = await this.#findAppended(path, name, bodies, batch);
        const outcomes: WriteOutcome[] = [];
        for (const [k, uid] of found.entries()) {
          outcomes.push(
            uid !== undefined
              ? { ok: true, id: String(uid) }
              : await this.#appendOne(path, name, chosen[k]!, label(k), batch),
          );
        }
        return outcomes;
      }
      if (this.#session.interrupted) throw interruptedError();
      const stalled = stalledCommand(client);
      if (stalled) throw stallError(this.#account, path, stalled);
      if (!isConnectionLoss(err, this.#session.usable)) throw err;
      // The server may have stored all of them or none: look, on a new session, rather than send again.
      await this.#session.reopen();
      const found = await this.#findAppended(path, name, bodies, batch);
      return found.map((uid, k) =>
        uid !== undefined
          ? { ok: true, id: String(uid) }
          : {
              ok: false,
              code: 'APPEND_UNCONFIRMED',
              message: `The connection dropped while appending ${label(k)} to ${folder}, and the message is not there. It was not sent again; the next sync appends it.`,
            },
      );
    }
    if (batch.uidplus && answer.uids && answer.uidValidity !== undefined) {
      if (answer.uidValidity !== batch.epoch) {
        return chosen.map((_, k) => ({
          ok: false,
          code: 'EPOCH_CHANGED',
          message: `The UIDVALIDITY of ${folder} changed during the sync; ${label(k)} was stored and is paired by content next time.`,
        }));
      }
      for (const uid of answer.uids) batch.claimed.add(uid);
      return answer.uids.map((uid) => ({ ok: true, id: String(uid) }));
    }
    // No APPENDUID that names every message (or a server that does not advertise UIDPLUS).
    const found = await this.#findAppended(path, name, bodies, batch);
    return found.map((uid, k) =>
      uid !== undefined
        ? { ok: true, id: String(uid) }
        : {
            ok: false,
            code: 'UID_UNKNOWN',
            message: `${capitalize(label(k))} was stored in ${folder}, but the server did not say its UID and it could not be told apart from other new messages; it is paired by content next time.`,
          },
    );
  }

  async #appendOne(
    path: FolderPath,
    name: string,
    message: MessageContent,
    label: string,
    batch: AppendBatch,
  ): Promise<WriteOutcome> {
    const folder = displayFolder(path);
    const flags = appendFlags(message);
    const date = message.internalDate === undefined ? undefined : new Date(message.internalDate);
    const bytes = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    let result: Awaited<ReturnType<ImapFlow['append']>>;
    await this.#session.ready();
    const client = this.#client;
    try {
      result = await client.append(name, bytes, flags, date);
    } catch (err) {
      if (serverAnswered(err) || (err as { serverResponseCode?: string }).serverResponseCode) {
        return refused(folder, label, err);
      }
      if (this.#session.interrupted) throw interruptedError();
      const stalled = stalledCommand(client);
      if (stalled) throw stallError(this.#account, path, stalled);
      if (!isConnectionLoss(err, this.#session.usable)) throw err;
      // The server may or may not have stored it: look, on a new session, rather than send it again.
      await this.#session.reopen();
      const [uid] = await this.#findAppended(path, name, [message.body], batch);
      if (uid !== undefined) return { ok: true, id: String(uid) };
      return {
        ok: false,
        code: 'APPEND_UNCONFIRMED',
        message: `The connection dropped while appending ${label} to ${folder}, and the message is not there. It was not sent again; the next sync appends it.`,
      };
    }
    if (result === false) {
      return {
        ok: false,
        code: 'APPEND_UNCONFIRMED',
        message: `The session was not ready to append ${label} to ${folder}; it was not sent, and the next sync appends it.`,
      };
    }
    if (batch.uidplus && result.uid && result.uidValidity !== undefined) {
      if (String(result.uidValidity) !== batch.epoch) {
        return {
          ok: false,
          code: 'EPOCH_CHANGED',
          message: `The UIDVALIDITY of ${folder} changed during the sync; ${label} was stored and is paired by content next time.`,
        };
      }
      batch.claimed.add(result.uid);
      return { ok: true, id: String(result.uid) };
    }
    // No APPENDUID (or a server that does not advertise UIDPLUS, whose answer we do not rely on).
    const [uid] = await this.#findAppended(path, name, [message.body], batch);
    if (uid !== undefined) return { ok: true, id: String(uid) };
    return {
      ok: false,
      code: 'UID_UNKNOWN',
      message: `${capitalize(label)} was stored in ${folder}, but the server did not say its UID and it could not be told apart from other new messages; it is paired by content next time.`,
    };
  }

  /**
   * The UIDs of messages this batch appended (one APPEND's worth, in the order sent), found by content
   * with one FETCH: among UIDs from the batch's UIDNEXT not yet claimed by the batch, the ones whose
   * RFC822.SIZE and Message-ID match. The messages sharing a size and Message-ID get the matching UIDs
   * in ascending order only when there are exactly as many of those as of them (a server gives the
   * messages of one APPEND ascending UIDs in the order sent); otherwise each of them gets undefined, so
   * a guess never becomes an id.
   */
  async #findAppended(
    path: FolderPath,
    name: string,
    bodies: readonly Uint8Array[],
    batch: AppendBatch,
  ): Promise<(number | undefined)[]> {
    batch.unclean = true;
    const keyOf = (size: number, messageId: string | null) => `${size} ${messageId ?? ''}`;
    const keys = bodies.map((b) => keyOf(b.byteLength, messageIdFromHeaders(headerBlock(b))));
    const wanted = new Set(keys);
    const matches = await this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        const mailbox = this.#client.mailbox;
        const found = new Map<string, number[]>();
        if (!mailbox || String(mailbox.uidValidity) !== batch.epoch) return found;
        const query = { uid: true, size: true, headers: ['message-id'] };
        // `n:*` also names the highest UID when it is below n, hence the check of each UID.
        for await (const msg of this.#client.fetch(`${batch.uidNext}:*`, query, { uid: true })) {
          if (msg.uid < batch.uidNext || batch.claimed.has(msg.uid)) continue;
          const key = keyOf(msg.size ?? -1, messageIdFromHeaders(msg.headers));
          if (!wanted.has(key)) continue;
          const uids = found.get(key) ?? [];
          uids.push(msg.uid);
          found.set(key, uids);
        }
        return found;
      }),
    );
    const sent = new Map<string, number>();
    for (const key of keys) sent.set(key, (sent.get(key) ?? 0) + 1);
    for (const uids of matches.values()) uids.sort((a, b) => a - b);
    const taken = new Map<string, number>();
    return keys.map((key) => {
      const uids = matches.get(key) ?? [];
      if (uids.length !== sent.get(key)) return undefined;
      const n = taken.get(key) ?? 0;
      taken.set(key, n + 1);
      const uid = uids[n]!;
      batch.claimed.add(uid);
      return uid;
    });
  }

  async setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]> {
    const name = this.#key(path);
    // A flag delta leaves the rest of a message's flags as they were, which the log does not know.
    if (name !== undefined && updates.length > 0) this.#writes.unsure(name);
    return this.#on(name, () => this.#setFlags(path, updates));
  }

  /** {@link setFlags} on the call's session. */
  async #setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]> {
    this.#writable('change flags in', path);
    if (updates.length === 0) return [];
    const name = this.#name(path);
    // Flag deltas are idempotent, so the whole call may run again after a reconnect.
    return this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        const candidates = [...new Set(updates.map((u) => u.id))].filter(isUid);
        const present = new Set(
          candidates.length === 0
            ? []
            : ((await this.#client.search({ uid: uidSet(candidates) }, { uid: true })) || []).map(String),
        );
        // One STORE per distinct delta, over all the UIDs that share it: few round trips for many messages.
        const groups = new Map<string, { add: string[]; remove: string[]; ids: string[] }>();
        const outcomes = new Map<string, FlagOutcome>();
        for (const u of updates) {
          if (!present.has(u.id)) {
            outcomes.set(u.id, {
              id: u.id,
              ok: false,
              gone: true,
              message: `Message ${u.id} is no longer in ${displayFolder(path)}.`,
            });
            continue;
          }
          const add = normalizeFlags(u.add);
          const remove = normalizeFlags(u.remove);
          const key = `${add.join(' ')}|${remove.join(' ')}`;
          const group = groups.get(key) ?? { add, remove, ids: [] };
          group.ids.push(u.id);
          groups.set(key, group);
        }
        for (const group of groups.values()) {
          try {
            if (group.add.length)
              await this.#client.messageFlagsAdd(uidSet(group.ids), group.add, { uid: true, silent: true });
            if (group.remove.length) {
              await this.#client.messageFlagsRemove(uidSet(group.ids), group.remove, {
                uid: true,
                silent: true,
              });
            }
            for (const id of group.ids) outcomes.set(id, { id, ok: true });
          } catch (err) {
            if (!serverAnswered(err)) throw err;
            for (const id of group.ids) {
              outcomes.set(id, {
                id,
                ok: false,
                gone: false,
                message: `The server refused to change the flags of message ${id} in ${displayFolder(path)}: ${serverText(err)}`,
              });
            }
          }
        }
        return updates.map((u) => outcomes.get(u.id)!);
      }),
    );
  }

  async deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void> {
    const name = this.#key(path);
    await this.#logged(name, () => this.#deleteMessages(path, ids));
    if (name !== undefined) this.#writes.removed(name, ids.filter(isUid).map(Number));
  }

  /** {@link deleteMessages} on the call's session. */
  async #deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void> {
    this.#writable('delete messages in', path);
    const wanted = [...new Set(ids)].filter(isUid);
    if (wanted.length === 0) return;
    const name = this.#name(path);
    await this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        const done = await this.#expungeExactly(uidSet(wanted));
        if (!done) {
          if (!this.#session.usable) throw connectionError(path, new Error('the connection closed'));
          throw new FolderError(
            `The server refused to delete messages ${uidSet(wanted)} in ${displayFolder(path)} (STORE \\Deleted or EXPUNGE failed).`,
            { code: 'DELETE_REFUSED' },
          );
        }
      }),
    );
  }

  /**
   * See {@link Driver.moveMessages}. Selects `from` (checking its UIDVALIDITY), checks `to` (STATUS:
   * it must exist, and its UIDVALIDITY be the one last listed), asks which of the UIDs `from` still
   * holds (UID SEARCH: the others are `gone`), and moves those with one `UID MOVE` (RFC 6851).
   * Without MOVE: `UID COPY`, then `\Deleted` and `UID EXPUNGE` of exactly those UIDs; a server
   * without UIDPLUS either has only a plain EXPUNGE, so the `\Deleted` mark of any other message of
   * `from` is taken off for the EXPUNGE and put back after it (a connection cut in between leaves
   * those messages unmarked, never expunged). `newId` comes from the COPYUID answer of a server that
   * advertises UIDPLUS, when its UIDVALIDITY is the one STATUS gave; else it is absent. Leaves `from`
   * selected.
   *
   * The checks are repeated on a new session after a dropped connection; the move itself is not (a
   * second COPY would make a second copy): a connection lost during it rejects with a
   * `CONNECTION_LOST` {@link FolderError}, and the messages may be in either folder, or in both.
   */
  async moveMessages(from: FolderPath, to: FolderPath, ids: readonly string[]): Promise<MoveOutcome[]> {
    const fromName = this.#key(from);
    const toName = this.#key(to);
    // The moved messages arrive with flags the log does not know.
    if (toName !== undefined) this.#writes.unsure(toName);
    const outcomes = await this.#logged(fromName, () => this.#moveMessages(from, to, ids));
    if (fromName !== undefined) {
      this.#writes.removed(
        fromName,
        outcomes.flatMap((o) => (o.ok ? [Number(o.id)] : [])),
      );
    }
    return outcomes;
  }

  /** {@link moveMessages} on the call's session. */
  async #moveMessages(from: FolderPath, to: FolderPath, ids: readonly string[]): Promise<MoveOutcome[]> {
    this.#writable('move messages out of', from);
    this.#writable('move messages into', to);
    const fromName = this.#name(from);
    const toName = this.#name(to);
    // The moved messages get UIDs from the cursor up, unconfirmed by an APPENDUID of ours.
    this.#appendCursors.delete(toName);
    if (fromName === toName) {
      throw new FolderError(`Cannot move messages of ${displayFolder(from)} into the same folder.`, {
        code: 'FOLDER_BAD',
      });
    }
    if (ids.length === 0) return [];
    const wanted = [...new Set(ids)].filter(isUid);
    // `from` is selected first: Dovecot answers STATUS of a selected folder from the session's view,
    // which keeps the UIDVALIDITY of a folder another client deleted and made again meanwhile.
    const { present, epoch } = await this.#run(from, () =>
      this.#withFolder(from, fromName, async () => {
        const target = await this.#status(to, toName);
        const epoch = String(target.uidValidity);
        const listed = this.#epochs.get(toName);
        if (listed !== undefined && listed !== epoch) throw epochChanged(to, listed, epoch);
        const present =
          wanted.length === 0
            ? []
            : ((await this.#client.search({ uid: uidSet(wanted) }, { uid: true })) || []).map(String);
        return { present, epoch };
      }),
    );
    const moved =
      present.length === 0 ? undefined : await this.#moveOnce(from, fromName, to, toName, present);
    const newIds =
      moved?.uidValidity !== undefined && String(moved.uidValidity) === epoch ? moved.uidMap : undefined;
    const found = new Set(present);
    return ids.map((id): MoveOutcome => {
      if (!found.has(id)) {
        return {
          id,
          ok: false,
          gone: true,
          message: `Message ${id} is no longer in ${displayFolder(from)}.`,
        };
      }
      const newId = newIds?.get(Number(id));
      return newId === undefined ? { id, ok: true } : { id, ok: true, newId: String(newId) };
    });
  }

  /**
   * The move of `uids` (all present in `from` a moment ago), run once: see {@link moveMessages}.
   * Returns the COPYUID answer, only from a server that advertises UIDPLUS.
   */
  async #moveOnce(
    from: FolderPath,
    fromName: string,
    to: FolderPath,
    toName: string,
    uids: readonly string[],
  ): Promise<{ uidValidity?: bigint; uidMap?: Map<number, number> } | undefined> {
    await this.#session.ready();
    const client = this.#client;
    const set = uidSet(uids);
    const where = `messages ${set} from ${displayFolder(from)} to ${displayFolder(to)}`;
    try {
      const answer = await this.#withFolder(from, fromName, async () => {
        if (client.capabilities.has('MOVE')) {
          const moved = await client.messageMove(set, toName, { uid: true });
          if (moved === false) throw this.#refusedMove(where, 'UID MOVE', false);
          return moved;
        }
        const copied = await client.messageCopy(set, toName, { uid: true });
        if (copied === false) throw this.#refusedMove(where, 'UID COPY', false);
        if (!(await this.#expungeExactly(set)))
          throw this.#refusedMove(where, 'the EXPUNGE after UID COPY', true);
        return copied;
      });
      return client.capabilities.has('UIDPLUS') ? answer : undefined;
    } catch (err) {
      if (err instanceof FolderError) throw err;
      if (this.#session.interrupted) throw interruptedError();
      const stalled = stalledCommand(client);
      if (stalled) throw stallError(this.#account, from, stalled);
      if (err instanceof StalledError) throw stallError(this.#account, from, err.command);
      if (!isConnectionLoss(err, this.#session.usable && this.#client === client)) throw err;
      throw new FolderError(
        `The IMAP connection dropped while moving ${where} (${(err as Error).message}); the move may have happened in part or in whole${client.capabilities.has('MOVE') ? '' : ', and a message may now be in both folders'}. It was not sent again: the next sync lists both folders and finds the messages where they are.`,
        { code: 'CONNECTION_LOST', cause: err },
      );
    }
  }

  /**
   * `\Deleted` and EXPUNGE of exactly `set` in the selected folder. With UIDPLUS that is UID EXPUNGE.
   * Without it EXPUNGE removes every `\Deleted` message, so the mark of the others (another client's,
   * waiting for its own EXPUNGE) is taken off first and put back after; what a cut in between leaves
   * is a message unmarked, not one lost. False when the server refused a step.
   */
  async #expungeExactly(set: string): Promise<boolean> {
    const client = this.#client;
    const store = { uid: true, silent: true };
    // Dovecot answers a command on the selected folder from the session's view, which takes in other
    // sessions' changes only when it syncs (NOOP does). Without it, a UID this session has not seen
    // yet (a message another of the driver's sessions moved here) is not deleted, yet the command
    // succeeds, so the deletion would be reported done; and without UIDPLUS, a \Deleted mark set since
    // by another client goes unseen, and EXPUNGE takes its message.
    await client.noop();
    if (client.capabilities.has('UIDPLUS')) return (await client.messageDelete(set, store)) === true;
    const ours = new Set(expandUidSet(set));
    const marked = await client.search({ deleted: true }, { uid: true });
    if (!marked) return false;
    const others = marked.filter((uid) => !ours.has(uid));
    if (others.length > 0 && !(await client.messageFlagsRemove(uidSet(others), ['\\Deleted'], store))) {
      return false;
    }
    try {
      return (await client.messageDelete(set, store)) === true;
    } finally {
      if (others.length > 0 && this.#session.usable) {
        await client.messageFlagsAdd(uidSet(others), ['\\Deleted'], store);
      }
    }
  }

  /** A move the server refused (NO or BAD): what is where, and what to do. */
  #refusedMove(where: string, command: string, copied: boolean): Error {
    if (!this.#session.usable) return new Error(`the connection closed during ${command}`);
    return new FolderError(
      `The server refused ${command} of ${where}${copied ? ': the messages were copied and are now in both folders; the next sync finds them in both' : '; nothing was moved'}. Check the folders' permissions and quota on the server.`,
      { code: 'MOVE_REFUSED' },
    );
  }

  async close(): Promise<void> {
    await this.#watch.unwatch();
    await this.#pool.close();
  }
}

/** imapflow's internal command runner: its CLOSE takes `unselect`, which sends UNSELECT. */
type ImapRun = { run(command: 'CLOSE', options: { unselect: boolean }): Promise<unknown> };

/**
 * Leaves the selected folder. UNSELECT never expunges; without it, EXAMINE INBOX deselects just as
 * safely (CLOSE would expunge).
 */
async function leaveSelected(client: ImapFlow): Promise<void> {
  if (client.capabilities.has('UNSELECT')) {
    await (client as unknown as ImapRun).run('CLOSE', { unselect: true });
  } else {
    await client.mailboxOpen('INBOX', { readOnly: true });
  }
}

/** Whether `path` is strictly below `parent`. */
function isBelow(path: FolderPath, parent: FolderPath): boolean {
  return path.length > parent.length && parent.every((level, i) => path[i] === level);
}

/** The UIDs of a set made by {@link uidSet} (`1:3,7`). */
function expandUidSet(set: string): number[] {
  const uids: number[] = [];
  for (const part of set.split(',')) {
    const [first, last = first] = part.split(':').map(Number) as [number, number?];
    for (let uid = first; uid <= last!; uid++) uids.push(uid);
  }
  return uids;
}

/** Whether `client` sends and reads names as UTF-8 (see the driver's `#utf8Names`). */
function namesAreUtf8(client: ImapFlow): boolean {
  return (
    client.enabled.has('UTF8=ACCEPT') ||
    client.enabled.has('IMAP4REV2') ||
    (client.capabilities.has('IMAP4rev2') && !client.capabilities.has('IMAP4rev1'))
  );
}

/** Who a driver talks to, for error messages: never a secret. */
interface AccountLabel {
  user: string;
  server: string;
  timeoutMs: number;
}

function labelOf(options: ImapDriverOptions): AccountLabel {
  const port = options.port ?? ((options.tls ?? 'implicit') === 'implicit' ? 993 : 143);
  return {
    user: options.user,
    server: `${options.host}:${port}`,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}

/** A server that went silent: the account's sync ends (retrying would wait as long again), saying where. */
function stallError(
  account: AccountLabel,
  path: FolderPath,
  command: string,
  where = path.length === 0 ? '' : ` while working on ${displayFolder(path)}`,
): StoreError {
  return new StoreError(
    `The IMAP server ${account.server} (account ${account.user}) did not answer ${command} within ${account.timeoutMs / 1000} s${where}, so the connection was given up. ` +
      "Check the server; if it is only slow, raise the account's timeout.",
    { code: 'SERVER_STALLED' },
  );
}

/** A connection that dropped again and again on one folder: that folder fails, the others go on. */
function dropError(path: FolderPath, err: unknown): SyncError {
  if (path.length === 0) return connectionError(path, err);
  return new FolderError(
    `The IMAP connection dropped ${RETRIES_AFTER_DROP + 1} times in a row while working on ${displayFolder(path)} (${(err as Error).message}). The folder is skipped and synced next time; the other folders go on.`,
    { code: 'CONNECTION_LOST', cause: err },
  );
}

/** A few of many values, for a message that must stay short. */
function summarize(values: readonly string[]): string {
  const shown = values.slice(0, 3).map((v) => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v));
  return values.length > 3 ? `${shown.join(', ')} and ${values.length - 3} more` : shown.join(', ');
}

/** Opens one session, with its failures as store errors that say what to do. */
async function openSession(options: ImapAccountOptions, account: AccountLabel): Promise<ImapFlow> {
  try {
    return await openImap(options);
  } catch (err) {
    if (err instanceof StalledError) throw stallError(account, [], err.command, ' while connecting');
    if (err instanceof StoreError || (err as { code?: string }).code === 'INSECURE_TRANSPORT') throw err;
    if ((err as { code?: string }).code === 'CERT_PIN_MISMATCH') {
      throw new StoreError(`Cannot open the IMAP account ${options.user}: ${(err as Error).message}`, {
        code: 'CERT_PIN_MISMATCH',
        cause: err,
      });
    }
    const authFailed = (err as { authenticationFailed?: boolean }).authenticationFailed === true;
    const reason = authFailed ? 'the server refused the login' : (err as Error).message;
    throw new StoreError(`Cannot open the IMAP account ${options.user} at ${options.host}: ${reason}.`, {
      code: authFailed ? 'AUTH_FAILED' : 'CONNECT_FAILED',
      cause: err,
    });
  }
}

function epochChanged(path: FolderPath, listed: string, now: string | undefined): FolderError {
  return new FolderError(
    `The UIDVALIDITY of ${displayFolder(path)} changed (${listed} became ${now}) since it was listed; ` +
      'the folder is skipped and paired again by content on the next sync.',
    { code: 'EPOCH_CHANGED' },
  );
}

/** An append the server refused, as the outcome of that message only. */
function refused(folder: string, label: string, err: unknown): WriteOutcome {
  const responseCode = ((err as { serverResponseCode?: string }).serverResponseCode ?? '').toUpperCase();
  const code =
    responseCode === 'OVERQUOTA' || /quota/i.test(serverText(err))
      ? 'OVER_QUOTA'
      : responseCode === 'TRYCREATE'
        ? 'FOLDER_GONE'
        : responseCode === 'APPENDLIMIT' || responseCode === 'TOOBIG'
          ? 'MESSAGE_TOO_BIG'
          : 'APPEND_REFUSED';
  return {
    ok: false,
    code,
    message: `The server refused ${label} for ${folder}: ${serverText(err)}`,
  };
}

/** The flags a message is appended with: its own, normalised, without `\Recent` (no client may set it). */
function appendFlags(message: MessageContent): string[] {
  return normalizeFlags(message.flags).filter((f) => f !== '\\Recent');
}

/** "message 3 of the batch (Message-ID <x@y>)": enough to find it, nothing of its content. */
function describeInBatch(message: MessageContent, index: number): string {
  const id = messageIdFromHeaders(headerBlock(message.body));
  return `message ${index + 1} of the batch (${id ? `Message-ID ${id}` : 'no Message-ID'}, ${message.body.byteLength} bytes)`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The header block of a raw message (up to the first empty line), or all of it if there is none. */
function headerBlock(body: Uint8Array): Uint8Array {
  for (let i = 0; i + 3 < body.length; i++) {
    if (body[i] === 13 && body[i + 1] === 10 && body[i + 2] === 13 && body[i + 3] === 10) {
      return body.subarray(0, i + 2);
    }
  }
  return body;
}

/**
 * The bytes as a Uint8Array of their own: a large message already has its own memory and is not
 * copied; a small one may sit in Node's shared Buffer pool, which a worker transfer would copy whole.
 */
function ownBytes(source: Buffer): Uint8Array {
  if (source.byteOffset === 0 && source.byteLength === source.buffer.byteLength) {
    return new Uint8Array(source.buffer, 0, source.byteLength);
  }
  return new Uint8Array(source);
}

/** A fetched message as the driver contract hands it out: own bytes, normalised flags, the date in ms. */
function contentOf(msg: FetchedRow): MessageContent {
  const content: MessageContent = { body: ownBytes(msg.source), flags: normalizeFlags(msg.flags ?? []) };
  const date = msOf(msg.internalDate);
  if (date !== undefined) content.internalDate = date;
  return content;
}

/** A listed message from a FETCH of UID, FLAGS, RFC822.SIZE and, when asked, INTERNALDATE. */
function listedOf(
  uid: number,
  msg: {
    flags?: Set<string>;
    size?: number;
    internalDate?: Date | string;
  },
): ListedMessage {
  const listed: ListedMessage = {
    id: String(uid),
    flags: normalizeFlags(msg.flags ?? []),
    size: msg.size ?? 0,
  };
  const date = msOf(msg.internalDate);
  if (date !== undefined) listed.date = date;
  return listed;
}

/** What a listing asks of every message (fetch-rows.ts reads the answer). */
function listingItems(dates: boolean): Attribute[] {
  return [item('UID'), item('FLAGS'), item('RFC822.SIZE'), ...(dates ? [item('INTERNALDATE')] : [])];
}

/** An INTERNALDATE as ms since the epoch; undefined for none, or for one the server garbled. */
function msOf(value: Date | string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = (value instanceof Date ? value : new Date(value)).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}
