import { mkdir, mkdtemp, readdir, rm, statfs, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshStampsProven, probeFreshStamps } from '../src/fresh-stamps.js';
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

describe('the measure of fresh stamps', () => {
  it('answers no where it cannot make its file (no tmp/), and no for a read-only driver with nothing on record', async () => {
    await rm(join(dir, 'tmp'), { recursive: true });
    expect(probeFreshStamps(dir)).toBe(false);
    expect(freshStampsProven(dir, 1n, false)).toBe(false);
  });

  it('leaves tmp/ as it found it, and its answer holds: every change after a look moves the mtime', async () => {
    const answer = probeFreshStamps(dir);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    if (!answer) return;
    // Where it says yes, a change made at once after a look never leaves the folder's stamp as it was.
    for (let i = 0; i < 200; i++) {
      const before = await folderStamp(dir, Date.now(), true);
      await writeFile(join(dir, 'new', `m${i}`), '');
      const after = await folderStamp(dir, Date.now(), true);
      expect(after?.value).not.toBe(before?.value);
      expect(after?.recent).toBe(false);
    }
  });
});
