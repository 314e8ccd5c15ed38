import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { FakeImapServer } from '@twinbox/test-fake-imap';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeServerPair, twinbox } from './helpers.js';

/**
 * The built binary against a server that lists hostile folder names next to a normal one (issue 15,
 * item 4): the normal folder syncs, each hostile name is reported by its name as the server sent it,
 * the sync exits 1, and nothing is written for them on either side, nor anywhere outside the Maildir.
 */

let server: FakeImapServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  server = undefined;
  dir = undefined;
});

const LONG = 'L'.repeat(300);

/** Wire names refused by the IMAP driver, and how the report names each (8-bit bytes reach it as U+FFFD). */
const REFUSED: [wire: string, reported: string][] = [
  ['/etc/passwd', '/etc/passwd'],
  ['a&AGE-b', 'a&AGE-b'],
  ['x&ACY-', 'x&ACY-'],
  ['&ZeVnLIqe', '&ZeVnLIqe'],
  ['caf\xe9', 'caf\uFFFD'],
  ['cr\rname', 'cr\rname'],
  ['lf\nname', 'lf\nname'],
  ['nul\x00name', 'nul\x00name'],
  ['esc\x1b[31mred', 'esc\x1b[31mred'],
];
/** Names the IMAP side maps exactly but the Maildir cannot hold: refused there before any write. */
const UNSTORABLE: [wire: string, key: string, code: string][] = [
  ['..', '..', 'FOLDER_NAME_UNSAFE'],
  ['A/../B', 'A/../B', 'FOLDER_NAME_UNSAFE'],
  [LONG, LONG, 'FOLDER_NAME_UNSAFE'],
  // Two spellings of "café" (NFD sorts first and is made; NFC would be the same name to a person).
  ['caf&AOk-', 'caf\u00e9', 'FOLDER_NAME_COLLISION'],
];

function mail(i: number): Buffer {
  return Buffer.from(`Message-ID: <n${i}@names.test>\r\nSubject: normal ${i}\r\n\r\nBody ${i}\r\n`);
}

/** Every path under `root`, relative to it, sorted. */
async function walk(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.map((e) => relative(root, join(e.parentPath, e.name))).sort();
}

type Event = {
  type: string;
  folder?: string;
  action?: string;
  refused?: { side: string; name: string };
  errors?: { code: string; message: string }[];
  totals?: Record<string, number>;
};

const writes = (fake: FakeImapServer) =>
  fake.log.filter((c) => /^(CREATE|DELETE|RENAME|SUBSCRIBE|UNSUBSCRIBE|APPEND)$/.test(c.name));

