import type {
  FolderMarker,
  FolderPairRecord,
  FolderPairRename,
  MessagePair,
  Side,
  StateBackend,
} from '@twinbox/core';

/** The message pairs of one folder pair, indexed by both ids so either side finds its pair at once. */
interface PairIndex {
  byLeft: Map<string, MessagePair>;
  byRight: Map<string, MessagePair>;
}

/**
 * The in-memory state backend: for tests, and for state preloaded into RAM before a sync reads it.
 * Nothing survives the process, so "durable" means "stored in this object". Records are copied in and
 * out so a caller that mutates its arrays cannot change what the state holds, and every write copies
 * its whole input before it changes anything, so a call that throws leaves the state as it was.
 *
 * Message pairs and markers may be recorded under a key that has no folder pair record; such a key is
 * not listed by {@link MemoryState.listFolderPairs}, and {@link MemoryState.forgetFolderPair} still
 * drops what it holds.
 */
export class MemoryState implements StateBackend {
  readonly #folderPairs = new Map<string, FolderPairRecord>();
  readonly #pairs = new Map<string, PairIndex>();
  readonly #markers = new Map<string, Map<Side, FolderMarker>>();
  #closed = false;

  #assertOpen() {
    if (this.#closed) throw new Error('This MemoryState is closed: open a new one to keep syncing.');
  }

  async listFolderPairs(): Promise<FolderPairRecord[]> {
    this.#assertOpen();
    return [...this.#folderPairs.values()].map(copyFolderPair);
  }

  async recordFolderPair(record: FolderPairRecord): Promise<void> {
    this.#assertOpen();
    this.#folderPairs.set(record.key, copyFolderPair(record));
  }

  async forgetFolderPair(key: string): Promise<void> {
    this.#assertOpen();
    this.#drop(key);
  }

  /**
   * Moves each known `from` with its message pairs and markers to `to.key`, replacing what was there;
   * skips an unknown `from`. Rejects, changing nothing, when a key appears twice in one call (the
   * contract forbids it: the outcome would depend on the order of the renames).
   */
  async renameFolderPairs(renames: readonly FolderPairRename[]): Promise<void> {
    this.#assertOpen();
    assertDistinctKeys(renames);
    // Copied and taken out before anything is put in: a bad record throws before any change, and
    // with distinct keys no rename sees another's effect.
    const moving = renames
      .filter((r) => this.#folderPairs.has(r.from))
      .map((r) => ({
        from: r.from,
        to: copyFolderPair(r.to),
        pairs: this.#pairs.get(r.from),
        markers: this.#markers.get(r.from),
      }));
    for (const { from } of moving) this.#drop(from);
    for (const { to, pairs, markers } of moving) {
      this.#drop(to.key);
      this.#folderPairs.set(to.key, to);
      if (pairs) this.#pairs.set(to.key, pairs);
      if (markers) this.#markers.set(to.key, markers);
    }
  }

  #drop(key: string): void {
    this.#folderPairs.delete(key);
    this.#pairs.delete(key);
    this.#markers.delete(key);
  }

  async loadPairs(key: string): Promise<MessagePair[]> {
    this.#assertOpen();
    return [...(this.#pairs.get(key)?.byLeft.values() ?? [])].map(copyPair);
  }

  async findPairs(key: string, side: Side, ids: readonly string[]): Promise<MessagePair[]> {
    this.#assertOpen();
    const index = this.#pairs.get(key);
    if (!index) return [];
    const bySide = side === 'left' ? index.byLeft : index.byRight;
    const found: MessagePair[] = [];
    for (const id of new Set(ids)) {
      const pair = bySide.get(id);
      if (pair) found.push(copyPair(pair));
    }
    return found;
  }

  async recordPairs(key: string, pairs: readonly MessagePair[]): Promise<void> {
    this.#assertOpen();
    const stored = pairs.map(copyPair);
    if (stored.length === 0) return;
    let index = this.#pairs.get(key);
    if (!index) {
      index = { byLeft: new Map(), byRight: new Map() };
      this.#pairs.set(key, index);
    }
    // In order, so that within one batch a later pair replaces an earlier one sharing an id.
    for (const pair of stored) {
      unlink(index, index.byLeft.get(pair.left));
      unlink(index, index.byRight.get(pair.right));
      index.byLeft.set(pair.left, pair);
      index.byRight.set(pair.right, pair);
    }
  }

  async forgetPairs(key: string, side: Side, ids: readonly string[]): Promise<void> {
    this.#assertOpen();
    const index = this.#pairs.get(key);
    if (!index) return;
    const bySide = side === 'left' ? index.byLeft : index.byRight;
    for (const id of ids) unlink(index, bySide.get(id));
    if (index.byLeft.size === 0) this.#pairs.delete(key);
  }

  async loadMarker(key: string, side: Side): Promise<FolderMarker | null> {
    this.#assertOpen();
    const marker = this.#markers.get(key)?.get(side);
    return marker ? copyMarker(marker) : null;
  }

  async recordMarker(key: string, side: Side, marker: FolderMarker | null): Promise<void> {
    this.#assertOpen();
    let sides = this.#markers.get(key);
    if (marker === null) {
      sides?.delete(side);
      if (sides?.size === 0) this.#markers.delete(key);
      return;
    }
    const stored = copyMarker(marker);
    if (!sides) {
      sides = new Map();
      this.#markers.set(key, sides);
    }
    sides.set(side, stored);
  }

  /** Closing twice is harmless; every other call after the first close rejects. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}

function assertDistinctKeys(renames: readonly FolderPairRename[]): void {
  const seen = new Set<string>();
  for (const { from, to } of renames) {
    for (const key of [from, to.key]) {
      if (seen.has(key)) {
        throw new Error(
          `Cannot rename folder pairs: the key ${JSON.stringify(key)} appears twice in one call. ` +
            'Each key may appear once per call: split the renames into calls whose keys are distinct.',
        );
      }
      seen.add(key);
    }
  }
}

function unlink(index: PairIndex, pair: MessagePair | undefined) {
  if (!pair) return;
  index.byLeft.delete(pair.left);
  index.byRight.delete(pair.right);
}

function copyPair(pair: MessagePair): MessagePair {
  return { left: pair.left, right: pair.right, flags: [...pair.flags] };
}

function copyFolderPair(record: FolderPairRecord): FolderPairRecord {
  const copy: FolderPairRecord = { key: record.key, left: [...record.left], right: [...record.right] };
  if (record.heldBack !== undefined) copy.heldBack = record.heldBack;
  // Side by side, so that a later change to the caller's object cannot reach the stored one, and a side
  // without an id stays absent (as the SQLite backend returns it), never an `undefined` property.
  if (record.ids) {
    const ids: FolderPairRecord['ids'] = {};
    if (record.ids.left !== undefined) ids.left = record.ids.left;
    if (record.ids.right !== undefined) ids.right = record.ids.right;
    if (ids.left !== undefined || ids.right !== undefined) copy.ids = ids;
  }
  return copy;
}

function copyMarker(marker: FolderMarker): FolderMarker {
  return { epoch: marker.epoch, value: marker.value };
}
