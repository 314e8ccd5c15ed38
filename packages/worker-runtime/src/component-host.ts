import { MessageChannel, type MessagePort, type ResourceLimits, Worker } from 'node:worker_threads';
import { type CallOptions, type Invoker, makeApi, PortClient, type RemoteHandle } from './client.js';
import {
  ComponentClosedError,
  DeadlineExceededError,
  RemoteError,
  serializeError,
  WorkerCrashedError,
} from './errors.js';
import { watchPorts } from './port-watch.js';
import type { HostReply, HostRequest, Reply } from './protocol.js';
import { ComponentServer } from './server.js';
import { takeTransfers } from './transfer.js';

/** Where a component runs: `thread`, a worker thread; `inline`, the calling thread. */
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
  /**
   * V8 heap limits of the component's own thread (`thread` mode; inline it shares this thread's). A
   * busy thread grows its young generation to V8's maximum (64 MB on Node 24) and keeps it: a few
   * busy threads then hold a few hundred MB of mostly empty young space. `maxYoungGenerationSizeMb`
   * bounds that (24 gives V8's 8 MB semi-spaces).
   */
  resourceLimits?: ResourceLimits;
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
   * component's own `close()`, closes connected ports, and ends its thread if it had one of its own
   * (`startComponent`; on a shared host the thread stays for the other components), leaving no handle
   * open. Idempotent. Rejects (after all that) with a `RemoteError` if the component's `close()` threw.
   * A thread of its own that has not finished closing after three grace periods and a second is
   * terminated; on a shared host the handle gives up waiting then, and the thread is left to the others.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** How to start a component on a host: as {@link StartOptions}, where the host decides the mode. */
export type HostStartOptions = Omit<StartOptions, 'mode' | 'resourceLimits'>;

/** How to start a host. */
export interface HostOptions {
  /** `thread` (the default): one worker thread for all its components. `inline`: this thread. */
  mode?: RunMode;
  /** The host's name in errors; `host-1`, `host-2`… by default. */
  name?: string;
  /** How long the thread may take to start, in ms; none by default. */
  startDeadlineMs?: number;
  /** V8 heap limits of the host's thread (`thread` mode), as {@link StartOptions.resourceLimits}. */
  resourceLimits?: ResourceLimits;
}

/**
 * One thread (or, inline, this thread) running many components, each behind its own
 * {@link ComponentHandle}, exactly as if it had been started by `startComponent`: its own args,
 * deadlines, grace period, connections and close. What components on one host share is the thread:
 * one that blocks it delays the others, and one that crashes it (`process.exit`, an uncaught error)
 * fails every component on it with a `WorkerCrashedError`.
 */
export interface ComponentHost {
  readonly name: string;
  readonly mode: RunMode;
  /** Components on this host, starting or started, and not yet closed (0 once its thread died). */
  readonly size: number;
  /** False once the host is closing or its thread died: `start()` then rejects. */
  readonly alive: boolean;
  /**
   * Starts a component in this host's thread, as `startComponent` would in a thread of its own: the
   * module is imported there (once per URL: the import system caches it) and its default export
   * builds the component from `options.args`. `startDeadlineMs` covers waiting for the thread to be
   * up. Rejects with the host's error once it is closed or its thread died.
   */
  start<T extends object>(moduleUrl: string | URL, options?: HostStartOptions): Promise<ComponentHandle<T>>;
  /**
   * Closes every component on it as its handle's `close()` would (with `graceMs` for all, or each
   * its own), refuses starts, rejects starts still under way with a `ComponentClosedError`, then ends
   * the thread. Idempotent. Rejects, after all that, with the first error a component's `close()`
   * threw.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

const DEFAULT_GRACE_MS = 5000;
let hostsMade = 0;

/**
 * Starts a host: one worker thread (or, inline, this thread) that runs as many components as it is
 * given (`host.start(moduleUrl, options)`), so a hundred components need not cost a hundred threads.
 * Resolves once the thread is up; rejects with a `DeadlineExceededError` after `startDeadlineMs`.
 */
export async function startHost(options: HostOptions = {}): Promise<ComponentHost> {
  const host = openHost(
    options.mode ?? 'thread',
    options.name ?? `host-${++hostsMade}`,
    options.resourceLimits,
  );
  try {
    await within(
      host.ready,
      options.startDeadlineMs,
      () => new DeadlineExceededError(host.name, 'start', options.startDeadlineMs ?? 0),
    );
  } catch (err) {
    await host.close();
    throw err;
  }
  return host;
}

/** A host whose thread is still starting: components started on it wait for it. */
export interface OpeningHost extends ComponentHost {
  /** Resolves once the thread is up; rejects if it died first. Never rejects unhandled. */
  readonly ready: Promise<void>;
}

/** Opens a host at once (its thread starts meanwhile), so a pool can count its components at once. */
export function openHost(mode: RunMode, name: string, resourceLimits?: ResourceLimits): OpeningHost {
  return new Host(mode, name, resourceLimits);
}

/** A component on a host, from the time it is asked for until its handle is closed. */
interface Placed {
  handle?: ComponentHandle<object>;
}

class Host implements OpeningHost {
  readonly ready: Promise<void>;
  private readonly thread?: HostThread;
  private readonly placed = new Set<Placed>();
  private refusal?: Error;
  private closing?: Promise<void>;

