import { type FolderInfo, isRefusedFolder, type ListedFolder } from '@twinbox/core';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { type FakeFolder, FakeImapServer, type Script } from '@twinbox/test-fake-imap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapDriver } from '../src/index.js';
import { closedAfterEach } from './fake-servers.js';
import { fullOf } from './helpers.js';
import { CuttingProxy } from './proxy.js';

/**
 * A folder's MAILBOXID (RFC 8474, OBJECTID) as its {@link FolderInfo.id} (issue 18): asked for in the
 * LIST-STATUS the driver sends anyway, validated, and never asked for where the server lacks OBJECTID.
 */

const WORK = 'F2212ea87-6097-4256-9d51-71338625';
const INBOX = 'Fa0b1c2d3-0000-4000-8000-000000000001';
const CHILD = 'F_child-2';

const { servers, drivers } = closedAfterEach();

const folder = (name: string, mailboxId?: string, attributes?: string[]): FakeFolder => ({
  name,
  uidValidity: 7,
  uidNext: 1,
  messages: [],
  ...(mailboxId === undefined ? {} : { mailboxId }),
  ...(attributes ? { attributes } : {}),
});

const BASE = ['IMAP4rev1', 'LITERAL+', 'UIDPLUS', 'NAMESPACE', 'ID'];

async function serverWith(folders: FakeFolder[], capabilities: string[], script?: Script) {
  const server = await FakeImapServer.start({ capabilities: [...BASE, ...capabilities], folders, script });
  servers.push(server);
  const driver = await ImapDriver.connect({ ...server.account });
  drivers.push(driver);
  return { server, driver };
}

/** Each listed folder's id by its path, `undefined` where it has none. */
const idsOf = (list: ListedFolder[]) =>
  Object.fromEntries(
    list.filter((f): f is FolderInfo => !isRefusedFolder(f)).map((f) => [f.path.join('/'), f.id]),
  );

/** The LIST commands the server received, as sent. */
const lists = (server: FakeImapServer) => server.log.filter((c) => c.name === 'LIST').map((c) => c.args);

describe('MAILBOXID on a server with OBJECTID and LIST-STATUS', () => {
  const caps = ['LIST-STATUS', 'OBJECTID'];

  it("lists each selectable folder's MAILBOXID as its id, in the one LIST it sends anyway", async () => {
    const { server, driver } = await serverWith(
      [
        folder('INBOX', INBOX),
        folder('Work', WORK),
        folder('Parent', undefined, ['\\Noselect']),
        folder('Parent/Child', CHILD),
        folder('Plain'),
      ],
      caps,
    );
    const before = server.log.length;
    const listed = await driver.listFolders();
    expect(idsOf(listed)).toEqual({
      INBOX: INBOX,
      Work: WORK,
      Parent: undefined,
      'Parent/Child': CHILD,
      Plain: undefined,
    });
    // One LIST (imapflow adds an LSUB on a server without LIST-EXTENDED), and no STATUS of its own.
    expect(server.log.slice(before).map((c) => c.name)).toEqual(['LIST', 'LSUB']);
    expect(lists(server)).toEqual(['"" "*" RETURN (STATUS (UIDVALIDITY UIDNEXT MESSAGES MAILBOXID))']);
    // imapflow still read the rest of each STATUS: the next listing of a folder takes it, no STATUS sent.
    const log = server.log.length;
    fullOf(await driver.listMessages(['Work'], {}));
    expect(server.log.slice(log).map((c) => c.name)).not.toContain('STATUS');
  });

  it('keeps the id under the new name after a rename on the server, and never lists an old id again', async () => {
    const { server, driver } = await serverWith([folder('Work', WORK), folder('Old', 'F-old')], caps);
    expect(idsOf(await driver.listFolders())).toMatchObject({ Work: WORK, Old: 'F-old' });

    // Another client renames Work into a new parent, and deletes Old and creates a folder by its name.
    server.folder('Work')!.name = 'Archive/2026';
    server.folders.splice(server.folders.indexOf(server.folder('Old')!), 1, folder('Old', 'F-new'));

    const listed = idsOf(await driver.listFolders());
    expect(listed).toEqual({ INBOX: undefined, 'Archive/2026': WORK, Old: 'F-new' });
  });

  it('leaves out a MAILBOXID that is not an RFC 8474 objectid, and one listed for two folders', async () => {
    const { driver } = await serverWith(
      [
        folder('Space', 'two words'),
        folder('Empty', ''),
        folder('Dollar', 'a$b'),
        folder('Quoted', '"Fquoted"'),
        folder('Long', 'F'.repeat(256)),
        folder('Nested', '(Fnested)'),
        folder('TwinA', 'Fsame'),
        folder('TwinB', 'Fsame'),
        folder('Longest', 'L'.repeat(255)),
        folder('Good', WORK),
      ],
      caps,
    );
    expect(idsOf(await driver.listFolders())).toEqual({
      INBOX: undefined,
      Space: undefined,
      Empty: undefined,
      Dollar: undefined,
      Quoted: undefined,
      Long: undefined,
      Nested: undefined,
      TwinA: undefined,
      TwinB: undefined,
      Longest: 'L'.repeat(255),
      Good: WORK,
    });
  });

  it('lists without ids, the listing intact, when the server refuses RETURN (STATUS …)', async () => {
    const refuse: Script = (command) =>
      command.name === 'LIST' && command.args.includes('RETURN')
        ? { send: `${command.tag} BAD Unknown RETURN option\r\n`, after: 'done' }
        : undefined;
    const { server, driver } = await serverWith([folder('Work', WORK)], caps, refuse);
    expect(idsOf(await driver.listFolders())).toEqual({ INBOX: undefined, Work: undefined });
    expect(lists(server)).toEqual([
      '"" "*" RETURN (STATUS (UIDVALIDITY UIDNEXT MESSAGES MAILBOXID))',
      '"" "*"',
    ]);
  });
});

