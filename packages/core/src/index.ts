/**
 * @twinbox/core: the pure model of Twinbox. No I/O and no runtime dependency, so it runs anywhere and
 * its tests take milliseconds.
 */
export type { ActionOutcome, ChangesOptions, CopyItem, SideController } from './controller.js';
export { describePlan } from './describe-plan.js';
export {
  type DescribeRequest,
  type Driver,
  type DriverCapabilities,
  type FlagOutcome,
  type FlagUpdate,
  type FolderMarker,
  isReadFailure,
  type Listing,
  type ListRequest,
  type MessageContent,
  type MessageProblem,
  type MoveOutcome,
  type ReadFailure,
  type ReadResult,
  type WriteOutcome,
} from './driver.js';
export { type FolderReport, type SyncEvent, type SyncOptions, type SyncReport, sync } from './engine.js';
export { type ErrorScope, errorScope, FolderError, MessageError, StoreError, SyncError } from './errors.js';
export {
  applyFlagDelta,
  compareFlags,
  diffFlags,
  type FlagDelta,
  type FlagList,
  type FlagMerge,
  flagsEqual,
  isEmptyDelta,
  isValidKeyword,
  mergeFlags,
  normalizeFlags,
  SYSTEM_FLAGS,
  type SystemFlag,
  unstorableKeywords,
} from './flags.js';
export { type FolderDecision, planFolders } from './folder-merge.js';
export {
  displayFolder,
  type FolderInfo,
  type FolderPath,
  folderKey,
  INBOX,
  isInbox,
  isRefusedFolder,
  type ListedFolder,
  parseFolderKey,
  quoteName,
  type RefusedFolder,
} from './folders.js';
export { messageIdFromHeaders } from './headers.js';
export { type FolderMergeInput, keptOnConflict, mergeFolder } from './merge.js';
export {
  hasChanges,
  type ListedMessage,
  otherSide,
  type PairRef,
  type RecordedMessage,
  type Side,
  type SideChanges,
} from './model.js';
export {
  type DetectedMove,
  type MoveFolder,
  type MoveSource,
  type MoveTarget,
  matchMoves,
  moveCandidates,
  movedFlags,
  moveHashNeeds,
} from './moves.js';
export { decodeMutf7, encodeMutf7 } from './mutf7.js';
export {
  type Candidate,
  type ContentPairing,
  contentPairingNeeds,
  type HashMap,
  pairByContent,
} from './pairing.js';
export {
  type Conflict,
  type CopyAction,
  type DeleteAction,
  emptySidePlan,
  type FlagAction,
  type FolderListPlan,
  type FolderPlan,
  isEmptyFolderListPlan,
  isEmptyFolderPlan,
  type MoveAction,
  type SidePlan,
  sidePlanSize,
} from './plan.js';
export { DEFAULT_POLICY, flowsFrom, resolvePolicy, type SyncPolicy } from './policy.js';
export type { FolderPairRecord, FolderPairRename, MessagePair, StateBackend } from './state.js';
export type { ChangeNotice, ChangeWatch, WatchRequest, WatchStatus } from './watch.js';
