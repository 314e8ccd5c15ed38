import {
  type FolderInfo,
  type FolderPath,
  folderKey,
  isInbox,
  isRefusedFolder,
  type ListedFolder,
  type RefusedFolder,
} from './folders.js';
import { otherSide, type Side } from './model.js';
import { flowsFrom, type SyncPolicy } from './policy.js';
import type { FolderPairRecord } from './state.js';

/** A folder pair as the engine will treat it in this sync. */
export type FolderDecision =
  /** On both sides: sync its messages. */
  | { kind: 'sync'; key: string; left: FolderPath; right: FolderPath; selectable: boolean; isNew: boolean }
  /**
   * New on one side, and missing on the other (`on`) or only a name there that holds other folders
   * (IMAP `\Noselect`): create it on `on` (if the policy lets it), then sync.
   */
  | { kind: 'create'; key: string; left: FolderPath; right: FolderPath; on: Side; selectable: boolean }
  /**
   * Known, and now missing on one side (`missingOn`): deleted there by the user. Deleted on the other
   * side too if it has not changed since the last sync; otherwise recreated and synced afresh.
   */
  | {
      kind: 'deleted';
      key: string;
      left: FolderPath;
      right: FolderPath;
      missingOn: Side;
      selectable: boolean;
    }
  /** Known, and missing on both sides: only the state forgets it. */
  | { kind: 'forget'; key: string }
  /**
   * New on one side, and the policy does not create folders that way; or known and missing on one
   * side that lists a name it refused (`held`): that name may be this folder in another spelling, so
   * nothing is deleted or recreated, and the pair stays as it is until the name is fixed.
   */
  | { kind: 'skip'; key: string; path: FolderPath; on: Side; held?: true };

/**
 * The folder-list merge. Folders pair by path (after the caller's name translation), so a folder
 * renamed on one side is a deletion and a creation: its messages reach the new name by copy, and the
 * old name goes only if nothing in it changed. Slower than a rename, never lossy.
 *
 * Refused names (see {@link RefusedFolder}) get no decision: the caller reports them. But a known
 * folder missing from a side that lists any is held (`skip` with `held`), not deleted or recreated.
 */
export function planFolders(input: {
  left: readonly ListedFolder[];
  right: readonly ListedFolder[];
  known: readonly FolderPairRecord[];
  policy: SyncPolicy;
}): FolderDecision[] {
  const usable = (list: readonly ListedFolder[]) => list.filter((f): f is FolderInfo => !isRefusedFolder(f));
  const refusing: Record<Side, boolean> = {
    left: input.left.some(isRefusedFolder),
    right: input.right.some(isRefusedFolder),
  };
  const left = new Map(usable(input.left).map((f) => [folderKey(f.path), f]));
  const right = new Map(usable(input.right).map((f) => [folderKey(f.path), f]));
  const known = new Map(input.known.map((r) => [r.key, r]));
  const keys = [...new Set([...left.keys(), ...right.keys(), ...known.keys()])].sort();
  const decisions: FolderDecision[] = [];
  for (const key of keys) {
    const l = left.get(key);
    const r = right.get(key);
    const record = known.get(key);
    const selectable = (l?.selectable ?? true) && (r?.selectable ?? true);
    if (l && r) {
      // A folder on one side, only a name holding other folders on the other (IMAP \Noselect, a
      // Maildir++ `.A.B` without `.A`): it is made a folder there too, or its messages would never be
      // synced. Unless folders may not be created that way: then it stays as it is, not synced.
      const nameOnly: Side | undefined =
        l.selectable && !r.selectable ? 'right' : r.selectable && !l.selectable ? 'left' : undefined;
      if (
        nameOnly &&
        !isInbox(l.path) &&
        input.policy.propagate.folderCreation &&
        flowsFrom(input.policy, otherSide(nameOnly))
      ) {
        decisions.push({ kind: 'create', key, left: l.path, right: r.path, on: nameOnly, selectable: true });
      } else {
        decisions.push({ kind: 'sync', key, left: l.path, right: r.path, selectable, isNew: !record });
      }
    } else if (!l && !r) {
      if (record && (refusing.left || refusing.right)) {
        // Both may be refused names now (a spelling the old lenient reading accepted): keep the pair.
        decisions.push({ kind: 'skip', key, path: record.left, on: 'left', held: true });
      } else {
        decisions.push({ kind: 'forget', key });
      }
    } else {
      const present: Side = l ? 'left' : 'right';
      const missing: Side = l ? 'right' : 'left';
      const path = (l ?? r)!.path;
      if (record && !isInbox(path) && refusing[missing]) {
        decisions.push({ kind: 'skip', key, path, on: present, held: true });
      } else if (record && !isInbox(path)) {
        decisions.push({
          kind: 'deleted',
          key,
          left: record.left,
          right: record.right,
          missingOn: missing,
          selectable,
        });
      } else if (
        isInbox(path) ||
        (input.policy.propagate.folderCreation && flowsFrom(input.policy, present))
      ) {
        decisions.push({ kind: 'create', key, left: path, right: path, on: missing, selectable });
      } else {
        decisions.push({ kind: 'skip', key, path, on: present });
      }
    }
  }
  return decisions;
}