describe('no MAILBOXID asked for where it would cost more or the server has none', () => {
  it('OBJECTID without LIST-STATUS: no id, and no STATUS per folder to get one', async () => {
    const { server, driver } = await serverWith([folder('Work', WORK)], ['OBJECTID']);
    const before = server.log.length;
    expect(idsOf(await driver.listFolders())).toEqual({ INBOX: undefined, Work: undefined });
    expect(server.log.slice(before).map((c) => c.name)).toEqual(['LIST', 'LSUB']);
  });

  it('LIST-STATUS without OBJECTID: no id, and the LIST as before', async () => {
    const { server, driver } = await serverWith([folder('Work', WORK)], ['LIST-STATUS']);
    expect(idsOf(await driver.listFolders())).toEqual({ INBOX: undefined, Work: undefined });
    expect(lists(server)).toEqual(['"" "*" RETURN (STATUS (UIDVALIDITY UIDNEXT MESSAGES))']);
  });
});

describe('against Dovecot 2.3 (LIST-STATUS, no OBJECTID)', () => {
  let proxy: CuttingProxy;
  beforeAll(async () => {
    proxy = await CuttingProxy.start(dovecot().port);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('lists no id and sends the LIST without MAILBOXID', async () => {
    const { user, password } = await newUser();
    const driver = await ImapDriver.connect({
      host: '127.0.0.1',
      port: proxy.port,
      tls: 'none',
      user,
      password,
    });
    drivers.push(driver);
    await driver.createFolder(['Work']);
    proxy.record(true);
    const listed = await driver.listFolders();
    const recorded = proxy.recorded;
    proxy.record(false);
    expect(listed.filter(isRefusedFolder)).toEqual([]);
    expect(listed.length).toBeGreaterThanOrEqual(2);
    for (const f of listed) expect(f).not.toHaveProperty('id');
    expect(recorded).not.toMatch(/MAILBOXID/i);
    expect(recorded).toMatch(
      /^\S+ LIST "" "\*" RETURN \(STATUS \(UIDVALIDITY HIGHESTMODSEQ UIDNEXT MESSAGES\)/m,
    );
  });
});
