/**
 * @twinbox/core: the pure model of Twinbox. No I/O and no runtime dependency, so it runs anywhere and
 * its tests take milliseconds.
 */
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
} from './flags.js';
export {
  type ChangeSet,
  isEmptyChangeSet,
  type ListedMessage,
  otherSide,
  type RecordedMessage,
  type Side,
} from './model.js';
export type { MessagePair, StateBackend } from './state.js';
