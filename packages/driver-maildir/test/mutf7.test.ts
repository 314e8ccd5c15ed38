import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeMutf7, encodeMutf7, MaildirDriver } from '../src/index.js';
import { foldersOf, refusedOf } from './folders.js';

describe('modified UTF-7', () => {
  const cases: [string, string][] = [
    ['INBOX', 'INBOX'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['Привет', '&BB8EQAQ4BDIENQRC-'],
    ['a&b', 'a&-b'],
    ['Übersicht & Notizen', '&ANw-bersicht &- Notizen'],
    ['日本語', '&ZeVnLIqe-'],
    ['😀', '&2D3eAA-'],
  ];
  for (const [utf8, mutf7] of cases) {
    it(`${utf8} <-> ${mutf7}`, () => {
      expect(encodeMutf7(utf8)).toBe(mutf7);
      expect(decodeMutf7(mutf7)).toBe(utf8);
    });
  }
  it('refuses what is not canonical modified UTF-7', () => {
    for (const bad of ['a&b', '&ANw', '&AN!-', 'Ä', '&AGE-' /* "a" encoded: must be direct */]) {
      expect(decodeMutf7(bad), bad).toBeUndefined();
    }
  });
});

describe('MaildirDriver with folderNames = "modified-utf-7"', () => {
  it('lists a directory spelled with half a surrogate pair, or not canonically, as refused by its name, and refuses to make one', async () => {
    const root = await mkdtemp(join(tmpdir(), 'twinbox-mutf7-'));
    try {
      for (const dir of ['.&2D0-', '.&AGE-', '.ok']) {
        for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, dir, sub), { recursive: true });
      }
      const driver = await MaildirDriver.open({ root, folderNames: 'modified-utf-7' });
      const listed = await driver.listFolders();
      expect(
        foldersOf(listed)
          .map((f) => f.path.join('/'))
          .sort(),
      ).toEqual(['INBOX', 'ok']);
      expect(refusedOf(listed)).toEqual(['.&2D0-', '.&AGE-']);
      await expect(driver.createFolder(['\uD83D'])).rejects.toMatchObject({ code: 'FOLDER_NAME_UNSAFE' });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('spells directories as Dovecot, mbsync and OfflineIMAP do, and lists them in UTF-8', async () => {
    const root = await mkdtemp(join(tmpdir(), 'twinbox-mutf7-'));
    try {
      const driver = await MaildirDriver.open({ root, folderNames: 'modified-utf-7' });
      await driver.createFolder(['Reisen 2002', 'Überblick & Notizen']);
      expect(await readdir(root)).toContain('.Reisen 2002.&ANw-berblick &- Notizen');
      expect(foldersOf(await driver.listFolders()).map((f) => f.path)).toContainEqual([
        'Reisen 2002',
        'Überblick & Notizen',
      ]);
      const fs = await MaildirDriver.open({
        root: join(root, 'fs'),
        layout: 'fs',
        folderNames: 'modified-utf-7',
      });
      await fs.createFolder(['Привет', 'a&b']);
      expect(await readdir(join(root, 'fs', '&BB8EQAQ4BDIENQRC-'))).toContain('a&-b');
      expect(foldersOf(await fs.listFolders()).map((f) => f.path)).toContainEqual(['Привет', 'a&b']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
