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
export { FolderRenames, folderMatcher, RenamedDriver } from './folders.js';
export { type LastSync, lastSyncFile, lastSyncOf, readLastSync, recordLastSync } from './last-sync.js';
export { ConfigError, type ConfigProblem, type LoadedConfig, loadConfig, parseConfig } from './load.js';
export { defaultConfigPath, defaultStateDir, expandPath } from './paths.js';
export {
  type AccountConfig,
  configJsonSchema,
  configSchema,
  type ImapAccountConfig,
  type MaildirAccountConfig,
  type PairConfig,
  parseAge,
  parseSize,
  type TwinboxConfig,
} from './schema.js';
export { starterConfig } from './starter.js';
