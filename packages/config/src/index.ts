/**
 * @twinbox/config: the config file of Twinbox (TOML, validated against one schema, published as JSON
 * Schema) and the assembly of a pair's stores, state and controllers from it. Both apps use it.
 */

// The codes of a refused login or of credentials that could not be had, for an app to map to one
// outcome; from the driver's module that loads nothing else, so reading them loads no imapflow.
export { AUTH_ERROR_CODES } from '@twinbox/driver-imap/auth-codes';
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
} from './assemble.js';
export { FolderRenames, folderMatcher, RenamedDriver } from './folders.js';
export {
  type ImportNote,
  type ImportOptions,
  type ImportResult,
  importMbsync,
  importOfflineImap,
} from './import/index.js';
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
