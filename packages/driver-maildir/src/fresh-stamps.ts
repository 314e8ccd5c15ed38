import { randomBytes } from 'node:crypto';
import { closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether a directory's mtime moves at every change that follows a look at it, on the file system of
 * a Maildir folder: then a stamp proves the folder unchanged since it was taken however fresh it is,
 * and our own writes a moment ago no longer cost the next listing a read of the whole folder.
 *
 * Linux 6.13 and later give such a change a fine-grained time ("multigrain" timestamps: ext4, XFS,
 * Btrfs, tmpfs), where older kernels stamp every change within a clock tick (1–10 ms) alike, which
 * is what the freshness window guards against. The kernel version alone does not say which file
 * systems do it, so it is measured: in the folder's `tmp/` (which readers never list), a file is made
 * and removed 32 times, the directory looked at between each. Every change must show a new, later
 * mtime, and at least one of them less than half a millisecond after the one before, which a
 * tick-grained clock (ticks of a millisecond or more) cannot give. Synchronous calls, so the 32
 * changes come within a fraction of a tick where ticks are coarse. Anything odd (no `tmp/`, an
 * error, a clock that went back) answers no: the window stays.
 */
export function probeFreshStamps(folderDir: string): boolean {
  const tmp = join(folderDir, 'tmp');
  const file = join(tmp, `.twinbox-stamp-probe.${process.pid}.${randomBytes(6).toString('hex')}`);
  let made = false;
  try {
    let previous = statSync(tmp, { bigint: true }).mtimeNs;
    let closest = BigInt(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < 32; i++) {
      if (made) unlinkSync(file);
      else closeSync(openSync(file, 'wx', 0o600));
      made = !made;
      const now = statSync(tmp, { bigint: true }).mtimeNs;
      if (now <= previous) return false;
      if (now - previous < closest) closest = now - previous;
      previous = now;
    }
    return closest < 500_000n;
  } catch {
    return false;
  } finally {
    if (made) {
      try {
        unlinkSync(file);
      } catch {
        // Left in tmp/: the clean-up of debris removes it in 36 hours.
      }
    }
  }
}

/** Answers by device (one file system), measured once per process. */
const byDevice = new Map<bigint, boolean>();
let override: boolean | undefined;

/**
 * {@link probeFreshStamps}'s answer for the file system of `folderDir` (device `dev`), measured the
 * first time a folder on it asks. `canProbe` false (a read-only driver writes nothing, not even in
 * `tmp/`) answers no unless a measure is on record.
 */
export function freshStampsProven(folderDir: string, dev: bigint, canProbe: boolean): boolean {
  if (override !== undefined) return override;
  let proven = byDevice.get(dev);
  if (proven === undefined) {
    if (!canProbe) return false;
    proven = probeFreshStamps(folderDir);
    // Bounded: file systems come and go with mounts, rarely.
    if (byDevice.size >= 256) byDevice.clear();
    byDevice.set(dev, proven);
  }
  return proven;
}

/**
 * For tests: answer `value` everywhere without measuring (false: behave as on a tick-grained file
 * system, whatever this machine's kernel does), or measure again (undefined).
 */
export function overrideFreshStamps(value: boolean | undefined): void {
  override = value;
  byDevice.clear();
}
