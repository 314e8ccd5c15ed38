/** Messages between a component host and its caller: plain data, so they cross a MessagePort as is. */

export interface SerializedError {
  name: string;
  message: string;
  code?: string | number;
  stack?: string;
}

export type Request = { kind: 'call'; id: number; method: string; args: unknown[] } | { kind: 'close' };

export type Reply =
  | { kind: 'ready'; methods: string[] }
  | { kind: 'init-failed'; error: SerializedError }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'closed' };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      message: err.message,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      ...(err.stack ? { stack: err.stack } : {}),
    };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * An error thrown inside a component, rebuilt on the caller's side. `name` and `code` are the
 * original's, so callers classify errors the same way whether the component ran inline or in a thread.
 */
export class RemoteError extends Error {
  readonly code?: string | number;
  constructor(serialized: SerializedError) {
    super(serialized.message);
    this.name = serialized.name;
    if (serialized.code !== undefined) this.code = serialized.code;
    if (serialized.stack) this.stack = serialized.stack;
  }
}

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
