import type {
  DescribeRequest,
  Driver,
  DriverCapabilities,
  FlagOutcome,
  FlagUpdate,
  FolderMarker,
  Listing,
  ListRequest,
  MessageContent,
  MoveOutcome,
  WriteOutcome,
} from '../driver.js';
import { FolderError, MessageError, StoreError } from '../errors.js';
import { applyFlagDelta, normalizeFlags } from '../flags.js';
import {
  displayFolder,
  type FolderInfo,
  type FolderPath,
  folderKey,
  INBOX,
  isInbox,
  type ListedFolder,
  quoteName,
  type RefusedFolder,
} from '../folders.js';
import type { ListedMessage } from '../model.js';

/** One message as the in-memory "disk" holds it. Plain data. */
export interface MemoryMessage {
  /** A decimal integer, unique within the folder and its epoch, like an IMAP UID. */
  id: string;
  /** The raw message, exactly as it was given (normally CRLF). */
  body: Uint8Array;
  /** Always normalised ({@link normalizeFlags}), keywords included whatever the drivers can see. */
  flags: string[];
  /** Arrival time in ms since the epoch; absent when whoever added the message gave none. */
  internalDate?: number;
  /** The folder's modification counter when this message was added or last had its flags stored. */
  modseq: number;
}

/** One folder of the in-memory "disk". Plain data. */
export interface MemoryFolder {
  /** {@link folderKey} of `path`; the INBOX is always keyed `INBOX`. */
  key: string;
  path: string[];
  /** Ids are valid only within one epoch; a new one comes with {@link MemoryStore.resetEpoch} or a re-creation. */
  epoch: string;
  /** Raised by every write to the folder; never lowered, not even by a new epoch. */
  modseq: number;
  /** The integer the next new message's id is made from. */
  nextId: number;
  /**
   * The folder's identity (see `FolderInfo.id`): given at creation, kept by a rename, never given to
   * another folder of the store. Absent in data made before folders had one.
   */
  id?: string;
  /** In id order. */
  messages: MemoryMessage[];
  /** Ids removed in this epoch, with the modseq of their removal, so a delta listing can report them. */
  vanished: { id: string; modseq: number }[];
}

/** Everything a {@link MemoryStore} holds: plain, structured-cloneable data and nothing else. */
export interface MemoryStoreData {
  /** In no particular order. */
  folders: MemoryFolder[];
  /** Store-wide, so a folder deleted and made again never reuses an epoch its ids were valid in. */
  nextEpoch: number;
}

/**
 * The in-memory "disk" behind {@link MemoryDriver}: folders holding messages, with the bookkeeping a
 * real store keeps (an epoch per folder, a modification counter, the ids removed since any counter
 * value). The INBOX always exists.
 *
 * Tests use its methods directly to play the user or another program changing the store between or
 * during syncs; those changes are seen by every driver on this store, as on a real server. They throw a
 * {@link FolderError} (`FOLDER_GONE`) for a folder and a {@link MessageError} (`MESSAGE_GONE`) for an id
 * that does not exist, since a test that names one has a bug. Everything returned is a copy.
 *
 * The whole state is {@link MemoryStore.data}, plain data: `new MemoryStore(structuredClone(store.data))`
 * (or {@link MemoryStore.snapshot}) is an independent store in the same state, e.g. the disk as it was
 * when a simulated crash happened.
 */
export class MemoryStore {
  /**
   * The store's state. Read it freely; a test that changes it directly bypasses the modseq bookkeeping
   * the drivers' markers rely on, so prefer the methods.
   */
  readonly data: MemoryStoreData;

  /** An empty store holding only the INBOX, or a copy of `data` (which the new store does not share). */
  constructor(data?: MemoryStoreData) {
    this.data = data ? structuredClone(data) : { folders: [], nextEpoch: 1 };
    if (!findFolder(this.data, INBOX)) makeFolder(this.data, INBOX);
  }

  /**
   * Names the store lists that its driver refuses (see {@link RefusedFolder}), as a test sets them: a
   * real store's hostile folder names, which hold no messages the engine can reach.
   */
  refusedNames: string[] = [];

  /** A deep copy of {@link MemoryStore.data}, for `new MemoryStore(snapshot)` or a comparison. */
  snapshot(): MemoryStoreData {
    return structuredClone(this.data);
  }

