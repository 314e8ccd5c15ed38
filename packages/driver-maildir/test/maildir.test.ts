import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorScope, type FolderPath, type Listing } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { overrideFreshStamps, probeFreshStamps } from '../src/fresh-stamps.js';
import { MaildirDriver } from '../src/index.js';
import { age } from './age.js';
import { foldersOf, refusedOf } from './folders.js';

const enc = new TextEncoder();
const mail = (tag: string, extra = '') =>
  enc.encode(`Message-ID: <${tag}@test>\r\nSubject: ${tag}\r\n${extra}\r\nbody of ${tag}\r\n`);

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinbox-maildir-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function appendOne(driver: MaildirDriver, path: FolderPath, tag: string, flags: string[] = []) {
  const [outcome] = await driver.appendMessages(path, [{ body: mail(tag), flags }]);
  if (!outcome?.ok) throw new Error(`append failed: ${JSON.stringify(outcome)}`);
  return outcome.id;
}

/** Replaces the inbox's keyword file as Dovecot does: a new file renamed over the old one. */
async function rewriteKeywords(text: string) {
  await writeFile(join(root, 'tmp', 'keywords.new'), text);
  await rename(join(root, 'tmp', 'keywords.new'), join(root, 'dovecot-keywords'));
}

function full(listing: Listing) {
  if (listing.kind !== 'full') throw new Error(`expected a full listing, got ${listing.kind}`);
  return new Map(listing.messages.map((m) => [m.id, m]));
}

/** Every file and directory under `dir`, as paths relative to it. */
async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** Sets a folder's `new/` and `cur/` mtimes to one fixed time long ago, as if the last change were then. */
describe('MaildirDriver layouts', () => {
  it('writes Maildir++: the inbox at the root, subfolders as dot directories with maildirfolder', async () => {
    const driver = await MaildirDriver.open({ root });
    await driver.createFolder(['Archiv', '2024', 'Übersicht']);
    await appendOne(driver, ['INBOX'], 'in');
    const entries = await tree(root);
    expect(entries).toEqual(
      expect.arrayContaining([
        'cur',
        'new',
        'tmp',
        '.Archiv/cur',
        '.Archiv.2024/cur',
        '.Archiv.2024.Übersicht/cur',
        '.Archiv.2024.Übersicht/maildirfolder',
      ]),
    );
    expect((await readdir(join(root, 'new'))).length).toBe(1);
  });

  it('lists a Maildir++ folder whose parent directory does not exist, with the parent unselectable', async () => {
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, '.a.b', sub), { recursive: true });
    await mkdir(join(root, '.notmuch', 'xapian'), { recursive: true });
    const driver = await MaildirDriver.open({ root });
    const folders = foldersOf(await driver.listFolders()).map(({ path, selectable }) => ({
      path,
      selectable,
    }));
    expect(folders).toEqual(
      expect.arrayContaining([
        { path: ['INBOX'], selectable: true },
        { path: ['a', 'b'], selectable: true },
        { path: ['a'], selectable: false },
      ]),
    );
    expect(
      folders.some((f) => f.path[0] === 'notmuch'),
      'a dot directory that is no Maildir',
    ).toBe(false);
  });

  it('writes the fs layout: one directory per level, the inbox at INBOX, dot directories ignored', async () => {
    const driver = await MaildirDriver.open({ root, layout: 'fs' });
    await driver.createFolder(['Work', 'Projects']);
    await mkdir(join(root, '.hidden', 'cur'), { recursive: true });
    expect(await tree(root)).toEqual(
      expect.arrayContaining(['INBOX/cur', 'Work/cur', 'Work/Projects/cur', 'Work/Projects/new']),
    );
    const paths = foldersOf(await driver.listFolders())
      .map((f) => f.path.join('/'))
      .sort();
    expect(paths).toEqual(['INBOX', 'Work', 'Work/Projects']);
    await driver.deleteFolder(['Work']);
    const after = foldersOf(await driver.listFolders());
    expect(after.map((f) => [f.path.join('/'), f.selectable])).toEqual(
      expect.arrayContaining([
        ['Work/Projects', true],
        ['Work', false],
      ]),
    );
  });

  it('uses a configured separator for Maildir++ names', async () => {
    const driver = await MaildirDriver.open({ root, separator: '_' });
    await driver.createFolder(['a.b', 'c']);
    expect(await readdir(root)).toContain('.a.b_c');
    expect(foldersOf(await driver.listFolders()).map((f) => f.path)).toContainEqual(['a.b', 'c']);
  });
});

