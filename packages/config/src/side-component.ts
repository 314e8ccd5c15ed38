import type { MessagePort } from 'node:worker_threads';
import { Controller } from '@twinbox/controller';
import type { CopyItem, SideController, StateBackend } from '@twinbox/core';
import { connectRemote, currentSignal, transfer } from '@twinbox/worker-runtime';
import { openDriver } from './assemble.js';
import { movableBuffers, releaseWritten } from './buffers.js';
import { FolderRenames, RenamedDriver } from './folders.js';
import type { AccountConfig } from './schema.js';

/** What a side worker is built from: plain data, and the port to the state worker. */
export interface SideArgs {
  side: 'left' | 'right';
  account: AccountConfig;
  /** Left name = right name; applied on the right side only. */
  rename: Record<string, string>;
  /** A port to the state component: this side calls the state directly, not through the engine. */
  statePort: MessagePort;
  /** Deadline of each call to the state, so a stuck state worker fails the sync instead of hanging it. */
  stateDeadlineMs?: number;
}

/** Every method of a side's controller, by name: what crosses the worker boundary. */
const METHODS = [
  'capabilities',
  'listFolders',
  'createFolder',
  'deleteFolder',
  'folderPairs',
  'recordFolderPair',
  'forgetFolderPair',
  'changes',
  'describe',
  'hashes',
  'read',
  'applyState',
  'applyFlags',
  'applyDeletes',
  'applyCopies',
  'applyMoves',
  'renameFolder',
  'pairs',
  'commit',
  'interrupt',
  'watch',
  'unwatch',
] as const satisfies readonly (keyof SideController)[];

/**
 * A side as a worker-runtime component: the account's driver and a controller, talking to the state
 * worker over its own port. Bodies it reads are moved to the caller, not copied.
 *
 * `watch`, `nextChange` and `unwatch` are always there (the controller's: `WATCH_UNSUPPORTED` when
 * the driver cannot be watched). `nextChange` takes no signal across the boundary: abort it through
 * the call's options (`handle.with({ signal }).nextChange()`), which the runtime hands the component
 * as `currentSignal()`. Abort a waiting `nextChange` before closing the component: the runtime lets
 * calls in flight finish for its grace period (5 s by default) before it closes anything.
 */
export default async function createSide(args: SideArgs) {
  // The store opens while the state does (a pair's components start together): a server's TLS
  // handshake and login need not wait for the state's database, nor the state for them.
  const [connected, opened] = await Promise.allSettled([
    connectRemote<StateBackend>(args.statePort, {
      ...(args.stateDeadlineMs ? { deadlineMs: args.stateDeadlineMs } : {}),
    }),
    openDriver(args.account),
  ]);
  if (connected.status === 'rejected' || opened.status === 'rejected') {
    if (connected.status === 'fulfilled') await connected.value.close();
    if (opened.status === 'fulfilled') await opened.value.close().catch(() => {});
    // The store's own error names this side's problem; a lost state connection is the state's, which
    // whoever started the pair hears from the state itself.
    throw opened.status === 'rejected' ? opened.reason : (connected as PromiseRejectedResult).reason;
  }
  const state = connected.value;
  let driver = opened.value;
  const renames = new FolderRenames(args.rename);
  if (args.side === 'right' && !renames.empty) driver = new RenamedDriver(driver, renames);
  const controller = new Controller({ side: args.side, driver, state: state.api as unknown as StateBackend });
  const component: Record<string, unknown> = {};
  for (const method of METHODS) {
    component[method] = (...a: unknown[]) =>
      (controller[method] as (...x: unknown[]) => unknown).apply(controller, a);
  }
  // The caller's signal, not an argument: a signal cannot cross a worker port.
  component.nextChange = () => controller.nextChange(currentSignal());
  component.read = async (path: Parameters<SideController['read']>[0], ids: readonly string[]) => {
    const contents = await controller.read(path, ids);
    return transfer(contents, movableBuffers(contents));
  };
  component.applyCopies = async (
    key: string,
    path: Parameters<SideController['applyCopies']>[1],
    items: readonly CopyItem[],
  ) => {
    const outcomes = await controller.applyCopies(key, path, items);
    releaseWritten(items, outcomes);
    return outcomes;
  };
  component.close = async () => {
    try {
      await driver.close();
    } finally {
      await state.close();
    }
  };
  return component as unknown as SideController & { close(): Promise<void> };
}
