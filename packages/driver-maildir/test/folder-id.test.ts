import { chmod, lstat, mkdir, mkdtemp, rename, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FolderPath } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BirthStat, devicesWithBirthTimes, folderIdOf } from '../src/folder-id.js';
import { MaildirDriver, type MaildirLayoutName } from '../src/index.js';
import { foldersOf } from './folders.js';

let outer = '';
let root = '';
beforeEach(async () => {
  outer = await mkdtemp(join(tmpdir(), 'twinbox-maildir-id-'));
  root = join(outer, 'mail');
});
afterEach(async () => {
  await rm(outer, { recursive: true, force: true });
});

/**
 * Opens the Maildir and lets a clock tick pass: a file system stamps times at its tick (up to 10 ms),
 * and a root born and changed within one tick would prove nothing about birth times (see folder-id.ts).
 */
async function openSettled(layout: MaildirLayoutName): Promise<MaildirDriver> {
  const driver = await MaildirDriver.open({ root, layout, fsync: false });
  await sleep(25);
  return driver;
}

/** Each listed folder's id, by its path joined by `/` (undefined where it has none). */
async function ids(driver: MaildirDriver): Promise<Map<string, string | undefined>> {
  return new Map(foldersOf(await driver.listFolders()).map((f) => [f.path.join('/'), f.id]));
}

const dirOf = (layout: MaildirLayoutName, path: FolderPath) =>
  layout === 'fs' ? join(root, ...path) : join(root, `.${path.join('.')}`);

describe('folderIdOf: an id only where the birth time is known', () => {
  const fake = (birthtimeNs: bigint, ctimeNs: bigint, dev = 7n): BirthStat => ({
    dev,
    ino: 42n,
    birthtimeNs,
    ctimeNs,
  });

  it('is device, inode and birth time when the birth time differs from the change time', () => {
    expect(folderIdOf(fake(1_000n, 2_000n), new Set())).toBe('d7i42b1000');
  });

  it('gives none for a birth time of 0 (statx without one) or below (FreeBSD)', () => {
    expect(folderIdOf(fake(0n, 2_000n), new Set([7n]))).toBeUndefined();
    expect(folderIdOf(fake(-1_000_000_000n, 2_000n), new Set([7n]))).toBeUndefined();
  });

  it('gives none for a birth time equal to the change time (maybe the change time standing in) unless the device proved real birth times', () => {
    expect(folderIdOf(fake(5_000n, 5_000n), new Set())).toBeUndefined();
    expect(folderIdOf(fake(5_000n, 5_000n), new Set([8n]))).toBeUndefined();
    expect(folderIdOf(fake(5_000n, 5_000n), new Set([7n]))).toBe('d7i42b5000');
  });

  it('takes a device as proven only from a stat whose birth time is real', () => {
    const proven = devicesWithBirthTimes([
      fake(5_000n, 5_000n, 1n), // equal: the change time may stand in
      fake(0n, 9_000n, 2n), // none reported
      undefined, // nothing there to stat
      fake(5_000n, 9_000n, 3n),
    ]);
    expect([...proven]).toEqual([3n]);
  });

  it('reads a ctime-for-birthtime platform as unknown for every folder', () => {
    // Linux without statx, illumos, AIX: every birth time is the change time, so nothing proves any.
    const stats = [fake(10n, 10n, 1n), fake(20n, 20n, 1n), fake(30n, 30n, 1n)];
    const proven = devicesWithBirthTimes(stats);
    expect(stats.map((s) => folderIdOf(s, proven))).toEqual([undefined, undefined, undefined]);
  });
});

