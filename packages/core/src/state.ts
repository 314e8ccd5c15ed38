import type { FlagList } from './flags.js';
import type { Side } from './model.js';

/**
 * Two messages the state knows to be the same message: the left side's id, the right side's id, and
 * the flags both sides held when they were last synced (the base of the next flag merge).
 */
export interface MessagePair {
  left: string;
  right: string;
  flags: FlagList;
}

/**
 * Contract of a state backend: what the last sync left behind, per folder pair.
 *
 * - A folder pair is named by a key the engine chooses; a backend treats it as an opaque string.
 * - Within a folder pair, a left id appears in at most one pair and so does a right id: recording a
 *   pair replaces every stored pair that shares its left or its right id.
 * - Each write call is atomic: after a crash at any instant, either all of its records are stored or
 *   none is. A call resolves only once its records are durable.
 * - Reads see every write that has resolved. Order of the returned pairs is unspecified.
 * - After `close()` resolves, every write has been made durable and further calls reject.
 */
export interface StateBackend {
  loadPairs(folderPair: string): Promise<MessagePair[]>;
  recordPairs(folderPair: string, pairs: readonly MessagePair[]): Promise<void>;
  /** Forgets the pairs whose id on `side` is one of `ids`; unknown ids are ignored. */
  forgetPairs(folderPair: string, side: Side, ids: readonly string[]): Promise<void>;
  close(): Promise<void>;
}
