export { decodeMutf7, encodeMutf7 } from '@twinbox/core';
export { MaildirDriver, type MaildirOptions } from './driver.js';
export { formatMaildirName, type MaildirName, parseMaildirName, sizesFromName } from './filename.js';
export { KEYWORDS_FILE } from './keywords.js';
export type { FolderNameEncoding, MaildirLayoutName } from './layout.js';
