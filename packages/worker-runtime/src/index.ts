import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { type CallOptions, type Invoker, makeApi, PortClient, type RemoteHandle } from './client.js';
import {
  ComponentClosedError,
  DeadlineExceededError,
  RemoteError,
  serializeError,
  WorkerCrashedError,
} from './errors.js';
import { watchPorts } from './port-watch.js';
import type { Reply } from './protocol.js';
import { ComponentServer } from './server.js';
import { takeTransfers } from './transfer.js';

export { type CallOptions, connectRemote, type Remote, type RemoteHandle } from './client.js';
export { currentSignal } from './context.js';
export {
  AbortError,
  ComponentClosedError,
  DeadlineExceededError,
  RemoteError,
  type SerializedError,
  WorkerCrashedError,
} from './errors.js';
export { transfer } from './transfer.js';

/** Where a component runs: `thread`, a worker thread of its own; `inline`, the calling thread. */
export type RunMode = 'thread' | 'inline';

/** How to start a component. */
export interface StartOptions {
  /** `thread` (the default): a worker thread of its own. `inline`: this thread, same contract. */
  mode?: RunMode;
  /**
   * Given to the module's default export. Structured-cloned; ports and streams in it (or marked with
   * `transfer()`) are moved, so a component can be started with a `connect()` port of another.
   */
  args?: unknown;
  /** The component's name in errors; defaults to its module's file name without extension. */
  name?: string;
  /** The default deadline of every call, in ms (see {@link CallOptions.deadlineMs}); none by default. */
  deadlineMs?: number;
  /** How long importing the module and building the component may take, in ms; none by default. */
  startDeadlineMs?: number;
  /** How long `close()` lets calls in flight finish before aborting them, in ms; 5000 by default. */
  graceMs?: number;
}