  /** Every folder, the INBOX included, sorted by {@link folderKey}; each is selectable. */
  folders(): FolderInfo[] {
    return [...this.data.folders]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((f) => ({ path: [...f.path], selectable: true }));
  }

  /** Whether the folder exists (the INBOX in any spelling always does). */
  hasFolder(path: FolderPath): boolean {
    return findFolder(this.data, path) !== undefined;
  }

  /** Creates the folder and any missing parent, as the driver does; does nothing to existing ones. */
  createFolder(path: FolderPath): void {
    if (path.length === 0) throw new FolderError('A folder path needs at least one level.');
    for (let depth = 1; depth <= path.length; depth++) {
      const level = path.slice(0, depth);
      if (!findFolder(this.data, level)) makeFolder(this.data, level);
    }
  }

  /**
   * Deletes the folder and its messages; its subfolders stay, as in a Maildir++ or on most IMAP
   * servers. Does nothing if it does not exist. The INBOX cannot be deleted.
   */
  deleteFolder(path: FolderPath): void {
    if (isInbox(path)) throw new FolderError('The INBOX cannot be deleted.', { code: 'FOLDER_INBOX' });
    const key = keyOf(path);
    const index = this.data.folders.findIndex((f) => f.key === key);
    if (index >= 0) this.data.folders.splice(index, 1);
  }

  /**
   * Renames the folder and every folder below it, as a mail client or the driver does: messages keep
   * their ids and the folders their epochs, unless `newEpoch` (a server that changes UIDVALIDITY on a
   * rename: every renamed folder gets a new epoch and its messages new ids). Missing parents of `to`
   * are created. Throws `FOLDER_GONE` when `from` does not exist, `FOLDER_EXISTS` when `to` does, and
   * `FOLDER_RENAME_REFUSED` for the inbox or a `to` below `from`.
   */
  renameFolder(from: FolderPath, to: FolderPath, options: { newEpoch?: boolean } = {}): void {
    const below = (path: readonly string[], top: FolderPath) =>
      path.length >= top.length && keyOf(path.slice(0, top.length)) === keyOf(top);
    if (isInbox(from) || isInbox(to) || to.length === 0 || below(to, from)) {
      throw new FolderError(
        `Cannot rename ${displayFolder(from)} to ${displayFolder(to)}: neither may be the inbox, nor the new name below the old.`,
        { code: 'FOLDER_RENAME_REFUSED' },
      );
    }
    getFolder(this.data, from);
    if (findFolder(this.data, to)) {
      throw new FolderError(`Cannot rename ${displayFolder(from)}: ${displayFolder(to)} exists already.`, {
        code: 'FOLDER_EXISTS',
      });
    }
    const moving = this.data.folders.filter((f) => below(f.path, from));
    const targets = moving.map((f) => [...to, ...f.path.slice(from.length)]);
    if (targets.some((path) => findFolder(this.data, path))) {
      throw new FolderError(
        `Cannot rename ${displayFolder(from)}: a folder below ${displayFolder(to)} exists already.`,
        {
          code: 'FOLDER_EXISTS',
        },
      );
    }
    moving.forEach((folder, i) => {
      folder.path = targets[i]!;
      folder.key = keyOf(folder.path);
    });
    if (to.length > 1) this.createFolder(to.slice(0, -1));
    if (options.newEpoch) for (const folder of moving) this.resetEpoch(folder.path);
  }

  /**
   * Simulates a UIDVALIDITY change: the folder gets a new epoch and every message a new id. Ids restart
   * at 1 and are handed out rotated (the oldest message gets 2, the newest 1), so that an old id still
   * in use names a different message: an engine that ignored the epoch would pair the wrong messages
   * rather than get lucky.
   */
  resetEpoch(path: FolderPath): void {
    const folder = getFolder(this.data, path);
    folder.epoch = String(this.data.nextEpoch++);
    const modseq = ++folder.modseq;
    const n = folder.messages.length;
    folder.messages.forEach((m, i) => {
      m.id = String(((i + 1) % n) + 1);
      m.modseq = modseq;
    });
    folder.messages.sort((a, b) => Number(a.id) - Number(b.id));
    folder.nextId = n + 1;
    folder.vanished = [];
  }

  /** The folder's current epoch. */
  epoch(path: FolderPath): string {
    return getFolder(this.data, path).epoch;
  }

  /** The folder's modification counter: a test can compare it before and after to see if anything wrote. */
  modseq(path: FolderPath): number {
    return getFolder(this.data, path).modseq;
  }

