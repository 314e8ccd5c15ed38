/**
 * Errors of the runtime itself, and how any error crosses a thread boundary.
 *
 * A component's own error arrives as a {@link RemoteError} carrying the original `name`, `message`,
 * `code`, `stack`, own data properties (such as a `scope`) and `cause` chain, so callers classify it by
 * `name` and `code`, never by prototype: the prototype cannot cross a thread.
 */

/** An error as plain data, so it crosses a MessagePort (or a structured clone) as is. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string | number;
  stack?: string;
  /** The `cause`: another error, or a plain value (anything structured clone accepts). */
  cause?: { error: SerializedError } | { value: unknown };
  /** An `AggregateError`'s errors. */
  errors?: SerializedError[];
  /** Own enumerable properties that structured clone accepts, e.g. `scope`. */
  props?: Record<string, unknown>;
}

/** How deep a `cause` chain (or nested `errors`) is followed; deeper links are cut, as are cycles. */
const MAX_DEPTH = 8;
/** How many of an `AggregateError`'s errors cross. */
const MAX_ERRORS = 32;
const OWN_FIELDS = new Set(['name', 'message', 'stack', 'code', 'cause', 'errors']);

function cloneable(value: unknown): boolean {
  if (value === null || typeof value !== 'object')
    return typeof value !== 'function' && typeof value !== 'symbol';
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Turns anything thrown into plain data, keeping what a caller needs to classify it. */
export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) {
    return { name: 'Error', message: typeof err === 'string' ? err : safeString(err) };
  }
  const out: SerializedError = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.stack) out.stack = err.stack;
  if (depth < MAX_DEPTH && 'cause' in err && err.cause !== undefined) {
    out.cause =
      err.cause instanceof Error
        ? { error: serializeError(err.cause, depth + 1) }
        : { value: cloneable(err.cause) ? err.cause : safeString(err.cause) };
  }
  if (depth < MAX_DEPTH && err instanceof AggregateError && Array.isArray(err.errors)) {
    out.errors = err.errors.slice(0, MAX_ERRORS).map((e: unknown) => serializeError(e, depth + 1));
  }
  for (const key of Object.keys(err)) {
    if (OWN_FIELDS.has(key)) continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    if (!cloneable(value)) continue;
    out.props ??= {};
    out.props[key] = value;
  }
  return out;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * An error thrown inside a component, rebuilt on the caller's side. `name`, `code`, own data
 * properties and the `cause` chain (itself of `RemoteError`s) are the original's, so callers classify
 * errors the same way whether the component ran inline or in a thread.
 */
export class RemoteError extends Error {
  declare readonly code?: string | number;
  /** An `AggregateError`'s errors, when the original was one. */
  declare readonly errors?: RemoteError[];
  constructor(serialized: SerializedError) {
    const cause = serialized.cause;
    super(
      serialized.message,
      cause ? { cause: 'error' in cause ? new RemoteError(cause.error) : cause.value } : undefined,
    );
    if (serialized.props) {
      for (const [key, value] of Object.entries(serialized.props)) {
        if (!OWN_FIELDS.has(key)) Object.defineProperty(this, key, { value, enumerable: true });
      }
    }
    this.name = serialized.name;
    const self = this as { code?: string | number; errors?: RemoteError[] };
    if (serialized.code !== undefined) self.code = serialized.code;
    if (serialized.errors) self.errors = serialized.errors.map((e) => new RemoteError(e));
    if (serialized.stack) this.stack = serialized.stack;
  }
}

/**
 * The thread a component ran in died (it called `process.exit`, threw from a timer, ran out of memory)
 * or a connection to a component was lost: every pending call is rejected with this, and so is every
 * later call. The component's state is gone; start it again to go on.
 */
export class WorkerCrashedError extends Error {
  override name = 'WorkerCrashedError';
  readonly code = 'WORKER_CRASHED';
}

/**
 * A call (or a component's start) did not answer within its deadline. The caller stops waiting; the
 * component sees its call's signal aborted with this as the reason and may still be running. Retry
 * only if the method is safe to repeat.
 */
export class DeadlineExceededError extends Error {
  override name = 'DeadlineExceededError';
  readonly code = 'DEADLINE_EXCEEDED';
  constructor(
    readonly component: string,
    readonly method: string,
    readonly deadlineMs: number,
  ) {
    super(`${component}.${method}() did not answer within ${deadlineMs} ms`);
  }
}

/**
 * The caller aborted a call through its `AbortSignal`. `cause` is the signal's reason. The component
 * sees the call's signal aborted too; whatever it had done before noticing stays done.
 */
export class AbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(
    readonly component: string,
    readonly method: string,
    reason: unknown,
  ) {
    super(`${component}.${method}() was aborted`, { cause: reason });
  }
}

/**
 * The component was closed (or is closing) before this call: nothing was done, or, for a call still
 * in flight when the close's grace period ran out, the call's outcome is unknown.
 */
export class ComponentClosedError extends Error {
  override name = 'ComponentClosedError';
  readonly code = 'COMPONENT_CLOSED';
}
