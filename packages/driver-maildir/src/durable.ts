import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { mapLimit } from './limit.js';

/** Makes a directory's entries (creations, renames, removals) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
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

/** How many files are written and fsynced at once: enough for the disk to merge journal commits. */
const CONCURRENCY = 32;

/**
 * Delivers a batch the Maildir way, durably, with far fewer waits than one fsync per message:
 * 1. every file is written to `tmp/` and fsynced, many at once, so one journal commit covers many;
 * 2. each is renamed into place (atomic: a reader sees the whole message or none), many at once;
 * 3. each target directory is fsynced once, which makes all its renames durable;
 * and only then is a message reported delivered. After a crash at any point a message is either
 * whole in its folder or absent (a leftover in `tmp/` is never read as mail).
 * With `fsync` false steps 1 and 3 skip the syncs: faster, but a power loss may lose what was reported.
 */
export async function deliverBatch(
  tmpDir: string,
  batch: readonly Delivery[],
  fsync: boolean,
): Promise<DeliveryOutcome[]> {
  const outcomes: DeliveryOutcome[] = await mapLimit(batch, CONCURRENCY, async (d) => {
    const temp = join(tmpDir, d.tempName);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(d.data);
        if (d.mtime !== undefined) {
          const seconds = d.mtime / 1000;
          await handle.utimes(seconds, seconds);
        }
        if (fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      return { ok: true };
    } catch (error) {
      await unlink(temp).catch(() => {});
      return { ok: false, error: error as Error };
    }
  });

  const touched = new Set<string>();
  await mapLimit(batch, CONCURRENCY, async (d, i) => {
    if (!outcomes[i]!.ok) return;
    try {
      await rename(join(tmpDir, d.tempName), join(d.finalDir, d.finalName));
      touched.add(d.finalDir);
    } catch (error) {
      await unlink(join(tmpDir, d.tempName)).catch(() => {});
      outcomes[i] = { ok: false, error: error as Error };
    }
  });

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