  /** Copies of the folder's messages, in id order. */
  messages(path: FolderPath): MemoryMessage[] {
    return getFolder(this.data, path).messages.map(copyMessage);
  }

  /** Delivers a message, as another program would; returns its id. Flags are normalised. */
  addMessage(
    path: FolderPath,
    body: Uint8Array,
    flags: Iterable<string> = [],
    internalDate?: number,
  ): string {
    return appendTo(getFolder(this.data, path), body, normalizeFlags(flags), internalDate);
  }

  /** Replaces a message's flags (normalised), as a mail client would. */
  setMessageFlags(path: FolderPath, id: string, flags: Iterable<string>): void {
    const folder = getFolder(this.data, path);
    const message = folder.messages.find((m) => m.id === id);
    if (!message) throw gone(folder, id);
    message.flags = normalizeFlags(flags);
    message.modseq = ++folder.modseq;
  }

  /**
   * Moves messages into another folder, as a mail client's move would (IMAP MOVE): each keeps its body,
   * flags and arrival time, gets a new id there, and is recorded as vanished from `from`. Returns the
   * new ids, in order.
   */
  moveMessages(from: FolderPath, to: FolderPath, ids: readonly string[]): string[] {
    const source = getFolder(this.data, from);
    const target = getFolder(this.data, to);
    return ids.map((id) => {
      const message = source.messages.find((m) => m.id === id);
      if (!message) throw gone(source, id);
      return moveTo(source, target, message);
    });
  }

  /** Expunges a message, as a mail client would. */
  removeMessage(path: FolderPath, id: string): void {
    const folder = getFolder(this.data, path);
    if (!folder.messages.some((m) => m.id === id)) throw gone(folder, id);
    removeFrom(folder, new Set([id]));
  }
}

/** The operations a {@link FaultHooks} sees: the {@link Driver} method names. */
export type DriverOperation = Exclude<keyof Driver, 'capabilities'>;

/** Where a driver operation is when a fault hook is called. Plain data, a fresh object for each call. */
export interface FaultPoint {
  op: DriverOperation;
  /** The folder the operation is on; absent for `listFolders` and `close`. */
  path?: FolderPath;
  /** `before`: nothing has been done yet. `after`: the store has been changed, the caller not told. */
  stage: 'before' | 'after';
}

/**
 * Fault injection around every operation of a {@link MemoryDriver}. A hook that throws (or rejects)
 * makes the operation reject with that very error:
 * - `before` throwing: the store is left untouched, as when the connection dropped before the command.
 * - `after` throwing: the store has been changed but the caller never hears so, as when the process
 *   crashed or the connection dropped right after the server acted.
 * - `message` is called once per message of `appendMessages` and `setFlags`, before that message is
 *   written; throwing fails only that message (its outcome carries the error's `code`, or
 *   `MESSAGE_BAD`, and message), to exercise per-message failures in a batch.
 * A hook may also change the store, to play another program acting in the middle of a sync.
 */
export interface FaultHooks {
  before?(point: FaultPoint): void | Promise<void>;
  after?(point: FaultPoint): void | Promise<void>;
  message?(point: FaultPoint & { index: number; id?: string }): void | Promise<void>;
}

/** A {@link FaultHooks}, or just the function for its `before` point. */
export type FaultHook = ((point: FaultPoint) => void | Promise<void>) | FaultHooks;

/** The error {@link crashAfter} throws: a process killed at that point. */
export class SimulatedCrash extends Error {
  override name = 'SimulatedCrash';
}

/** The hooks {@link crashAfter} builds, with what they have seen so far. */
export interface CrashHooks extends FaultHooks {
  /** How many points (`before` and `after`) have been reached, the crashing one included. */
  readonly points: number;
  /** True once the crash has happened. */
  readonly crashed: boolean;
}

/**
 * Hooks that let `n` operation points pass (counting each operation's `before` and `after` points, of
 * every driver they are given to), then throw a {@link SimulatedCrash} at the next one: `crashAfter(0)`
 * crashes before the first operation, `crashAfter(1)` right after it acted. Every later point throws
 * too, as nothing more happens in a killed process. A property test draws `n` to crash "between any two
 * operations".
 */
