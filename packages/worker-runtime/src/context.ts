import { AsyncLocalStorage } from 'node:async_hooks';

// One store per thread even if the package is loaded twice (a component importing the built package
// while its host came from elsewhere): the host sets the signal, the component reads it, and both must
// see the same store.
const STORE = Symbol.for('@twinbox/worker-runtime/call-signal');
const slot = globalThis as { [STORE]?: AsyncLocalStorage<AbortSignal> };
slot[STORE] ??= new AsyncLocalStorage<AbortSignal>();
const storage = slot[STORE];
const never = new AbortController().signal;

/**
 * The `AbortSignal` of the call the component is serving now, for a component that wants to stop long
 * work when its caller gives up: it is aborted when the caller aborts (reason: an `AbortError`), when
 * the call's deadline passes (a `DeadlineExceededError`), or when the component is closed and the grace
 * period ran out (a `ComponentClosedError`). The same in a thread and inline. Outside a call (or in a
 * component called directly, without the runtime) it is a signal that never aborts.
 *
 * Read it at the start of the method, before the first `await` of unrelated work, or anywhere in the
 * method's async continuation: it follows the call through `AsyncLocalStorage`.
 */
export function currentSignal(): AbortSignal {
  return storage.getStore() ?? never;
}

/** Runs `fn` with `signal` as the current call's signal. */
export function runWithSignal<R>(signal: AbortSignal, fn: () => R): R {
  return storage.run(signal, fn);
}
