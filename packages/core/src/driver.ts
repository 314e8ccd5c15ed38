import type { FlagList } from './flags.js';
import type { FolderPath, ListedFolder, RefusedFolder } from './folders.js';
import type { ListedMessage } from './model.js';
import type { ChangeWatch } from './watch.js';

/**
 * A folder's change marker: cheap to read, and equal to the one recorded at the last sync only if
 * nothing in the folder changed since (IMAP: UIDVALIDITY and HIGHESTMODSEQ; Maildir: the mtimes of
 * `new/` and `cur/`).
 */
export interface FolderMarker {
  /**
   * Message ids are valid only within one epoch (IMAP: UIDVALIDITY). When it changes, every id the
   * state holds for this side of the folder is void, and messages must be paired again by content.
   */
  epoch: string;
  /** Opaque to everyone but the driver that made it. */
  value: string;
}

/** What the engine asks of a listing, said up front so a driver fetches only that. */
export interface ListRequest {
  /**
   * The marker recorded at the last complete sync of this folder, if any. A driver that can answers
   * `unchanged` when nothing changed, or a `delta` against it; any driver may always answer `full`.
   */
  since?: FolderMarker | undefined;
  /**
   * Give each listed message its arrival time (`date`). Asked only when a policy needs it (a maximum
   * message age), since a store may pay for it: a Maildir reads it from each file's mtime.
   */
  dates?: boolean | undefined;
}

/**
 * What {@link Driver.describeMessages} may leave out. Without it, every message is described whole.
 */
export interface DescribeRequest {
  /**
   * Only messages of these sizes (CRLF) need their Message-ID: a driver that knows a message's size
   * without reading it may describe any other by its flags and size alone, `messageId` left out, from
   * what it knows (without looking whether the message is still there). Move detection passes the
   * sizes a moved message could have, since a move keeps the size: the messages that left a folder
   * are then read only where one of that size arrived elsewhere.
   */
  sizes?: readonly number[] | undefined;
}

/**
 * Something wrong with one listed message that the user must hear about, though the message is still
 * listed and synced: flags the store gave in a form that could not be read as given, or keywords no
 * store can hold. The engine reports each as a message error of the folder (the sync exits non-zero).
 */
export interface MessageProblem {
  /** The message's id in the listing. */
  id: string;
  /** `FLAGS_UNREADABLE`, `KEYWORD_UNSTORABLE`, … */
  code: string;
  /** Names the folder and the message (by the store's own id: an IMAP UID, a Maildir file name). */
  message: string;
}

/**
 * A folder's messages, without bodies: ids, flags and sizes. Message-IDs are not required here;
 * {@link Driver.describeMessages} fetches them for the few messages that need a fingerprint.
 *
 * A listing holds every message the store holds: a message the store lists but the driver cannot make
 * sense of is listed all the same, with what could be read, and a {@link MessageProblem} says what
 * could not. Leaving it out would read as its deletion.
 */
export type Listing = (
  | { kind: 'unchanged'; marker: FolderMarker }
  | { kind: 'full'; marker: FolderMarker; messages: ListedMessage[] }
  | {
      kind: 'delta';
      marker: FolderMarker;
      /** Messages added or whose flags changed since `since`. */
      changed: ListedMessage[];
      /** Ids expunged since `since`. */
      vanished: string[];
    }
) & { problems?: MessageProblem[] };

/** A whole message, as read from a store or given to one. */
export interface MessageContent {
  /** The raw RFC 5322 message with CRLF line endings. */
  body: Uint8Array;
  flags: FlagList;
  /** Arrival time (IMAP INTERNALDATE, a Maildir file's mtime), ms since the epoch. */
  internalDate?: number;
}

/**
 * A message of a {@link Driver.readMessages} batch that exists but could not be read this time (the
 * connection kept dropping while it came, the store's answer for it could not be parsed). Plain data.
 */
export interface ReadFailure {
  failed: { code: string; message: string };
}

/** One entry of a batch read: the message, `null` if it vanished, or why it could not be read. */
export type ReadResult = MessageContent | null | ReadFailure;

/** True for the {@link ReadFailure} entries of a batch read. */
export function isReadFailure(entry: ReadResult | undefined): entry is ReadFailure {
  return entry !== null && entry !== undefined && 'failed' in entry;
}

/** The outcome for one message of a batch: its new id, or why this message (only) failed. */
export type WriteOutcome = { ok: true; id: string } | { ok: false; code: string; message: string };

