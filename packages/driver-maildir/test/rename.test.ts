import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { type FolderPath, folderKey, type Listing } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MaildirDriver, type MaildirLayoutName } from '../src/index.js';
import { age } from './age.js';
import { foldersOf, refusedOf } from './folders.js';

const enc = new TextEncoder();
const mail = (tag: string) =>
  enc.encode(`Message-ID: <${tag}@test>\r\nSubject: ${tag}\r\n\r\nbody of ${tag}\r\n`);

/** A fresh directory holding the Maildir root, so a test can see that nothing was written beside it. */
let outer = '';
let root = '';
beforeEach(async () => {
  outer = await mkdtemp(join(tmpdir(), 'twinbox-maildir-rename-'));
  root = join(outer, 'mail');
});
afterEach(async () => {
  await rm(outer, { recursive: true, force: true });
});

async function append(driver: MaildirDriver, path: FolderPath, tag: string, flags: string[] = []) {
  const [outcome] = await driver.appendMessages(path, [{ body: mail(tag), flags }]);
  if (!outcome?.ok) throw new Error(`append failed: ${JSON.stringify(outcome)}`);
  return outcome.id;
}

/** Every file and directory under `dir`, relative to it, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out = await readdir(dir, { recursive: true });
  return out.map((p) => relative(dir, join(dir, p))).sort();
}

/** Sets a folder's `new/` and `cur/` mtimes long ago, so its marker proves "unchanged" when it is. */
function full(listing: Listing) {
  if (listing.kind !== 'full') throw new Error(`expected a full listing, got ${listing.kind}`);
  return listing;
}

const names = async (driver: MaildirDriver) =>
  foldersOf(await driver.listFolders())
    .map((f) => `${f.path.join('/')}${f.selectable ? '' : ' (name only)'}`)
    .sort();

const LAYOUTS: { layout: MaildirLayoutName; separator?: string }[] = [
  { layout: 'maildir++' },
  { layout: 'maildir++', separator: '-' },
  { layout: 'fs' },
];

