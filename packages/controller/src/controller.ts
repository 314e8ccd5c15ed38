import { createHash } from 'node:crypto';
import {
  type ActionOutcome,
  type ChangeNotice,
  type ChangesOptions,
  type CopyItem,
  type DeleteAction,
  type DescribeRequest,
  type Driver,
  type DriverCapabilities,
  displayFolder,
  errorScope,
  type FlagAction,
  FolderError,
  type FolderMarker,
  type FolderPairRecord,
  type FolderPairRename,
  type FolderPath,
  type ListedFolder,
  type ListedMessage,
  type Listing,
  type MessageContent,
  type MessagePair,
  type MoveAction,
  type ReadResult,
  type Side,
  type SideChanges,
  type SideController,
  type StateBackend,
  StoreError,
  type WatchRequest,
  type WatchStatus,
} from '@twinbox/core';
import { twoWayMerge } from './two-way-merge.js';

/** What a {@link Controller} stands on: its place in `sync(left, right)`, its store and the state. */
export interface ControllerOptions {
  side: Side;
  driver: Driver;
  /** The state shared by both sides of the pair. */
  state: StateBackend;
}

/** A marker recorded only to pin the epoch before the folder's first complete sync. */
const EPOCH_ONLY = '';

function sameMarker(a: FolderMarker | null | undefined, b: FolderMarker): boolean {
  return !!a && a.epoch === b.epoch && a.value === b.value;
}

/**
 * One side of a pair: a driver and the shared state, implementing the engine's `SideController`.
 *
 * Writes go to the driver first; the state records only what the driver confirmed. When recording
 * fails after a successful write, the message is left written and unpaired, and the outcome is a
 * failure (so the folder's marker is not committed): the next sync lists it as new on this side while
 * its source is still unpaired on the other, and pairs the two by content. We chose this repair over
 * undoing the write, because an undo can itself fail and deleting mail is the one thing a sync tool
 * must never get wrong; pairing by content is the same mechanism a first sync relies on. The one
 * message a controller deletes unasked is a copy it appended in this very sync, when another program
 * put the same bytes beside it meanwhile (see `#absorbTwins`): the message stays, once.
 *
 * `watch`, `nextChange` and `unwatch` are always there, whatever the driver: they pass through to the
 * driver's when it has them (paths are the driver's, as for every other call), and otherwise `watch`
 * and `nextChange` reject with a `WATCH_UNSUPPORTED` StoreError and `unwatch` does nothing. Always,
 * because a controller in a worker is reached through a method list fixed when the worker starts: a
 * caller then finds out the same way inline and across threads, by calling `watch`.
 */
export class Controller implements SideController {
  readonly side: Side;
  readonly #driver: Driver;
  readonly #state: StateBackend;
  /** The marker each folder had in the state when it was listed, to skip rewriting it unchanged. */
  readonly #recorded = new Map<string, FolderMarker | null>();
  /** Where each folder was last listed, for the driver's {@link Driver.markerAfterWrites} at commit. */
  readonly #listedAt = new Map<string, FolderPath>();
  /**
   * The copies appended to each folder since its listing, for {@link #absorbTwins} at commit: ids and
   * sizes only (a first sync appends thousands; their pairs are in the state).
   */
  readonly #appended = new Map<string, AppendedCopies>();

  constructor(options: ControllerOptions) {
    this.side = options.side;
    this.#driver = options.driver;
    this.#state = options.state;
  }

  async capabilities(): Promise<DriverCapabilities> {
    return this.#driver.capabilities;
  }

  listFolders(): Promise<ListedFolder[]> {
    return this.#driver.listFolders();
  }

  createFolder(path: FolderPath): Promise<void> {
    return this.#driver.createFolder(path);
  }

  deleteFolder(path: FolderPath): Promise<void> {
    return this.#driver.deleteFolder(path);
  }

  folderPairs(): Promise<FolderPairRecord[]> {
    return this.#state.listFolderPairs();
  }

  recordFolderPair(record: FolderPairRecord): Promise<void> {
    return this.#state.recordFolderPair(record);
  }

  forgetFolderPair(key: string): Promise<void> {
    return this.#state.forgetFolderPair(key);
  }