export function crashAfter(n: number): CrashHooks {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`crashAfter needs a count >= 0, got ${n}.`);
  let points = 0;
  let crashed = false;
  const point = (p: FaultPoint) => {
    if (crashed) throw new SimulatedCrash(`The process is dead (it crashed at point ${n}).`);
    points++;
    if (points > n) {
      crashed = true;
      const where = p.path ? ` on ${displayFolder(p.path)}` : '';
      throw new SimulatedCrash(`Simulated crash ${p.stage} ${p.op}${where} (point ${n}).`);
    }
  };
  return {
    before: point,
    after: point,
    get points() {
      return points;
    },
    get crashed() {
      return crashed;
    },
  };
}

/** Options of a {@link MemoryDriver}. */
export interface MemoryDriverOptions {
  /** The store keeps keywords (default true). Without it they are dropped on write and never listed. */
  keywords?: boolean;
  /**
   * Answer `unchanged` or `delta` when a listing's `since` is of the current epoch (default true).
   * False answers `full` always, like a store without CONDSTORE.
   */
  incremental?: boolean;
  /** Fault injection; see {@link FaultHooks}. */
  faults?: FaultHook;
  /**
   * List each folder's id (`FolderInfo.id`), like a server with OBJECTID (default false: like one
   * without, so renames must be proven by content).
   */
  folderIds?: boolean;
}

/**
 * The reference {@link Driver}, over a {@link MemoryStore}: it follows every rule of the contract and
 * nothing more, so the engine's tests (crash injection and property tests included) exercise the
 * contract rather than one real store's quirks. Several drivers may share one store, like several
 * connections to one server.
 *
 * Ids are decimal integers increasing within a folder's epoch (like IMAP UIDs). The marker is
 * `{ epoch, value: String(modseq) }`. A missing folder rejects every per-folder method with a
 * `FOLDER_GONE` {@link FolderError}; after {@link MemoryDriver.close} every method rejects with a
 * `DRIVER_CLOSED` {@link StoreError}.
 */
export class MemoryDriver implements Driver {
  readonly capabilities: DriverCapabilities;
  readonly store: MemoryStore;
  readonly #incremental: boolean;
  readonly #hooks: FaultHooks;
  /** The epoch of each folder at its last listing by this driver (see the Driver contract). */
  readonly #epochs = new Map<string, string>();
  readonly #folderIds: boolean;
  #closed = false;

  constructor(store: MemoryStore, options: MemoryDriverOptions = {}) {
    this.store = store;
    this.capabilities = { keywords: options.keywords ?? true };
    this.#incremental = options.incremental ?? true;
    this.#folderIds = options.folderIds ?? false;
    const faults = options.faults;
    this.#hooks = typeof faults === 'function' ? { before: faults } : (faults ?? {});
  }

