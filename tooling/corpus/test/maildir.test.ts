import { createHash } from 'node:crypto';
import { chown, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { ImapFlow } from 'imapflow';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CORPUS_KEYWORD,
  type CorpusMessage,
  folderTree,
  maildirFolderDir,
  maildirInfo,
  readCorpus,
  writeMaildir,
} from '../src/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const roots: string[] = [];
async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await chown(path, uid, gid);
  if (!(await stat(path)).isDirectory()) return;
  for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
}

afterAll(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))));

describe('writeMaildir', () => {
  it('writes a 200-message sample as Maildir++ with flags in the names and Dovecot keywords', async () => {
    const root = join(await mkdtemp(join(tmpdir(), 'twinbox-corpus-')), 'Maildir');
    roots.push(join(root, '..'));
    const limit = 200;
    const expected = new Map<string, CorpusMessage>();
    for await (const m of readCorpus({ limit })) expected.set(sha(m.raw), m);

    const report = await writeMaildir(root, { limit });
    expect(report.appended).toBe(limit);
    expect(report.failed).toEqual([]);

    const dirs = (await readdir(root)).sort();
    expect(dirs).toEqual(
      [
        '.Archiv',
        '.Archiv.Übersicht',
        '.Drafts',
        '.Junk',
        '.Lists',
        '.Lists.Spam-Talk',
        '.Lists.exmh',
        '.Reisen 2002',
        '.Reisen 2002.Überblick & Notizen',
        'cur',
        'dovecot-keywords',
        'new',
        'tmp',
      ].sort(),
    );

    let found = 0;
    let withKeyword = 0;
    for (const folder of folderTree()) {
      const dir = maildirFolderDir(root, folder);
      expect((await stat(dir)).mode & 0o777, dir).toBe(0o700);
      for (const sub of ['cur', 'new', 'tmp']) expect((await stat(join(dir, sub))).mode & 0o777).toBe(0o700);
      expect(await readdir(join(dir, 'new'))).toEqual([]);
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
      expect(await readFile(join(dir, 'dovecot-keywords'), 'utf8')).toBe(`0 ${CORPUS_KEYWORD}\n`);
      if (folder === 'INBOX') {
        await expect(stat(join(dir, 'maildirfolder'))).rejects.toThrow();
      } else {
        expect((await stat(join(dir, 'maildirfolder'))).size).toBe(0);
      }

      const files = await readdir(join(dir, 'cur'));
      expect(files.length, folder).toBe(report.folders[folder]);
      for (const name of files) {
        const path = join(dir, 'cur', name);
        const info = await stat(path);
        expect(info.mode & 0o777, name).toBe(0o600);
        const m = expected.get(sha(await readFile(path)));
        expect(m, `${folder}/${name} is not a sample message`).toBeDefined();
        expect(m!.folder).toBe(folder);
        const match = /^(\d+)\.[^:/]+:2,([A-Za-z]*)$/.exec(name);
        expect(match, name).not.toBeNull();
        const letters = match![2]!;
        expect(letters).toBe([...letters].sort().join(''));
        expect(`:2,${letters}`).toBe(maildirInfo(m!.flags));
        expect(letters.includes('S')).toBe(m!.flags.includes('\\Seen'));
        expect(letters.includes('R')).toBe(m!.flags.includes('\\Answered'));
        expect(letters.includes('F')).toBe(m!.flags.includes('\\Flagged'));
        expect(letters.includes('D')).toBe(m!.flags.includes('\\Draft'));
        expect(letters.includes('a')).toBe(m!.flags.includes(CORPUS_KEYWORD));
        expect(letters).not.toContain('T');
        if (letters.includes('a')) withKeyword++;
        if (m!.date) {
          // Dovecot reports a Maildir message's mtime as its INTERNALDATE.
          expect(info.mtimeMs).toBe(m!.date.getTime());
          expect(Number(match![1])).toBe(m!.date.getTime() / 1000);
        }
        found++;
      }
    }
    expect(found).toBe(limit);
    expect(withKeyword).toBeGreaterThan(0);
  });

  it('is read by Dovecot as written: counts, flags, the keyword and INTERNALDATE from the mtime', async () => {
    const info = dovecot();
    const { user, password, maildir } = await newUser();
    const limit = 200;
    const report = await writeMaildir(maildir, { limit });
    // Under root the fixture's Dovecot runs as `nobody`, which must own the mail it serves.
    await chownTree(join(maildir, '..'), info.mailUid, info.mailGid);
    const expected = new Map<string, CorpusMessage>();
    for await (const m of readCorpus({ limit })) expected.set(sha(m.raw), m);

    const client = new ImapFlow({
      host: info.host,
      port: info.tlsPort,
      secure: true,
      tls: { ca: [info.ca], rejectUnauthorized: true },
      auth: { user, pass: password },
      logger: false,
    });
    await client.connect();
    try {
      // The ASCII-named folders: the fixture's Dovecot reads folder names on disk as modified UTF-7,
      // so the UTF-8 ones need `:UTF-8` in mail_location (see the README).
      let checked = 0;
      let keywords = 0;
      for (const folder of ['INBOX', 'Archiv', 'Junk', 'Drafts', 'Lists/exmh', 'Lists/Spam-Talk']) {
        const lock = await client.getMailboxLock(folder, { readOnly: true });
        try {
          const exists = client.mailbox ? client.mailbox.exists : -1;
          expect(exists, folder).toBe(report.folders[folder]);
          if (!exists) continue;
          for await (const msg of client.fetch('1:*', { source: true, flags: true, internalDate: true })) {
            const m = expected.get(sha(msg.source!));
            expect(m, folder).toBeDefined();
            expect(m!.folder).toBe(folder);
            const flags = [...(msg.flags ?? [])].filter((f) => f !== '\\Recent');
            expect(flags.sort(), m!.key).toEqual([...m!.flags].sort());
            if (m!.date) expect(new Date(msg.internalDate!).getTime(), m!.key).toBe(m!.date.getTime());
            if (flags.includes(CORPUS_KEYWORD)) keywords++;
            checked++;
          }
        } finally {
          lock.release();
        }
      }
      expect(checked).toBeGreaterThan(limit / 2);
      expect(keywords).toBeGreaterThan(0);
    } finally {
      await client.logout();
    }
  });
});
