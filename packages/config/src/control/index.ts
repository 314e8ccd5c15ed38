/**
 * @twinbox/config/control: the daemon's control socket, for the daemon that serves it and the CLI that
 * talks to it. Light on purpose: it loads Node's built-ins only (no schema, no TOML, no driver), so
 * that `twinbox sync` through a running daemon starts in a few milliseconds.
 */
export type { LastSync } from '../last-sync.js';
export { defaultConfigPath } from '../paths.js';
export { type ConnectControlOptions, type ControlClient, ControlError, connectControl } from './client.js';
export {
  CONTROL_PROTOCOL,
  type ConnectionReply,
  type ControlReply,
  type ControlRequest,
  type HelloReply,
  MAX_REPLY_LINE,
  MAX_REQUEST_LINE,
  type PairState,
  type PairStatus,
  type StatusRequest,
  type SyncEvents,
  type SyncReply,
  type SyncRequest,
} from './protocol.js';
export { type ControlServer, type ControlTarget, type ServeControlOptions, serveControl } from './server.js';
export { controlSocketPath } from './socket-path.js';