/** A flag change, as a delta, so a concurrent change to another flag by another program survives. */
export interface FlagUpdate {
  id: string;
  add: readonly string[];
  remove: readonly string[];
}

/** What became of one message's flag change: done, or failed (`gone` when the message no longer exists). */
export type FlagOutcome =
  | { id: string; ok: true }
  | { id: string; ok: false; gone: boolean; message: string };

/**
 * What became of moving one message to another folder: its id there (where the store says it), or why
 * this message (only) was not moved (`gone` when it was no longer in the source folder).
 */
export type MoveOutcome =
  | { id: string; ok: true; newId?: string }
  | { id: string; ok: false; gone: boolean; message: string };

/** What a driver's store can hold, declared rather than guessed. */
export interface DriverCapabilities {
  /** The store keeps keywords (not only system flags). Without this, keywords never sync to it. */
  keywords: boolean;
}

/**
 * A store: an IMAP account, a Maildir tree, or the in-memory reference store of the tests. The engine
 * never names a protocol; everything it needs from a store is here.
 *
 * Contract, for every method:
 * - Plain data in and out: nothing returned keeps a link to the driver, so it can cross a worker port.
 * - A write resolves only once the store has made it durable; what it reports written is there after a
 *   crash. A write that rejects may still have happened (the connection dropped after the server
 *   acted): callers must be ready to find it on the next listing.
 * - Errors are {@link MessageError}, {@link FolderError} or {@link StoreError} by scope; per-message
 *   failures inside a batch are reported in its outcomes instead of rejecting the whole batch.
 * - Ids are valid within the epoch the driver's last listing of the folder reported. If the folder's
 *   epoch has changed since (UIDVALIDITY changed in mid-sync), every call that takes or returns ids of
 *   that folder rejects with a `EPOCH_CHANGED` {@link FolderError} rather than act on the wrong message.
 * - The engine never runs two calls on the same folder at once, with one exception: a folder's copies
 *   go both ways at the same time, so its bodies may be read (`readMessage`, `readMessages`) for the
 *   other side while `appendMessages` adds to it what came from there. Calls on different folders may
 *   overlap, folder creations, deletions and renames included. A driver that shares one session or one directory
 *   tree between folders keeps them from disturbing each other (the IMAP driver leaves a selected
 *   folder only under its lock; the Maildir driver changes its tree one change at a time).
 * - The store may be changed by other programs at any time. A message that vanished is reported as such
 *   (`gone`, `MESSAGE_GONE`), never as a success.
 * - Optionally, the store can be watched for changes ({@link ChangeWatch}: `watch`, `nextChange`,
 *   `unwatch`); a driver offers all three or none.
 */
export interface Driver extends Partial<ChangeWatch> {
  readonly capabilities: DriverCapabilities;

  /**
   * Every folder of the store, the inbox included. A name the driver cannot map to a path and back to
   * the same name is listed as a {@link RefusedFolder}, never left out and never read another way.
   */
  listFolders(): Promise<ListedFolder[]>;
  /**
   * Creates a folder and any missing parent; succeeds if it exists already. Afterwards the folder can
   * hold messages, even where it was only a name holding other folders (IMAP `\Noselect`) before.
   */
  createFolder(path: FolderPath): Promise<void>;
  /** Deletes a folder and what it holds; succeeds if it does not exist. Never asked of the inbox. */
  deleteFolder(path: FolderPath): Promise<void>;

  /** Lists a folder; see {@link ListRequest} for what may be left out. */
  listMessages(path: FolderPath, request: ListRequest): Promise<Listing>;
  /**
   * Size and Message-ID of the given messages, for pairing them by content. Ids that no longer exist are
   * left out of the answer. Size is of the message with CRLF line endings, whatever the store keeps.
   * `request` may say which Message-IDs are not needed ({@link DescribeRequest}); a driver may ignore it.
   */
  describeMessages(
    path: FolderPath,
    ids: readonly string[],
    request?: DescribeRequest,
  ): Promise<ListedMessage[]>;
  /** Reads one whole message; rejects with a `MESSAGE_GONE` {@link MessageError} if it vanished. */
  readMessage(path: FolderPath, id: string): Promise<MessageContent>;
  /**
   * Optional: reads several whole messages at once (IMAP: one FETCH instead of a round trip each).
   * One entry per id, in the same order; `null` for a message that vanished; a {@link ReadFailure} for
   * one that is there but could not be read now, so the messages that did arrive are still used.
   * Callers keep batches small (the engine's copy batch), since every body is held until the batch is
   * returned.
   */
  readMessages?(path: FolderPath, ids: readonly string[]): Promise<ReadResult[]>;
  /**
   * Optional: how many messages the store itself says the folder holds (IMAP: STATUS MESSAGES; a
   * Maildir: the files in `cur/` and `new/`), counted without the code path of {@link listMessages}.
   * A verifier compares it with the listing's length, so a message the listing failed to see shows up
   * as a gap rather than as nothing at all. Rejects like {@link listMessages} for a missing folder.
   */
  countMessages?(path: FolderPath): Promise<number>;

