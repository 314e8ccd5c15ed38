import { MessagePort, type Transferable } from 'node:worker_threads';

// Marks live in one map per thread, even if the package is loaded twice (see context.ts).
const MARKS = Symbol.for('@twinbox/worker-runtime/transfer-marks');
const slot = globalThis as { [MARKS]?: WeakMap<object, Transferable[]> };
slot[MARKS] ??= new WeakMap<object, Transferable[]>();
const marks = slot[MARKS];

/**
 * Marks `value` so that, when it is next passed as an argument or returned as a result, the listed
 * transferables (an `ArrayBuffer`, a `MessagePort`, a `ReadableStream`…) are moved rather than copied:
 * the receiver gets them without a copy and the sender's are detached (an `ArrayBuffer`'s `byteLength`
 * becomes 0). Same in a thread and inline. Returns `value` itself, so it reads inline:
 * `api.store(transfer(bytes, [bytes.buffer]))` or `return transfer(bytes, [bytes.buffer])`.
 *
 * A mark is honoured on an argument or result, or on a property (or element) of one; it is used once.
 */
export function transfer<T>(value: T, transferables: readonly (Transferable | ArrayBufferLike)[]): T {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    throw new TypeError('transfer() marks an object (a typed array, a message, a stream), not a primitive');
  }
  // `ArrayBufferLike` because that is what `view.buffer` is typed as; a view's buffer is an ArrayBuffer.
  marks.set(value, [...(marks.get(value) ?? []), ...(transferables as Transferable[])]);
  return value;
}

// Things that cannot be copied, only moved: passing one means moving it, so no mark is needed. Plain
// data first, which is nearly everything (a listing's thousands of messages, a body's bytes): naming the
// ReadableStream global loads Node's web streams (some 2-15 ms, in every thread), which a sync that
// passes no stream never needs.
function movable(value: object): value is Transferable {
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return false;
  return value instanceof MessagePort || value instanceof ReadableStream || value instanceof WritableStream;
}

function take(value: unknown, into: Set<Transferable>): void {
  if (value === null || typeof value !== 'object') return;
  const marked = marks.get(value);
  if (marked) {
    marks.delete(value);
    for (const t of marked) into.add(t);
  } else if (movable(value)) {
    into.add(value);
  }
}

/**
 * What to transfer with a message carrying `values`: the marked ones, and any port or stream among
 * them or among their direct properties (one level down, so `{ body: transfer(bytes, …) }` works).
 * Consumes the marks.
 */
export function takeTransfers(values: readonly unknown[]): Transferable[] {
  let found: Set<Transferable> | undefined;
  for (const value of values) {
    if (value === null || typeof value !== 'object') continue;
    found ??= new Set();
    take(value, found);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) continue;
    const proto = Object.getPrototypeOf(value);
    if (Array.isArray(value)) for (const item of value) take(item, found);
    else if (proto === Object.prototype || proto === null) {
      for (const key in value) take((value as Record<string, unknown>)[key], found);
    }
  }
  return found && found.size > 0 ? [...found] : [];
}
