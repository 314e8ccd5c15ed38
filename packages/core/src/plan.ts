import type { FlagList } from './flags.js';
import type { FolderPath } from './folders.js';
import type { PairRef, Side } from './model.js';
import type { MessagePair } from './state.js';

/** Copy the other side's message `from` into this side; once written, it pairs with `from`. */
export interface CopyAction {
  from: string;
  /** The flags the new message gets, which are also the new pair's base. */
  flags: FlagList;
}

/**
 * Change one message's flags by a delta. When a pair needs writes on both sides, the left one is
 * applied first and the right one only if the left succeeded; only the last carries `flags`.
 */
export interface FlagAction {
  id: string;
  pair: { left: string; right: string };
  add: string[];
  remove: string[];
  /** Once this write succeeded, record the pair with these flags as its base (creating it if new). */
  flags?: FlagList;
}

/** Delete a message whose other half the user deleted; once done, the pair is forgotten. */
export interface DeleteAction {
  id: string;
  pair: { left: string; right: string };
}

/**
 * Move a message into this folder from another folder of the same side, because the user moved it on
 * the other side: the store's own move, so no body crosses. Once done, the pair is recorded here (the
 * other side's id `id` with this side's new id, and the old base flags) before it is forgotten in `from`.
 */
export interface MoveAction {
  /** The key of the folder pair the message left. */
  from: string;
  /** The pair it was in there: this side's half is the message to move; `base` the last synced flags. */
  pair: PairRef;
  /** The moved message's id in this folder on the other side, where the user put it. */
  id: string;
}

/** What one side must do in one folder. */
export interface SidePlan {
  copies: CopyAction[];
  flags: FlagAction[];
  deletes: DeleteAction[];
  /**
   * Moves into this folder, set only when there are some. The engine does them before any folder's
   * copies, flags and deletions, since a move's source is another folder.
   */
  moves?: MoveAction[];
}

/** A conflict the merge resolved, reported so the user can see what was decided. */
export interface Conflict {
  kind: 'delete-vs-change' | 'flags';
  left?: string;
  right?: string;
  resolution: string;
}

/**
 * The plan for one folder pair: plain data. A dry run prints it; tests assert on it; the engine hands
 * each side its half.
 */
export interface FolderPlan {
  key: string;
  left: FolderPath;
  right: FolderPath;
  toLeft: SidePlan;
  toRight: SidePlan;
  /** State only, done first: pairs to forget (deleted on both sides, or void after an epoch change). */
  forget: { side: Side; ids: string[] }[];
  /** State only: pairs found by content, or whose flags changed the same way on both sides. */
  record: MessagePair[];
  conflicts: Conflict[];
  /**
   * Sides whose folder marker must not be committed after this plan: a change there was left unacted
   * on purpose (a deletion the policy does not carry over), and an incremental listing since a newer
   * marker would no longer show it, so later plans would act on a message that is not there.
   */
  hold: Side[];
}

/** What to do with the folder lists before any folder is synced. */
export interface FolderListPlan {
  create: { side: Side; path: FolderPath }[];
  /** Folders whose other half the user deleted and which did not change since: delete them too. */
  delete: { side: Side; path: FolderPath; key: string }[];
  /** Folder pairs the user deleted on both sides: only the state forgets them. */
  forget: string[];
}

/** A side plan with nothing to do. */
export function emptySidePlan(): SidePlan {
  return { copies: [], flags: [], deletes: [] };
}

/** How many actions a side plan holds: copies, flag changes, deletions and moves. */
export function sidePlanSize(plan: SidePlan): number {
  return plan.copies.length + plan.flags.length + plan.deletes.length + (plan.moves?.length ?? 0);
}

/** True when applying the plan would change nothing, neither a store nor the state. */
export function isEmptyFolderPlan(plan: FolderPlan): boolean {
  return (
    sidePlanSize(plan.toLeft) === 0 &&
    sidePlanSize(plan.toRight) === 0 &&
    plan.forget.every((f) => f.ids.length === 0) &&
    plan.record.length === 0
  );
}

/** Whether a folder list plan creates, deletes and forgets nothing. */
export function isEmptyFolderListPlan(plan: FolderListPlan): boolean {
  return plan.create.length === 0 && plan.delete.length === 0 && plan.forget.length === 0;
}
