import { type ComponentHandle, nameOf, openHost, type StartOptions } from './component-host.js';

export { type CallOptions, connectRemote, type Remote, type RemoteHandle } from './client.js';
export {
  type ComponentHandle,
  type ComponentHost,
  type HostOptions,
  type HostStartOptions,
  type RunMode,
  type StartOptions,
  startHost,
} from './component-host.js';
export { currentSignal } from './context.js';
export {
  AbortError,
  ComponentClosedError,
  DeadlineExceededError,
  RemoteError,
  type SerializedError,
  WorkerCrashedError,
} from './errors.js';
export { type ComponentPool, type PoolOptions, startPool } from './pool.js';
export { transfer } from './transfer.js';

/**
 * Starts a component. `moduleUrl` names an ES module whose default export builds the component
 * (sync or async) from `options.args`. In `thread` mode it runs in a worker thread of its own (a host
 * with this one component: see `startHost` to put many in one thread); in `inline` mode in this
 * thread, with arguments and results still passed through structured clone (and transfers still
 * moving), so a component that works inline works in a thread and the caller cannot tell the modes
 * apart. Rejects with a `RemoteError` if the module or its default export throws.
 */
export async function startComponent<T extends object>(
  moduleUrl: string | URL,
  options: StartOptions = {},
): Promise<ComponentHandle<T>> {
  const { mode = 'thread', resourceLimits, ...startOptions } = options;
  const name = options.name ?? nameOf(String(moduleUrl));
  const host = openHost(mode, name, resourceLimits);
  let handle: ComponentHandle<T>;
  try {
    handle = await host.start<T>(moduleUrl, { ...startOptions, name });
  } catch (err) {
    await host.close();
    throw err;
  }
  // Closing the host closes its one component first, then ends the thread.
  return { ...handle, close: (closeOptions) => host.close(closeOptions) };
}
