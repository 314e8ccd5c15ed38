import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MaildirDriver } from '../src/index.js';

const enc = new TextEncoder();
const mail = (tag: string) =>
  enc.encode(`Message-ID: <${tag}@test>\r\nSubject: ${tag}\r\n\r\nbody of ${tag}\r\n`);

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinbox-maildir-ro-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every entry under `dir` with its mtime: what a read-only driver must leave exactly as it was. */
async function snapshot(dir: string): Promise<string[]> {
  const names = (await readdir(dir, { recursive: true })).map(String).sort();
  return Promise.all(names.map(async (n) => `${n} ${(await stat(join(dir, n))).mtimeMs}`));
}

/** A Maildir written by the ordinary driver: one folder, two messages, one with a keyword. */
async function populated(): Promise<void> {
  const writer = await MaildirDriver.open({ root, fsync: false });
  await writer.createFolder(['Work']);
  await writer.appendMessages(['INBOX'], [{ body: mail('a'), flags: ['\\Seen', 'todo'] }]);
  await writer.appendMessages(['Work'], [{ body: mail('b'), flags: [] }]);
  await writer.close();
}

describe('a Maildir opened read-only', () => {
  it('refuses a missing root and makes nothing', async () => {
    const missing = join(root, 'nope');
    await expect(MaildirDriver.open({ root: missing, readOnly: true })).rejects.toMatchObject({
      code: 'STORE_MISSING',
      message: expect.stringMatching(/read-only/),
    });
    expect(await readdir(root)).toEqual([]);
  });

  it('makes no inbox in an empty root and does not list one', async () => {
    const driver = await MaildirDriver.open({ root, readOnly: true });
    expect(await driver.listFolders()).toEqual([]);
    expect(await readdir(root)).toEqual([]);
  });

  it('lists, describes, reads and counts without changing a name, an mtime or the debris in tmp/', async () => {
    await populated();
    const debris = join(root, 'tmp', 'left-by-a-crash');
    await writeFile(debris, 'half a message');
    const old = (Date.now() - 72 * 3600 * 1000) / 1000;
    await utimes(debris, old, old);
    await utimes(join(root, 'tmp'), old, old);
    const before = await snapshot(root);

    const driver = await MaildirDriver.open({ root, readOnly: true, fsync: false });
    const folders = (await driver.listFolders())
      .map((f) => ('path' in f ? f.path.join('/') : `refused ${f.refused}`))
      .sort();
    expect(folders).toEqual(['INBOX', 'Work']);
    const listing = await driver.listMessages(['INBOX'], { dates: true });
    if (listing.kind !== 'full') throw new Error('a first listing is full');
    expect(listing.messages.map((m) => m.flags)).toEqual([['\\Seen', 'todo']]);
    const [id] = listing.messages.map((m) => m.id);
    expect((await driver.describeMessages(['INBOX'], [id!]))[0]?.messageId).toBe('<a@test>');
    expect(new TextDecoder().decode((await driver.readMessage(['INBOX'], id!)).body)).toMatch(/body of a/);
    expect(await driver.countMessages(['Work'])).toBe(1);
    await driver.close();

    expect(await snapshot(root)).toEqual(before);
  });

  it('rejects every write with READ_ONLY before touching the disk', async () => {
    await populated();
    const driver = await MaildirDriver.open({ root, readOnly: true, fsync: false });
    const listing = await driver.listMessages(['INBOX'], {});
    const id = listing.kind === 'full' ? listing.messages[0]!.id : '';
    const before = await snapshot(root);
    const writes = [
      driver.createFolder(['New']),
      driver.createFolder(['INBOX']),
      driver.deleteFolder(['Work']),
      driver.appendMessages(['INBOX'], [{ body: mail('c'), flags: [] }]),
      driver.setFlags(['INBOX'], [{ id, add: ['\\Flagged', 'fresh'], remove: [] }]),
      driver.deleteMessages(['INBOX'], [id]),
    ];
    for (const write of writes) await expect(write).rejects.toMatchObject({ code: 'READ_ONLY' });
    expect(await snapshot(root)).toEqual(before);
  });
});

describe('countMessages', () => {
  it('counts the files the listing cannot tell apart or cannot name', async () => {
    await populated();
    const driver = await MaildirDriver.open({ root, fsync: false });
    expect(await driver.countMessages(['INBOX'])).toBe(1);
    // Another program's leftovers: the same unique name in new/ and cur/ (one id for the listing),
    // and a name that is not UTF-8 (which the listing cannot open by a string). Both are files of
    // the store all the same; dot files and directories are not.
    const [name] = await readdir(join(root, 'cur'));
    await writeFile(join(root, 'new', name!.split(':')[0]!), mail('a'));
    await writeFile(Buffer.from(`${join(root, 'cur')}/1700000000.x\xff.host:2,S`, 'latin1'), mail('d'));
    await writeFile(join(root, 'cur', '.hidden'), 'not mail');
    await mkdir(join(root, 'cur', 'subdir'));
    const listing = await driver.listMessages(['INBOX'], {});
    expect(listing.kind === 'full' && listing.messages.length).toBe(1);
    expect(await driver.countMessages(['INBOX'])).toBe(3);
  });

  it('rejects for a folder that is not there', async () => {
    const driver = await MaildirDriver.open({ root, fsync: false });
    await expect(driver.countMessages(['Gone'])).rejects.toMatchObject({ code: 'FOLDER_MISSING' });
  });
});