  listFolders(): Promise<ListedFolder[]> {
    return this.#run('listFolders', undefined, (): ListedFolder[] => [
      ...this.store.folders().map((f) => {
        const id = this.#folderIds ? findFolder(this.store.data, f.path)?.id : undefined;
        return id === undefined ? f : { ...f, id };
      }),
      ...this.store.refusedNames.map((name) => ({
        refused: name,
        code: 'FOLDER_NAME_REFUSED',
        message: `The memory store lists a folder named ${quoteName(name)}, which is refused.`,
      })),
    ]);
  }

  createFolder(path: FolderPath): Promise<void> {
    return this.#run('createFolder', path, () => this.store.createFolder(path));
  }

  deleteFolder(path: FolderPath): Promise<void> {
    return this.#run('deleteFolder', path, () => this.store.deleteFolder(path));
  }

  listMessages(path: FolderPath, request: ListRequest): Promise<Listing> {
    return this.#run('listMessages', path, (): Listing => {
      const folder = getFolder(this.store.data, path);
      this.#epochs.set(keyOf(path), folder.epoch);
      const marker: FolderMarker = { epoch: folder.epoch, value: String(folder.modseq) };
      const since = this.#incremental ? sinceModseq(folder, request.since) : undefined;
      const dates = request.dates === true;
      if (since === undefined) {
        return { kind: 'full', marker, messages: folder.messages.map((m) => this.#listed(m, dates)) };
      }
      if (since === folder.modseq) return { kind: 'unchanged', marker };
      return {
        kind: 'delta',
        marker,
        changed: folder.messages.filter((m) => m.modseq > since).map((m) => this.#listed(m, dates)),
        vanished: folder.vanished.filter((v) => v.modseq > since).map((v) => v.id),
      };
    });
  }

  /** Leaves out the Message-ID of a message whose size `request.sizes` does not hold, as a Maildir does. */
  describeMessages(
    path: FolderPath,
    ids: readonly string[],
    request?: DescribeRequest,
  ): Promise<ListedMessage[]> {
    return this.#run('describeMessages', path, () => {
      const byId = indexById(this.#sameEpoch(path));
      const sizes = request?.sizes ? new Set(request.sizes) : undefined;
      const out: ListedMessage[] = [];
      for (const id of new Set(ids)) {
        const m = byId.get(id);
        if (!m) continue;
        const listed = this.#listed(m);
        if (sizes && listed.size !== undefined && !sizes.has(listed.size)) out.push(listed);
        else out.push({ ...listed, messageId: parseMessageId(m.body) });
      }
      return out;
    });
  }

  readMessage(path: FolderPath, id: string): Promise<MessageContent> {
    return this.#run('readMessage', path, () => {
      const folder = this.#sameEpoch(path);
      const m = folder.messages.find((message) => message.id === id);
      if (!m) throw gone(folder, id);
      const content: MessageContent = { body: new Uint8Array(m.body), flags: this.#visible(m.flags) };
      if (m.internalDate !== undefined) content.internalDate = m.internalDate;
      return content;
    });
  }

  appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]> {
    return this.#run('appendMessages', path, async () => {
      const folder = this.#sameEpoch(path);
      const outcomes: WriteOutcome[] = [];
      for (const [index, message] of messages.entries()) {
        const failure = await this.#messageFault('appendMessages', path, index);
        if (failure) {
          outcomes.push({ ok: false, ...failure });
          continue;
        }
        const id = appendTo(folder, message.body, this.#visible(message.flags), message.internalDate);
        outcomes.push({ ok: true, id });
      }
      return outcomes;
    });
  }

  setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]> {
    return this.#run('setFlags', path, async () => {
      const folder = this.#sameEpoch(path);
      const byId = indexById(folder);
      const outcomes: FlagOutcome[] = [];
      for (const [index, update] of updates.entries()) {
        const { id } = update;
        const m = byId.get(id);
        if (!m) {
          outcomes.push({ id, ok: false, gone: true, message: gone(folder, id).message });
          continue;
        }
        const failure = await this.#messageFault('setFlags', path, index, id);
        if (failure) {
          outcomes.push({ id, ok: false, gone: false, message: failure.message });
          continue;
        }
        // Without keywords the store never showed any, so a delta cannot add or remove one either.
        m.flags = applyFlagDelta(m.flags, {
          added: this.#visible(update.add),
          removed: this.#visible(update.remove),
        });
        m.modseq = ++folder.modseq;
        outcomes.push({ id, ok: true });
      }
      return outcomes;
    });
  }

  deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void> {
    return this.#run('deleteMessages', path, () => {
      removeFrom(this.#sameEpoch(path), new Set(ids));
    });
  }

  moveMessages(from: FolderPath, to: FolderPath, ids: readonly string[]): Promise<MoveOutcome[]> {
    return this.#run('moveMessages', from, async () => {
      if (keyOf(from) === keyOf(to)) {
        throw new FolderError(`Cannot move messages of ${displayFolder(from)} into the same folder.`, {
          code: 'FOLDER_BAD',
        });
      }
      const source = this.#sameEpoch(from);
      const target = this.#sameEpoch(to);
      const outcomes: MoveOutcome[] = [];
      for (const [index, id] of ids.entries()) {
        const message = source.messages.find((m) => m.id === id);
        if (!message) {
          outcomes.push({ id, ok: false, gone: true, message: gone(source, id).message });
          continue;
        }
        const failure = await this.#messageFault('moveMessages', from, index, id);
        if (failure) {
          outcomes.push({ id, ok: false, gone: false, message: failure.message });
          continue;
        }
        outcomes.push({ id, ok: true, newId: moveTo(source, target, message) });
      }
      return outcomes;
    });
  }

  renameFolder(from: FolderPath, to: FolderPath): Promise<void> {
    return this.#run('renameFolder', from, () => {
      this.store.renameFolder(from, to);
      // A listing of the new name comes before any id of it is used again.
      for (const key of [...this.#epochs.keys()]) {
        if (key === keyOf(from) || key.startsWith(`${keyOf(from)}/`)) this.#epochs.delete(key);
      }
    });
  }

  /**
   * The folder, provided its epoch is still the one this driver last listed: an id from an older epoch
   * may name another message now, so using it would read, flag or delete the wrong one.
   */
  #sameEpoch(path: FolderPath): MemoryFolder {
    const folder = getFolder(this.store.data, path);
    const listed = this.#epochs.get(keyOf(path));
    if (listed !== undefined && listed !== folder.epoch) {
      throw new FolderError(
        `The ids of ${displayFolder(path)} changed (epoch ${listed} became ${folder.epoch}) since it was listed; ` +
          'the folder is skipped and paired again by content on the next sync.',
        { code: 'EPOCH_CHANGED' },
      );
    }
    return folder;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#run('close', undefined, () => {
      this.#closed = true;
    });
  }

  /**
   * Every operation: the `before` hook, the body, the `after` hook. The body's changes to the store
   * stand even if `after` throws; that is the point of it.
   */
  async #run<T>(op: DriverOperation, path: FolderPath | undefined, body: () => T | Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new StoreError(`The memory driver was closed; ${op} is no longer possible.`, {
        code: 'DRIVER_CLOSED',
      });
    }
    const release = path === undefined ? undefined : this.#enter(op, keyOf(path));
    try {
      await this.#hooks.before?.(point(op, path, 'before'));
      const result = await body();
      await this.#hooks.after?.(point(op, path, 'after'));
      return result;
    } finally {
      release?.();
    }
  }

  /** The operations running on each folder (by key) right now. */
  readonly #running = new Map<string, DriverOperation[]>();

  /**
   * Holds the engine to the Driver contract (one call per folder at a time, but a read for the other
   * side beside an append from it): tests whose hooks slow calls down enough to overlap fail here if
   * the engine breaks it. Returns what ends the call's turn.
   */
  #enter(op: DriverOperation, folder: string): () => void {
    const running = this.#running.get(folder) ?? [];
    const isRead = (o: DriverOperation) => o === 'readMessage' || o === 'readMessages';
    const allowed = (a: DriverOperation, b: DriverOperation) =>
      (isRead(a) && b === 'appendMessages') || (a === 'appendMessages' && isRead(b));
    const clash = running.find((other) => !allowed(other, op));
    if (clash !== undefined) {
      throw new Error(
        `The engine broke the Driver contract: ${op} on folder ${folder} while ${clash} on it was still running.`,
      );
    }
    running.push(op);
    this.#running.set(folder, running);
    return () => {
      running.splice(running.indexOf(op), 1);
      if (running.length === 0) this.#running.delete(folder);
    };
  }

  /** Runs the `message` hook for one message of a batch; what it threw becomes that message's failure. */
  async #messageFault(
    op: DriverOperation,
    path: FolderPath,
    index: number,
    id?: string,
  ): Promise<{ code: string; message: string } | undefined> {
    if (!this.#hooks.message) return undefined;
    try {
      await this.#hooks.message({ ...point(op, path, 'before'), index, ...(id === undefined ? {} : { id }) });
      return undefined;
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      return {
        code: typeof code === 'string' ? code : 'MESSAGE_BAD',
        message: err instanceof Error ? err.message : String(err),
      };
    }
  }

  #listed(m: MemoryMessage, dates = false): ListedMessage {
    const listed: ListedMessage = { id: m.id, flags: this.#visible(m.flags), size: crlfSize(m.body) };
    if (dates && m.internalDate !== undefined) listed.date = m.internalDate;
    return listed;
  }

  /** Flags as this driver's store can hold them: normalised, keywords only with the capability. */
  #visible(flags: Iterable<string>): string[] {
    const normal = normalizeFlags(flags);
    return this.capabilities.keywords ? normal : normal.filter((f) => f.startsWith('\\'));
  }
}

