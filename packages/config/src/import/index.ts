export { importMbsync } from './mbsync.js';
export { importOfflineImap } from './offlineimap.js';
export type { ImportNote, ImportOptions, ImportResult } from './types.js';
