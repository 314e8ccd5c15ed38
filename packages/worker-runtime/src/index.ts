import { Worker } from 'node:worker_threads';
import { methodNames, RemoteError, type Reply, type Request, serializeError } from './protocol.js';

export { RemoteError, type SerializedError } from './protocol.js';

/** The async face of a component: every method returns a promise, whatever mode it runs in. */
export type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

export type RunMode = 'thread' | 'inline';

export interface ComponentHandle<T> {
  readonly mode: RunMode;
  readonly api: Remote<T>;
  /** Calls the component's own `close()` if it has one, then ends its thread. Idempotent. */
  close(): Promise<void>;
}

export class WorkerCrashedError extends Error {
  override name = 'WorkerCrashedError';
  readonly code = 'WORKER_CRASHED';
}

/**
 * Starts a component. `moduleUrl` names an ES module whose default export builds the component from
 * `args` (plain data). In `thread` mode it runs in its own worker thread; in `inline` mode in this
 * thread, with arguments and results still passed through structured clone, so a component that works
 * inline works in a thread and the caller cannot tell the modes apart.
 */
export async function startComponent<T extends object>(
  moduleUrl: string | URL,
  options: { mode?: RunMode; args?: unknown } = {},
): Promise<ComponentHandle<T>> {
  const url = String(moduleUrl);
  return (options.mode ?? 'thread') === 'inline'
    ? startInline<T>(url, options.args)
    : startThread<T>(url, options.args);
}

function makeApi<T>(
  methods: string[],
  call: (method: string, args: unknown[]) => Promise<unknown>,
): Remote<T> {
  const api: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const m of methods) api[m] = (...args) => call(m, args);
  return api as Remote<T>;
}

async function startInline<T extends object>(url: string, args: unknown): Promise<ComponentHandle<T>> {
  const mod = await import(url);
  const component = await mod.default(structuredClone(args));
  let closed: Promise<void> | undefined;
  const call = async (method: string, callArgs: unknown[]) => {
    if (closed) throw new Error(`The component from ${url} is closed`);
    try {
      return structuredClone(await component[method](...structuredClone(callArgs)));
    } catch (err) {
      throw new RemoteError(serializeError(err));
    }
  };
  return {
    mode: 'inline',
    api: makeApi<T>(methodNames(component), call),
    close: () => {
      closed ??= Promise.resolve(component.close?.()).then(() => undefined);
      return closed;
    },
  };
}

// A worker thread runs plain Node, without the test runner's TypeScript transform, so when this file
// runs from source (tests), the thread uses the built host instead; turbo builds before it tests.
const hostUrl = import.meta.url.endsWith('.ts')
  ? new URL('../dist/host.js', import.meta.url)
  : new URL('./host.js', import.meta.url);

async function startThread<T extends object>(url: string, args: unknown): Promise<ComponentHandle<T>> {
  const worker = new Worker(hostUrl, { workerData: { moduleUrl: url, args } });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | undefined;
  let onClosed: (() => void) | undefined;

  const failAll = (err: Error) => {
    dead ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const ready = new Promise<string[]>((resolve, reject) => {
    worker.on('message', (reply: Reply) => {
      switch (reply.kind) {
        case 'ready':
          resolve(reply.methods);
          break;
        case 'init-failed':
          reject(new RemoteError(reply.error));
          void worker.terminate();
          break;
        case 'result':
          pending.get(reply.id)?.resolve(reply.value);
          pending.delete(reply.id);
          break;
        case 'error':
          pending.get(reply.id)?.reject(new RemoteError(reply.error));
          pending.delete(reply.id);
          break;
        case 'closed':
          onClosed?.();
          break;
      }
    });
    worker.on('error', (err) => {
      const crash = new WorkerCrashedError(`The worker running ${url} failed: ${err.message}`, {
        cause: err,
      });
      failAll(crash);
      reject(crash);
    });
    worker.on('exit', (code) => {
      const crash = new WorkerCrashedError(
        `The worker running ${url} exited (code ${code}) with calls pending`,
      );
      failAll(crash);
      reject(crash);
    });
  });
  const methods = await ready;

  const call = (method: string, callArgs: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      if (dead) return reject(dead);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ kind: 'call', id, method, args: callArgs } satisfies Request);
    });

  let closing: Promise<void> | undefined;
  return {
    mode: 'thread',
    api: makeApi<T>(methods, call),
    close: () => {
      closing ??= (async () => {
        if (!dead) {
          await new Promise<void>((resolve) => {
            onClosed = resolve;
            worker.once('exit', () => resolve());
            worker.postMessage({ kind: 'close' } satisfies Request);
          });
        }
        dead ??= new Error(`The component from ${url} is closed`);
        await worker.terminate();
      })();
      return closing;
    },
  };
}
