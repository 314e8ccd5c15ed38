import type { FolderMarker, FolderPairRecord, MessagePair, Side, StateBackend } from '@twinbox/core';

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
  return copy;
}

function copyMarker(marker: FolderMarker): FolderMarker {
  return { epoch: marker.epoch, value: marker.value };
}
