import type { FolderMarker, ListRequest, MessageProblem } from './driver.js';
import type { FlagList } from './flags.js';

/** The two sides of a pair. The engine is symmetric: nothing below favours one side by name. */
export type Side = 'left' | 'right';

/** The side that is not `side`. */
export function otherSide(side: Side): Side {
  return side === 'left' ? 'right' : 'left';
}

/**
 * One message as a driver lists it, without its body. `id` is the driver's own stable id within the
 * folder and epoch (an IMAP UID, a Maildir file's unique name); it survives flag changes and moves
 * between `new/` and `cur/`, and never names another message of the folder.
 */
export interface ListedMessage {
  id: string;
  flags: FlagList;
  /** Size in bytes with CRLF line endings, where the listing has it. */
  size?: number;
  /** The Message-ID header (trimmed, with its angle brackets), `null` when the message has none. */
  messageId?: string | null;
  /**
   * Arrival time (IMAP INTERNALDATE, a Maildir file's mtime), ms since the epoch: given when the
   * listing was asked for dates ({@link ListRequest.dates}), left out by a store that has none.
   */
  date?: number;
}

/** What the state recorded about one message of one side at the last sync. */
export interface RecordedMessage {
  id: string;
  flags: FlagList;
}

/** A known message pair, as a change refers to it: both ids and the base flags of the last sync. */
export interface PairRef {
  left: string;
  right: string;
  base: FlagList;
}

/**
 * One side's changes in one folder since the last sync: the controller's 2-way merge of the driver's
 * listing against the state. Only changes: an unchanged message does not appear. Plain data.
 */
export interface SideChanges {
  side: Side;
  /**
   * Messages the store holds that no pair knows (new, or not yet paired), as listed: size and
   * Message-ID only where the listing gives them (the engine describes the rest when it needs them).
   */
  added: ListedMessage[];
  /** Known pairs whose message on this side is gone. */
  removed: PairRef[];
  /** Known pairs whose message on this side has flags other than the base. */
  flagged: { pair: PairRef; flags: FlagList }[];
  /**
   * Set when this side's ids changed epoch (UIDVALIDITY): every recorded pair is void on this side.
   * All its messages are then in `added`, and `orphaned` lists the pairs whose other half must be
   * paired again by content; nothing is reported as removed.
   */
  reset: boolean;
  orphaned: PairRef[];
  /** How many messages a full listing held (absent after a delta or unchanged listing). */
  listed?: number;
  /** What the listing said was wrong with some of its messages; reported, not a reason to skip them. */
  problems?: MessageProblem[];
  /** The marker to record once the folder's sync has completed. */
  marker: FolderMarker;
  /**
   * Set when the store answered "unchanged" against the very marker the state holds for the folder, so
   * recording `marker` again would write nothing: the engine then skips this side's `commit` for a
   * folder in which it wrote nothing on this side, a round trip to a side in a worker saved.
   */
  current?: boolean;
}

/** Whether a side changed anything since the last sync: added, removed, flagged or orphaned messages. */
export function hasChanges(changes: SideChanges): boolean {
  return (
    changes.added.length > 0 ||
    changes.removed.length > 0 ||
    changes.flagged.length > 0 ||
    changes.orphaned.length > 0
  );
}
