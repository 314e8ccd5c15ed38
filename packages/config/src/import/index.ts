export { importMbsync } from './mbsync.js';
export type { ImportNote, ImportOptions, ImportResult } from './types.js';