function findFolder(data: MemoryStoreData, path: FolderPath): MemoryFolder | undefined {
  const key = keyOf(path);
  return data.folders.find((f) => f.key === key);
}

function getFolder(data: MemoryStoreData, path: FolderPath): MemoryFolder {
  const folder = findFolder(data, path);
  if (!folder) {
    throw new FolderError(`Folder ${displayFolder(path)} does not exist (any more).`, {
      code: 'FOLDER_GONE',
    });
  }
  return folder;
}

function makeFolder(data: MemoryStoreData, path: FolderPath): void {
  data.folders.push({
    key: keyOf(path),
    path: isInbox(path) ? [...INBOX] : [...path],
    id: `F${data.nextEpoch}`,
    epoch: String(data.nextEpoch++),
    modseq: 0,
    nextId: 1,
    messages: [],
    vanished: [],
  });
}

/** Adds one message under its own modseq; returns its id. */
function appendTo(folder: MemoryFolder, body: Uint8Array, flags: string[], internalDate?: number): string {
  const id = String(folder.nextId++);
  // A real store gives every message an arrival time; one appended without is arriving now.
  const message: MemoryMessage = {
    id,
    body: new Uint8Array(body),
    flags,
    modseq: ++folder.modseq,
    internalDate: internalDate ?? Date.now(),
  };
  folder.messages.push(message);
  return id;
}