  /**
   * Optional: the marker to record for a folder whose sync is complete, in place of `marker`, the one
   * this driver's last listing of it gave. Called once the state holds every write this driver made to
   * the folder since that listing. A store whose marker moves with our own writes (a Maildir's mtimes)
   * would otherwise be listed in full, and compared with every pair, by the next sync after any sync
   * that wrote to it. The marker returned names the folder as that listing showed it plus those writes:
   * a later listing since it, in any process, answers `unchanged` only if the folder still holds exactly
   * that, and shows every other change made since the listing, whenever it was made. A driver that
   * cannot vouch for that (it did not make that listing, or saw another program's change meanwhile)
   * returns `marker`. Where it appended messages since the listing, it must look before it vouches:
   * a message another program stored there since the listing, before this call, makes it return
   * `marker`, since that message may be the twin of one of the copies (the controller then lists the
   * folder since `marker` to find it, and keeps the message once).
   */
  markerAfterWrites?(path: FolderPath, marker: FolderMarker): Promise<FolderMarker>;

  /** Stores new messages, in order; one outcome per message, in the same order. */
  appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]>;
  /** Applies flag deltas; one outcome per update. */
  setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]>;
  /** Removes messages for good (IMAP: `\Deleted` and UID EXPUNGE). Ids already gone are ignored. */
  deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void>;
  /**
   * Optional: moves messages into another folder of the same store as the store's own move, so no body
   * crosses the connection and the message keeps its body, flags and arrival time (and, on a server,
   * what other clients attached to it: EMAILID, labels). IMAP: UID MOVE (RFC 6851), or UID COPY then
   * UID EXPUNGE without it; a Maildir: a rename into the target folder. `to` must exist (a
   * `FOLDER_GONE` {@link FolderError} otherwise) and differ from `from`.
   *
   * One outcome per id, in order. `newId` is the message's id in `to` where the store says it (IMAP:
   * COPYUID, RFC 4315; a Maildir keeps the file's unique name), absent where it does not: the caller
   * then finds the message there by content. A message no longer in `from` is `gone`.
   *
   * Like every write, a move that rejects may have happened, in part or in whole; and a move without
   * MOVE cut between its copy and its expunge leaves the message in both folders. Callers must be ready
   * to find it in either folder, or in both, on the next listing.
   */
  moveMessages?(from: FolderPath, to: FolderPath, ids: readonly string[]): Promise<MoveOutcome[]>;

  /**
   * Optional: renames a folder with the store's own rename, every folder below it along (IMAP RENAME;
   * a directory rename on a Maildir), so no message crosses the connection and each keeps its body,
   * flags, arrival time and, where the store keeps them across a rename, its id and the folder's epoch
   * (a store that changes the epoch on a rename says so in the next listing, and the caller then pairs
   * the messages again by content).
   *
   * `from` must exist (a `FOLDER_GONE` {@link FolderError} otherwise) and `to` must not (a
   * `FOLDER_EXISTS` {@link FolderError}); missing parents of `to` are created. Neither is the inbox, and
   * `to` is not below `from` (a `FOLDER_RENAME_REFUSED` {@link FolderError}: on IMAP, renaming INBOX
   * moves its messages and leaves it in place). Like every write, a rename that rejects may have
   * happened: the caller must be ready to find the folder under either name.
   */
  renameFolder?(from: FolderPath, to: FolderPath): Promise<void>;

  /**
   * Optional: the sync is stopping (Ctrl-C, SIGTERM) and will not wait for the store. Ends any command
   * in flight at once (IMAP: closes the connection) and makes every later call reject with a
   * `INTERRUPTED` {@link StoreError}. A write in flight may or may not have happened, as after a
   * dropped connection. Only {@link close} may follow.
   */
  interrupt?(): void;

  /** Ends the session; pending writes are completed first. */
  close(): Promise<void>;
}
