import { type FolderInfo, isRefusedFolder, type ListedFolder, type RefusedFolder } from '@twinbox/core';
import { FakeImapServer } from '@twinbox/test-fake-imap';
import { describe, expect, it } from 'vitest';
import { ImapDriver } from '../src/index.js';
import { closedAfterEach } from './fake-servers.js';

/**
 * Folder names from the server that do not map exactly (issue 15, item 4): each is refused by its name
 * as the server sent it, never read some other way and never left out, and nothing is written for it.
 */

const { servers, drivers } = closedAfterEach();

async function serverWith(names: string[]) {
  const server = await FakeImapServer.start({
    folders: names.map((name) => ({ name, uidValidity: 7, uidNext: 1, messages: [] })),
  });
  servers.push(server);
  const driver = await ImapDriver.connect({
    ...server.account,
    reconnect: { initialDelayMs: 20, maxDelayMs: 50, attempts: 3 },
  });
  drivers.push(driver);
  return { server, driver };
}

const refusedOf = (list: ListedFolder[]) =>
  new Map(list.filter(isRefusedFolder).map((f): [string, RefusedFolder] => [f.refused, f]));
const pathsOf = (list: ListedFolder[]) =>
  list.filter((f): f is FolderInfo => !isRefusedFolder(f)).map((f) => f.path);
/** Commands that write on the server. */
const writes = (server: FakeImapServer) =>
  server.log.filter((c) => /^(CREATE|DELETE|RENAME|SUBSCRIBE|UNSUBSCRIBE|APPEND)$/.test(c.name));

/** A command's first argument, an atom or a quoted string, as on the wire. */
const firstArg = (args: string) => {
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(args);
  return quoted ? quoted[1]!.replace(/\\(.)/g, '$1') : args.split(' ', 1)[0];
};

/** Wire names the server sends, each refused as it is (8-bit bytes as imapflow hands them over). */
const HOSTILE: [wire: string, reported: string, why: RegExp][] = [
  ['/etc/passwd', '/etc/passwd', /empty level/],
  ['a//b', 'a//b', /empty level/],
  ['trail/', 'trail/', /empty level/],
  ['a&AGE-b', 'a&AGE-b', /not valid modified UTF-7/],
  ['x&ACY-', 'x&ACY-', /not valid modified UTF-7/],
  ['&ZeVnLIqe', '&ZeVnLIqe', /not valid modified UTF-7/],
  ['&2D0-', '&2D0-', /not valid modified UTF-7/],
  ['bad&AA0-cr', 'bad&AA0-cr', /control character.*once decoded/],
  // Raw bytes: imapflow decodes a literal as UTF-8, so the byte 0xE9 reaches the driver as U+FFFD.
  ['caf\xe9', 'caf\uFFFD', /8-bit bytes/],
  ['cr\rname', 'cr\rname', /control character/],
  ['lf\nname', 'lf\nname', /control character/],
  ['nul\x00name', 'nul\x00name', /control character/],
  ['tab\tname', 'tab\tname', /control character/],
  ['esc\x1b[2Jname', 'esc\x1b[2Jname', /control character/],
];

describe('folder names that do not map exactly (issue 15, item 4)', () => {
  it('refuses each by its name as the server sent it, and lists the rest by their exact path', async () => {
    const long = 'L'.repeat(300);
    const { server, driver } = await serverWith([
      'Normal',
      ...HOSTILE.map(([wire]) => wire),
      '&ZeVnLIqe-',
      'A&-B',
      '..',
      'A/../B',
      long,
      'caf&AOk-',
      'cafe&AwE-',
    ]);
    const listed = await driver.listFolders();
    const refused = refusedOf(listed);
    expect([...refused.keys()].sort()).toEqual(HOSTILE.map(([, reported]) => reported).sort());
    for (const [, reported, why] of HOSTILE) {
      const folder = refused.get(reported)!;
      expect(folder.code).toBe('FOLDER_NAME_REFUSED');
      expect(folder.message, reported).toMatch(why);
      // Named quoted, so CR, LF, NUL and ESC show as escapes in a terminal and a log.
      expect(folder.message).toContain(JSON.stringify(reported));
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no raw control character may be printed
      expect(folder.message).not.toMatch(/[\x00-\x1f]/);
      expect(structuredClone(folder)).toEqual(folder);
    }
    // Names that do round-trip are folders, exactly: a Maildir may still refuse some (`..`, too long).
    expect(pathsOf(listed).sort()).toEqual(
      [
        ['INBOX'],
        ['Normal'],
        ['日本語'],
        ['A&B'],
        ['..'],
        ['A', '..', 'B'],
        [long],
        ['caf\u00e9'],
        ['cafe\u0301'],
      ].sort(),
    );
    expect(writes(server)).toEqual([]);
  });

  it('fails on the old code: a leading delimiter was dropped and bad modified UTF-7 decoded leniently', async () => {
    const { driver } = await serverWith(['/etc/passwd', 'a&AGE-b', '&ZeVnLIqe']);
    const paths = pathsOf(await driver.listFolders()).map((p) => p.join('/'));
    // The old driver listed `etc/passwd`, `aab` and `日本語`: three folders that are not on the server.
    expect(paths).toEqual(['INBOX']);
  });

  it('sends every accepted name back exactly as it was listed', async () => {
    const names = ['&ZeVnLIqe-', 'A&-B', 'caf&AOk-', 'cafe&AwE-', '..', 'Gr&APwA3w-e/&ZeVnLA-'];
    const { server, driver } = await serverWith(['Gr&APwA3w-e', ...names]);
    const listed = pathsOf(await driver.listFolders()).filter((p) => p[0] !== 'INBOX');
    expect(listed).toHaveLength(names.length + 1);
    for (const path of listed) await driver.listMessages(path, {});
    const statused = server.log.filter((c) => c.name === 'STATUS').map((c) => firstArg(c.args));
    expect(statused.sort()).toEqual(['Gr&APwA3w-e', ...names].sort());
  });

  it('creates the well-spelled folder next to a broken spelling of the same text, not mistaking one for the other', async () => {
    const { server, driver } = await serverWith(['&ZeVnLIqe']);
    await driver.createFolder(['日本語']);
    expect(writes(server).map((c) => `${c.name} ${firstArg(c.args)}`)).toEqual([
      'CREATE &ZeVnLIqe-',
      'SUBSCRIBE &ZeVnLIqe-',
    ]);
    expect(server.folder('&ZeVnLIqe')).toBeDefined();
    const listed = await driver.listFolders();
    expect(pathsOf(listed)).toContainEqual(['日本語']);
    expect([...refusedOf(listed).keys()]).toEqual(['&ZeVnLIqe']);
  });

  it('refuses to send a name imapflow would put on the wire unencoded (a control character)', async () => {
    const { server, driver } = await serverWith([]);
    for (const level of ['a\rb', 'a\nb', 'a\tb', 'nul\x00', '\uD800']) {
      await expect(driver.createFolder(['Top', level]), JSON.stringify(level)).rejects.toMatchObject({
        code: 'FOLDER_NAME_UNSAFE',
      });
    }
    expect(writes(server)).toEqual([]);
  });
});