describe.each(['maildir++', 'fs'] as MaildirLayoutName[])('MaildirDriver folder ids (%s)', (layout) => {
  it('lists an id for every folder directory, none for the inbox or a name-only parent, the same at every listing', async () => {
    const driver = await openSettled(layout);
    await driver.createFolder(['A']);
    await driver.createFolder(['B', 'C']);
    if (layout === 'maildir++') {
      // Maildir++ allows `.P.Q` without `.P`: P is then only a name, with no directory to identify.
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, '.P.Q', sub), { recursive: true });
    }
    const first = await ids(driver);
    expect(first.get('INBOX')).toBeUndefined();
    for (const name of ['A', 'B', 'B/C']) {
      const dir = await lstat(dirOf(layout, name.split('/')), { bigint: true });
      expect(first.get(name), name).toBe(`d${dir.dev}i${dir.ino}b${dir.birthtimeNs}`);
    }
    if (layout === 'maildir++') {
      expect(first.get('P')).toBeUndefined();
      expect(first.get('P/Q')).toEqual(expect.any(String));
    }
    const given = [...first.values()].filter((id) => id !== undefined);
    expect(new Set(given).size, 'no two folders share an id').toBe(given.length);

    // Mail arriving, flags changing, the directory's own times and mode changing: none is a new folder.
    const [appended] = await driver.appendMessages(
      ['A'],
      [{ body: new TextEncoder().encode('a: b\r\n\r\nc\r\n'), flags: [] }],
    );
    if (!appended?.ok) throw new Error('append failed');
    await driver.setFlags(['A'], [{ id: appended.id, add: ['\\Seen', 'todo'], remove: [] }]);
    await utimes(dirOf(layout, ['A']), 1_700_000_000, 1_700_000_000);
    await chmod(dirOf(layout, ['B']), 0o750);
    expect(await ids(driver)).toEqual(first);
    const again = await MaildirDriver.open({ root, layout, readOnly: true });
    expect(await ids(again)).toEqual(first);
  });

  it('keeps the id of a folder renamed by another program (a plain rename of its directory)', async () => {
    const driver = await openSettled(layout);
    await driver.createFolder(['Projects']);
    const before = (await ids(driver)).get('Projects');
    expect(before).toEqual(expect.any(String));
    await rename(dirOf(layout, ['Projects']), dirOf(layout, ['Clients']));
    const after = await ids(driver);
    expect(after.has('Projects')).toBe(false);
    expect(after.get('Clients')).toBe(before);
  });

  it('keeps the ids of a folder and its subfolders renamed by renameFolder', async () => {
    const driver = await openSettled(layout);
    await driver.createFolder(['Old']);
    await driver.createFolder(['Old', 'Sub']);
    const before = await ids(driver);
    expect(before.get('Old')).toEqual(expect.any(String));
    expect(before.get('Old/Sub')).toEqual(expect.any(String));
    await driver.renameFolder(['Old'], ['Archive', 'New']);
    const after = await ids(driver);
    expect(after.get('Archive/New')).toBe(before.get('Old'));
    expect(after.get('Archive/New/Sub')).toBe(before.get('Old/Sub'));
    // The parent made for the new name is a new folder with an id of its own.
    expect(after.get('Archive')).toEqual(expect.any(String));
    expect([...before.values()]).not.toContain(after.get('Archive'));
  });

  it('never gives a folder deleted and made again (or any later folder) the id of an earlier one, inode reused or not', async () => {
    const driver = await openSettled(layout);
    // Deleting and creating in a tight loop is what makes a file system hand the freed inode straight
    // to the next directory (ext4 does, nearly every time): ids must differ anyway.
    const seen = new Map<string, string>();
    const inodes = new Set<bigint>();
    let reused = 0;
    for (let round = 0; round < 60; round++) {
      // The same name (deleteFolder, createFolder) and another one (rm, mkdir by another program).
      const path = round % 2 === 0 ? ['Again'] : [`Other${round}`];
      if (round % 2 === 0) await driver.createFolder(path);
      else
        for (const sub of ['cur', 'new', 'tmp'])
          await mkdir(join(dirOf(layout, path), sub), { recursive: true });
      const ino = (await lstat(dirOf(layout, path), { bigint: true })).ino;
      if (inodes.has(ino)) reused++;
      inodes.add(ino);
      const id = (await ids(driver)).get(path.join('/'));
      expect(id, `round ${round}`).toEqual(expect.any(String));
      expect(
        seen.get(id!),
        `round ${round} (inode ${ino}) has the id of round ${seen.get(id!)}`,
      ).toBeUndefined();
      seen.set(id!, String(round));
      if (round % 2 === 0) await driver.deleteFolder(path);
      else await rm(dirOf(layout, path), { recursive: true });
    }
    expect(seen.size).toBe(60);
    // Not asserted (tmpfs, for one, never reuses an inode), but shown: the loop did provoke reuse here.
    console.info(`${layout}: ${reused} of 60 folders were given an inode used before`);
  });
});
