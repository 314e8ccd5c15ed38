import { closeSync, fsync, futimesSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Makes a directory's entries (creations, renames, removals) durable. Only the fsync waits on the disk
 * and goes through libuv's thread pool; the open and close are synchronous (see {@link deliverBatch}).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** One message to deliver: its bytes as stored, and where it ends up. */
export interface Delivery {
  data: Uint8Array;
  /** Set as the file's mtime, which Maildir readers take as the arrival time. Ms since the epoch. */
  mtime?: number | undefined;
  /** Name in `tmp/` while it is written: the message's unique part. */
  tempName: string;
  /** `new` or `cur` directory it is renamed into, and its name there. */
  finalDir: string;
  finalName: string;
}

export type DeliveryOutcome = { ok: true } | { ok: false; error: Error };

/** How many files are open at once: their fsyncs are issued together, so one journal commit covers many. */
const OPEN_AT_ONCE = 64;

const fsyncFd = promisify(fsync);

/** Writes all of `data` at the file's start (a regular file takes it whole, but the API may not say so). */
function writeAll(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
}

/**
 * Delivers a batch the Maildir way, durably, with far fewer waits than one fsync per message:
 * 1. every file is written to `tmp/` and fsynced, many at once, so one journal commit covers many;
 * 2. each is renamed into place (atomic: a reader sees the whole message or none);
 * 3. each target directory is fsynced once, which makes all its renames durable;
 * and only then is a message reported delivered. After a crash at any point a message is either
 * whole in its folder or absent (a leftover in `tmp/` is never read as mail).
 * With `fsync` false steps 1 and 3 skip the syncs: faster, but a power loss may lose what was reported.
 *
 * Only the fsyncs are asynchronous. Open, write, utimes, close and rename land in the page cache and
 * take microseconds, while each asynchronous call is a round trip through libuv's thread pool (four
 * threads for the whole process) that cost more CPU than the call itself, six of them per message;
 * so they are made synchronously, which holds this thread (a side's worker, or the caller's thread
 * with inline workers) for the batch's few milliseconds of writing.
 */
export async function deliverBatch(
  tmpDir: string,
  batch: readonly Delivery[],
  fsync: boolean,
): Promise<DeliveryOutcome[]> {
  const outcomes: DeliveryOutcome[] = new Array(batch.length);
  const failed = (i: number, error: unknown) => {
    outcomes[i] = { ok: false, error: error as Error };
    try {
      unlinkSync(join(tmpDir, batch[i]!.tempName));
    } catch {
      // Never created, or already gone: nothing is left behind either way.
    }
  };
  for (let start = 0; start < batch.length; start += OPEN_AT_ONCE) {
    const open: { i: number; fd: number }[] = [];
    for (let i = start; i < Math.min(batch.length, start + OPEN_AT_ONCE); i++) {
      const d = batch[i]!;
      let fd: number | undefined;
      try {
        fd = openSync(join(tmpDir, d.tempName), 'wx', 0o600);
        writeAll(fd, d.data);
        if (d.mtime !== undefined) futimesSync(fd, d.mtime / 1000, d.mtime / 1000);
        open.push({ i, fd });
      } catch (error) {
        if (fd !== undefined) closeSync(fd);
        failed(i, error);
      }
    }
    const synced = fsync
      ? await Promise.all(
          open.map(({ fd }) =>
            fsyncFd(fd).then(
              () => undefined,
              (error: unknown) => error,
            ),
          ),
        )
      : [];
    for (const [k, { i, fd }] of open.entries()) {
      let error = synced[k];
      try {
        closeSync(fd);
      } catch (err) {
        error ??= err;
      }
      if (error === undefined) outcomes[i] = { ok: true };
      else failed(i, error);
    }
  }

  const touched = new Set<string>();
  for (const [i, d] of batch.entries()) {
    if (!outcomes[i]!.ok) continue;
    try {
      renameSync(join(tmpDir, d.tempName), join(d.finalDir, d.finalName));
      touched.add(d.finalDir);
    } catch (error) {
      failed(i, error);
    }
  }

  if (fsync) {
    for (const dir of touched) {
      try {
        await fsyncDir(dir);
      } catch (error) {
        // The renames may or may not survive a crash: do not report them written.
        for (const [i, d] of batch.entries())
          if (d.finalDir === dir && outcomes[i]!.ok) outcomes[i] = { ok: false, error: error as Error };
      }
    }
  }
  return outcomes;
}
