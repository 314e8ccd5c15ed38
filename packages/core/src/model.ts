import type { FlagDelta, FlagList } from './flags.js';

/** The two sides of a pair. The engine is symmetric: nothing below favours one side by name. */
export type Side = 'left' | 'right';

export function otherSide(side: Side): Side {
  return side === 'left' ? 'right' : 'left';
}

/**
 * One message as a driver lists it, without its body. `id` is the driver's own stable id within the
 * folder (an IMAP UID under the folder's UIDVALIDITY, a Maildir file's unique name); it survives flag
 * changes and never names another message in the same folder.
 */
export interface ListedMessage {
  id: string;
  flags: FlagList;
  /** Size in bytes, where the store knows it cheaply (IMAP RFC822.SIZE, Maildir `,S=`). */
  size?: number;
  /** The Message-ID header, where the listing asked for it; part of the content fingerprint. */
  messageId?: string;
}

/**
 * What the state recorded about one message of one side at the last sync: its id and the flags both
 * sides agreed on then.
 */
export interface RecordedMessage {
  id: string;
  flags: FlagList;
}

/**
 * One side's changes since the last sync, from the 2-way merge of its listing against its state.
 * Only changes: an unchanged message does not appear.
 */
export interface ChangeSet {
  /** Messages the store holds and the state does not know. */
  added: ListedMessage[];
  /** Ids the state knew that the store no longer holds. */
  removed: string[];
  /** Known messages whose flags differ from the recorded ones. */
  flagged: { id: string; delta: FlagDelta; flags: FlagList }[];
}

export function isEmptyChangeSet(changes: ChangeSet): boolean {
  return changes.added.length === 0 && changes.removed.length === 0 && changes.flagged.length === 0;
}
