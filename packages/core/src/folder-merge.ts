import { type FolderInfo, type FolderPath, folderKey, isInbox } from './folders.js';
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
  /** New on one side, and the policy does not create folders that way. */
  | { kind: 'skip'; key: string; path: FolderPath; on: Side };

/**
 * The folder-list merge. Folders pair by path (after the caller's name translation), so a folder
 * renamed on one side is a deletion and a creation: its messages reach the new name by copy, and the
 * old name goes only if nothing in it changed. Slower than a rename, never lossy.
 */
export function planFolders(input: {
  left: readonly FolderInfo[];
  right: readonly FolderInfo[];
  known: readonly FolderPairRecord[];
  policy: SyncPolicy;
}): FolderDecision[] {
  const left = new Map(input.left.map((f) => [folderKey(f.path), f]));
  const right = new Map(input.right.map((f) => [folderKey(f.path), f]));
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
      decisions.push({ kind: 'forget', key });
    } else {
      const present: Side = l ? 'left' : 'right';
      const missing: Side = l ? 'right' : 'left';
      const path = (l ?? r)!.path;
      if (record && !isInbox(path)) {
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
