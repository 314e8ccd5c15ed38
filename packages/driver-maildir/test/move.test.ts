import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FolderPath, Listing } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MaildirDriver } from '../src/index.js';
import { age } from './age.js';

const enc = new TextEncoder();
const mail = (tag: string) =>
  enc.encode(`Message-ID: <${tag}@test>\r\nSubject: ${tag}\r\n\r\nbody of ${tag}\r\n`);

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinbox-maildir-move-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function append(driver: MaildirDriver, path: FolderPath, tag: string, flags: string[] = []) {
  const [outcome] = await driver.appendMessages(path, [{ body: mail(tag), flags }]);
  if (!outcome?.ok) throw new Error(`append failed: ${JSON.stringify(outcome)}`);
  return outcome.id;
}

/** The message files of a folder directory, as `sub/name`. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['new', 'cur'])
    for (const name of await readdir(join(dir, sub))) out.push(`${sub}/${name}`);
  return out.sort();
}

/** Sets a folder's `new/` and `cur/` mtimes long ago, so its marker proves "unchanged" when it is. */
function messages(listing: Listing) {
  if (listing.kind !== 'full') throw new Error(`expected a full listing, got ${listing.kind}`);
  return listing.messages;
}

for (const layout of ['maildir++', 'fs'] as const) {
  describe(`MaildirDriver.moveMessages (${layout})`, () => {
    const dirOf = (path: FolderPath) =>
      layout === 'fs'
        ? path[0] === 'INBOX'
          ? join(root, 'INBOX')
          : join(root, ...path)
        : path[0] === 'INBOX'
          ? root
          : join(root, `.${path.join('.')}`);

    it('renames each file into the target: same unique name, inode and mtime, new/ kept new/, keyword letters translated', async () => {
      const driver = await MaildirDriver.open({ root, layout });
      await driver.createFolder(['Archive']);
      // The target knows other keywords first, so `$label1` has another letter there.
      await append(driver, ['Archive'], 'resident', ['$other', '$third']);
      const seen = await append(driver, ['INBOX'], 'seen', ['\\Seen', '$label1', '\\Flagged']);
      const fresh = await append(driver, ['INBOX'], 'fresh');
      const inbox = dirOf(['INBOX']);
      const before = await files(inbox);
      const seenFile = before.find((f) => f.includes(seen))!;
      const inode = (await stat(join(inbox, seenFile))).ino;
      const date = (await driver.readMessage(['INBOX'], seen)).internalDate;

      const outcomes = await driver.moveMessages(['INBOX'], ['Archive'], [seen, fresh]);
      expect(outcomes).toEqual([
        { id: seen, ok: true, newId: seen },
        { id: fresh, ok: true, newId: fresh },
      ]);
      expect(await files(inbox)).toEqual([]);
      const moved = await files(dirOf(['Archive']));
      expect(moved).toContain(before.find((f) => f.includes(fresh)));
      const seenThere = moved.find((f) => f.includes(seen))!;
      expect(seenThere.startsWith('cur/')).toBe(true);
      expect((await stat(join(dirOf(['Archive']), seenThere))).ino).toBe(inode);
      expect(seenThere).not.toBe(seenFile); // `$label1` is `a` in INBOX and `c` in Archive
      const read = await driver.readMessage(['Archive'], seen);
      expect(read.flags).toEqual(['\\Flagged', '\\Seen', '$label1']);
      expect(read.internalDate).toBe(date);
      expect(new Uint8Array(read.body)).toEqual(mail('seen'));
    });

    it("moves both folders' markers, so a listing since either shows the move", async () => {
      const driver = await MaildirDriver.open({ root, layout });
      await driver.createFolder(['Archive']);
      const id = await append(driver, ['INBOX'], 'm');
      await age(dirOf(['INBOX']));
      await age(dirOf(['Archive']));
      const inbox = await driver.listMessages(['INBOX'], {});
      const archive = await driver.listMessages(['Archive'], {});
      expect(await driver.listMessages(['INBOX'], { since: inbox.marker })).toMatchObject({
        kind: 'unchanged',
      });
      expect(await driver.listMessages(['Archive'], { since: archive.marker })).toMatchObject({
        kind: 'unchanged',
      });
      await driver.moveMessages(['INBOX'], ['Archive'], [id]);
      // A delta against what each listing saw: the driver still holds both.
      expect(await driver.listMessages(['INBOX'], { since: inbox.marker })).toMatchObject({
        kind: 'delta',
        changed: [],
        vanished: [id],
      });
      expect(await driver.listMessages(['Archive'], { since: archive.marker })).toMatchObject({
        kind: 'delta',
        changed: [{ id }],
        vanished: [],
      });
      // Another process never saw those listings: in full.
      const other = await MaildirDriver.open({ root, layout });
      expect(messages(await other.listMessages(['INBOX'], { since: inbox.marker }))).toEqual([]);
      expect(
        messages(await other.listMessages(['Archive'], { since: archive.marker })).map((m) => m.id),
      ).toEqual([id]);
    });

    it('keeps one file per id when the target already has the same message: the source goes, the flags are the moved ones', async () => {
      const driver = await MaildirDriver.open({ root, layout });
      await driver.createFolder(['Archive']);
      const id = await append(driver, ['INBOX'], 'twin', ['\\Seen']);
      const [file] = await files(dirOf(['INBOX']));
      // A copy left by an earlier crash or another program, with older flags (none).
      await copyFile(join(dirOf(['INBOX']), file!), join(dirOf(['Archive']), 'cur', `${id}:2,`));

      expect(await driver.moveMessages(['INBOX'], ['Archive'], [id])).toEqual([{ id, ok: true, newId: id }]);
      expect(await files(dirOf(['INBOX']))).toEqual([]);
      expect(await files(dirOf(['Archive']))).toEqual([file]);
      expect((await driver.readMessage(['Archive'], id)).flags).toEqual(['\\Seen']);
      expect(await driver.countMessages(['Archive'])).toBe(1);
    });

    it('gives the moved file a new unique name when the target holds another message under its name', async () => {
      const driver = await MaildirDriver.open({ root, layout });
      await driver.createFolder(['Archive']);
      const id = await append(driver, ['INBOX'], 'mine', ['\\Flagged']);
      const squatter = enc.encode('Subject: someone else\n\nnot the same message\n');
      await writeFile(join(dirOf(['Archive']), 'cur', `${id}:2,S`), squatter);

      const [outcome] = await driver.moveMessages(['INBOX'], ['Archive'], [id]);
      expect(outcome).toMatchObject({ id, ok: true });
      const newId = outcome!.ok ? outcome!.newId! : '';
      expect(newId).not.toBe(id);
      // The size fields say how the file is read: kept.
      expect(newId).toMatch(/,S=\d+,W=\d+$/);
      expect(newId.slice(newId.indexOf(',S='))).toBe(id.slice(id.indexOf(',S=')));
      expect(await files(dirOf(['INBOX']))).toEqual([]);
      const listed = messages(await driver.listMessages(['Archive'], {}));
      expect(listed.map((m) => m.id).sort()).toEqual([id, newId].sort());
      const read = await driver.readMessage(['Archive'], newId);
      expect(new Uint8Array(read.body)).toEqual(mail('mine'));
      expect(read.flags).toEqual(['\\Flagged']);
      expect(await readFile(join(dirOf(['Archive']), 'cur', `${id}:2,S`))).toEqual(Buffer.from(squatter));
    });

    it('reports ids not in the source as gone and leaves a message whose keyword the target cannot hold', async () => {
      const driver = await MaildirDriver.open({ root, layout });
      await driver.createFolder(['Full']);
      const all = Array.from({ length: 26 }, (_, i) => `$k${i}`);
      await append(driver, ['Full'], 'full', all);
      const odd = await append(driver, ['INBOX'], 'odd', ['$extra']);
      const plain = await append(driver, ['INBOX'], 'plain');
      const outcomes = await driver.moveMessages(['INBOX'], ['Full'], [odd, 'no-such-id', plain]);
      expect(outcomes).toMatchObject([
        { id: odd, ok: false, gone: false, message: expect.stringContaining('$extra') },
        { id: 'no-such-id', ok: false, gone: true },
        { id: plain, ok: true, newId: plain },
      ]);
      expect(messages(await driver.listMessages(['INBOX'], {})).map((m) => m.id)).toEqual([odd]);
    });

    it('maps and checks the target path like every call: hostile names refused, a missing folder is FOLDER_GONE', async () => {
      const driver = await MaildirDriver.open({ root, layout });
      const id = await append(driver, ['INBOX'], 'stay');
      for (const hostile of [['..', 'escape'], ['ok', '..', '..', 'x'], ['a/b']]) {
        await expect(driver.moveMessages(['INBOX'], hostile, [id])).rejects.toMatchObject({
          code: 'FOLDER_NAME_UNSAFE',
        });
      }
      await expect(driver.moveMessages(['INBOX'], ['Nowhere'], [id])).rejects.toMatchObject({
        code: 'FOLDER_GONE',
      });
      await expect(driver.moveMessages(['INBOX'], ['INBOX'], [id])).rejects.toMatchObject({
        code: 'FOLDER_BAD',
      });
      expect(messages(await driver.listMessages(['INBOX'], {})).map((m) => m.id)).toEqual([id]);
      const readOnly = await MaildirDriver.open({ root, layout, readOnly: true });
      await expect(readOnly.moveMessages(['INBOX'], ['Nowhere'], [id])).rejects.toMatchObject({
        code: 'READ_ONLY',
      });
    });
  });
}