  constructor(
    readonly mode: RunMode,
    readonly name: string,
    resourceLimits?: ResourceLimits,
  ) {
    if (mode === 'thread') {
      this.thread = new HostThread(
        name,
        (crash) => {
          this.refusal ??= crash;
          this.placed.clear();
        },
        resourceLimits,
      );
      this.ready = this.thread.ready;
    } else {
      this.ready = Promise.resolve();
    }
  }

  get size(): number {
    return this.placed.size;
  }

  get alive(): boolean {
    return this.refusal === undefined;
  }

  async start<T extends object>(
    moduleUrl: string | URL,
    options: HostStartOptions = {},
  ): Promise<ComponentHandle<T>> {
    if (this.refusal) throw this.refusal;
    const url = String(moduleUrl);
    const name = options.name ?? nameOf(url);
    // Counted before the first await, so starts made together spread over a pool's hosts.
    const placed: Placed = {};
    this.placed.add(placed);
    let handle: ComponentHandle<T>;
    try {
      handle = this.thread
        ? await this.thread.start<T>(url, name, options)
        : await startInline<T>(url, name, options);
    } catch (err) {
      this.placed.delete(placed);
      throw err;
    }
    const counted: ComponentHandle<T> = {
      ...handle,
      close: (closeOptions) => handle.close(closeOptions).finally(() => this.placed.delete(placed)),
    };
    if (this.refusal) {
      // The host closed while this one was being built (inline: a thread's would have been rejected).
      await counted.close().catch(() => {});
      throw this.refusal;
    }
    placed.handle = counted as ComponentHandle<object>;
    return counted;
  }

  close(options: { graceMs?: number } = {}): Promise<void> {
    this.refusal ??= new ComponentClosedError(`Host ${this.name} is closed; start components on another one`);
    this.closing ??= (async () => {
      const closes = [...this.placed].flatMap((p) => (p.handle ? [p.handle.close(options)] : []));
      const outcomes = await Promise.allSettled(closes);
      await this.thread?.end();
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.closing;
  }
}

/** What a component in a host's thread does when the thread dies: fail with the error named for it. */
type Member = (crash: (component: string) => Error) => void;

/** The worker thread of a host, and the components in it as seen from here. */
class HostThread {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  /** Components started or starting in the thread, each with what to do if the thread dies. */
  private readonly members = new Set<Member>();
  private dead?: (component: string) => WorkerCrashedError;
  private ending = false;

  constructor(
    private readonly name: string,
    onDeath: (crash: WorkerCrashedError) => void,
    resourceLimits?: ResourceLimits,
  ) {
    this.worker = new Worker(hostUrl, {
      workerData: { name },
      ...(resourceLimits ? { resourceLimits } : {}),
    });
    const die = (what: string, cause?: Error): Error => {
      if (this.ending) return new ComponentClosedError(`Host ${name} was closed before its thread was up`);
      if (this.dead) return this.dead(name);
      this.dead = (component) =>
        new WorkerCrashedError(
          `The worker running ${component === name ? name : `${component} (host ${name})`} ${what}`,
          cause ? { cause } : undefined,
        );
      const crash = new WorkerCrashedError(
        `The worker of host ${name} ${what}; start its components again elsewhere`,
        cause ? { cause } : undefined,
      );
      onDeath(crash);
      for (const fail of this.members) fail(this.dead);
      this.members.clear();
      return crash;
    };
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (reply: HostReply) => {
        if (reply.kind === 'host-ready') resolve();
      });
      // An uncaught error in the thread (a throwing timer, an unhandled rejection): the thread ends.
      this.worker.on('error', (err) => reject(die(`failed: ${err.message}`, err)));
      this.worker.on('exit', (code) => reject(die(`exited (code ${code})`)));
    });
    this.ready.catch(() => {});
  }

