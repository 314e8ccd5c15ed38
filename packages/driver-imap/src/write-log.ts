import { type FolderMarker, normalizeFlags, unstorableKeywords } from '@twinbox/core';

/**
 * What the driver wrote to each folder since that folder's last listing, by the folder's name on the
 * server: what {@link vouches} needs to tell the driver's own writes from another client's changes, so
 * that `markerAfterWrites` can hand out the folder's HIGHESTMODSEQ after the writes. Without it, every
 * sync that wrote to a folder makes the next one list those writes back as changes and compare each
 * with its pair: after an IMAP→IMAP first sync of 6,000 messages the next sync (nothing changed) spent
 * ~200 ms listing and pairing the 6,000 it had appended.
 *
 * Only appends and removals are logged as checkable. A flag change (`+FLAGS`/`-FLAGS`) leaves a
 * message's other flags as they were, which the driver does not know: another client's change to the
 * same message could not be told apart from ours, so a folder whose flags the driver changed is
 * `unsure`, as is one that took messages by the store's own move (their flags came from elsewhere) or
 * whose writes ended in an error (what the server kept is unknown).
 */
export interface FolderWrites {
  /** The listing's marker: HIGHESTMODSEQ as a number, under UIDVALIDITY `epoch`. */
  epoch: string;
  modseq: bigint;
  /** Messages in the folder by the STATUS that marker came from; undefined when it did not say. */
  messages: number | undefined;
  /** UID of each message appended and confirmed (by APPENDUID, or found after), to its appended flags. */
  appended: Map<number, string>;
  /** UIDs this driver expunged or moved out. */
  removed: Set<number>;
  /** A write happened that the check cannot account for. */
  unsure: boolean;
}

/** The flags of a message as one comparable string: normalised (no `\Recent`), sorted, space-joined. */
export function flagsKey(flags: Iterable<string>): string {
  return normalizeFlags([...flags]).join(' ');
}

export class WriteLog {
  readonly #folders = new Map<string, FolderWrites>();

  /**
   * A listing of `name` gave `marker`: writes are logged against it from now on. A marker that is no
   * HIGHESTMODSEQ (a server without CONDSTORE) logs nothing; such a folder is listed in full anyway.
   */
  listed(name: string, marker: FolderMarker, messages: number | undefined): void {
    if (!/^\d{1,20}$/.test(marker.value)) {
      this.#folders.delete(name);
      return;
    }
    this.#folders.set(name, {
      epoch: marker.epoch,
      modseq: BigInt(marker.value),
      messages,
      appended: new Map(),
      removed: new Set(),
      unsure: false,
    });
  }

  appended(name: string, uid: number, flags: Iterable<string>): void {
    const folder = this.#folders.get(name);
    if (!folder) return;
    // Two messages confirmed under one UID: one of them is not where the log says.
    if (folder.appended.has(uid)) folder.unsure = true;
    folder.appended.set(uid, flagsKey(flags));
  }

  removed(name: string, uids: Iterable<number>): void {
    const folder = this.#folders.get(name);
    if (folder) for (const uid of uids) folder.removed.add(uid);
  }

  unsure(name: string): void {
    const folder = this.#folders.get(name);
    if (folder) folder.unsure = true;
  }

  /** The folders `gone` names are deleted or renamed: nothing logged for them holds. */
  forget(gone: (name: string) => boolean): void {
    for (const name of [...this.#folders.keys()]) if (gone(name)) this.#folders.delete(name);
  }

  /**
   * The writes to check for a folder listed with `marker`: undefined when that was not its last
   * listing here, when nothing was written since, or when a write cannot be checked.
   */
  writesSince(name: string, marker: FolderMarker): FolderWrites | undefined {
    const folder = this.#folders.get(name);
    if (!folder || folder.unsure || folder.epoch !== marker.epoch) return undefined;
    if (String(folder.modseq) !== marker.value) return undefined;
    if (folder.appended.size === 0 && folder.removed.size === 0) return undefined;
    return folder;
  }
}

/**
 * True when a `UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE m VANISHED)` answer, m being the listing's
 * HIGHESTMODSEQ, shows exactly the driver's own writes: every row one of the messages it appended,
 * with the flags it appended it with, every appended message among the rows, and every vanished UID
 * one it removed. Any other row is another client's change (or one the driver cannot name), and an
 * appended message missing from the rows means the answer is not whole. (A VANISHED line imapflow
 * could not read is not seen here: the caller compares the folder's counts for that.)
 */
export function vouches(
  writes: FolderWrites,
  rows: Iterable<{ uid?: number; flags?: Set<string> }>,
  vanished: Iterable<number>,
): boolean {
  const seen = new Set<number>();
  for (const row of rows) {
    if (row.uid === undefined || row.flags === undefined) return false;
    // A keyword no store can hold, which the comparison below would not see, is left for the next
    // listing to report.
    if (unstorableKeywords(row.flags).length > 0) return false;
    const expected = writes.appended.get(row.uid);
    if (expected === undefined || flagsKey(row.flags) !== expected) return false;
    seen.add(row.uid);
  }
  if (seen.size !== writes.appended.size) return false;
  for (const uid of vanished) if (!writes.removed.has(uid)) return false;
  return true;
}
