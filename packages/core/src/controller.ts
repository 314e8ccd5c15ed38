import type {
  DescribeRequest,
  Driver,
  DriverCapabilities,
  FolderMarker,
  ListRequest,
  MessageContent,
  ReadResult,
} from './driver.js';
import type { FolderPath, ListedFolder } from './folders.js';
import type { ListedMessage, Side, SideChanges } from './model.js';
import type { CopyAction, DeleteAction, FlagAction, MoveAction } from './plan.js';
import type { FolderPairRecord, FolderPairRename, MessagePair } from './state.js';
import type { ChangeWatch } from './watch.js';

/** What became of one action; failures are per message and never stop the rest of a batch. */
export interface ActionOutcome {
  ok: boolean;
  /** The id the action was about (the source id, for a copy). */
  id: string;
  /** For a copy that succeeded: the new message's id on this side. */
  newId?: string;
  /** For a failure: a code (`MESSAGE_GONE`, …) and a message naming the folder and message. */
  code?: string;
  message?: string;
}

/** What the engine asks of {@link SideController.changes}. */
export interface ChangesOptions {
  /** Record nothing, not even the epoch of a folder listed for the first time. */
  dryRun?: boolean;
  /** List the whole folder whatever its marker says. */
  full?: boolean;
  /** Ask the store for each listed message's arrival time (a policy's maximum age needs it). */
  dates?: boolean;
}

/** One message to copy: the plan's action and the content read from the other side. */
export interface CopyItem {
  action: CopyAction;
  content: MessageContent;
}

/**
 * One side of a pair, as the engine sees it: a driver and the shared state, behind plain-data calls,
 * so it can run in a worker. The engine never talks to a driver or to the state itself.
 *
 * Contract:
 * - `changes` reads the state and lists the store concurrently, and returns only what changed since the
 *   last complete sync of the folder (see {@link SideChanges}); new messages come as the store listed
 *   them, and the engine asks `describe` for their size and Message-ID only where it needs them.
 * - Every `apply*` call writes through the driver first and records in the state only what the driver
 *   confirmed. If recording fails after a write succeeded, the write is left in place and the message
 *   stays unpaired; the next sync pairs it again by content, so it is neither lost nor duplicated.
 * - `commit` records the folder's marker; the engine calls it only once every action of the folder
 *   succeeded, so a folder that was not fully synced is listed again next time.
 * - Folder-pair records live in the shared state; either side's controller may be asked for them.
 */
export interface SideController extends Partial<ChangeWatch> {
  readonly side: Side;
  capabilities(): Promise<DriverCapabilities>;

  /** As {@link Driver.listFolders}: refused names included. */
  listFolders(): Promise<ListedFolder[]>;
  createFolder(path: FolderPath): Promise<void>;
  deleteFolder(path: FolderPath): Promise<void>;

  folderPairs(): Promise<FolderPairRecord[]>;
  recordFolderPair(record: FolderPairRecord): Promise<void>;
  forgetFolderPair(key: string): Promise<void>;

  /**
   * Unless `dryRun`, the first listing of a folder records its epoch at once, before any pair is
   * recorded, so pairs are never trusted across an epoch change that happens before the first commit.
   * `full` lists the whole folder whatever its marker says; `dates` gives new messages their arrival
   * time (see {@link ListRequest.dates}).
   */
  changes(key: string, path: FolderPath, options?: ChangesOptions): Promise<SideChanges>;
  /**
   * Size, Message-ID and flags of the given messages; vanished ones are left out. `request` as for
   * {@link Driver.describeMessages}: which Message-IDs are not needed.
   */
  describe(path: FolderPath, ids: readonly string[], request?: DescribeRequest): Promise<ListedMessage[]>;
  /** Hashes of the bodies (CRLF) of the given messages, by id; vanished ones are left out. */
  hashes(path: FolderPath, ids: readonly string[]): Promise<Record<string, string>>;
  /**
   * Reads whole messages, for copying: one entry per id, `null` for a vanished one, a `ReadFailure` for
   * one that could not be read now (see {@link Driver.readMessages}).
   */
  read(path: FolderPath, ids: readonly string[]): Promise<ReadResult[]>;

