import type { ResourceLimits } from 'node:worker_threads';
import {
  type ComponentHandle,
  type ComponentHost,
  type HostStartOptions,
  type OpeningHost,
  openHost,
  type RunMode,
} from './component-host.js';
import { ComponentClosedError } from './errors.js';

/** How to start a pool. */
export interface PoolOptions {
  /** The most hosts (threads, in `thread` mode) the pool starts; a whole number, at least 1. */
  size: number;
  /** `thread` (the default): each host a worker thread. `inline`: every component in this thread. */
  mode?: RunMode;
  /** The pool's name; its hosts are named after it (`pool-1`, `pool-2`…). `pool` by default. */
  name?: string;
  /** V8 heap limits of each host's thread (`thread` mode), as `StartOptions.resourceLimits`. */
  resourceLimits?: ResourceLimits;
}

/**
 * Hosts (see {@link ComponentHost}) that components are spread over: each `start()` goes to the host
 * with the fewest components, and a new host is started, up to `size`, whenever every host has some.
 * A host whose thread died is dropped, and replaced for later starts.
 */
export interface ComponentPool {
  readonly name: string;
  readonly mode: RunMode;
  /** The live hosts, in the order they were started, each with its `size`: where components run. */
  readonly hosts: readonly ComponentHost[];
  /**
   * Starts a component on the host with the fewest components (the first such one), as
   * `host.start()` does. Rejects with a `ComponentClosedError` once the pool is closed.
   */
  start<T extends object>(moduleUrl: string | URL, options?: HostStartOptions): Promise<ComponentHandle<T>>;
  /**
   * Closes every host (each closes its components, with `graceMs` if given) and refuses later starts.
   * Idempotent. Rejects, after all that, with the first error a component's `close()` threw.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * A pool of at most `size` hosts. Starts nothing until the first component: hosts start as they are
 * needed, so a pool costs a thread only once it has a component for it.
 */
export function startPool(options: PoolOptions): ComponentPool {
  const { size, mode = 'thread', name = 'pool', resourceLimits } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`A pool's size is its number of hosts, a whole number of at least 1 (got ${size})`);
  }
  let hosts: OpeningHost[] = [];
  let started = 0;
  let refusal: Error | undefined;
  let closing: Promise<void> | undefined;
  const live = () => {
    hosts = hosts.filter((host) => host.alive);
    return hosts;
  };
  return {
    name,
    mode,
    get hosts() {
      return [...live()];
    },
    start<T extends object>(moduleUrl: string | URL, startOptions?: HostStartOptions) {
      if (refusal) return Promise.reject(refusal);
      let host = live().reduce<OpeningHost | undefined>(
        (best, candidate) => (best && best.size <= candidate.size ? best : candidate),
        undefined,
      );
      if (!host || (host.size > 0 && hosts.length < size)) {
        host = openHost(mode, `${name}-${++started}`, resourceLimits);
        hosts.push(host);
      }
      return host.start<T>(moduleUrl, startOptions);
    },
    close(closeOptions) {
      refusal ??= new ComponentClosedError(`Pool ${name} is closed; start a new pool`);
      closing ??= (async () => {
        const outcomes = await Promise.allSettled(hosts.map((host) => host.close(closeOptions)));
        const failed = outcomes.find((o) => o.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return closing;
    },
  };
}
