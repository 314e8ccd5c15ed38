import type { FolderMarker } from './driver.js';
import type { FlagList } from './flags.js';
import type { FolderInfo, FolderPath } from './folders.js';
import type { Side } from './model.js';

/**
 * Two messages the state knows to be the same message: the left side's id, the right side's id, and
 * the flags both sides held when they were last synced (the base of the next flag merge). A pair is
 * recorded only once both messages were confirmed written, so a deletion is propagated only for a
 * message both sides really had.
 */
export interface MessagePair {
  left: string;
  right: string;
  flags: FlagList;
}

/** A folder on the left synced with a folder on the right, under a key the engine chose. */
export interface FolderPairRecord {
  key: string;
  left: FolderPath;
  right: FolderPath;
  /**
   * Set by the engine while messages of the folder are held back by the policy's limits (size, age):
   * which limits, so that changing them lists the folder in full again, and keeping them does not.
   * Opaque to a backend, which stores and returns it as given; absent when nothing is held back.
   */
  heldBack?: string;
  /**
   * Each side's folder id ({@link FolderInfo.id}) as last listed, where that side's store gives one:
   * lets the engine prove a rename by the id alone. Set by the engine; opaque to a backend, which
   * stores and returns it as given, and absent (not an empty object) when neither side has one.
   */
  ids?: { left?: string; right?: string };
}

/** A folder pair to file under another key: the one under `from` becomes `to`, its pairs and markers kept. */
export interface FolderPairRename {
  from: string;
  to: FolderPairRecord;
}

/**
 * Contract of a state backend: what the last sync left behind.
 *
 * - Folder pairs are named by a key the engine chooses; a backend treats it as an opaque string.
 * - Within a folder pair, a left id appears in at most one message pair and so does a right id:
 *   recording a pair replaces every stored pair that shares its left or its right id.
 * - Each write call is atomic: after a crash at any instant, either all of its records are stored or
 *   none is. A call resolves only once its records are durable.
 * - Reads see every write that has resolved. The order of returned lists is unspecified.
 * - Unknown keys and ids are not errors: reads return nothing, forgets do nothing.
 * - After `close()` resolves every write is durable and further calls reject.
 */
export interface StateBackend {
  listFolderPairs(): Promise<FolderPairRecord[]>;
  /** Adds or replaces the folder pair with this key. */
  recordFolderPair(record: FolderPairRecord): Promise<void>;
  /** Forgets a folder pair with all of its message pairs and markers. */
  forgetFolderPair(key: string): Promise<void>;

  /**
   * Optional: files each folder pair `from` under `to.key`, with `to`'s paths and `heldBack`, keeping
   * its message pairs and both markers, all renames in one atomic write (a folder renamed with its
   * subfolders moves several pairs, and a crash must not leave some moved and some not). A pair
   * already under `to.key` is replaced; an unknown `from` is skipped. The `from` and `to` keys of one
   * call are all distinct. Without it, a renamed folder is synced as a new one (copied, then the old
   * one deleted) rather than renamed.
   */
  renameFolderPairs?(renames: readonly FolderPairRename[]): Promise<void>;

  loadPairs(key: string): Promise<MessagePair[]>;
  /**
   * The pairs whose id on `side` is one of `ids` (unknown ids are left out). Optional: a backend that
   * can look pairs up by id lets an incremental sync read only the pairs of what changed; without it the
   * controller loads the folder's pairs.
   */
  findPairs?(key: string, side: Side, ids: readonly string[]): Promise<MessagePair[]>;
  recordPairs(key: string, pairs: readonly MessagePair[]): Promise<void>;
  /** Forgets the message pairs whose id on `side` is one of `ids`. */
  forgetPairs(key: string, side: Side, ids: readonly string[]): Promise<void>;

  /** The marker of one side of a folder pair at its last complete sync, or null. */
  loadMarker(key: string, side: Side): Promise<FolderMarker | null>;
  /** Records (or with null, clears) the marker of one side of a folder pair. */
  recordMarker(key: string, side: Side, marker: FolderMarker | null): Promise<void>;

  close(): Promise<void>;
}