/** Moves one message of `source` into `target` under a new id there; returns that id. */
function moveTo(source: MemoryFolder, target: MemoryFolder, message: MemoryMessage): string {
  const id = appendTo(target, message.body, [...message.flags], message.internalDate);
  removeFrom(source, new Set([message.id]));
  return id;
}

/** Removes those of `ids` that exist, recording them as vanished. */
function removeFrom(folder: MemoryFolder, ids: ReadonlySet<string>): void {
  const kept = folder.messages.filter((m) => !ids.has(m.id));
  if (kept.length === folder.messages.length) return;
  const modseq = ++folder.modseq;
  for (const m of folder.messages) if (ids.has(m.id)) folder.vanished.push({ id: m.id, modseq });
  folder.messages = kept;
}

function keyOf(path: FolderPath): string {
  // The inbox's name is case-insensitive everywhere, so every spelling is the one folder.
  return isInbox(path) ? folderKey(INBOX) : folderKey(path);
}

function point(op: DriverOperation, path: FolderPath | undefined, stage: FaultPoint['stage']): FaultPoint {
  return path ? { op, path: [...path], stage } : { op, stage };
}

function gone(folder: MemoryFolder, id: string): MessageError {
  return new MessageError(`Message ${id} is not in ${displayFolder(folder.path)} (any more).`, {
    code: 'MESSAGE_GONE',
  });
}

function copyMessage(m: MemoryMessage): MemoryMessage {
  const copy: MemoryMessage = {
    id: m.id,
    body: new Uint8Array(m.body),
    flags: [...m.flags],
    modseq: m.modseq,
  };
  if (m.internalDate !== undefined) copy.internalDate = m.internalDate;
  return copy;
}

function indexById(folder: MemoryFolder): Map<string, MemoryMessage> {
  return new Map(folder.messages.map((m) => [m.id, m]));
}

/**
 * The modseq a `since` marker stands for, if a delta against it can be told: same epoch, and a value
 * this folder has reached (a marker from the future, e.g. recorded against a store since restored from
 * an older snapshot, gets a full listing).
 */
function sinceModseq(folder: MemoryFolder, since: FolderMarker | undefined): number | undefined {
  if (!since || since.epoch !== folder.epoch || !/^\d+$/.test(since.value)) return undefined;
  const value = Number(since.value);
  return value <= folder.modseq ? value : undefined;
}

const LF = 0x0a;
const CR = 0x0d;

/** Size with CRLF line endings: a bare LF a test stored counts as the CRLF a real store would send. */
function crlfSize(body: Uint8Array): number {
  let size = body.length;
  for (let i = 0; i < body.length; i++) if (body[i] === LF && body[i - 1] !== CR) size++;
  return size;
}

/**
 * The Message-ID header of a raw message: the first one of its header section, unfolded and trimmed,
 * with its angle brackets; `null` when there is none or it is empty.
 */
function parseMessageId(body: Uint8Array): string | null {
  const header = new TextDecoder().decode(body.subarray(0, headerEnd(body)));
  const fields: string[] = [];
  for (const line of header.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += line;
    else fields.push(line);
  }
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon > 0 && field.slice(0, colon).trimEnd().toLowerCase() === 'message-id') {
      const value = field.slice(colon + 1).trim();
      return value === '' ? null : value;
    }
  }
  return null;
}

/** Where the header section ends: at the first empty line, or the end of a body that has none. */
function headerEnd(body: Uint8Array): number {
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== LF) continue;
    if (body[i + 1] === LF) return i;
    if (body[i + 1] === CR && body[i + 2] === LF) return i;
  }
  return body.length;
}
