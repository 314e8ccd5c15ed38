import type { MessagePair, Side, StateBackend } from '@twinbox/core';

interface FolderPairState {
  byLeft: Map<string, MessagePair>;
  byRight: Map<string, MessagePair>;
}

/**
 * The in-memory state backend: for tests, and for state preloaded into RAM before a sync reads it.
 * Nothing survives the process, so "durable" means "stored in this object". Records are copied in and
 * out so a caller that mutates its arrays cannot change what the state holds.
 */
export class MemoryState implements StateBackend {
  readonly #folders = new Map<string, FolderPairState>();
  #closed = false;

  #folder(key: string): FolderPairState {
    this.#assertOpen();
    let folder = this.#folders.get(key);
    if (!folder) {
      folder = { byLeft: new Map(), byRight: new Map() };
      this.#folders.set(key, folder);
    }
    return folder;
  }

  #assertOpen() {
    if (this.#closed) throw new Error('This MemoryState is closed: open a new one to keep syncing.');
  }

  async loadPairs(folderPair: string): Promise<MessagePair[]> {
    return [...this.#folder(folderPair).byLeft.values()].map(copy);
  }

  async recordPairs(folderPair: string, pairs: readonly MessagePair[]): Promise<void> {
    const folder = this.#folder(folderPair);
    for (const pair of pairs) {
      const stored = copy(pair);
      unlink(folder, folder.byLeft.get(stored.left));
      unlink(folder, folder.byRight.get(stored.right));
      folder.byLeft.set(stored.left, stored);
      folder.byRight.set(stored.right, stored);
    }
  }

  async forgetPairs(folderPair: string, side: Side, ids: readonly string[]): Promise<void> {
    const folder = this.#folder(folderPair);
    const index = side === 'left' ? folder.byLeft : folder.byRight;
    for (const id of ids) unlink(folder, index.get(id));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

function unlink(folder: FolderPairState, pair: MessagePair | undefined) {
  if (!pair) return;
  folder.byLeft.delete(pair.left);
  folder.byRight.delete(pair.right);
}

function copy(pair: MessagePair): MessagePair {
  return { left: pair.left, right: pair.right, flags: [...pair.flags] };
}
