export {
  checkTransportSecurity,
  type ImapAccountOptions,
  InsecureTransportError,
  isLoopbackHost,
  openImap,
} from './connection.js';
export { ImapDriver, messageIdFromHeaders } from './driver.js';
export { type ImapFolder, listFolders } from './folders.js';
