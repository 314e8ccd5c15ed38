/**
 * What a pair propagates and who wins a conflict. Plain data, so a config file maps onto it directly.
 */
export interface SyncPolicy {
  /** Which way changes flow: both ways, or from one side only (the other side's changes stay there). */
  direction: 'both' | 'left-to-right' | 'right-to-left';
  propagate: {
    /** Copy messages that are new on one side to the other. */
    new: boolean;
    /** Carry flag and keyword changes over. */
    flags: boolean;
    /** Delete on one side what the user deleted on the other (only ever for messages both sides had). */
    deletions: boolean;
    /** Create on one side a folder that is new on the other. */
    folderCreation: boolean;
    /**
     * Delete on one side a folder the user deleted on the other, if nothing in it changed since. As
     * that deletes the messages in it, a folder that still holds any is deleted only if `deletions`
     * propagate too; otherwise it is brought back where it was deleted.
     */
    folderDeletion: boolean;
  };
  conflicts: {
    /**
     * A message deleted on one side and changed (flags) on the other: `keep` it (copy it back to the
     * side that deleted it), or let the deletion win.
     */
    deleteVsChange: 'keep' | 'delete';
    /**
     * Both sides changed a message's flags: `merge` takes each side's change flag by flag (and the
     * union when there is no common base); `left` or `right` takes that side's whole set.
     */
    flags: 'merge' | 'left' | 'right';
  };
  /**
   * Messages larger than this many bytes (CRLF size, as listed) are not copied, like mbsync's MaxSize:
   * they stay where they are, unpaired, and are reported as skipped. A message whose size the listing
   * does not give is copied.
   */
  maxMessageSize?: number;
  /**
   * Messages that arrived (IMAP INTERNALDATE, Maildir mtime) more than this many milliseconds before
   * the sync began are not copied, like OfflineIMAP's `maxage`: they stay where they are, unpaired, and
   * are reported as held back. Messages already paired go on syncing flags and deletions whatever
   * their age. A message whose store gives no date is copied.
   */
  maxMessageAge?: number;
}

/**
 * What a sync does unless told otherwise: both ways, carrying new messages, flags, deletions and folder
 * creations and deletions; flags changed on both sides merged; a message deleted on one side and
 * changed on the other kept.
 */
export const DEFAULT_POLICY: SyncPolicy = {
  direction: 'both',
  propagate: { new: true, flags: true, deletions: true, folderCreation: true, folderDeletion: true },
  conflicts: { deleteVsChange: 'keep', flags: 'merge' },
};

/** True when changes made on `from` may be carried to the other side. */
export function flowsFrom(policy: SyncPolicy, from: 'left' | 'right'): boolean {
  return (
    policy.direction === 'both' || policy.direction === (from === 'left' ? 'left-to-right' : 'right-to-left')
  );
}

/** A policy from a partial one (as a config file gives it), filling in the defaults. */
export function resolvePolicy(
  partial: {
    direction?: SyncPolicy['direction'];
    propagate?: Partial<SyncPolicy['propagate']>;
    conflicts?: Partial<SyncPolicy['conflicts']>;
    maxMessageSize?: number | undefined;
    maxMessageAge?: number | undefined;
  } = {},
): SyncPolicy {
  return {
    ...(partial.maxMessageSize !== undefined ? { maxMessageSize: partial.maxMessageSize } : {}),
    ...(partial.maxMessageAge !== undefined ? { maxMessageAge: partial.maxMessageAge } : {}),
    direction: partial.direction ?? DEFAULT_POLICY.direction,
    propagate: { ...DEFAULT_POLICY.propagate, ...partial.propagate },
    conflicts: { ...DEFAULT_POLICY.conflicts, ...partial.conflicts },
  };
}
