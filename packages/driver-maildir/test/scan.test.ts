import {
  link,
  mkdir,
  mkdtemp,
  readdir,
  rename,
  rm,
  statfs,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { overrideFreshStamps, type ProbeFs, probeFreshStamps } from '../src/fresh-stamps.js';
import { FINE_MTIME_WINDOW_MS, folderStamp, MTIME_WINDOW_MS, scanFolder, UNRELIABLE } from '../src/scan.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-scan-'));
  for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(dir, sub));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Sets `new/` and `cur/` mtimes to `ms` since the epoch (to the millisecond). */
async function changedAt(ms: number) {
  for (const sub of ['new', 'cur']) await utimes(join(dir, sub), ms / 1000, ms / 1000);
}

/** ext4, tmpfs, XFS, Btrfs, F2FS, ZFS: where the test's temporary directory is decides what to expect. */
async function fine(): Promise<boolean> {
  const type = (await statfs(dir)).type;
  return [0xef53, 0x01021994, 0x58465342, 0x9123683e, 0xf2f52010, 0x2fc12fc1].includes(type);
}

describe('a folder stamp', () => {
  // As on a file system whose clock ticks (Linux before 6.13, tmpfs): the window decides.
  beforeEach(() => overrideFreshStamps(false));
  afterEach(() => overrideFreshStamps(undefined));

  it('on a local file system with sub-second mtimes, proves a folder last changed over the short window ago', async () => {
    expect(FINE_MTIME_WINDOW_MS).toBeLessThan(MTIME_WINDOW_MS);
    // A sub-second part that is not a whole second: 0.123 s past it.
    const then = Math.floor(Date.now() / 1000) * 1000 - 1000 + 123;
    const now = then + FINE_MTIME_WINDOW_MS + 50;
    await changedAt(then);
    expect((await folderStamp(dir, now))?.recent).toBe(!(await fine()));
    // Within the short window it proves nothing, anywhere.
    expect((await folderStamp(dir, then + FINE_MTIME_WINDOW_MS - 50))?.recent).toBe(true);
    // One pass is then enough, and its marker can be trusted.
    const scan = await scanFolder(dir);
    expect(scan?.stamp.includes(UNRELIABLE)).toBe(!(await fine()));
  });

  it('keeps the 2 s window for a whole-second mtime, which a file system without sub-seconds gives', async () => {
    const then = Math.floor(Date.now() / 1000) * 1000 - 1000;
    await changedAt(then);
    expect((await folderStamp(dir, then + FINE_MTIME_WINDOW_MS + 50))?.recent).toBe(true);
    expect((await folderStamp(dir, then + MTIME_WINDOW_MS + 50))?.recent).toBe(false);
  });

  it('a change within the window is read again: two passes, and a marker that never matches', async () => {
    await changedAt(Date.now());
    const scan = await scanFolder(dir);
    expect(scan?.stamp).toContain(UNRELIABLE);
  });
});

describe('a folder stamp where every change after a look moves the mtime', () => {
  beforeEach(() => overrideFreshStamps(true));
  afterEach(() => overrideFreshStamps(undefined));

  it('is trusted however fresh: one pass, a marker that can match', async () => {
    await writeFile(join(dir, 'new', 'm1'), '');
    const stamp = await folderStamp(dir, Date.now(), true);
    expect(stamp?.recent).toBe(false);
    const scan = await scanFolder(dir, undefined, true);
    expect(scan?.stamp).not.toContain(UNRELIABLE);
    expect(scan?.stamp).toBe(stamp?.value);
    expect([...(scan?.entries.keys() ?? [])]).toEqual(['m1']);
  });

  it('is not trusted on a file system without sub-second mtimes', async () => {
    const then = Math.floor(Date.now() / 1000) * 1000 - 1000;
    await changedAt(then);
    expect((await folderStamp(dir, then + FINE_MTIME_WINDOW_MS + 50, true))?.recent).toBe(true);
  });
});

/** A file system for the measure: every change moves the mtime by `step(op)` ns (0: not at all). */
function fakeFs(step: (op: string) => bigint): ProbeFs {
  let mtime = 1_000_000_000_000n;
  const change = (op: string) => {
    mtime += step(op);
  };
  return {
    mtimeNs: () => mtime,
    create: () => change('create'),
    link: () => change('link'),
    rename: () => change('rename'),
    unlink: () => change('unlink'),
  };
}

describe('the measure of fresh stamps', () => {
  // Nothing on record from another test: each measures for itself.
  beforeEach(() => overrideFreshStamps(undefined));
  /** The measure's answer on a stand-in file system (see {@link fakeFs}). */
  const probe = (step: (op: string) => bigint) => probeFreshStamps(dir, fakeFs(step));

  it('says yes where every change moves the mtime, finer than a clock tick', () => {
    expect(probe(() => 20_000n)).toBe(true);
  });

  it('says no where one kind of change leaves the mtime as it was (tmpfs unlink on Linux 6.18)', () => {
    expect(probe((op) => (op === 'unlink' ? 0n : 20_000n))).toBe(false);
    expect(probe((op) => (op === 'rename' ? 0n : 20_000n))).toBe(false);
    expect(probe((op) => (op === 'link' ? 0n : 20_000n))).toBe(false);
  });

  it('says no where every change moves the mtime by a whole tick: a slow machine on a tick-grained clock', () => {
    expect(probe(() => 1_000_000n)).toBe(false);
  });

  it('says no where the mtime goes back (a clock stepped back), or a call fails', () => {
    expect(probe((op) => (op === 'rename' ? -5_000n : 20_000n))).toBe(false);
    const failing: ProbeFs = {
      ...fakeFs(() => 20_000n),
      link: () => {
        throw new Error('EPERM');
      },
    };
    expect(probeFreshStamps(dir, failing)).toBe(false);
  });

  it('answers no where it cannot measure (no tmp/), and measures once tmp/ is there', async () => {
    await rm(join(dir, 'tmp'), { recursive: true });
    expect(probeFreshStamps(dir)).toBe(false);
    const stamp = await folderStamp(dir, Date.now(), true);
    expect(stamp).toBeDefined();
    await mkdir(join(dir, 'tmp'));
    const answer = probeFreshStamps(dir);
    // Nothing was recorded for the file system while tmp/ was missing: it is measured now.
    await writeFile(join(dir, 'new', 'm'), '');
    expect((await folderStamp(dir, Date.now(), true))?.recent).toBe(!answer);
  });

  it('leaves tmp/ as it found it, and its answer holds for every operation a Maildir writer makes', async () => {
    const answer = probeFreshStamps(dir);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    // Where it says yes, a change made at once after a look never leaves the folder's stamp as it
    // was; where it says no, the stamp of a fresh change is not trusted.
    const ops = [
      (i: number) => writeFile(join(dir, 'new', `m${i}`), ''),
      (i: number) => link(join(dir, 'new', `m${i - 1}`), join(dir, 'cur', `m${i - 1}:2,`)),
      (i: number) => rename(join(dir, 'cur', `m${i - 2}:2,`), join(dir, 'cur', `m${i - 2}:2,S`)),
      (i: number) => unlink(join(dir, 'new', `m${i - 3}`)),
      (i: number) => unlink(join(dir, 'cur', `m${i - 4}:2,S`)),
    ];
    for (let i = 0; i < 200; i++) {
      const before = await folderStamp(dir, Date.now(), true);
      await ops[i % 5]!(i);
      const after = await folderStamp(dir, Date.now(), true);
      if (answer) expect(after?.value).not.toBe(before?.value);
      expect(after?.recent).toBe(!answer);
    }
  });
});