describe('hostile folder names from the server (issue 15, item 4)', () => {
  it('syncs the normal folder, reports each hostile name as sent, exits 1, and writes nothing else anywhere', async () => {
    const names = ['Normal', ...REFUSED.map(([w]) => w), ...UNSTORABLE.map(([w]) => w), 'cafe&AwE-'];
    server = await FakeImapServer.start({
      folders: names.map((name) => ({ name, uidValidity: 3, uidNext: 1, messages: [] })),
    });
    server.add('Normal', mail(1));
    server.add('Normal', mail(2), ['\\Seen']);
    // Mail in a refused folder is never read: nothing may reach the Maildir under another name.
    server.add('&ZeVnLIqe', mail(3));
    server.add('/etc/passwd', mail(4));

    const pair = await fakeServerPair(server.account);
    dir = pair.dir;
    const { config, env, maildir } = pair;

    for (const round of [1, 2]) {
      const run = await twinbox(['-c', config, '--json', 'sync'], env);
      expect(run.code, `round ${round}: ${run.stderr}`).toBe(1);
      const events = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Event);
      const done = events.filter((e) => e.type === 'folder-done');
      // Each refused name once, by the name the server sent, quoted as the report's key.
      const refused = done.filter((e) => e.refused);
      expect(refused.map((e) => e.refused?.name).sort()).toEqual(REFUSED.map(([, r]) => r).sort());
      for (const e of refused) {
        expect(e.folder).toBe(JSON.stringify(e.refused?.name));
        expect(e.action).toBe('failed');
        expect(e.errors?.map((x) => x.code)).toEqual(['FOLDER_NAME_REFUSED']);
        expect(e.errors?.[0]?.message).toContain(JSON.stringify(e.refused?.name));
      }
      for (const [, key, code] of UNSTORABLE) {
        const e = done.find((x) => x.folder === key);
        expect(e?.action, key).toBe('failed');
        expect(e?.errors?.map((x) => x.code)).toEqual([code]);
      }
      expect(done.find((e) => e.folder === 'Normal')?.action).toBe(round === 1 ? 'created' : 'synced');
      expect(done.find((e) => e.folder === 'cafe\u0301')?.action).toBe(round === 1 ? 'created' : 'synced');
      expect(events.find((e) => e.type === 'pair-done')?.totals?.errors).toBe(
        REFUSED.length + UNSTORABLE.length,
      );
    }

    // The normal folder arrived, both messages, and nothing of the refused folders did.
    const normal = await Promise.all(
      ['cur', 'new'].flatMap(async (sub) => {
        const files = await readdir(join(maildir, '.Normal', sub));
        return Promise.all(files.map((f) => readFile(join(maildir, '.Normal', sub, f), 'latin1')));
      }),
    );
    expect(
      normal
        .flat()
        .map((t) => /^Message-ID: (.*)$/m.exec(t)?.[1]?.trim())
        .sort(),
    ).toEqual(['<n1@names.test>', '<n2@names.test>']);
    // The Maildir holds exactly the inbox, Normal and the one café: no `.etc`, no `.etc.passwd`, no
    // `.aab`, no `.日本語`, nothing for `..`.
    const tree = await walk(maildir);
    const folders = [...new Set(tree.map((p) => p.split('/')[0]))].sort();
    expect(folders).toEqual(['.Normal', '.cafe\u0301', 'cur', 'new', 'tmp'].sort());
    for (const f of ['.Normal', '.cafe\u0301']) {
      expect(tree.filter((p) => p.startsWith(`${f}/`) && !p.includes('/', f.length + 1)).sort()).toEqual(
        ['cur', 'maildirfolder', 'new', 'tmp'].map((s) => `${f}/${s}`),
      );
    }
    // Nothing outside the Maildir root: the directory around it holds only what the test and the
    // state put there.
    expect((await readdir(dir)).sort()).toEqual(['Mail', 'config.toml', 'state']);
    // And nothing was written on the server: no CREATE or SUBSCRIBE of `etc`, of anything.
    expect(writes(server)).toEqual([]);

    // `check` does not pass over them either: each refused name is a difference, by the name as sent.
    const check = await twinbox(['-c', config, 'check'], env);
    expect(check.code, check.stderr).toBe(6);
    expect(check.stdout).toContain(JSON.stringify('/etc/passwd'));
    expect(check.stdout).toMatch(/cannot be mapped exactly, not compared/);
    expect(writes(server)).toEqual([]);
  });

  it('prints the names quoted, so no CR, LF or escape sequence from the server reaches the terminal', async () => {
    server = await FakeImapServer.start({
      folders: ['Normal', 'esc\x1b[2Jclear', 'cr\rname', 'a\u202eb'].map((name) => ({
        name,
        uidValidity: 3,
        uidNext: 1,
        messages: [],
      })),
    });
    const pair = await fakeServerPair(server.account);
    dir = pair.dir;
    const run = await twinbox(['-c', pair.config, 'sync'], pair.env);
    expect(run.code, run.stderr).toBe(1);
    const output = run.stdout + run.stderr;
    expect(output).toContain('"esc\\u001b[2Jclear"');
    expect(output).toContain('"cr\\rname"');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: none may be printed raw
    expect(output).not.toMatch(/[\x1b\r\u202e]/);
  });
});
