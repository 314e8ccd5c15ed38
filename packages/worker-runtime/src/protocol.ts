/**
 * Messages between a component's server and its callers: plain data (plus transferred ports and
 * buffers), so they cross a MessagePort as is. The same protocol runs between a component's handle
 * and the host thread running it (over a port of its own, which also carries the control messages
 * `connect` and `close`) and over every port made by `connect()`. A host thread's `parentPort` only
 * carries the start of each component ({@link HostRequest}).
 */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from './errors.js';

export { RemoteError, type SerializedError, serializeError } from './errors.js';

export type Request =
  | { kind: 'call'; id: number; method: string; args: unknown[] }
  /** The caller gave up on call `id`; the component's signal for it is aborted with `reason`. */
  | { kind: 'cancel'; id: number; reason: SerializedError }
  /** Control: serve the component on `port` too (answered by a `result` for `id`). */
  | { kind: 'connect'; id: number; port: MessagePort }
  /** Control: finish or abort in-flight calls within `graceMs`, close the component, answer `closed`. */
  | { kind: 'close'; graceMs: number };

export type Reply =
  | { kind: 'ready'; name: string; methods: string[] }
  | { kind: 'init-failed'; error: SerializedError }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; error: SerializedError }
  /** The component is closed; `error` if its own `close()` failed. No more replies follow. */
  | { kind: 'closed'; error?: SerializedError };

/** Methods a component exposes: its own enumerable functions and those of its prototype chain. */
export function methodNames(component: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = component; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key !== 'constructor' && typeof (component as Record<string, unknown>)[key] === 'function')
        names.add(key);
    }
  }
  return [...names];
}

/** To a host thread: build a component and serve it on `port` (its replies start with `ready`). */
export type HostRequest = {
  kind: 'start';
  moduleUrl: string;
  args: unknown;
  name: string;
  port: MessagePort;
};

/** From a host thread: it is up and takes `start` requests. */
export type HostReply = { kind: 'host-ready' };
