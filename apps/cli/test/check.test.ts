import { copyFile, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeImapServer } from '@twinbox/test-fake-imap';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeServerPair, type RunResult, twinbox } from './helpers.js';

/**
 * `twinbox check` of the built binary (issue 15, item 6): it finds each kind of difference and exits
 * 6, it sees a message the listing path hides, and it changes nothing on either side. The IMAP side
 * is the scripted fake server, which records every command it receives.
 */

let server: FakeImapServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  server = undefined;
  dir = undefined;
});

const mail = (id: string) =>
  Buffer.from(`Message-ID: <${id}@check.test>\r\nSubject: ${id}\r\n\r\nBody of ${id}.\r\n`);

interface Pair {
  fake: FakeImapServer;
  config: string;
  maildir: string;
  env: Record<string, string>;
  check(): Promise<RunResult>;
}

/**
 * A fake IMAP account (INBOX: a seen message, an unseen one, one flagged with a keyword; Work: one
 * message) and a Maildir synced with it, so both sides start out the same.
 */
async function syncedPair(): Promise<Pair> {
  const fake = await FakeImapServer.start();
  server = fake;
  fake.add('INBOX', mail('seen'), ['\\Seen']);
  fake.add('INBOX', mail('unseen'), []);
  fake.add('INBOX', mail('tagged'), ['\\Flagged', 'todo']);
  fake.add('Work', mail('work'), ['\\Seen']);
  const { dir: made, config, maildir, env } = await fakeServerPair(fake.account);
  dir = made;
  const synced = await twinbox(['-c', config, 'sync'], env);
  expect(synced.code, synced.stderr).toBe(0);
  const pair: Pair = {
    fake,
    config,
    maildir,
    env,
    check: () => twinbox(['-c', config, 'check'], env),
  };
  const same = await pair.check();
  expect(same.code, same.stdout + same.stderr).toBe(0);
  expect(same.stdout).toMatch(/mail: 2 folders, no difference/);
  return pair;
}

/** The path of the Maildir file holding a message, by the id `mail` gave it (`""`: the inbox). */
async function fileOf(maildir: string, id: string, folder = ''): Promise<string> {
  const base = folder === '' ? maildir : join(maildir, `.${folder}`);
  for (const sub of ['cur', 'new']) {
    for (const name of await readdir(join(base, sub))) {
      const file = join(base, sub, name);
      if ((await readFile(file, 'latin1')).includes(`<${id}@check.test>`)) return file;
    }
  }
  throw new Error(`no file holds ${id}`);
}

function expectDifference(result: RunResult, line: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(6);
  expect(result.stdout).toMatch(line);
}

describe('check finds each kind of difference and exits 6', () => {
  it('a message missing on one side', async () => {
    const p = await syncedPair();
    await rm(await fileOf(p.maildir, 'unseen'));
    expectDifference(await p.check(), /INBOX: only on the left: <unseen@check\.test>/);
  });

  it('an extra message on one side', async () => {
    const p = await syncedPair();
    await writeFile(
      join(p.maildir, 'new', '1700000000.extra.host'),
      mail('extra').toString().replace(/\r\n/g, '\n'),
    );
    expectDifference(await p.check(), /INBOX: only on the right: <extra@check\.test>/);
  });

  it('an altered body: same Message-ID, same size, other bytes', async () => {
    const p = await syncedPair();
    const file = await fileOf(p.maildir, 'seen');
    const text = await readFile(file, 'latin1');
    // One byte changed in place: the size, the Message-ID and the file name all stay as they were.
    await writeFile(file, text.replace('Body of seen.', 'Body of seed.'), 'latin1');
    const result = await p.check();
    expectDifference(result, /INBOX: content differs for <seen@check\.test>/);
    expect(result.stdout).not.toMatch(/only on the/);
  });

  it('different flags', async () => {
    const p = await syncedPair();
    p.fake.folder('INBOX')!.messages[1]!.flags.push('\\Answered');
    expectDifference(
      await p.check(),
      /INBOX: flags differ for <unseen@check\.test> \(\d+ bytes\): left \[\\Answered\], right \[\]/,
    );
  });

  it('different keywords', async () => {
    const p = await syncedPair();
    p.fake.folder('INBOX')!.messages[2]!.flags = ['\\Flagged', 'later'];
    expectDifference(
      await p.check(),
      /INBOX: flags differ for <tagged@check\.test> \(\d+ bytes\): left \[\\Flagged later\], right \[\\Flagged todo\]/,
    );
  });

  it('a folder on one side only', async () => {
    const p = await syncedPair();
    p.fake.add('Archive', mail('archived'));
    expectDifference(await p.check(), /Archive: only on the left/);
  });
});

