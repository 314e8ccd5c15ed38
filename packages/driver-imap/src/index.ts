export {
  checkTransportSecurity,
  type ImapAccountOptions,
  InsecureTransportError,
  isLoopbackHost,
  openImap,
} from './connection.js';
export { type ImapFolder, listFolders } from './folders.js';
