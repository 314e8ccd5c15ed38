export { type Direction, FaultProxy, type NetworkFault } from './proxy.js';
export {
  type CommandInfo,
  type FakeFolder,
  type FakeImapOptions,
  FakeImapServer,
  type FakeMessage,
  type Reaction,
  type Script,
} from './server.js';
