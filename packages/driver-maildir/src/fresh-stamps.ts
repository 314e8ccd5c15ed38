import { closeSync, linkSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { newUniqueName } from './unique.js';

/** The file-system calls the measure makes, apart so that a test can stand in for a file system. */
export interface ProbeFs {
  /** The directory's mtime in nanoseconds. */
  mtimeNs(dir: string): bigint;
  create(file: string): void;
  link(from: string, to: string): void;
  rename(from: string, to: string): void;
  unlink(file: string): void;
}

const realFs: ProbeFs = {
  mtimeNs: (dir) => statSync(dir, { bigint: true }).mtimeNs,
  create: (file) => closeSync(openSync(file, 'wx', 0o600)),
  link: linkSync,
  rename: renameSync,
  unlink: unlinkSync,
};

/** Rounds of the measure: each makes five changes (see {@link probeFreshStamps}). */
const ROUNDS = 8;

/**
 * Whether a directory's mtime moves at every change that follows a look at it, on the file system of
 * a Maildir folder: then a stamp proves the folder unchanged since it was taken however fresh it is,
 * and our own writes a moment ago no longer cost the next listing a read of the whole folder.
 *
 * Linux 6.13 and later give such a change a fine-grained time ("multigrain" timestamps), where older
 * kernels stamp every change within a clock tick (1–10 ms) alike, which is what the freshness window
 * guards against. Which file systems and which of their operations do it is not something the kernel
 * version says (tmpfs on 6.18 leaves the mtime as it was after an unlink), so it is measured: in the
 * folder's `tmp/` (which readers never list), each round makes a file, links it under a second name,
 * renames that, and removes both, the directory looked at after each change: every operation a
 * Maildir writer makes. Every change must show a new, later mtime, and at least one less than half a
 * millisecond after the one before, which a tick-grained clock (ticks of a millisecond or more)
 * cannot give. Synchronous calls, so the 40 changes come within a fraction of a tick where ticks are
 * coarse. Any error or odd answer (a clock that went back) is a no.
 */
export function probeFreshStamps(folderDir: string, fs: ProbeFs = realFs): boolean {
  const tmp = join(folderDir, 'tmp');
  // A Maildir unique name, as a delivery's file in tmp/ has: never another writer's.
  const base = join(tmp, `.twinbox-stamp-probe.${newUniqueName()}`);
  const [a, b, c] = [`${base}.a`, `${base}.b`, `${base}.c`];
  const steps: (() => void)[] = [
    () => fs.create(a),
    () => fs.link(a, b),
    () => fs.rename(b, c),
    () => fs.unlink(a),
    () => fs.unlink(c),
  ];
  try {
    let previous = fs.mtimeNs(tmp);
    let closest: bigint | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      for (const step of steps) {
        step();
        const now = fs.mtimeNs(tmp);
        if (now <= previous) return false;
        if (closest === undefined || now - previous < closest) closest = now - previous;
        previous = now;
      }
    }
    return closest !== undefined && closest < 500_000n;
  } catch {
    return false;
  } finally {
    for (const file of [a, b, c]) {
      try {
        fs.unlink(file);
      } catch {
        // Not there (the usual case), or left in tmp/: the clean-up of debris removes it in 36 hours.
      }
    }
  }
}

/** How long a measure stands: a device number may name another file system after a remount. */
const MEASURE_TTL_MS = 10 * 60_000;

/** Measured answers by file system (device number and type), with when they were measured. */
const measured = new Map<string, { fresh: boolean; at: number }>();
let override: boolean | undefined;

/**
 * {@link probeFreshStamps}'s answer for the file system `fs` (`device:type`, of the folder's `new/`
 * and `cur/`) that the folder `folderDir` is on, measured the first time a folder on it asks and again
 * after {@link MEASURE_TTL_MS}. The measure is made in the folder's `tmp/`, which must be on that file
 * system too (else no). `canProbe` false (a read-only driver writes nothing, not even in `tmp/`)
 * answers no unless a measure is on record.
 */
export function freshStampsProven(folderDir: string, fs: string, canProbe: boolean): boolean {
  if (override !== undefined) return override;
  const now = Date.now();
  const known = measured.get(fs);
  if (known && now - known.at < MEASURE_TTL_MS) return known.fresh;
  if (!canProbe) return false;
  try {
    if (!fs.startsWith(`${statSync(join(folderDir, 'tmp'), { bigint: true }).dev}:`)) return false;
  } catch {
    // No tmp/ in this folder: nothing measured, so nothing recorded for the file system.
    return false;
  }
  const fresh = probeFreshStamps(folderDir);
  // Bounded: file systems come and go with mounts, rarely.
  if (measured.size >= 256) measured.clear();
  measured.set(fs, { fresh, at: now });
  return fresh;
}

/**
 * For tests: answer `value` everywhere without measuring (false: behave as on a tick-grained file
 * system, whatever this machine's kernel does), or measure again (undefined).
 */
export function overrideFreshStamps(value: boolean | undefined): void {
  override = value;
  measured.clear();
}
