import type { MessagePort, Transferable } from 'node:worker_threads';
import { runWithSignal } from './context.js';
import { ComponentClosedError, RemoteError, serializeError } from './errors.js';
import { methodNames, type Reply, type Request } from './protocol.js';
import { takeTransfers } from './transfer.js';

type Component = Record<string, unknown>;

interface InFlight {
  /** The signal the component sees for this call. */
  controller: AbortController;
  /** Settles when the component's method does, whatever the caller did meanwhile. */
  done: Promise<unknown>;
  /** Rejects the call's answer without waiting for the component (close after the grace period). */
  fail(err: Error): void;
}

/** Control messages a port may carry besides calls (only the worker's `parentPort` does). */
export type ControlHandler = (msg: Extract<Request, { kind: 'connect' | 'close' }>) => void;

/**
 * Serves one component: runs its methods with the call's signal current, keeps track of calls in
 * flight from every caller (direct, over the worker's parent port, over connected ports), and closes
 * it in order. Runs in the component's thread: the worker's host, or the caller's thread inline.
 */
export class ComponentServer {
  readonly methods: string[];
  private readonly inFlight = new Set<InFlight>();
  private readonly ports = new Set<MessagePort>();
  private closing?: Promise<void>;

  /** True once `close()` was called: new calls and connections are refused. */
  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  constructor(
    private readonly component: Component,
    readonly name: string,
  ) {
    this.methods = methodNames(component);
  }

  /**
   * Calls `method`. `cancel` (the caller giving up) aborts the component's signal for the call; the
   * answer still comes from the component, so a component that ignores its signal just answers late.
   */
  invoke(method: string, args: unknown[], cancel?: AbortSignal): Promise<unknown> {
    if (this.closing) {
      return Promise.reject(new ComponentClosedError(`${this.name} is closed; ${method}() was not called`));
    }
    const fn = this.component[method];
    if (typeof fn !== 'function') {
      return Promise.reject(new TypeError(`${this.name} has no method ${method}()`));
    }
    const controller = new AbortController();
    let onCancel: (() => void) | undefined;
    if (cancel) {
      onCancel = () => controller.abort(cancel.reason);
      if (cancel.aborted) onCancel();
      else cancel.addEventListener('abort', onCancel, { once: true });
    }
    let run: Promise<unknown>;
    try {
      // Started synchronously, as a direct call would be: inline, nothing is deferred.
      run = Promise.resolve(runWithSignal(controller.signal, () => fn.apply(this.component, args)));
    } catch (err) {
      run = Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const entry: InFlight = { controller, done: run, fail: reject };
      this.inFlight.add(entry);
      run.then(resolve, reject).finally(() => {
        this.inFlight.delete(entry);
        if (onCancel) cancel?.removeEventListener('abort', onCancel);
      });
    });
  }

  /**
   * Serves the component on `port`: announces it (`ready`), answers calls, honours cancels, and stops
   * the calls of a caller whose end of the port closed. `control` handles the worker's control messages.
   */
  serve(port: MessagePort, control?: ControlHandler): void {
    const calls = new Map<number, AbortController>();
    const reply = (msg: Reply, transfer?: readonly Transferable[]) => {
      try {
        port.postMessage(msg, transfer as Transferable[]);
      } catch (err) {
        // A result that cannot be cloned (a function, a class instance with private state) fails the
        // call rather than vanishing; the caller would otherwise wait forever.
        if (msg.kind !== 'result') throw err;
        port.postMessage({ kind: 'error', id: msg.id, error: serializeError(err) } satisfies Reply);
      }
    };
    port.on('message', (msg: Request) => {
      switch (msg.kind) {
        case 'call': {
          const cancel = new AbortController();
          calls.set(msg.id, cancel);
          this.invoke(msg.method, msg.args, cancel.signal).then(
            (value) => {
              // A call the caller gave up on is not answered: nobody waits for it.
              if (calls.delete(msg.id)) reply({ kind: 'result', id: msg.id, value }, takeTransfers([value]));
            },
            (err) => {
              if (calls.delete(msg.id)) reply({ kind: 'error', id: msg.id, error: serializeError(err) });
            },
          );
          break;
        }
        case 'cancel':
          calls.get(msg.id)?.abort(new RemoteError(msg.reason));
          calls.delete(msg.id);
          break;
        default:
          control?.(msg);
      }
    });
    port.on('close', () => {
      // The caller went away (its thread ended or it closed the connection): nobody waits for these.
      for (const cancel of calls.values()) {
        cancel.abort(new ComponentClosedError(`The caller of ${this.name} disconnected`));
      }
      calls.clear();
      this.ports.delete(port);
    });
    if (!control) this.ports.add(port);
    port.postMessage({ kind: 'ready', name: this.name, methods: this.methods } satisfies Reply);
  }

  /**
   * Refuses new calls, lets calls in flight finish for up to `graceMs`, then aborts the rest (their
   * callers get a `ComponentClosedError` at once) and gives them up to `graceMs` more to stop, then
   * calls the component's own `close()`, and closes every
   * connected port (their callers are told `closed`). Idempotent. Rejects if the component's
   * `close()` threw, after all of that.
   */
  close(graceMs: number): Promise<void> {
    this.closing ??= (async () => {
      await settleWithin(
        [...this.inFlight].map((c) => c.done),
        graceMs,
      );
      for (const call of this.inFlight) {
        const err = new ComponentClosedError(
          `${this.name} closed after a grace period of ${graceMs} ms with this call unanswered`,
        );
        call.controller.abort(err);
        call.fail(err);
      }
      // Give the aborted calls the same grace to notice their signal and stop, so the component is
      // not closed under a method still running (a store written to while it closes).
      await settleWithin(
        [...this.inFlight].map((c) => c.done),
        graceMs,
      );
      // Let the failed calls' answers go out before the ports close.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        const close = this.component.close;
        if (typeof close === 'function') await close.call(this.component);
      } finally {
        for (const port of this.ports) {
          port.postMessage({ kind: 'closed' } satisfies Reply);
          port.close();
        }
        this.ports.clear();
      }
    })();
    return this.closing;
  }
}

/** Resolves once all of `promises` settled, or after `ms`, whichever comes first; leaves no timer. */
export async function settleWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