describe('check does not trust the listing alone', () => {
  it('reports a message the IMAP listing cannot see, where the listing alone says "no difference"', async () => {
    const p = await syncedPair();
    // A new message whose FLAGS imapflow cannot parse (it skips the FETCH line), on a server whose
    // SEARCH ALL leaves it out too: the driver's recovery finds nothing missing, and the listing is
    // one short. The Maildir does not have the message either, so comparing listings finds nothing.
    p.fake.add('INBOX', mail('hidden'), ['\\Seen'], { rawFlags: Buffer.from('\\Seen foo\\bar', 'latin1') });
    p.fake.script = (cmd, answer) => {
      if (!/SEARCH/.test(cmd.name) || !/ALL/i.test(cmd.args)) return undefined;
      return {
        send: answer()
          .toString('latin1')
          .replace(/ 4(?=\r\n)/, ''),
        after: 'done',
      };
    };
    const result = await p.check();
    expectDifference(result, /INBOX: the left store reports 4 messages, but 3 were listed and compared/);
  });

  it('reports Maildir files the listing counts as one', async () => {
    const p = await syncedPair();
    // The same unique name in new/ and cur/ (another program's crash between link and unlink): one id
    // to the listing, two messages in the store.
    const file = await fileOf(p.maildir, 'seen');
    const unique = file.split('/').at(-1)!.split(':')[0]!;
    await copyFile(file, join(p.maildir, 'new', unique));
    expectDifference(
      await p.check(),
      /INBOX: the right store reports 4 messages, but 3 were listed and compared/,
    );
  });
});

/** Commands that change a mailbox, or open one so that it can be changed (and expunged on CLOSE). */
const IMAP_WRITES =
  /^(SELECT|STORE|UID STORE|APPEND|EXPUNGE|UID EXPUNGE|CREATE|DELETE|RENAME|COPY|UID COPY|MOVE|UID MOVE|SUBSCRIBE|UNSUBSCRIBE|CLOSE)$/;

/** Every entry under `root` with its mtime. */
async function snapshot(root: string): Promise<string[]> {
  const names = (await readdir(root, { recursive: true })).map(String).sort();
  return Promise.all(names.map(async (n) => `${n} ${(await stat(join(root, n))).mtimeMs}`));
}

describe('check changes nothing', () => {
  it('opens IMAP folders with EXAMINE and sends no command that writes, even when it finds differences', async () => {
    const p = await syncedPair();
    p.fake.folder('INBOX')!.messages[1]!.flags.push('\\Answered');
    const from = p.fake.log.length;
    expect((await p.check()).code).toBe(6);
    const names = p.fake.log.slice(from).map((c) => c.name);
    expect(names).toContain('EXAMINE');
    expect(names.filter((n) => IMAP_WRITES.test(n))).toEqual([]);
    expect(p.fake.folder('INBOX')!.messages.map((m) => m.flags)).toEqual([
      ['\\Seen'],
      ['\\Answered'],
      ['\\Flagged', 'todo'],
    ]);
  });

  it('leaves every Maildir name and mtime as it was, old debris in tmp/ included', async () => {
    const p = await syncedPair();
    await rm(await fileOf(p.maildir, 'work', 'Work'));
    const debris = join(p.maildir, 'tmp', '1600000000.crashed.host');
    await writeFile(debris, 'half a message');
    const old = (Date.now() - 72 * 3600 * 1000) / 1000;
    await utimes(debris, old, old);
    await utimes(join(p.maildir, 'tmp'), old, old);
    const before = await snapshot(p.maildir);
    expect((await p.check()).code).toBe(6);
    expect(await snapshot(p.maildir)).toEqual(before);
  });

  it('says that a missing Maildir is missing, exit 4, and does not create it', async () => {
    const p = await syncedPair();
    await rename(p.maildir, `${p.maildir}.away`);
    const result = await p.check();
    expect(result.code, result.stdout + result.stderr).toBe(4);
    expect(result.stderr).toMatch(/does not exist/);
    await expect(stat(p.maildir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
