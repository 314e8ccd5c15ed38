/**
 * @twinbox/config: the config file of Twinbox (TOML, validated against one schema, published as JSON
 * Schema) and the assembly of a pair's stores, state and controllers from it. Both apps use it.
 */

export {
  type ComponentStarter,
  type OpenDriverOptions,
  type OpenedPair,
  type OpenPairOptions,
  openDriver,
  openPair,
  type PairSyncOptions,
  policyOf,
  statePath,
  syncPair,
  workerResourceLimits,
} from './assemble.js';
export { ConfigError, type ConfigProblem } from './config-text.js';
export { FolderRenames, folderMatcher, RenamedDriver } from './folders.js';
export { type LastSync, lastSyncFile, lastSyncOf, readLastSync, recordLastSync } from './last-sync.js';
export { type LoadedConfig, loadConfig } from './load.js';
export { defaultConfigPath, defaultStateDir, expandPath } from './paths.js';
export type {
  AccountConfig,
  ImapAccountConfig,
  MaildirAccountConfig,
  PairConfig,
  TwinboxConfig,
} from './schema.js';
export { starterConfig } from './starter.js';
export { parseAge, parseSize } from './units.js';