  /** Starts a component in the thread and answers its handle, once it is built there. */
  async start<T extends object>(
    url: string,
    name: string,
    options: HostStartOptions,
  ): Promise<ComponentHandle<T>> {
    if (this.dead) throw this.dead(name);
    // Each component has a channel of its own to the thread: its calls, and its control messages
    // (connect, close) after them, in the order they were sent.
    const { port1: port, port2 } = new MessageChannel();
    const client = new PortClient((msg, transfer) => port.postMessage(msg, transfer));
    let refusal: Error | undefined;
    let gone = false;
    let onClosed: ((reply: Extract<Reply, { kind: 'closed' }>) => void) | undefined;
    let onGone: (() => void) | undefined;
    let member: Member = () => {};
    const ready = new Promise<string[]>((resolve, reject) => {
      port.on('message', (reply: Reply) => {
        if (client.receive(reply)) return;
        if (reply.kind === 'ready') resolve(reply.methods);
        else if (reply.kind === 'init-failed') reject(new RemoteError(reply.error));
        else if (reply.kind === 'closed') onClosed?.(reply);
      });
      member = (crash) => {
        gone = true;
        const err = crash(name);
        client.fail(err);
        reject(err);
        port.close();
        onGone?.();
      };
    });
    const leave = () => {
      gone = true;
      this.members.delete(member);
      port.close();
    };
    this.members.add(member);
    try {
      this.worker.postMessage(
        { kind: 'start', moduleUrl: url, args: options.args, name, port: port2 } satisfies HostRequest,
        [port2, ...takeTransfers([options.args])],
      );
    } catch (err) {
      // Args structured clone refuses: nothing reached the thread.
      port2.close();
      leave();
      throw err;
    }
    let methods: string[];
    try {
      // Closing our end on a deadline tells the thread to drop the component once it is built.
      methods = await within(
        ready,
        options.startDeadlineMs,
        () => new DeadlineExceededError(name, 'start', options.startDeadlineMs ?? 0),
      );
    } catch (err) {
      leave();
      throw err;
    }

    const invoker: Invoker = {
      name,
      ...(options.deadlineMs !== undefined ? { defaultDeadlineMs: options.deadlineMs } : {}),
      refusal: () => refusal ?? client.dead,
      invoke: (method, args, cancel) => client.call(method, args, cancel),
    };
    /** Hands `port` to the thread to serve; a port refused before it was moved is closed here. */
    const serve = async (served: MessagePort) => {
      const refused = invoker.refusal();
      if (refused) {
        served.close();
        throw refused;
      }
      // Once moved, the thread closes the port if it refuses it, and a dead thread's ports close too.
      await client.request((id) => ({ kind: 'connect', id, port: served }), [served]);
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
          if (!gone) {
            outcome = await new Promise((resolve) => {
              // The thread answers within twice the grace period plus the component's close(); a
              // thread stuck in a loop never does, and this handle stops waiting for it.
              const timer = setTimeout(() => resolve(undefined), 3 * graceMs + 1000);
              onClosed = (reply) => {
                clearTimeout(timer);
                resolve(reply);
              };
              onGone = () => {
                clearTimeout(timer);
                resolve(undefined);
              };
              port.postMessage({ kind: 'close', graceMs });
            });
          }
          client.fail(new ComponentClosedError(`${name} closed with this call unanswered`));
          leave();
          if (outcome?.error) throw new RemoteError(outcome.error);
        })();
        return closing;
      },
    });
  }

  /** Ends the thread: components still starting fail with a `ComponentClosedError`. */
  async end(): Promise<void> {
    if (!this.dead) {
      const closed = new ComponentClosedError(`Host ${this.name} closed while this component was starting`);
      for (const fail of this.members) fail(() => closed);
      this.members.clear();
    }
    this.ending = true;
    await this.worker.terminate();
  }
}

/** A component's default name: its module's file name without extension. */
export function nameOf(url: string): string {
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
  options: HostStartOptions,
): Promise<ComponentHandle<T>> {
  const args = structuredClone(options.args, { transfer: takeTransfers([options.args]) });
  watchPorts(args);
  let component: Record<string, unknown>;
  const building: Promise<Record<string, unknown>> = import(url).then((mod) => mod.default(args));
  try {
    component = await within(
      building,
      options.startDeadlineMs,
      () => new DeadlineExceededError(name, 'start', options.startDeadlineMs ?? 0),
    );
  } catch (err) {
    if (!(err instanceof DeadlineExceededError)) throw new RemoteError(serializeError(err));
    // Nobody can reach a component built after its caller gave up: closed as soon as it exists.
    building.then((late) => new ComponentServer(late, name).close(0)).catch(() => {});
    throw err;
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