describe.each(LAYOUTS)(
  'MaildirDriver.renameFolder ($layout, separator $separator)',
  ({ layout, separator }) => {
    const sep = separator ?? '.';
    const dirOf = (path: FolderPath) =>
      layout === 'fs'
        ? join(root, ...(path[0] === 'INBOX' && path.length === 1 ? ['INBOX'] : path))
        : path[0] === 'INBOX' && path.length === 1
          ? root
          : join(root, `.${path.join(sep)}`);
    const open = () => MaildirDriver.open({ root, layout, separator });

    it('moves the folder with every subfolder, messages and flags along, into parents made for it; look-alike siblings stay', async () => {
      const driver = await open();
      for (const path of [['A', 'B', 'C'], ['Ab'], ['A b'], ['Other']]) await driver.createFolder(path);
      const a = await append(driver, ['A'], 'a', ['\\Seen', '$label1']);
      const b = await append(driver, ['A', 'B'], 'b', ['\\Flagged']);
      const c = await append(driver, ['A', 'B', 'C'], 'c');
      const sibling = await append(driver, ['Ab'], 'sibling');

      await driver.renameFolder(['A'], ['Archive', '2026', 'A']);

      expect(await names(driver)).toEqual(
        [
          'INBOX',
          'A b',
          'Ab',
          'Other',
          'Archive',
          'Archive/2026',
          'Archive/2026/A',
          'Archive/2026/A/B',
          'Archive/2026/A/B/C',
        ].sort(),
      );
      // Parents of the new name are Maildirs of their own, as createFolder makes them.
      expect((await stat(join(dirOf(['Archive', '2026']), 'cur'))).isDirectory()).toBe(true);
      const to = ['Archive', '2026', 'A'];
      for (const [path, id, tag, flags] of [
        [to, a, 'a', ['\\Seen', '$label1']],
        [[...to, 'B'], b, 'b', ['\\Flagged']],
        [[...to, 'B', 'C'], c, 'c', []],
        [['Ab'], sibling, 'sibling', []],
      ] as const) {
        const read = await driver.readMessage(path, id);
        expect(new Uint8Array(read.body)).toEqual(mail(tag));
        expect(read.flags).toEqual(flags);
      }
      await expect(stat(dirOf(['A']))).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(stat(dirOf(['A', 'B']))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('keeps every id, the epoch and the marker: a listing of the new name since the old marker is unchanged', async () => {
      const driver = await open();
      await driver.createFolder(['Work']);
      const ids = [
        await append(driver, ['Work'], 'one'),
        await append(driver, ['Work'], 'two', ['\\Seen']),
        await append(driver, ['Work'], 'three', ['\\Answered', '$label2']),
      ];
      await age(dirOf(['Work']));
      const before = full(await driver.listMessages(['Work'], {}));
      expect(before.messages.map((m) => m.id).sort()).toEqual([...ids].sort());

      await driver.renameFolder(['Work'], ['Done']);

      expect(await driver.listMessages(['Done'], { since: before.marker })).toEqual({
        kind: 'unchanged',
        marker: before.marker,
      });
      const after = full(await driver.listMessages(['Done'], {}));
      expect(after.marker).toEqual(before.marker);
      expect(after.messages).toEqual(expect.arrayContaining(before.messages));
      expect(after.messages).toHaveLength(before.messages.length);
      // An id paired under the old name is used under the new one as it is.
      expect(await driver.setFlags(['Done'], [{ id: ids[0]!, add: ['\\Flagged'], remove: [] }])).toEqual([
        { id: ids[0], ok: true },
      ]);
      expect((await driver.readMessage(['Done'], ids[0]!)).flags).toEqual(['\\Flagged']);
      // The old name is gone for every call, not served from what was cached of it.
      await expect(driver.listMessages(['Work'], { since: before.marker })).rejects.toMatchObject({
        code: 'FOLDER_MISSING',
      });
      await expect(driver.readMessage(['Work'], ids[1]!)).rejects.toMatchObject({ code: 'FOLDER_MISSING' });
    });

    it('forgets what it cached of the old name: a folder made again under it starts afresh', async () => {
      const driver = await open();
      await driver.createFolder(['Tags']);
      // Keywords known in the old folder: `$label1` has a letter in its dovecot-keywords.
      await append(driver, ['Tags'], 'tagged', ['$label1']);
      full(await driver.listMessages(['Tags'], {}));

      await driver.renameFolder(['Tags'], ['Labels']);
      await driver.createFolder(['Tags']);
      const fresh = await append(driver, ['Tags'], 'fresh', ['$label1']);

      // The new folder's own keyword file holds the keyword, so its letter reads back as it.
      expect((await driver.readMessage(['Tags'], fresh)).flags).toEqual(['$label1']);
      expect(
        (await MaildirDriver.open({ root, layout, separator }).then((d) => d.readMessage(['Tags'], fresh)))
          .flags,
      ).toEqual(['$label1']);
      expect(full(await driver.listMessages(['Tags'], {})).messages.map((m) => m.id)).toEqual([fresh]);
    });

    it('lists a folder another program renamed (a plain rename of its directories) under its new name, same ids and epoch', async () => {
      const driver = await open();
      await driver.createFolder(['Projects', 'Old']);
      const ids = [await append(driver, ['Projects'], 'p'), await append(driver, ['Projects', 'Old'], 'o')];
      await age(dirOf(['Projects']));
      await age(dirOf(['Projects', 'Old']));
      const before = full(await driver.listMessages(['Projects'], {}));
      const childBefore = full(await driver.listMessages(['Projects', 'Old'], {}));

      // What `mv` (or a mail client) does: one directory in the fs layout, each one in Maildir++.
      if (layout === 'fs') await rename(dirOf(['Projects']), dirOf(['Clients']));
      else {
        await rename(dirOf(['Projects', 'Old']), dirOf(['Clients', 'Old']));
        await rename(dirOf(['Projects']), dirOf(['Clients']));
      }

      expect(await names(driver)).toEqual(['Clients', 'Clients/Old', 'INBOX']);
      const after = full(await driver.listMessages(['Clients'], {}));
      expect(after.marker).toEqual(before.marker);
      expect(after.messages).toEqual(before.messages);
      expect(after.messages.map((m) => m.id)).toEqual([ids[0]]);
      const child = full(await driver.listMessages(['Clients', 'Old'], {}));
      expect(child.marker).toEqual(childBefore.marker);
      expect(child.messages.map((m) => m.id)).toEqual([ids[1]]);
      expect(await driver.listMessages(['Clients'], { since: before.marker })).toMatchObject({
        kind: 'unchanged',
      });
      // Another process, which never listed the old name, agrees.
      const other = await open();
      expect(full(await other.listMessages(['Clients'], {})).messages).toEqual(before.messages);
    });

    it('refuses a new name that exists (the folder, a subfolder target, or a stray directory) with FOLDER_EXISTS, moving nothing', async () => {
      const driver = await open();
      for (const path of [['A', 'B'], ['Taken'], ['Free', 'B']]) await driver.createFolder(path);
      await append(driver, ['A'], 'a');
      // In Maildir++ `Free` is then a name only, with no directory: only the target of `A/B` is taken.
      if (layout !== 'fs') await rm(dirOf(['Free']), { recursive: true });
      await mkdir(dirOf(['Stray']));
      const refused = async (from: FolderPath, to: FolderPath) => {
        const snapshot = await tree(root);
        await expect(driver.renameFolder(from, to), `${from} -> ${to}`).rejects.toMatchObject({
          name: 'FolderError',
          code: 'FOLDER_EXISTS',
        });
        expect(await tree(root)).toEqual(snapshot);
      };

      await refused(['A'], ['Taken']);
      await refused(['A'], ['Free']);
      // An empty directory, no folder at all: rename(2) would silently replace it, so it is refused too.
      await refused(['A'], ['Stray']);
      // The name of a parent of the folder: it is there.
      await refused(['A', 'B'], ['A']);
      expect(await names(driver)).toEqual(
        ['A', 'A/B', layout === 'fs' ? 'Free' : 'Free (name only)', 'Free/B', 'INBOX', 'Taken'].sort(),
      );
    });

    it('refuses hostile names, the inbox and a name below the folder, writing nothing anywhere', async () => {
      const driver = await open();
      await driver.createFolder(['A', 'B']);
      await append(driver, ['A'], 'a');
      const snapshot = await tree(root);
      const hostile: FolderPath[] = [
        ['..', 'escape'],
        ['ok', '..', '..', 'x'],
        ['a/b'],
        ['..'],
        ['x\u0000y'],
        ['line\nbreak'],
        [''],
        ['x'.repeat(300)],
      ];
      if (layout === 'fs') hostile.push(['.hidden'], ['cur'], ['A2', 'new']);
      else hostile.push([`a${sep}b`]);
      for (const name of hostile) {
        await expect(driver.renameFolder(['A'], name), JSON.stringify(name)).rejects.toMatchObject({
          name: 'FolderError',
          code: 'FOLDER_NAME_UNSAFE',
        });
        await expect(driver.renameFolder(name, ['Z']), JSON.stringify(name)).rejects.toMatchObject({
          code: 'FOLDER_NAME_UNSAFE',
        });
      }
      for (const [from, to] of [
        [['INBOX'], ['Posteingang']],
        [['A'], ['INBOX']],
        [['A'], ['inbox']],
        [['A'], ['A']],
        [['A'], ['A', 'B', 'deeper']],
        [['A'], ['A', 'new']],
      ] as const) {
        await expect(driver.renameFolder(from, to), `${from} -> ${to}`).rejects.toMatchObject({
          code: 'FOLDER_RENAME_REFUSED',
        });
      }
      // Gone, both when never there and when only a name refused as a folder name would match.
      await expect(driver.renameFolder(['Nowhere'], ['Z'])).rejects.toMatchObject({ code: 'FOLDER_GONE' });
      expect(await tree(root)).toEqual(snapshot);
      expect(await readdir(outer)).toEqual(['mail']);

      const readOnly = await MaildirDriver.open({ root, layout, separator, readOnly: true });
      await expect(readOnly.renameFolder(['A'], ['Z'])).rejects.toMatchObject({ code: 'READ_ONLY' });
      expect(await tree(root)).toEqual(snapshot);
    });

    it('keeps the watch running: the rename is reported as `all`, and the folder is watched under its new name', async () => {
      const driver = await open();
      await driver.createFolder(['Watched', 'Inner']);
      await driver.watch({ folders: 'all' });
      try {
        const renamed = driver.nextChange();
        await driver.renameFolder(['Watched'], ['Moved']);
        expect((await renamed).all).toBe(true);

        const next = driver.nextChange();
        await append(driver, ['Moved', 'Inner'], 'after');
        const notice = await next;
        expect(notice.folders.map(folderKey)).toContain(folderKey(['Moved', 'Inner']));
        expect(notice.folders.map(folderKey)).not.toContain(folderKey(['Watched', 'Inner']));
      } finally {
        await driver.close();
      }
    });
  },
);

describe('MaildirDriver.renameFolder (maildir++ only: subfolders are directories of their own)', () => {
  const open = () => MaildirDriver.open({ root });

  it('takes along a subfolder whose directory name it refuses to read, under its name as it was', async () => {
    const driver = await open();
    await driver.createFolder(['A']);
    // `.A..b` has an empty level: listed as refused, never read as a folder, but it is A's.
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, '.A..b', sub), { recursive: true });
    expect(refusedOf(await driver.listFolders())).toEqual(['.A..b']);

    await driver.renameFolder(['A'], ['N']);

    expect(refusedOf(await driver.listFolders())).toEqual(['.N..b']);
    expect((await readdir(root)).filter((n) => n.startsWith('.')).sort()).toEqual(['.N', '.N..b']);
  });

  it('renames a folder that exists only as the parent of its subfolders', async () => {
    const driver = await open();
    await driver.createFolder(['P', 'Q']);
    await rm(join(root, '.P'), { recursive: true });
    expect(await names(driver)).toEqual(['INBOX', 'P (name only)', 'P/Q']);

    await driver.renameFolder(['P'], ['R']);

    expect(await names(driver)).toEqual(['INBOX', 'R (name only)', 'R/Q']);
  });

  it('finishes a rename a crash left half done: the subfolders already moved stay, the rest follow', async () => {
    const driver = await open();
    await driver.createFolder(['A', 'B']);
    await driver.createFolder(['A', 'C']);
    const ids = [
      await append(driver, ['A'], 'a'),
      await append(driver, ['A', 'B'], 'b'),
      await append(driver, ['A', 'C'], 'c'),
    ];
    // Children go first, the folder last: a crash after the first child leaves this.
    await rename(join(root, '.A.B'), join(root, '.N.B'));
    expect(await names(driver)).toEqual(['A', 'A/C', 'INBOX', 'N (name only)', 'N/B']);

    await driver.renameFolder(['A'], ['N']);

    expect(await names(driver)).toEqual(['INBOX', 'N', 'N/B', 'N/C']);
    for (const [path, id] of [
      [['N'], ids[0]],
      [['N', 'B'], ids[1]],
      [['N', 'C'], ids[2]],
    ] as const)
      expect(full(await driver.listMessages(path, {})).messages.map((m) => m.id)).toEqual([id]);
  });

  it('renames a folder to the same name in another Unicode normalisation, which no other folder holds', async () => {
    const driver = await open();
    const nfd = 'Cafe\u0301';
    await driver.createFolder([nfd]);
    const id = await append(driver, [nfd], 'cafe');
    await driver.renameFolder([nfd], [nfd.normalize('NFC')]);
    expect(await names(driver)).toEqual(['Café', 'INBOX']);
    expect(full(await driver.listMessages(['Café'], {})).messages.map((m) => m.id)).toEqual([id]);
    // A third spelling would be a second folder of the same name to a person: refused.
    await driver.createFolder(['Other']);
    await expect(driver.renameFolder(['Other'], [nfd])).rejects.toMatchObject({
      code: 'FOLDER_NAME_COLLISION',
    });
    expect(await names(driver)).toEqual(['Café', 'INBOX', 'Other']);
  });
});