describe('MaildirDriver safety', () => {
  it('lists a Maildir whose directory name it would never write as refused by that name, not left out', async () => {
    const maildirs = ['.ok', '.a..b', '.tail.', '.x\ny', '.nul\u0001x'];
    for (const dir of maildirs) {
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(root, dir, sub), { recursive: true });
    }
    await mkdir(join(root, '.notmuch', 'xapian'), { recursive: true });
    const listed = await MaildirDriver.open({ root }).then((d) => d.listFolders());
    expect(
      foldersOf(listed)
        .map((f) => f.path.join('/'))
        .sort(),
    ).toEqual(['INBOX', 'ok']);
    // A dot directory that is no Maildir (.notmuch) is no folder at all, refused or not.
    expect(refusedOf(listed)).toEqual(['.a..b', '.nul\u0001x', '.tail.', '.x\ny'].sort());
    const refused = listed.find((f) => 'refused' in f && f.refused === '.x\ny');
    expect(refused).toMatchObject({ code: 'FOLDER_NAME_REFUSED' });
    expect((refused as { message: string }).message).toContain('".x\\ny"');

    const fsRoot = join(root, 'fs');
    for (const dir of [
      'INBOX',
      'Work',
      'bad\nname',
      'Work/also\u0000'.replace('\u0000', '\u0002'),
      '.hidden',
    ]) {
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(fsRoot, dir, sub), { recursive: true });
    }
    const fs = await MaildirDriver.open({ root: fsRoot, layout: 'fs' }).then((d) => d.listFolders());
    expect(
      foldersOf(fs)
        .map((f) => f.path.join('/'))
        .sort(),
    ).toEqual(['INBOX', 'Work']);
    expect(refusedOf(fs)).toEqual(['Work/also\u0002', 'bad\nname'].sort());
  });

  const hostile: [string, FolderPath][] = [
    ['dot-dot', ['..', 'escape']],
    ['a dot-dot level after a real one', ['ok', '..', '..', 'x']],
    ['a slash inside a level', ['a/../../etc']],
    ['an absolute path as a level', ['/etc/passwd']],
    ['NUL', ['a\u0000b']],
    ['a newline', ['a\nb']],
    ['the Maildir++ separator', ['a.b']],
    ['an empty level', ['a', '']],
    ['an overlong name', ['x'.repeat(300)]],
    ['a lone surrogate', ['a\uD800']],
  ];

  for (const [what, path] of hostile) {
    it(`refuses a folder name with ${what}, naming it, and writes nothing outside the root`, async () => {
      const parent = await mkdtemp(join(tmpdir(), 'twinbox-jail-'));
      const jail = join(parent, 'mail');
      try {
        const driver = await MaildirDriver.open({ root: jail });
        const before = await tree(parent);
        for (const op of [
          () => driver.createFolder(path),
          () => driver.listMessages(path, {}),
          () => driver.appendMessages(path, [{ body: mail('x'), flags: [] }]),
          () => driver.deleteFolder(path),
        ]) {
          const error = await op().then(
            () => undefined,
            (e: unknown) => e as Error & { code?: string },
          );
          expect(error?.code).toBe('FOLDER_NAME_UNSAFE');
          expect(errorScope(error)).toBe('folder');
          expect(error?.message).toContain(JSON.stringify(path.join('/')));
        }
        expect(await tree(parent)).toEqual(before);
      } finally {
        await rm(parent, { recursive: true, force: true });
      }
    });
  }

  it('refuses levels the fs layout would confuse with Maildir directories or hide', async () => {
    const driver = await MaildirDriver.open({ root, layout: 'fs' });
    for (const path of [['cur'], ['a', 'tmp'], ['.hidden']])
      await expect(driver.createFolder(path)).rejects.toMatchObject({ code: 'FOLDER_NAME_UNSAFE' });
  });

  it('refuses a folder that collides with an existing one after Unicode normalisation', async () => {
    const driver = await MaildirDriver.open({ root });
    await driver.createFolder(['Caf\u00e9']);
    await expect(driver.createFolder(['Cafe\u0301'])).rejects.toMatchObject({
      code: 'FOLDER_NAME_COLLISION',
    });
    await driver.createFolder(['Caf\u00e9']);
  });

  it('refuses the second of two colliding folders created at once (folders synced concurrently)', async () => {
    const driver = await MaildirDriver.open({ root });
    const results = await Promise.allSettled([
      driver.createFolder(['Caf\u00e9']),
      driver.createFolder(['Cafe\u0301']),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'FOLDER_NAME_COLLISION' });
    expect((await readdir(root)).filter((n) => n.startsWith('.Caf'))).toHaveLength(1);
  });

  it('creates directories 0700 and message and keyword files 0600', async () => {
    const driver = await MaildirDriver.open({ root: join(root, 'm') });
    await driver.createFolder(['F']);
    const id = await appendOne(driver, ['F'], 'perm', ['\\Seen', '$label1']);
    const dir = join(root, 'm', '.F');
    for (const d of [join(root, 'm'), dir, join(dir, 'cur'), join(dir, 'new'), join(dir, 'tmp')])
      expect((await stat(d)).mode & 0o777, d).toBe(0o700);
    const [file] = (await readdir(join(dir, 'cur'))).filter((n) => n.startsWith(id));
    expect((await stat(join(dir, 'cur', file!))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'dovecot-keywords'))).mode & 0o777).toBe(0o600);
  });
});

