export { type CredentialSources, credentialSource, type OAuth2Options, resolveAuth } from './auth.js';
export { AUTH_ERROR_CODES, type AuthErrorCode } from './auth-codes.js';
export {
  CertificatePinError,
  checkTransportSecurity,
  type ImapAccountOptions,
  InsecureTransportError,
  isLoopbackHost,
  openImap,
  parseFingerprint,
} from './connection.js';
export { ImapDriver, type ImapDriverOptions, messageIdFromHeaders } from './driver.js';
export { type ImapFolder, listFolders } from './folders.js';
export type { ReconnectOptions } from './session.js';
export { isUid, uidSet } from './uids.js';
