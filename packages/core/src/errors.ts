/**
 * Errors by scope, so the engine decides what to skip from the class, never from a message string:
 * a bad message is skipped and the folder goes on; a bad folder is skipped and the account goes on; a
 * bad store (unreachable account, refused login) ends the sync of that pair. Each carries a `code`
 * that survives a worker boundary (the runtime keeps `name` and `code`).
 */
export type ErrorScope = 'message' | 'folder' | 'store';

/** The base of the errors by scope: `scope` says what the engine skips, `code` what went wrong. */
export class SyncError extends Error {
  readonly scope: ErrorScope;
  readonly code: string;
  constructor(scope: ErrorScope, code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.scope = scope;
    this.code = code;
  }
}

/** One message could not be read or written; the rest of the folder goes on. */
export class MessageError extends SyncError {
  override name = 'MessageError';
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super('message', options?.code ?? 'MESSAGE_BAD', message, options);
  }
}

/** A folder could not be opened, listed or written; the other folders go on. */
export class FolderError extends SyncError {
  override name = 'FolderError';
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super('folder', options?.code ?? 'FOLDER_BAD', message, options);
  }
}

/** The store as a whole is unusable (connection, login, a missing root); the pair's sync stops. */
export class StoreError extends SyncError {
  override name = 'StoreError';
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super('store', options?.code ?? 'STORE_BAD', message, options);
  }
}

const SCOPE_BY_NAME: Record<string, ErrorScope> = {
  MessageError: 'message',
  FolderError: 'folder',
  StoreError: 'store',
};

/**
 * The scope of any error, including one rebuilt after crossing a worker boundary (same `name`, no
 * prototype). Anything unclassified is treated as a store error: when we do not know what broke, we
 * stop rather than risk going on.
 */
export function errorScope(err: unknown): ErrorScope {
  if (err instanceof SyncError) return err.scope;
  const name = (err as { name?: unknown } | null)?.name;
  return (typeof name === 'string' && SCOPE_BY_NAME[name]) || 'store';
}
