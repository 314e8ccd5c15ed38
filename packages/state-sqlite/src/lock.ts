import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/** Another process holds the state of this pair. */
export class StateLockedError extends Error {
  override name = 'StateLockedError';
  readonly code = 'STATE_LOCKED';
  constructor(
    readonly lockFile: string,
    readonly pid: number,
  ) {
    super(
      `Another Twinbox process (pid ${pid}) is syncing this pair: ${lockFile} is held. ` +
        'Wait for it to finish (or run with the wait option); if no such process runs, delete the lock file.',
    );
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; only ESRCH means it is gone.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock on a state database, held by a `<db>.lock` file that names the holder's pid.
 * Created with O_EXCL, so two processes cannot both take it; a holder that died (even by SIGKILL, which
 * no cleanup survives) is detected by its pid being gone, and its lock is taken over. A lock file rather
 * than SQLite's own locking, because SQLite locks per transaction and two syncs must not even alternate.
 * Released by `release()`. Same-process reuse is refused too: two instances would interleave writes.
 */
export function acquireLock(lockFile: string): { release(): void } {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(lockFile);
          } catch {
            // already gone: nothing to release
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8').trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw new StateLockedError(lockFile, pid);
    // Stale: its holder is dead (or the file is garbage). Remove it and try again.
    try {
      unlinkSync(lockFile);
    } catch {
      // another process removed it first; the next attempt sees who won
    }
  }
  throw new StateLockedError(lockFile, Number.NaN);
}
