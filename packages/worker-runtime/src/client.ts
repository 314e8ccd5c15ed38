import type { MessagePort, Transferable } from 'node:worker_threads';
import { traced } from './call-trace.js';
import {
  AbortError,
  ComponentClosedError,
  DeadlineExceededError,
  RemoteError,
  serializeError,
  WorkerCrashedError,
} from './errors.js';
import { portClosed } from './port-watch.js';
import type { Reply, Request } from './protocol.js';
import { takeTransfers } from './transfer.js';

/** The async face of a component: every method returns a promise, whatever mode it runs in. */
export type Remote<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? K : never]: T[K] extends (
    ...args: infer A
  ) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : never;
};

/** Per-call options, given through {@link RemoteHandle.with}. */
export interface CallOptions {
  /**
   * Aborting it rejects the call at once with an `AbortError` and aborts the component's signal for
   * the call (see `currentSignal()`).
   */
  signal?: AbortSignal;
  /**
   * Milliseconds the call may take before it rejects with a `DeadlineExceededError` (and the
   * component's signal for it aborts). Overrides the component's default; `Infinity` for none.
   */
  deadlineMs?: number;
}

/** A component seen from a caller: its methods, per-call options, and the end of the relation. */
export interface RemoteHandle<T> {
  /** The component's name in errors: from the `name` option, else its module's file name. */
  readonly name: string;
  /** The component's methods, with the default deadline (if any) and no signal. */
  readonly api: Remote<T>;
  /**
   * The same methods, each call with `options`: `handle.with({ signal, deadlineMs: 500 }).fetch(id)`.
   * Cheap; make one per operation.
   */
  with(options: CallOptions): Remote<T>;
  /** Ends the relation; calls pending then and later reject with a `ComponentClosedError`. Idempotent. */
  close(): Promise<void>;
}

/** How calls reach a component: through a port, or directly inline. */
export interface Invoker {
  readonly name: string;
  readonly defaultDeadlineMs?: number;
  /** Refuses a call before it starts (closed, crashed), or undefined to let it go. */
  refusal(): Error | undefined;
  /** Runs the call; `cancel` aborts when the caller gives up, so the component can be told. */
  invoke(method: string, args: unknown[], cancel?: AbortSignal): Promise<unknown>;
}

/** Calls `method` with a signal and a deadline, whichever way `invoker` reaches the component. */
export function callWith(
  invoker: Invoker,
  method: string,
  args: unknown[],
  options: CallOptions,
): Promise<unknown> {
  const refused = invoker.refusal();
  if (refused) return Promise.reject(refused);
  const { signal } = options;
  const deadlineMs = options.deadlineMs ?? invoker.defaultDeadlineMs;
  const timed = deadlineMs !== undefined && deadlineMs !== Number.POSITIVE_INFINITY;
  if (!signal && !timed) return invoker.invoke(method, args);
  if (signal?.aborted) return Promise.reject(new AbortError(invoker.name, method, signal.reason));
  return new Promise((resolve, reject) => {
    const cancel = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const giveUp = (err: Error) => {
      settle();
      reject(err);
      cancel.abort(err);
    };
    const onAbort = () => giveUp(new AbortError(invoker.name, method, signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timed) {
      timer = setTimeout(
        () => giveUp(new DeadlineExceededError(invoker.name, method, deadlineMs)),
        Math.max(0, deadlineMs),
      );
    }
    invoker.invoke(method, args, cancel.signal).then(
      (value) => {
        settle();
        resolve(value);
      },
      (err) => {
        settle();
        reject(err);
      },
    );
  });
}

export function makeApi<T>(invoker: Invoker, methods: readonly string[], options: CallOptions): Remote<T> {
  const api: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const m of methods) {
    api[m] = (...args) => traced(invoker.name, m, args, () => callWith(invoker, m, args, options));
  }
  return api as Remote<T>;
}

/**
 * The calling end of the protocol over a port (a worker, or a MessagePort): numbers calls, matches
 * answers, forwards cancels, and rejects everything pending when the other end dies.
 */
export class PortClient {
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  /** Set once the other end is gone; every later call rejects with it. */
  dead?: Error;

  constructor(private readonly post: (msg: Request, transfer: Transferable[]) => void) {}

  /** Sends a request built with a fresh id; resolves with the `result` for that id. */
  request(build: (id: number) => Request, transfer: Transferable[], cancel?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      const id = this.nextId++;
      this.post(build(id), transfer);
      this.pending.set(id, { resolve, reject });
      cancel?.addEventListener(
        'abort',
        () => {
          if (this.pending.delete(id) && !this.dead) {
            this.post({ kind: 'cancel', id, reason: serializeError(cancel.reason) }, []);
          }
        },
        { once: true },
      );
    });
  }

  call(method: string, args: unknown[], cancel?: AbortSignal): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    // Taken before posting: a clone error then leaves the marks consumed but the buffers intact.
    const transfer = takeTransfers(args);
    return this.request((id) => ({ kind: 'call', id, method, args }), transfer, cancel);
  }

  /** Handles an answer; false if `reply` is not one (ready, closed, …), for the owner to handle. */
  receive(reply: Reply): boolean {
    if (reply.kind !== 'result' && reply.kind !== 'error') return false;
    const call = this.pending.get(reply.id);
    if (!call) return true;
    this.pending.delete(reply.id);
    if (reply.kind === 'result') call.resolve(reply.value);
    else call.reject(new RemoteError(reply.error));
    return true;
  }

  /** The other end is gone: rejects every pending call and every later one with `err`. */
  fail(err: Error): void {
    this.dead ??= err;
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(err);
  }
}

/**
 * A client of a component over a port made by `ComponentHandle.connect()` and handed to this thread
 * (as an argument, or in a component's `args`): the design's side components calling the state
 * backend's worker directly, not through the engine. Resolves once the component answered the
 * connection. If the component closes, calls reject with `ComponentClosedError`; if its thread dies,
 * with `WorkerCrashedError`. `close()` closes the port, so this thread can exit.
 */
export function connectRemote<T extends object>(
  port: MessagePort,
  options: { deadlineMs?: number } = {},
): Promise<RemoteHandle<T>> {
  let name = 'component';
  const client = new PortClient((msg, transfer) => port.postMessage(msg, transfer));
  let closed: Promise<void> | undefined;
  const invoker: Invoker = {
    get name() {
      return name;
    },
    ...(options.deadlineMs !== undefined ? { defaultDeadlineMs: options.deadlineMs } : {}),
    refusal: () => client.dead,
    invoke: (method, args, cancel) => client.call(method, args, cancel),
  };
  const lost = () => new WorkerCrashedError(`The connection to ${name} was lost: its thread ended`);
  // Its other end closed before anyone listened here (see watchPorts): no close event will come.
  if (portClosed(port)) {
    port.close();
    return Promise.reject(lost());
  }
  return new Promise((resolve, reject) => {
    port.on('message', (reply: Reply) => {
      if (client.receive(reply)) return;
      if (reply.kind === 'ready') {
        name = reply.name;
        resolve({
          name,
          api: makeApi<T>(invoker, reply.methods, {}),
          with: (callOptions) => makeApi<T>(invoker, reply.methods, callOptions),
          close: () => {
            closed ??= (async () => {
              client.fail(new ComponentClosedError(`The connection to ${name} is closed`));
              port.close();
            })();
            return closed;
          },
        });
      } else if (reply.kind === 'closed') {
        client.fail(new ComponentClosedError(`${name} is closed`));
        port.close();
      }
    });
    port.on('close', () => {
      const err = lost();
      client.fail(err);
      reject(err);
    });
  });
}