  /**
   * Optional: the message pairs the state holds for folder pair `key` (read only). The engine uses it
   * to check a few of a renamed folder's messages rather than describe them all; without it, every
   * message of both folders is described.
   */
  pairs?(key: string): Promise<MessagePair[]>;
  /** State only: forget pairs by this side's ids, record pairs found by content or same change. */
  applyState(key: string, forget: readonly string[], record: readonly MessagePair[]): Promise<void>;
  applyFlags(key: string, path: FolderPath, actions: readonly FlagAction[]): Promise<ActionOutcome[]>;
  applyDeletes(key: string, path: FolderPath, actions: readonly DeleteAction[]): Promise<ActionOutcome[]>;
  applyCopies(key: string, path: FolderPath, items: readonly CopyItem[]): Promise<ActionOutcome[]>;
  /**
   * Optional: moves this side's halves of the actions' pairs from folder pair `fromKey` (this side's
   * `fromPath`) into `toKey` (`toPath`) with the store's own move ({@link Driver.moveMessages}), because
   * the user moved them so on the other side. Answers `null` when this side cannot move messages (its
   * driver has no `moveMessages`): the engine then copies and deletes as it would without moves. With
   * no actions it only answers that: `[]` or `null`.
   *
   * One outcome per action, by this side's id in `fromPath`. For each message the driver moved with a
   * new id, the pair is recorded in `toKey` (the other side's `id`, the new id, the old base flags)
   * before it is forgotten in `fromKey`, so a crash in between leaves it in both, and the next sync,
   * finding it gone from `fromKey` on both sides, forgets it there. A message moved without a new id
   * (a store that does not say it) is only forgotten in `fromKey`, and its outcome has no `newId`: the
   * engine then pairs the two by content on the next sync. A message no longer in `fromPath` fails with
   * `MESSAGE_GONE`; one moved but not recorded fails with `STATE_WRITE_FAILED`, as for copies.
   */
  applyMoves?(
    fromKey: string,
    fromPath: FolderPath,
    toKey: string,
    toPath: FolderPath,
    actions: readonly MoveAction[],
  ): Promise<ActionOutcome[] | null>;
  /**
   * Optional: renames folder `from` to `to` on this side with the store's own rename
   * ({@link Driver.renameFolder}, subfolders along), because the user renamed it so on the other side,
   * then files the state's folder pairs as `pairs` says (the renamed folder's and its subfolders', see
   * `StateBackend.renameFolderPairs`). Answers `false`, and does nothing, when this side cannot
   * rename (its driver has no `renameFolder`, or its state no `renameFolderPairs`): the engine then
   * copies and deletes as it would without renames. With an empty `from` it only answers that.
   *
   * The store is renamed first and the state follows: a crash in between leaves the folder renamed on
   * both stores and known to the state under its old name, which the next sync then finds missing on
   * both sides (it forgets the old pair) and new on both (it pairs the messages by content). Rejects
   * with the driver's error, or with a `STATE_WRITE_FAILED` folder error when the store was
   * renamed but the state could not record it.
   */
  renameFolder?(from: FolderPath, to: FolderPath, pairs: readonly FolderPairRename[]): Promise<boolean>;
  /**
   * Records a folder's marker once its sync is complete: `marker`, from this side's listing of it, or
   * the one its driver gives for it after this sync's writes ({@link Driver.markerAfterWrites}).
   */
  commit(key: string, marker: FolderMarker): Promise<void>;
  /**
   * Optional: the sync is stopping and will not wait; see {@link Driver.interrupt}. Calls in flight
   * reject soon after; nothing the side confirmed is undone.
   */
  interrupt?(): Promise<void>;
  // `watch`, `nextChange`, `unwatch` (optional, all or none): the driver's, passed through; see
  // ChangeWatch. Paths are the driver's, as for every other call.
}
