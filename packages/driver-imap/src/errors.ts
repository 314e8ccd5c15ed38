import { displayFolder, FolderError, type FolderPath, StoreError, SyncError } from '@twinbox/core';

/** The server's own words for a refused command (imapflow keeps them on the error). */
export function serverText(err: unknown): string {
  const e = err as { responseText?: string; serverResponseCode?: string; message?: string };
  return [e.serverResponseCode, e.responseText ?? e.message].filter(Boolean).join(' ');
}

/** True when the server answered NO/BAD (the command failed, the connection is fine). */
export function serverAnswered(err: unknown): boolean {
  const e = err as { responseStatus?: string; responseText?: string; code?: string };
  if (e.responseStatus === 'BYE') return false;
  return (
    e.responseStatus === 'NO' ||
    e.responseStatus === 'BAD' ||
    e.responseText !== undefined ||
    // imapflow's own answer to a refused STATUS/SELECT of a missing mailbox.
    e.code === 'NotFound'
  );
}

/**
 * True when `err` means the session is gone (socket closed, BYE, timeout) rather than that the server
 * refused one command: the driver then opens a new session before going on.
 */
export function isConnectionLoss(err: unknown, sessionUsable: boolean): boolean {
  if (err instanceof SyncError) return err.code === 'CONNECTION_LOST';
  if (serverAnswered(err)) return false;
  const code = (err as { code?: unknown }).code;
  return !sessionUsable || (typeof code === 'string' && CONNECTION_CODES.has(code));
}

const CONNECTION_CODES = new Set([
  'NoConnection',
  'EConnectionClosed',
  'ETIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'StateLogout',
  'ClosedAfterConnectTLS',
  'ClosedAfterConnectText',
]);

export function folderError(what: string, path: FolderPath, err: unknown, code = 'FOLDER_BAD'): FolderError {
  if (err instanceof FolderError) return err;
  if (!serverAnswered(err)) return connectionError(path, err) as unknown as FolderError;
  return new FolderError(`Cannot ${what} the IMAP folder ${displayFolder(path)}: ${serverText(err)}`, {
    code,
    cause: err,
  });
}

export function connectionError(path: FolderPath, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreError(
    `The IMAP connection failed while working on ${displayFolder(path)}: ${(err as Error).message}. Check the network and the server; the next sync resumes where this one stopped.`,
    { code: 'CONNECTION_LOST', cause: err },
  );
}
