/**
 * @twinbox/importers: turns an mbsync or OfflineIMAP config into a Twinbox config (TOML text that
 * `@twinbox/config` accepts), with a note for everything that was not translated exactly. Behind
 * `twinbox import`; pure functions of the source text, no I/O.
 */
export { importMbsync } from './mbsync.js';
export { importOfflineImap } from './offlineimap.js';
export type { ImportNote, ImportOptions, ImportResult } from './types.js';