describe('MaildirDriver messages', () => {
  it('stores LF on disk with Dovecot size fields, hands out CRLF, and keeps the arrival time as mtime', async () => {
    const driver = await MaildirDriver.open({ root });
    const body = mail('eol');
    const [outcome] = await driver.appendMessages(
      ['INBOX'],
      [{ body, flags: ['\\Seen'], internalDate: Date.UTC(2020, 0, 2, 3, 4, 5) }],
    );
    if (!outcome?.ok) throw new Error('append failed');
    const [name] = await readdir(join(root, 'cur'));
    const disk = await readFile(join(root, 'cur', name!));
    expect(disk.includes(13)).toBe(false);
    expect(name).toMatch(new RegExp(`,S=${disk.length},W=${body.length}:2,S$`));
    expect((await stat(join(root, 'cur', name!))).mtime.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5));
    const read = await driver.readMessage(['INBOX'], outcome.id);
    expect(Buffer.from(read.body).equals(Buffer.from(body))).toBe(true);
    expect(full(await driver.listMessages(['INBOX'], {})).get(outcome.id)?.size).toBe(body.length);
  });

  it('reads mail other programs delivered: no info in new/ is unseen, foreign letters survive our renames', async () => {
    await mkdir(join(root, 'cur'), { recursive: true });
    await mkdir(join(root, 'new'), { recursive: true });
    await writeFile(join(root, 'new', '1700000000.fresh.host'), 'Subject: a\n\nbody\n');
    await writeFile(join(root, 'cur', '1700000001.old.host:2,SXa'), 'Message-ID: <old@x>\nSubject: b\n\nb\n');
    const driver = await MaildirDriver.open({ root });
    const listed = full(await driver.listMessages(['INBOX'], {}));
    expect(listed.get('1700000000.fresh.host')?.flags).toEqual([]);
    expect(listed.get('1700000001.old.host')?.flags, 'an unmapped keyword letter is not a flag').toEqual([
      '\\Seen',
    ]);
    const [described] = await driver.describeMessages(['INBOX'], ['1700000001.old.host']);
    expect(described).toMatchObject({
      messageId: '<old@x>',
      size: 'Message-ID: <old@x>\nSubject: b\n\nb\n'.length + 4,
    });
    // A name without a size is read whatever size the request names: there is no other way to know it.
    expect(await driver.describeMessages(['INBOX'], ['1700000001.old.host'], { sizes: [1] })).toMatchObject([
      { messageId: '<old@x>' },
    ]);
    await driver.setFlags(['INBOX'], [{ id: '1700000001.old.host', add: ['\\Flagged'], remove: ['\\Seen'] }]);
    expect(await readdir(join(root, 'cur'))).toContain('1700000001.old.host:2,FXa');
  });

  it('keeps the id and flags of a file whose name holds a line break, through reads and renames', async () => {
    await mkdir(join(root, 'cur'), { recursive: true });
    const id = '1700000000.line\nbreak.host';
    await writeFile(join(root, 'cur', `${id}:2,S`), 'Subject: a\n\nbody\n');
    const driver = await MaildirDriver.open({ root });
    expect(full(await driver.listMessages(['INBOX'], {})).get(id)?.flags).toEqual(['\\Seen']);
    expect((await driver.readMessage(['INBOX'], id)).flags).toEqual(['\\Seen']);
    await driver.setFlags(['INBOX'], [{ id, add: ['\\Flagged'], remove: [] }]);
    expect(await readdir(join(root, 'cur'))).toEqual([`${id}:2,FS`]);
  });

  it('leaves a name alone when a flag change adds or removes no letter', async () => {
    await mkdir(join(root, 'cur'), { recursive: true });
    await writeFile(join(root, 'cur', '1700000000.x.host:2,SF'), 'Subject: a\n\nbody\n');
    const driver = await MaildirDriver.open({ root });
    await driver.listMessages(['INBOX'], {});
    const [outcome] = await driver.setFlags(
      ['INBOX'],
      [{ id: '1700000000.x.host', add: ['\\Seen'], remove: [] }],
    );
    expect(outcome?.ok).toBe(true);
    expect(await readdir(join(root, 'cur'))).toEqual(['1700000000.x.host:2,SF']);
  });

  it('keeps a message id when another program moves it to cur/ and renames it, and never loses that program’s change', async () => {
    const driver = await MaildirDriver.open({ root });
    const id = await appendOne(driver, ['INBOX'], 'moved');
    await driver.listMessages(['INBOX'], {});
    // mutt reads it: new/ to cur/ with \Seen.
    await rename(join(root, 'new', id), join(root, 'cur', `${id}:2,S`));
    const [outcome] = await driver.setFlags(['INBOX'], [{ id, add: ['\\Flagged'], remove: [] }]);
    expect(outcome).toEqual({ id, ok: true });
    expect(await readdir(join(root, 'cur'))).toEqual([`${id}:2,FS`]);
    const read = await driver.readMessage(['INBOX'], id);
    expect(read.flags).toEqual(['\\Flagged', '\\Seen']);
  });

  it('keywords go to dovecot-keywords letters, are read back, and a 27th is refused by name without losing the rest', async () => {
    const driver = await MaildirDriver.open({ root });
    const id = await appendOne(driver, ['INBOX'], 'kw', ['\\Seen', 'Work', '$Label1']);
    const keywords = await readFile(join(root, 'dovecot-keywords'), 'utf8');
    expect(keywords.split('\n').filter(Boolean).sort()).toEqual(['0 $Label1', '1 Work']);
    expect(await readdir(join(root, 'cur'))).toEqual([expect.stringMatching(/:2,Sab$/)]);
    expect(full(await driver.listMessages(['INBOX'], {})).get(id)?.flags).toEqual([
      '\\Seen',
      '$Label1',
      'Work',
    ]);
    const many = Array.from({ length: 24 }, (_, i) => `k${i}`);
    await appendOne(driver, ['INBOX'], 'many', many);
    const outcomes = await driver.appendMessages(
      ['INBOX'],
      [
        { body: mail('over'), flags: ['one-too-many'] },
        { body: mail('fine'), flags: ['\\Seen'] },
      ],
    );
    expect(outcomes[0]).toMatchObject({ ok: false, code: 'KEYWORD_LIMIT' });
    expect(outcomes[0]?.ok === false && outcomes[0].message).toContain('one-too-many');
    expect(outcomes[1]?.ok).toBe(true);
    const [flagOutcome] = await driver.setFlags(['INBOX'], [{ id, add: ['one-too-many'], remove: [] }]);
    expect(flagOutcome).toMatchObject({ ok: false, gone: false });
  });

  it('ignores what is not a message and reports a file that vanished as gone', async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    const b = await appendOne(driver, ['INBOX'], 'b', ['\\Seen']);
    await writeFile(join(root, 'cur', '.editor-swap'), 'x');
    await mkdir(join(root, 'cur', 'a-directory'));
    await writeFile(join(root, 'tmp', 'half-written'), 'Subject: half');
    const listed = full(await driver.listMessages(['INBOX'], {}));
    expect([...listed.keys()].sort()).toEqual([a, b].sort());
    const [fileB] = (await readdir(join(root, 'cur'))).filter((n) => n.startsWith(b));
    await rm(join(root, 'cur', fileB!));
    await expect(driver.readMessage(['INBOX'], b)).rejects.toMatchObject({ code: 'MESSAGE_GONE' });
    expect((await driver.describeMessages(['INBOX'], [a, b])).map((m) => m.id)).toEqual([a]);
    expect(await driver.setFlags(['INBOX'], [{ id: b, add: ['\\Flagged'], remove: [] }])).toEqual([
      { id: b, ok: false, gone: true, message: expect.stringContaining(b) },
    ]);
    await driver.deleteMessages(['INBOX'], [a, b]);
    expect(full(await driver.listMessages(['INBOX'], {})).size).toBe(0);
  });

  it('removes every message it can before it says one could not be removed, and skips what is gone', async () => {
    const driver = await MaildirDriver.open({ root });
    const batch = Array.from({ length: 40 }, (_, i) => ({ body: mail(`m${i}`), flags: ['\\Seen'] }));
    const ids = (await driver.appendMessages(['INBOX'], batch)).map((o) => (o.ok ? o.id : ''));
    expect(full(await driver.listMessages(['INBOX'], {})).size).toBe(40);
    const fileOf = async (id: string) => (await readdir(join(root, 'cur'))).find((n) => n.startsWith(id))!;
    // One removed by another program meanwhile (nothing to do), one that cannot be removed: a
    // directory under its name (unlink refuses a directory, even to root).
    await rm(join(root, 'cur', await fileOf(ids[3]!)));
    const stuck = await fileOf(ids[17]!);
    await rm(join(root, 'cur', stuck));
    await mkdir(join(root, 'cur', stuck));
    await expect(driver.deleteMessages(['INBOX'], ids)).rejects.toMatchObject({ code: expect.any(String) });
    // The other 38 went all the same, whatever order the removals ran in.
    expect(await readdir(join(root, 'cur'))).toEqual([stuck]);
  });

  it('reads no file to describe a message whose size, given by its name, the request does not name', async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    const [whole] = await driver.describeMessages(['INBOX'], [a]);
    expect(whole?.messageId).toBe('<a@test>');
    const size = whole!.size!;
    expect(await driver.describeMessages(['INBOX'], [a], { sizes: [size + 1] })).toEqual([
      { id: a, flags: ['\\Seen'], size },
    ]);
    expect(await driver.describeMessages(['INBOX'], [a], { sizes: [size] })).toEqual([whole]);
  });

  it('answers unchanged from three stats when new/, cur/ and the keyword file did not change, and lists again after any rename', async () => {
    const driver = await MaildirDriver.open({ root });
    const id = await appendOne(driver, ['INBOX'], 'x');
    await age(root);
    const first = await driver.listMessages(['INBOX'], {});
    const again = await driver.listMessages(['INBOX'], { since: first.marker });
    expect(again).toEqual({ kind: 'unchanged', marker: first.marker });
    await rename(join(root, 'new', id), join(root, 'cur', `${id}:2,S`));
    const after = await driver.listMessages(['INBOX'], { since: first.marker });
    expect(after).toMatchObject({ kind: 'delta', changed: [{ id, flags: ['\\Seen'] }], vanished: [] });
    // Another driver (another process) never saw that listing: it lists in full.
    const other = await MaildirDriver.open({ root });
    expect(full(await other.listMessages(['INBOX'], { since: first.marker })).get(id)?.flags).toEqual([
      '\\Seen',
    ]);
  });

  it('never trusts a marker taken while the folder was changing: the next listing reads the folder again', async () => {
    // As on a file system whose clock ticks (Linux before 6.13): a change within a tick of a look at
    // the folder may leave its mtime as it was.
    overrideFreshStamps(false);
    onTestFinished(() => overrideFreshStamps(undefined));
    const driver = await MaildirDriver.open({ root });
    const id = await appendOne(driver, ['INBOX'], 'fresh');
    const first = await driver.listMessages(['INBOX'], {});
    expect(first.marker.value).toContain('!');
    // Within the clock's granularity a change can leave the mtimes as they were: only a read shows it.
    const [newDir, curDir] = [await stat(join(root, 'new')), await stat(join(root, 'cur'))];
    await rename(join(root, 'new', id), join(root, 'cur', `${id}:2,F`));
    await utimes(join(root, 'new'), newDir.atime, newDir.mtime);
    await utimes(join(root, 'cur'), curDir.atime, curDir.mtime);
    const again = await driver.listMessages(['INBOX'], { since: first.marker });
    expect(again).toMatchObject({ kind: 'delta', changed: [{ id, flags: ['\\Flagged'] }], vanished: [] });
    // Each such marker names one listing only, never another one taken at the same stamp.
    expect(again.marker.value).not.toBe(first.marker.value);
    const other = await MaildirDriver.open({ root });
    expect(full(await other.listMessages(['INBOX'], { since: first.marker })).size).toBe(1);
  });

  it('where every change after a look moves the mtime, trusts a marker taken right after a write, and still sees the next change', async () => {
    const driver = await MaildirDriver.open({ root });
    const id = await appendOne(driver, ['INBOX'], 'fresh');
    const first = await driver.listMessages(['INBOX'], {});
    // This machine's file system and kernel decide which behaviour is due; both are checked.
    const fresh = probeFreshStamps(root);
    expect(first.marker.value.includes('!')).toBe(!fresh);
    if (fresh) {
      const again = await driver.listMessages(['INBOX'], { since: first.marker });
      expect(again).toEqual({ kind: 'unchanged', marker: first.marker });
      // A change at once after that look still shows, however soon after our write it comes.
      await rename(join(root, 'new', id), join(root, 'cur', `${id}:2,F`));
      const after = await driver.listMessages(['INBOX'], { since: first.marker });
      expect(after).toMatchObject({ kind: 'delta', changed: [{ id, flags: ['\\Flagged'] }], vanished: [] });
    }
    // The measure leaves nothing behind in tmp/.
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('answers a listing since its own marker with what changed, its own writes included', async () => {
    const driver = await MaildirDriver.open({ root });
    const [a, b, c] = [
      await appendOne(driver, ['INBOX'], 'a'),
      await appendOne(driver, ['INBOX'], 'b'),
      await appendOne(driver, ['INBOX'], 'c'),
    ];
    await age(root);
    const first = await driver.listMessages(['INBOX'], {});
    expect(first.kind).toBe('full');
    await driver.setFlags(['INBOX'], [{ id: a, add: ['\\Flagged'], remove: [] }]);
    await driver.deleteMessages(['INBOX'], [b]);
    const d = await appendOne(driver, ['INBOX'], 'd', ['\\Seen']);
    const after = await driver.listMessages(['INBOX'], { since: first.marker });
    if (after.kind !== 'delta') throw new Error(`expected a delta, got ${after.kind}`);
    expect(after.changed.map((m) => [m.id, m.flags]).sort()).toEqual(
      [
        [a, ['\\Flagged']],
        [d, ['\\Seen']],
      ].sort(),
    );
    expect(after.vanished).toEqual([b]);
    // The driver still finds every file by its current name.
    expect((await driver.readMessage(['INBOX'], c)).flags).toEqual([]);
    expect((await driver.readMessage(['INBOX'], a)).flags).toEqual(['\\Flagged']);
  });

  it('removes debris older than 36 hours from tmp/ at its first listing, and reads tmp/ again only minutes later', async () => {
    const driver = await MaildirDriver.open({ root });
    const old = Date.now() / 1000 - 37 * 3600;
    const debris = async (name: string) => {
      await writeFile(join(root, 'tmp', name), 'half a message');
      await utimes(join(root, 'tmp', name), old, old);
    };
    await debris('crashed-1');
    await driver.listMessages(['INBOX'], {});
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    // A listing soon after leaves tmp/ alone: a daemon lists often, and tmp/ may be a large directory.
    await debris('crashed-2');
    await driver.listMessages(['INBOX'], {});
    expect(await readdir(join(root, 'tmp'))).toEqual(['crashed-2']);
  });

  it('sees a change another program made in the same clock tick as its own write', async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    const b = await appendOne(driver, ['INBOX'], 'b', ['\\Seen']);
    await age(root);
    const first = await driver.listMessages(['INBOX'], {});
    await driver.setFlags(['INBOX'], [{ id: a, add: ['\\Flagged'], remove: [] }]);
    const cur = join(root, 'cur');
    const ours = await stat(cur);
    // Another program flags b right after our rename, and the file system's clock has not moved on:
    // cur/ keeps the mtime our own write gave it.
    await rename(join(cur, `${b}:2,S`), join(cur, `${b}:2,RS`));
    await utimes(cur, ours.atime, ours.mtime);
    const after = await driver.listMessages(['INBOX'], { since: first.marker });
    if (after.kind !== 'delta') throw new Error(`expected a delta, got ${after.kind}`);
    expect(new Map(after.changed.map((m) => [m.id, m.flags])).get(b)).toEqual(['\\Answered', '\\Seen']);
  });

  it('lists in full when the folder keywords changed meaning since its listing', async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['Work']);
    await age(root);
    const first = await driver.listMessages(['INBOX'], {});
    expect(full(first).get(a)?.flags).toEqual(['Work']);
    // Another program renames the keyword behind letter a, then touches a file.
    await writeFile(join(root, 'dovecot-keywords'), '0 Home\n');
    await appendOne(driver, ['INBOX'], 'b');
    expect(full(await driver.listMessages(['INBOX'], { since: first.marker })).get(a)?.flags).toEqual([
      'Home',
    ]);
  });

  it('a folder deleted and made again is listed in full even with equal mtimes', async () => {
    const driver = await MaildirDriver.open({ root });
    await driver.createFolder(['F']);
    await age(join(root, '.F'));
    const first = await driver.listMessages(['F'], {});
    await driver.deleteFolder(['F']);
    await driver.createFolder(['F']);
    await age(join(root, '.F'));
    expect((await driver.listMessages(['F'], { since: first.marker })).kind).toBe('full');
  });
});