  async changes(key: string, path: FolderPath, options: ChangesOptions = {}): Promise<SideChanges> {
    const marker = await this.#state.loadMarker(key, this.side);
    this.#recorded.set(key, marker);
    const since = marker && marker.value !== EPOCH_ONLY && !options.full ? marker : undefined;
    // Without a marker the listing is certainly full and needs every pair: read them from the state
    // while the store lists. With one, the listing decides: nothing to read if the folder is unchanged,
    // only the changed ids' pairs after a delta, so an incremental sync costs what changed.
    const allPairs = since === undefined ? this.#state.loadPairs(key) : undefined;
    allPairs?.catch(() => {});
    const listing = await this.#driver.listMessages(path, options.dates ? { since, dates: true } : { since });
    this.#listedAt.set(key, path);
    this.#appended.delete(key);
    const pairs = await this.#pairsFor(key, listing, marker, allPairs);
    const changes: SideChanges = {
      side: this.side,
      added: [],
      removed: [],
      flagged: [],
      reset: false,
      orphaned: [],
      marker: listing.marker,
    };
    if (
      listing.kind === 'unchanged' &&
      marker &&
      marker.value !== EPOCH_ONLY &&
      sameMarker(marker, listing.marker)
    )
      changes.current = true;
    if (marker === null && !options.dryRun) {
      const pinned = { epoch: listing.marker.epoch, value: EPOCH_ONLY };
      await this.#state.recordMarker(key, this.side, pinned);
      this.#recorded.set(key, pinned);
    }
    if (marker && marker.epoch !== listing.marker.epoch) {
      if (listing.kind !== 'full') {
        throw new FolderError(
          `The ${this.side} store answered a ${listing.kind} listing of ${displayFolder(path)} across an epoch change; ` +
            'the driver must list the folder in full when its ids changed.',
          { code: 'LISTING_EPOCH_MISMATCH' },
        );
      }
      changes.reset = true;
      changes.added = listing.messages.map((m) => ({ ...m }));
      changes.orphaned = pairs.map((p) => ({ left: p.left, right: p.right, base: p.flags }));
    } else if (listing.kind !== 'unchanged') {
      const merged = twoWayMerge(listing, pairs, this.side, {
        keywords: this.#driver.capabilities.keywords,
        folder: displayFolder(path),
      });
      if (listing.kind === 'full') changes.listed = listing.messages.length;
      changes.added = merged.added;
      changes.removed = merged.removed;
      changes.flagged = merged.flagged;
    }
    if (listing.problems?.length) changes.problems = listing.problems;
    return changes;
  }

