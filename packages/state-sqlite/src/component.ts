import { SqliteState, type SqliteStateOptions } from './index.js';

/**
 * The state backend as a worker-runtime component: `startComponent(new URL(import.meta.resolve(
 * '@twinbox/state-sqlite/component')), { mode: 'thread', args: { path } })` runs it in a thread of its
 * own, which both sides' controllers then call (the design's dedicated state worker).
 */
export default async function create(args: SqliteStateOptions & { wait?: boolean; timeoutMs?: number }) {
  return SqliteState.open(args);
}