describe('MaildirDriver markerAfterWrites', () => {
  /** A listing, then writes of every kind, then the marker after them: what a sync records. */
  async function syncedFolder() {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    const b = await appendOne(driver, ['INBOX'], 'b', ['\\Seen']);
    const c = await appendOne(driver, ['INBOX'], 'c');
    await age(root);
    const listing = await driver.listMessages(['INBOX'], {});
    await driver.setFlags(['INBOX'], [{ id: a, add: ['\\Flagged'], remove: [] }]);
    await driver.deleteMessages(['INBOX'], [c]);
    const d = await appendOne(driver, ['INBOX'], 'd', ['\\Answered']);
    const marker = await driver.markerAfterWrites(['INBOX'], listing.marker);
    expect(marker).not.toEqual(listing.marker);
    return { driver, marker, a, b, d };
  }

  it('lets the next listing in another process answer unchanged after its own writes', async () => {
    // Where a stamp cannot prove the folder right after our writes, the marker names its files.
    overrideFreshStamps(false);
    onTestFinished(() => overrideFreshStamps(undefined));
    const { marker } = await syncedFolder();
    expect(marker.value.startsWith('files:')).toBe(true);
    await age(root);
    const later = await MaildirDriver.open({ root });
    const next = await later.listMessages(['INBOX'], { since: marker });
    expect(next.kind).toBe('unchanged');
    // Its marker is a stamp again, which proves an unchanged folder without reading it.
    const again = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: next.marker });
    expect(again.kind).toBe('unchanged');
    expect(again.marker).toEqual(next.marker);
  });

  it('gives the stamp itself after an append where every change after a look moves the mtime, so the next listing reads nothing', async () => {
    overrideFreshStamps(true);
    onTestFinished(() => overrideFreshStamps(undefined));
    const { marker } = await syncedFolder();
    expect(marker.value.startsWith('files:')).toBe(false);
    const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(next).toEqual({ kind: 'unchanged', marker });
    // Any change after it shows.
    await appendOne(await MaildirDriver.open({ root }), ['INBOX'], 'e');
    const later = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(later.kind).toBe('full');
  });

  it("shows another program's change made before the marker was given, though our writes came after", async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    const b = await appendOne(driver, ['INBOX'], 'b', ['\\Seen']);
    await age(root);
    const listing = await driver.listMessages(['INBOX'], {});
    // Another program flags b between our listing and our write.
    await rename(join(root, 'cur', `${b}:2,S`), join(root, 'cur', `${b}:2,RS`));
    await driver.setFlags(['INBOX'], [{ id: a, add: ['\\Flagged'], remove: [] }]);
    const marker = await driver.markerAfterWrites(['INBOX'], listing.marker);
    const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(full(next).get(b)?.flags).toEqual(['\\Answered', '\\Seen']);
    expect(full(next).get(a)?.flags).toEqual(['\\Flagged', '\\Seen']);
  });

  it("shows another program's change made after it, in the same clock tick, in this process and another", async () => {
    const { driver, marker, b } = await syncedFolder();
    const cur = join(root, 'cur');
    const ours = await stat(cur);
    await rename(join(cur, `${b}:2,S`), join(cur, `${b}:2,ST`));
    await utimes(cur, ours.atime, ours.mtime);
    const here = await driver.listMessages(['INBOX'], { since: marker });
    if (here.kind !== 'delta') throw new Error(`expected a delta, got ${here.kind}`);
    // Our own writes are not listed again: only the other program's change.
    expect(here.changed.map((m) => [m.id, m.flags])).toEqual([[b, ['\\Deleted', '\\Seen']]]);
    expect(here.vanished).toEqual([]);
    const there = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(full(there).get(b)?.flags).toEqual(['\\Deleted', '\\Seen']);
  });

  it("gives the listing's marker back when another program delivered a message since the listing and it appended", async () => {
    const driver = await MaildirDriver.open({ root });
    await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    await age(root);
    const listing = await driver.listMessages(['INBOX'], {});
    // Another program delivers into new/ after our listing, then we append: the controller must be told,
    // since what came may be a twin of our copy.
    await writeFile(join(root, 'new', '1700000000.M1P1.elsewhere'), 'Subject: x\n\nx\n');
    await appendOne(driver, ['INBOX'], 'b');
    expect(await driver.markerAfterWrites(['INBOX'], listing.marker)).toEqual(listing.marker);
    // Listed again, the folder is vouched for after our next append, which nothing came beside.
    const again = await driver.listMessages(['INBOX'], { since: listing.marker });
    await appendOne(driver, ['INBOX'], 'c');
    expect(await driver.markerAfterWrites(['INBOX'], again.marker)).not.toEqual(again.marker);
  });

  it("gives the listing's marker back, rather than failing, when the look after an append cannot read the folder", async () => {
    const driver = await MaildirDriver.open({ root });
    await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    await age(root);
    const listing = await driver.listMessages(['INBOX'], {});
    await appendOne(driver, ['INBOX'], 'b');
    // new/ is no directory any more: its read fails (ENOTDIR), as any unreadable folder's would.
    await rm(join(root, 'new'), { recursive: true });
    await writeFile(join(root, 'new'), 'not a directory');
    expect(await driver.markerAfterWrites(['INBOX'], listing.marker)).toEqual(listing.marker);
  });

  it('vouches by the stamp, which covers the keyword file, where keywords are in use', async () => {
    overrideFreshStamps(true);
    onTestFinished(() => overrideFreshStamps(undefined));
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['Work']);
    const listing = await driver.listMessages(['INBOX'], {});
    // Both new/ and cur/ written to now, so both have sub-second mtimes the stamp could prove.
    await appendOne(driver, ['INBOX'], 'b');
    await appendOne(driver, ['INBOX'], 'c', ['\\Seen']);
    const marker = await driver.markerAfterWrites(['INBOX'], listing.marker);
    expect(marker.value.startsWith('files:')).toBe(false);
    expect(marker).not.toEqual(listing.marker);
    // Another process trusts it: three stats, no read of the folder.
    expect((await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker })).kind).toBe(
      'unchanged',
    );
    // Dovecot rewrites the keyword file; nothing else changes.
    await rewriteKeywords('0 Home\n');
    const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(full(next).get(a)?.flags).toEqual(['Home']);
  });

  it('sees a rewrite of the keyword file after a listing that proved the folder unchanged', async () => {
    overrideFreshStamps(true);
    onTestFinished(() => overrideFreshStamps(undefined));
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['Work']);
    const { marker } = await driver.listMessages(['INBOX'], {});
    expect((await driver.listMessages(['INBOX'], { since: marker })).kind).toBe('unchanged');
    await rewriteKeywords('0 Home\n');
    const here = await driver.listMessages(['INBOX'], { since: marker });
    if (here.kind !== 'full') throw new Error(`expected a full listing, got ${here.kind}`);
    expect(full(here).get(a)?.flags).toEqual(['Home']);
  });

  for (const proven of [true, false]) {
    it(`vouches for appends that added keywords, as a first sync's do (stamps ${proven ? '' : 'not '}proven)`, async () => {
      overrideFreshStamps(proven);
      onTestFinished(() => overrideFreshStamps(undefined));
      const driver = await MaildirDriver.open({ root });
      await appendOne(driver, ['INBOX'], 'a', ['Work']);
      await age(root);
      const listing = await driver.listMessages(['INBOX'], {});
      await appendOne(driver, ['INBOX'], 'b', ['Urgent', '\\Seen']);
      await appendOne(driver, ['INBOX'], 'c', ['Work']);
      expect(await readFile(join(root, 'dovecot-keywords'), 'utf8')).toBe('0 Work\n1 Urgent\n');
      const marker = await driver.markerAfterWrites(['INBOX'], listing.marker);
      expect(marker).not.toEqual(listing.marker);
      const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
      expect(next.kind).toBe('unchanged');
    });
  }

  it('does not vouch when another program gave a letter another keyword before our writes added one', async () => {
    overrideFreshStamps(true);
    onTestFinished(() => overrideFreshStamps(undefined));
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['Work']);
    await age(root);
    const listing = await driver.listMessages(['INBOX'], {});
    await rewriteKeywords('0 Home\n');
    // Our append needs a new letter: the file is read again, and Urgent added to what it says now.
    await appendOne(driver, ['INBOX'], 'b', ['Urgent']);
    expect(await readFile(join(root, 'dovecot-keywords'), 'utf8')).toBe('0 Home\n1 Urgent\n');
    expect(await driver.markerAfterWrites(['INBOX'], listing.marker)).toEqual(listing.marker);
    const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], {
      since: listing.marker,
    });
    expect(full(next).get(a)?.flags).toEqual(['Home']);
  });

  it('does not vouch by the stamp when the keyword file changed between the listing and the writes', async () => {
    overrideFreshStamps(true);
    onTestFinished(() => overrideFreshStamps(undefined));
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['Work']);
    const listing = await driver.listMessages(['INBOX'], {});
    await rewriteKeywords('0 Home\n');
    await appendOne(driver, ['INBOX'], 'b');
    const marker = await driver.markerAfterWrites(['INBOX'], listing.marker);
    const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(full(next).get(a)?.flags).toEqual(['Home']);
  });

  it('lists in full after the keywords changed meaning, even with the same files', async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['Work']);
    await appendOne(driver, ['INBOX'], 'b');
    await age(root);
    const listing = await driver.listMessages(['INBOX'], {});
    await appendOne(driver, ['INBOX'], 'c');
    const marker = await driver.markerAfterWrites(['INBOX'], listing.marker);
    await writeFile(join(root, 'dovecot-keywords'), '0 Home\n');
    const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(full(next).get(a)?.flags).toEqual(['Home']);
  });

  it('vouches for its writes after an unchanged listing, which read no file, as well', async () => {
    const first = await MaildirDriver.open({ root });
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push(await appendOne(first, ['INBOX'], `m${i}`, ['\\Seen']));
    await age(root);
    const listed = await first.listMessages(['INBOX'], {});
    const driver = await MaildirDriver.open({ root });
    const unchanged = await driver.listMessages(['INBOX'], { since: listed.marker });
    expect(unchanged.kind).toBe('unchanged');
    // Forty renames at once, all needing the folder's files first.
    const outcomes = await driver.setFlags(
      ['INBOX'],
      ids.map((id) => ({ id, add: ['\\Flagged'], remove: [] })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const marker = await driver.markerAfterWrites(['INBOX'], unchanged.marker);
    expect(marker).not.toEqual(unchanged.marker);
    const next = await (await MaildirDriver.open({ root })).listMessages(['INBOX'], { since: marker });
    expect(next.kind).toBe('unchanged');
  });

  it('does not vouch after an unchanged listing when another program changed the folder before our writes', async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    const b = await appendOne(driver, ['INBOX'], 'b', ['\\Seen']);
    await age(root);
    const listed = await driver.listMessages(['INBOX'], {});
    const later = await MaildirDriver.open({ root });
    const unchanged = await later.listMessages(['INBOX'], { since: listed.marker });
    expect(unchanged.kind).toBe('unchanged');
    await rename(join(root, 'cur', `${b}:2,S`), join(root, 'cur', `${b}:2,RS`));
    await later.setFlags(['INBOX'], [{ id: a, add: ['\\Flagged'], remove: [] }]);
    expect(await later.markerAfterWrites(['INBOX'], unchanged.marker)).toEqual(unchanged.marker);
  });

  it("keeps the listing's marker when it wrote nothing, saw another program's change, or did not make that listing", async () => {
    const driver = await MaildirDriver.open({ root });
    const a = await appendOne(driver, ['INBOX'], 'a', ['\\Seen']);
    const b = await appendOne(driver, ['INBOX'], 'b', ['\\Seen']);
    await age(root);
    const listing = await driver.listMessages(['INBOX'], {});
    expect(await driver.markerAfterWrites(['INBOX'], listing.marker)).toEqual(listing.marker);
    const other = { epoch: listing.marker.epoch, value: 'another listing' };
    await driver.setFlags(['INBOX'], [{ id: a, add: ['\\Flagged'], remove: [] }]);
    expect(await driver.markerAfterWrites(['INBOX'], other)).toEqual(other);
    // Another program renames b; our write to it finds the file gone, reads the folder again, and so
    // knows more than its listing and its own writes.
    await rename(join(root, 'cur', `${b}:2,S`), join(root, 'cur', `${b}:2,RS`));
    await driver.setFlags(['INBOX'], [{ id: b, add: ['\\Flagged'], remove: [] }]);
    expect(await driver.markerAfterWrites(['INBOX'], listing.marker)).toEqual(listing.marker);
  });
});