  async #pairsFor(
    key: string,
    listing: Listing,
    marker: FolderMarker | null,
    loading: Promise<MessagePair[]> | undefined,
  ): Promise<MessagePair[]> {
    if (loading) return loading;
    const reset = marker !== null && marker.epoch !== listing.marker.epoch;
    if (listing.kind === 'unchanged' && !reset) return [];
    if (listing.kind === 'delta' && !reset && this.#state.findPairs) {
      const ids = [...listing.changed.map((m) => m.id), ...listing.vanished];
      return ids.length === 0 ? [] : this.#state.findPairs(key, this.side, ids);
    }
    return this.#state.loadPairs(key);
  }

  pairs(key: string): Promise<MessagePair[]> {
    return this.#state.loadPairs(key);
  }

  describe(path: FolderPath, ids: readonly string[], request?: DescribeRequest): Promise<ListedMessage[]> {
    return this.#driver.describeMessages(path, ids, request);
  }

  async hashes(path: FolderPath, ids: readonly string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const id of ids) {
      const content = await this.#readOne(path, id);
      if (content) out[id] = digest(content.body);
    }
    return out;
  }

  async read(path: FolderPath, ids: readonly string[]): Promise<ReadResult[]> {
    if (this.#driver.readMessages) return this.#driver.readMessages(path, ids);
    const out: ReadResult[] = [];
    for (const id of ids) {
      try {
        out.push(await this.#readOne(path, id));
      } catch (err) {
        // One message the store will not give (a refused read): reported for it alone, the rest goes on.
        if (errorScope(err) !== 'message') throw err;
        out.push({ failed: { code: codeOf(err), message: (err as Error).message } });
      }
    }
    return out;
  }

  async interrupt(): Promise<void> {
    this.#driver.interrupt?.();
  }

  async watch(request: WatchRequest): Promise<WatchStatus> {
    const driver = this.#watchable();
    return driver.watch(request);
  }

  async nextChange(signal?: AbortSignal): Promise<ChangeNotice> {
    const driver = this.#watchable();
    return driver.nextChange(signal);
  }

  async unwatch(): Promise<void> {
    const driver = this.#driver;
    if (driver.watch && driver.nextChange && driver.unwatch) await driver.unwatch();
  }

  /** The driver, if it can be watched (it offers all three methods or none); else why not. */
  #watchable(): Required<Pick<Driver, 'watch' | 'nextChange' | 'unwatch'>> {
    const driver = this.#driver;
    if (driver.watch && driver.nextChange && driver.unwatch)
      return driver as Required<Pick<Driver, 'watch' | 'nextChange' | 'unwatch'>>;
    throw new StoreError(
      `The ${this.side} store cannot be watched for changes: its driver offers no watch. Sync it on a timer instead.`,
      { code: 'WATCH_UNSUPPORTED' },
    );
  }

  async #readOne(path: FolderPath, id: string): Promise<MessageContent | null> {
    try {
      return await this.#driver.readMessage(path, id);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'MESSAGE_GONE') return null;
      throw err;
    }
  }

  async applyState(key: string, forget: readonly string[], record: readonly MessagePair[]): Promise<void> {
    if (forget.length > 0) {
      // A forgotten pair can leave a message of this side unpaired while its folder's marker says
      // "nothing changed", and an incremental listing would then never show it again (a crash before
      // the re-pairing is recorded would make the next sync copy it twice). So the marker is first
      // reduced to its epoch, which forces a full listing until this folder's sync completes.
      const marker = this.#recorded.has(key)
        ? this.#recorded.get(key)
        : await this.#state.loadMarker(key, this.side);
      if (marker && marker.value !== EPOCH_ONLY) {
        const pinned = { epoch: marker.epoch, value: EPOCH_ONLY };
        await this.#state.recordMarker(key, this.side, pinned);
        this.#recorded.set(key, pinned);
      }
      await this.#state.forgetPairs(key, this.side, forget);
    }
    if (record.length > 0) await this.#state.recordPairs(key, record);
  }

  async applyFlags(key: string, path: FolderPath, actions: readonly FlagAction[]): Promise<ActionOutcome[]> {
    if (actions.length === 0) return [];
    const results = await this.#driver.setFlags(
      path,
      actions.map((a) => ({ id: a.id, add: a.add, remove: a.remove })),
    );
    const byId = new Map(results.map((r) => [r.id, r]));
    const outcomes: ActionOutcome[] = [];
    const record: MessagePair[] = [];
    for (const a of actions) {
      const r = byId.get(a.id);
      if (r?.ok) {
        outcomes.push({ ok: true, id: a.id });
        if (a.flags) record.push({ left: a.pair.left, right: a.pair.right, flags: a.flags });
      } else {
        const gone = r ? r.gone : false;
        outcomes.push({
          ok: false,
          id: a.id,
          code: gone ? 'MESSAGE_GONE' : 'FLAGS_FAILED',
          message: `Could not change the flags of message ${a.id} in ${displayFolder(path)} (${this.side}): ${r?.ok === false ? r.message : 'no answer from the store'}`,
        });
      }
    }
    return this.#record(path, outcomes, () => this.#state.recordPairs(key, record), record.length > 0);
  }

  async applyDeletes(
    key: string,
    path: FolderPath,
    actions: readonly DeleteAction[],
  ): Promise<ActionOutcome[]> {
    if (actions.length === 0) return [];
    const ids = actions.map((a) => a.id);
    await this.#driver.deleteMessages(path, ids);
    const outcomes = ids.map((id): ActionOutcome => ({ ok: true, id }));
    return this.#record(path, outcomes, () => this.#state.forgetPairs(key, this.side, ids), true);
  }

  async applyCopies(key: string, path: FolderPath, items: readonly CopyItem[]): Promise<ActionOutcome[]> {
    if (items.length === 0) return [];
    const results = await this.#driver.appendMessages(
      path,
      items.map((i) => i.content),
    );
    const outcomes: ActionOutcome[] = [];
    const record: MessagePair[] = [];
    const appended = this.#appended.get(key) ?? { ids: [], sizes: [] };
    this.#appended.set(key, appended);
    items.forEach((item, i) => {
      const r = results[i];
      const from = item.action.from;
      if (r?.ok) {
        outcomes.push({ ok: true, id: from, newId: r.id });
        appended.ids.push(r.id);
        appended.sizes.push(item.content.body.length);
        record.push(
          this.side === 'left'
            ? { left: r.id, right: from, flags: item.action.flags }
            : { left: from, right: r.id, flags: item.action.flags },
        );
      } else {
        outcomes.push({
          ok: false,
          id: from,
          code: r?.ok === false ? r.code : 'APPEND_FAILED',
          message: `Could not store a copy of message ${from} in ${displayFolder(path)} (${this.side}): ${r?.ok === false ? r.message : 'no answer from the store'}`,
        });
      }
    });
    return this.#record(path, outcomes, () => this.#state.recordPairs(key, record), record.length > 0);
  }

  async applyMoves(
    fromKey: string,
    fromPath: FolderPath,
    toKey: string,
    toPath: FolderPath,
    actions: readonly MoveAction[],
  ): Promise<ActionOutcome[] | null> {
    if (!this.#driver.moveMessages) return null;
    if (actions.length === 0) return [];
    const results = await this.#driver.moveMessages(
      fromPath,
      toPath,
      actions.map((a) => a.pair[this.side]),
    );
    const byId = new Map(results.map((r) => [r.id, r]));
    const outcomes: ActionOutcome[] = [];
    const record: MessagePair[] = [];
    const forget: string[] = [];
    for (const a of actions) {
      const id = a.pair[this.side];
      const r = byId.get(id);
      const where = `message ${id} from ${displayFolder(fromPath)} to ${displayFolder(toPath)} (${this.side})`;
      if (r?.ok) {
        outcomes.push(r.newId === undefined ? { ok: true, id } : { ok: true, id, newId: r.newId });
        forget.push(id);
        if (r.newId !== undefined) {
          record.push(
            this.side === 'left'
              ? { left: r.newId, right: a.id, flags: a.pair.base }
              : { left: a.id, right: r.newId, flags: a.pair.base },
          );
        }
      } else if (r) {
        outcomes.push({
          ok: false,
          id,
          code: r.gone ? 'MESSAGE_GONE' : 'MOVE_FAILED',
          message: `Could not move ${where}: ${r.message}`,
        });
      } else {
        outcomes.push({
          ok: false,
          id,
          code: 'MOVE_UNANSWERED',
          message: `The store gave no outcome for moving ${where}; the next sync finds it in either folder.`,
        });
      }
    }
    // The pair is recorded where the message is now before it is forgotten where it was: a crash in
    // between leaves it in both, and the next sync, finding it gone from the old folder on both sides,
    // forgets it there. The other order would leave it in neither, and the moved message unpaired.
    return this.#record(
      toPath,
      outcomes,
      async () => {
        if (record.length > 0) await this.#state.recordPairs(toKey, record);
        await this.#state.forgetPairs(fromKey, this.side, forget);
      },
      forget.length > 0,
    );
  }

  async renameFolder(from: FolderPath, to: FolderPath, pairs: readonly FolderPairRename[]): Promise<boolean> {
    if (!this.#driver.renameFolder || !this.#state.renameFolderPairs) return false;
    if (from.length === 0) return true;
    await this.#driver.renameFolder(from, to);
    try {
      await this.#state.renameFolderPairs(pairs);
    } catch (err) {
      throw new FolderError(
        `Folder ${displayFolder(from)} was renamed to ${displayFolder(to)} (${this.side}), but the state could not record it ` +
          `(${(err as Error).message}); the next sync finds the folder under its new name on both sides and pairs its messages by content.`,
        { code: 'STATE_WRITE_FAILED' },
      );
    }
    for (const p of pairs) {
      this.#recorded.delete(p.from);
      this.#listedAt.delete(p.from);
    }
    return true;
  }

  /**
   * Records what the driver confirmed. A failed state write turns the confirmed outcomes into
   * failures (so the folder's marker is not committed) and leaves the repair to the next sync, as the
   * class describes; the sync goes on, since every later write is just as safe.
   */
  async #record(
    path: FolderPath,
    outcomes: ActionOutcome[],
    write: () => Promise<void>,
    needed: boolean,
  ): Promise<ActionOutcome[]> {
    if (!needed) return outcomes;
    try {
      await write();
      return outcomes;
    } catch (err) {
      return outcomes.map((o) =>
        o.ok
          ? {
              ok: false,
              id: o.id,
              code: 'STATE_WRITE_FAILED',
              message: `Message ${o.id} in ${displayFolder(path)} (${this.side}) was written, but the state could not record it (${(err as Error).message}); the next sync pairs it again by content.`,
            }
          : o,
      );
    }
  }

  /**
   * Another program may put the very message we are copying into this folder while we sync (a second
   * sync tool working on the same stores, a delivery to both): this side listed the folder before it
   * came, the other side listed its twin after, and we appended our copy beside it. Left there, the
   * arrival would be new at the next sync and be copied back: one message twice on both sides. So what
   * arrived since the listing is listed, and an unpaired arrival with the bytes of one of our copies
   * takes over that copy's pair while our copy is deleted: the same bytes stay, once.
   *
   * The copy is deleted before the state is told: a crash in between leaves the pair naming a deleted
   * copy, which the next sync propagates as a deletion while it copies the arrival over as new, so
   * the message still ends up once on each side (under a policy that propagates no deletions, the
   * other side then keeps its message beside the arrival's copy: twice, never lost). The other order
   * would leave our copy unpaired beside its twin, twice here and then on both sides, under any
   * policy. Costs a listing since the listing's marker, only when the driver could not vouch for the
   * folder, and reads bodies only of arrivals of a copy's size.
   */
  async #absorbTwins(
    key: string,
    path: FolderPath,
    marker: FolderMarker,
    appended: AppendedCopies,
  ): Promise<void> {
    const listing = await this.#driver.listMessages(path, { since: marker });
    if (listing.kind === 'unchanged' || listing.marker.epoch !== marker.epoch) return;
    const ours = new Set(appended.ids);
    const sizes = new Set(appended.sizes);
    const arrivals = (listing.kind === 'full' ? listing.messages : listing.changed).filter(
      (m) => !ours.has(m.id) && (m.size === undefined || sizes.has(m.size)),
    );
    if (arrivals.length === 0) return;
    const ids = arrivals.map((m) => m.id);
    const pairsOf = (of: string[]) =>
      this.#state.findPairs ? this.#state.findPairs(key, this.side, of) : this.#state.loadPairs(key);
    const paired = new Set((await pairsOf(ids)).map((p) => p[this.side]));
    const digests = new Map<string, string | null>();
    const digestOf = async (id: string) => {
      if (!digests.has(id)) {
        const content = await this.#readOne(path, id);
        digests.set(id, content ? digest(content.body) : null);
      }
      return digests.get(id);
    };
    // Our copy's id to the arrival that is its twin.
    const twins = new Map<string, string>();
    for (const m of arrivals) {
      if (paired.has(m.id)) continue;
      const content = await this.#readOne(path, m.id);
      if (!content) continue;
      const bytes = digest(content.body);
      for (const [i, id] of appended.ids.entries()) {
        if (twins.has(id) || appended.sizes[i] !== content.body.length) continue;
        if ((await digestOf(id)) !== bytes) continue;
        twins.set(id, m.id);
        break;
      }
    }
    if (twins.size === 0) return;
    // Each twin takes over its copy's pair: the other side's message and the flags recorded with it.
    const copies: string[] = [];
    const record: MessagePair[] = [];
    for (const pair of await pairsOf([...twins.keys()])) {
      const twin = twins.get(pair[this.side]);
      if (twin === undefined) continue;
      copies.push(pair[this.side]);
      record.push({ ...pair, [this.side]: twin });
    }
    if (record.length === 0) return;
    await this.#driver.deleteMessages(path, copies);
    try {
      // One write, which replaces each copy's pair (it shares the other side's id): forgetting first,
      // then recording, would leave the other side's message unpaired if the second write failed.
      await this.#state.recordPairs(key, record);
    } catch (err) {
      throw new FolderError(
        `In ${displayFolder(path)} (${this.side}), another program's copy of a message this sync also copied there took its place, ` +
          `but the state could not record it (${(err as Error).message}); the next sync finds the copy gone and the other program's copy new: where deletions propagate, the message ends up once on each side; otherwise the other side keeps it twice (nothing is lost).`,
        { code: 'STATE_WRITE_FAILED' },
      );
    }
  }

  async commit(key: string, marker: FolderMarker): Promise<void> {
    const path = this.#listedAt.get(key);
    const appended = this.#appended.get(key);
    this.#appended.delete(key);
    const settled =
      path && this.#driver.markerAfterWrites ? await this.#driver.markerAfterWrites(path, marker) : marker;
    // The driver vouches that nothing but our writes happened since the listing, or it gives the
    // listing's own marker back: then another program's message may sit beside one of our copies.
    if (path && appended?.ids.length && sameMarker(settled, marker))
      await this.#absorbTwins(key, path, marker, appended);
    if (sameMarker(this.#recorded.get(key), settled)) return;
    await this.#state.recordMarker(key, this.side, settled);
    this.#recorded.set(key, settled);
  }
}

/** The copies {@link Controller.applyCopies} appended to a folder: their ids here and sizes, by index. */
interface AppendedCopies {
  ids: string[];
  sizes: number[];
}

function digest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'MESSAGE_BAD';
}
