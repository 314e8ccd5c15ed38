export { renderDovecotConfig } from './config.js';
export {
  addUser,
  type DovecotInfo,
  DovecotMissingError,
  type DovecotOptions,
  type DovecotServer,
  startDovecot,
  type TestUser,
} from './server.js';