/** A started component. */
export interface ComponentHandle<T> extends RemoteHandle<T> {
  readonly mode: RunMode;
  /**
   * A new port to this component, for another component (in any thread) to call it directly with
   * `connectRemote(port)`: pass the port as an argument of a call, or in a component's `args`; it is
   * moved, not copied. Calls over it share the component with this handle's calls. Inline, the same
   * through an in-thread MessageChannel.
   */
  connect(): Promise<MessagePort>;
  /**
   * Serves this component on `port` too: one end of a `MessageChannel` whose other end was handed out
   * before this component was started (say, in the `args` of a component started at the same time,
   * whose `connectRemote` then waits for this one). So components that call each other can start
   * together rather than one after the other. The port is moved, as `connect()`'s are. If it rejects
   * (the component is closed or its thread gone), the port is closed, so its other end learns that
   * its connection is lost instead of waiting.
   */
  serve(port: MessagePort): Promise<void>;
  /**
   * Orderly shutdown: refuses new calls at once, lets calls in flight (from this handle and from
   * connected ports) finish for up to `graceMs`, then aborts the rest (they reject with a
   * `ComponentClosedError` at once) and gives them up to `graceMs` more to stop, calls the
   * component's own `close()`, closes connected ports, and ends its thread, leaving no handle open.
   * Idempotent. Rejects (after all that) with a `RemoteError` if the component's `close()` threw. A
   * thread that has not finished closing after three grace periods and a second is terminated.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

const DEFAULT_GRACE_MS = 5000;

/**
 * Starts a component. `moduleUrl` names an ES module whose default export builds the component
 * (sync or async) from `options.args`. In `thread` mode it runs in its own worker thread; in `inline`
 * mode in this thread, with arguments and results still passed through structured clone (and
 * transfers still moving), so a component that works inline works in a thread and the caller cannot
 * tell the modes apart. Rejects with a `RemoteError` if the module or its default export throws.
 */
export async function startComponent<T extends object>(
  moduleUrl: string | URL,
  options: StartOptions = {},
): Promise<ComponentHandle<T>> {
  const url = String(moduleUrl);
  const name = options.name ?? nameOf(url);
  return (options.mode ?? 'thread') === 'inline'
    ? startInline<T>(url, name, options)
    : startThread<T>(url, name, options);
}

function nameOf(url: string): string {
  const file = url.split(/[?#]/)[0]?.split('/').pop() ?? '';
  return file.replace(/\.[cm]?[jt]s$/, '') || url;
}

/** Rejects with `onTimeout()` if `promise` has not settled within `ms` (if given); leaves no timer. */
function within<V>(promise: Promise<V>, ms: number | undefined, onTimeout: () => Error): Promise<V> {
  if (ms === undefined || ms === Number.POSITIVE_INFINITY) return promise;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function handleOf<T>(
  mode: RunMode,
  invoker: Invoker,
  methods: readonly string[],
  rest: Pick<ComponentHandle<T>, 'connect' | 'serve' | 'close'>,
): ComponentHandle<T> {
  return {
    mode,
    name: invoker.name,
    api: makeApi<T>(invoker, methods, {}),
    with: (options: CallOptions) => makeApi<T>(invoker, methods, options),
    ...rest,
  };
}

async function startInline<T extends object>(
  url: string,
  name: string,
  options: StartOptions,
): Promise<ComponentHandle<T>> {
  const args = structuredClone(options.args, { transfer: takeTransfers([options.args]) });
  watchPorts(args);
  let component: Record<string, unknown>;
  try {
    component = await within(
      import(url).then((mod) => mod.default(args)),
      options.startDeadlineMs,
      () => new DeadlineExceededError(name, 'start', options.startDeadlineMs ?? 0),
    );
  } catch (err) {
    throw err instanceof DeadlineExceededError ? err : new RemoteError(serializeError(err));
  }
  const server = new ComponentServer(component, name);
  let refusal: Error | undefined;
  const invoker: Invoker = {
    name,
    ...(options.deadlineMs !== undefined ? { defaultDeadlineMs: options.deadlineMs } : {}),
    refusal: () => refusal,
    invoke(method, callArgs, cancel) {
      // What a thread boundary does, done here: clone (moving what is marked), then clone back.
      let moved: unknown[];
      try {
        moved = structuredClone(callArgs, { transfer: takeTransfers(callArgs) });
      } catch (err) {
        // As posting to a thread would: the call fails, the component is not called.
        return Promise.reject(err);
      }
      return server.invoke(method, moved, cancel).then(
        (value) => {
          try {
            return structuredClone(value, { transfer: takeTransfers([value]) });
          } catch (err) {
            throw new RemoteError(serializeError(err));
          }
        },
        (err) => {
          throw new RemoteError(serializeError(err));
        },
      );
    },
  };
  let closing: Promise<void> | undefined;
  return handleOf<T>('inline', invoker, server.methods, {
    connect: async () => {
      if (refusal) throw refusal;
      const { port1, port2 } = new MessageChannel();
      server.serve(port1);
      return port2;
    },
    serve: async (port) => {
      if (refusal) {
        port.close();
        throw refusal;
      }
      server.serve(port);
    },
    close: ({ graceMs = options.graceMs ?? DEFAULT_GRACE_MS } = {}) => {
      refusal ??= new ComponentClosedError(`${name} is closed`);
      closing ??= server.close(graceMs).catch((err) => {
        throw new RemoteError(serializeError(err));
      });
      return closing;
    },
  });
}

// A worker thread runs plain Node, without the test runner's TypeScript transform, so when this file
// runs from source (tests), the thread uses the built host instead; turbo builds before it tests.
const hostUrl = import.meta.url.endsWith('.ts')
  ? new URL('../dist/host.js', import.meta.url)
  : new URL('./host.js', import.meta.url);

async function startThread<T extends object>(
  url: string,
  name: string,
  options: StartOptions,
): Promise<ComponentHandle<T>> {
  const worker = new Worker(hostUrl, {
    workerData: { moduleUrl: url, args: options.args, name },
    transferList: takeTransfers([options.args]),
  });
  const client = new PortClient((msg, transfer) => worker.postMessage(msg, transfer));
  let refusal: Error | undefined;
  let exited = false;
  let onClosed: ((reply: Extract<Reply, { kind: 'closed' }>) => void) | undefined;
  let onExit: (() => void) | undefined;

  const ready = new Promise<string[]>((resolve, reject) => {
    worker.on('message', (reply: Reply) => {
      if (client.receive(reply)) return;
      if (reply.kind === 'ready') resolve(reply.methods);
      else if (reply.kind === 'init-failed') {
        reject(new RemoteError(reply.error));
        void worker.terminate();
      } else if (reply.kind === 'closed') onClosed?.(reply);
    });
    worker.on('error', (err) => {
      // An uncaught error in the thread (a throwing timer, an unhandled rejection): the thread ends.
      const crash = new WorkerCrashedError(`The worker running ${name} failed: ${err.message}`, {
        cause: err,
      });
      client.fail(crash);
      reject(crash);
    });
    worker.on('exit', (code) => {
      exited = true;
      const crash = new WorkerCrashedError(`The worker running ${name} exited (code ${code})`);
      client.fail(crash);
      reject(crash);
      onExit?.();
    });
  });
  let methods: string[];
  try {
    methods = await within(ready, options.startDeadlineMs, () => {
      void worker.terminate();
      return new DeadlineExceededError(name, 'start', options.startDeadlineMs ?? 0);
    });
  } catch (err) {
    await worker.terminate();
    throw err;
  }

  const invoker: Invoker = {
    name,
    ...(options.deadlineMs !== undefined ? { defaultDeadlineMs: options.deadlineMs } : {}),
    refusal: () => refusal ?? client.dead,
    invoke: (method, args, cancel) => client.call(method, args, cancel),
  };
  /** Hands `port` to the thread to serve; a port refused before it was moved is closed here. */
  const serve = async (port: MessagePort) => {
    const refused = invoker.refusal();
    if (refused) {
      port.close();
      throw refused;
    }
    // Once moved, the thread closes the port if it refuses it, and a dead thread's ports close too.
    await client.request((id) => ({ kind: 'connect', id, port }), [port]);
  };
  let closing: Promise<void> | undefined;
  return handleOf<T>('thread', invoker, methods, {
    connect: async () => {
      const refused = invoker.refusal();
      if (refused) throw refused;
      const { port1, port2 } = new MessageChannel();
      try {
        await serve(port1);
      } catch (err) {
        port2.close();
        throw err;
      }
      return port2;
    },
    serve,
    close: ({ graceMs = options.graceMs ?? DEFAULT_GRACE_MS } = {}) => {
      refusal ??= new ComponentClosedError(`${name} is closed`);
      closing ??= (async () => {
        let outcome: Extract<Reply, { kind: 'closed' }> | undefined;
        if (!exited) {
          outcome = await new Promise((resolve) => {
            // The host answers within twice the grace period plus the component's close(); a thread
            // stuck in a loop never does, and is terminated instead.
            const timer = setTimeout(() => resolve(undefined), 3 * graceMs + 1000);
            onClosed = (reply) => {
              clearTimeout(timer);
              resolve(reply);
            };
            onExit = () => {
              clearTimeout(timer);
              resolve(undefined);
            };
            worker.postMessage({ kind: 'close', graceMs });
          });
        }
        client.fail(new ComponentClosedError(`${name} closed with this call unanswered`));
        await worker.terminate();
        if (outcome?.error) throw new RemoteError(outcome.error);
      })();
      return closing;
    },
  });
}
