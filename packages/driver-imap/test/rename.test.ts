import { type ChangeNotice, type FolderPath, isRefusedFolder } from '@twinbox/core';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { FaultProxy } from '@twinbox/test-fake-imap';
import type { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ImapAccountOptions, ImapDriver, type ImapDriverOptions, openImap } from '../src/index.js';
import { fullOf, mail } from './helpers.js';
import { CuttingProxy } from './proxy.js';

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => undefined);
});

async function driverFor(options: ImapDriverOptions): Promise<ImapDriver> {
  const driver = await ImapDriver.connect(options);
  open.push(driver);
  return driver;
}

async function otherFor(account: ImapAccountOptions): Promise<ImapFlow> {
  const client = await openImap(account);
  open.push({ close: () => client.logout() });
  return client;
}

/** A fresh user over plain IMAP on loopback, at `port` (a proxy's, or the fixture's own). */
async function plainAccount(port: number): Promise<ImapAccountOptions> {
  const { user, password } = await newUser();
  return { host: '127.0.0.1', port, tls: 'none', user, password };
}

/** About 20 KB: a body that would show in the byte count if it crossed the connection. */
function bigMail(tag: string) {
  return mail(tag, `${'x'.repeat(76)}\r\n`.repeat(260));
}

async function folderNames(driver: ImapDriver): Promise<string[]> {
  return (await driver.listFolders()).flatMap((f) => (isRefusedFolder(f) ? [] : [f.path.join('/')]));
}

/** The epoch and the sorted ids of a full listing of `path`. */
async function uidsOf(driver: ImapDriver, path: FolderPath) {
  const listing = fullOf(await driver.listMessages(path, {}));
  return { epoch: listing.marker.epoch, ids: listing.messages.map((m) => m.id).sort() };
}

async function appendBig(driver: ImapDriver, path: FolderPath, tags: string[]): Promise<number> {
  const mails = tags.map(bigMail);
  const outcomes = await driver.appendMessages(
    path,
    mails.map((m) => ({ body: m.body, flags: [] })),
  );
  expect(outcomes.every((o) => o.ok)).toBe(true);
  return mails.reduce((n, m) => n + m.body.byteLength, 0);
}

async function failure(p: Promise<unknown>): Promise<{ code?: unknown; scope?: unknown; message?: string }> {
  return p.then(
    () => ({ code: 'resolved' }),
    (err: unknown) => err as { code?: unknown; scope?: unknown; message?: string },
  );
}

describe('ImapDriver.renameFolder against Dovecot', () => {
  let proxy: CuttingProxy;
  beforeAll(async () => {
    proxy = await CuttingProxy.start(dovecot().port);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('keeps UIDVALIDITY and every UID of the folder and its children; one RENAME, no body on the wire, the session kept', async () => {
    const driver = await driverFor(await plainAccount(proxy.port));
    await driver.createFolder(['Box', 'Child']);
    await driver.createFolder(['Box']);
    const bytes =
      (await appendBig(driver, ['Box'], ['b1', 'b2', 'b3'])) +
      (await appendBig(driver, ['Box', 'Child'], ['c1', 'c2']));
    const box = await uidsOf(driver, ['Box']);
    // The child is left selected: Dovecot would end a session whose selected folder it renames.
    const child = await uidsOf(driver, ['Box', 'Child']);
    expect(box.ids).toHaveLength(3);
    expect(child.ids).toHaveLength(2);
    const connections = proxy.connections;

    proxy.resetBytes();
    proxy.record(true);
    await driver.renameFolder(['Box'], ['Archive', '2026']);
    proxy.record(false);

    expect(bytes).toBeGreaterThan(100_000);
    expect(proxy.bytesUp + proxy.bytesDown).toBeLessThan(1_000);
    expect(proxy.commands()).toEqual(['UNSELECT', 'RENAME']);
    expect(proxy.recorded).not.toMatch(/BODY|RFC822|BINARY|APPEND/i);

    expect(await folderNames(driver)).toEqual(expect.arrayContaining(['Archive/2026', 'Archive/2026/Child']));
    expect(await folderNames(driver)).not.toEqual(expect.arrayContaining(['Box']));
    // Dovecot 2.3 keeps UIDVALIDITY and the UIDs on RENAME: the engine's pairs stay good.
    expect(await uidsOf(driver, ['Archive', '2026'])).toEqual(box);
    expect(await uidsOf(driver, ['Archive', '2026', 'Child'])).toEqual(child);
    expect(proxy.connections, 'no reconnection').toBe(connections);
    // The old name is gone for every call, the selection included.
    expect(await failure(driver.listMessages(['Box', 'Child'], {}))).toMatchObject({ code: 'FOLDER_GONE' });
    expect(await failure(driver.readMessage(['Box', 'Child'], child.ids[0]!))).toMatchObject({
      scope: 'folder',
    });
  });

  it('maps ALREADYEXISTS to FOLDER_EXISTS and NONEXISTENT to FOLDER_GONE, and changes nothing', async () => {
    const driver = await driverFor(await plainAccount(dovecot().port));
    await driver.createFolder(['Here']);
    await driver.createFolder(['Taken']);
    await appendBig(driver, ['Here'], ['h']);
    await appendBig(driver, ['Taken'], ['t']);
    const here = await uidsOf(driver, ['Here']);
    const taken = await uidsOf(driver, ['Taken']);

    const exists = await failure(driver.renameFolder(['Here'], ['Taken']));
    expect(exists).toMatchObject({ scope: 'folder', code: 'FOLDER_EXISTS' });
    expect(exists.message).toMatch(/Taken exists already/);
    const gone = await failure(driver.renameFolder(['Nowhere'], ['Elsewhere']));
    expect(gone).toMatchObject({ scope: 'folder', code: 'FOLDER_GONE' });
    expect(gone.message).toMatch(/Nowhere does not exist/);

    expect(await uidsOf(driver, ['Here'])).toEqual(here);
    expect(await uidsOf(driver, ['Taken'])).toEqual(taken);
    expect(await folderNames(driver)).not.toContain('Elsewhere');
  });

  it('refuses the inbox, a folder below itself and a name it could not send, sending nothing', async () => {
    const driver = await driverFor(await plainAccount(proxy.port));
    await driver.createFolder(['Top']);
    proxy.record(true);
    const refusals = [
      await failure(driver.renameFolder(['INBOX'], ['Old mail'])),
      await failure(driver.renameFolder(['inbox'], ['Old mail'])),
      await failure(driver.renameFolder(['Top'], ['INBOX'])),
      await failure(driver.renameFolder(['Top'], ['Top', 'Deeper'])),
      await failure(driver.renameFolder(['Top'], ['a/b'])),
    ];
    proxy.record(false);
    expect(refusals.map((r) => r.code)).toEqual([
      'FOLDER_RENAME_REFUSED',
      'FOLDER_RENAME_REFUSED',
      'FOLDER_RENAME_REFUSED',
      'FOLDER_RENAME_REFUSED',
      'FOLDER_NAME_UNSAFE',
    ]);
    expect(proxy.commands()).toEqual([]);
  });

  it("sees another client's rename at the next folder listing: the LIST-STATUS of the old name is not served", async () => {
    const account = await plainAccount(dovecot().port);
    const driver = await driverFor(account);
    await driver.createFolder(['Old', 'Sub']);
    await driver.createFolder(['Old']);
    await appendBig(driver, ['Old'], ['o1', 'o2']);
    await appendBig(driver, ['Old', 'Sub'], ['s1']);
    await driver.listFolders();
    const before = fullOf(await driver.listMessages(['Old'], {}));
    const sub = await uidsOf(driver, ['Old', 'Sub']);
    // The LIST-STATUS cache now holds both names, and the driver's session has Old/Sub selected.
    await driver.listFolders();

    const other = await otherFor(account);
    await other.mailboxRename('Old', 'New');

    const names = await folderNames(driver);
    expect(names).toEqual(expect.arrayContaining(['New', 'New/Sub']));
    expect(names).not.toContain('Old');
    expect(names).not.toContain('Old/Sub');
    // A listing that could be answered from the cached STATUS ('unchanged') asks the server instead.
    expect(await failure(driver.listMessages(['Old'], { since: before.marker }))).toMatchObject({
      code: 'FOLDER_GONE',
    });
    expect(await failure(driver.listMessages(['Old', 'Sub'], {}))).toMatchObject({ code: 'FOLDER_GONE' });
    expect(await driver.listMessages(['New'], { since: before.marker })).toEqual({
      kind: 'unchanged',
      marker: before.marker,
    });
    expect(await uidsOf(driver, ['New', 'Sub'])).toEqual(sub);
  });
});

describe('ImapDriver.renameFolder when the connection drops (FaultProxy)', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: dovecot().port });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  async function prepared() {
    const account = await plainAccount(proxy.port);
    // Filled by a driver of its own: appending selects the folder, and the driver under test must have
    // nothing selected, so that the next bytes up are the RENAME and the next ones down its answer.
    const filler = await driverFor({ ...account, port: dovecot().port });
    await filler.createFolder(['Cut']);
    await appendBig(filler, ['Cut'], ['x']);
    await filler.close();
    const driver = await driverFor({ ...account, reconnect: { initialDelayMs: 20 } });
    await driver.listFolders();
    return driver;
  }

  it('rejects with CONNECTION_LOST when the answer is lost, though the server renamed; the next call reconnects and finds the new name', async () => {
    const driver = await prepared();
    proxy.arm({ kind: 'cut', direction: 'down', afterBytes: 0 });
    const err = await failure(driver.renameFolder(['Cut'], ['Done']));
    expect(proxy.fired).toBe(true);
    expect(err).toMatchObject({ scope: 'folder', code: 'CONNECTION_LOST' });
    expect(err.message).toMatch(/may or may not have happened/);
    const names = await folderNames(driver);
    expect(names).toContain('Done');
    expect(names).not.toContain('Cut');
  });

  it('rejects with CONNECTION_LOST when the command is cut on its way, and the folder keeps its name', async () => {
    const driver = await prepared();
    proxy.arm({ kind: 'cut', direction: 'up', afterBytes: 4 });
    const err = await failure(driver.renameFolder(['Cut'], ['Done']));
    expect(proxy.fired).toBe(true);
    expect(err).toMatchObject({ scope: 'folder', code: 'CONNECTION_LOST' });
    const names = await folderNames(driver);
    expect(names).toContain('Cut');
    expect(names).not.toContain('Done');
  });
});

/** Notices until one names `folder` or says `all`, within `ms`. */
async function noticeFor(driver: ImapDriver, folder: string, ms: number): Promise<ChangeNotice> {
  const deadline = Date.now() + ms;
  for (;;) {
    const notice = await driver.nextChange(AbortSignal.timeout(Math.max(1, deadline - Date.now())));
    if (notice.all || notice.folders.some((f) => f.join('/') === folder)) return notice;
  }
}

/** Notices until one names `folder` itself (an `all` notice does not count), within `ms`. */
async function namedIn(driver: ImapDriver, folder: string, ms: number): Promise<ChangeNotice> {
  const deadline = Date.now() + ms;
  for (;;) {
    const notice = await driver.nextChange(AbortSignal.timeout(Math.max(1, deadline - Date.now())));
    if (notice.folders.some((f) => f.join('/') === folder)) return notice;
  }
}

/** Drains what the watch holds now. */
async function drain(driver: ImapDriver): Promise<void> {
  await driver.nextChange(AbortSignal.timeout(300)).catch(() => undefined);
}

describe('the change watch across a rename', () => {
  it('under NOTIFY: a message appended to the renamed folder is reported under its new name', async () => {
    const account = await plainAccount(dovecot().port);
    const driver = await driverFor(account);
    await driver.createFolder(['Watched']);
    expect((await driver.watch({ folders: 'all' })).method).toBe('notify');
    // Dovecot sees a change of the folder list by its directory's mtime, in whole seconds: a rename
    // in the second NOTIFY was set up would go unreported until the next change.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await driver.renameFolder(['Watched'], ['Renamed']);
    // Dovecot reports a change of the folder list from a check of its own, which on a loaded machine
    // (a CI run beside other jobs) came later than 3 s once: 8 s, since only its arrival is asserted.
    expect(await noticeFor(driver, 'Renamed', 8000)).toMatchObject({ all: true });
    await drain(driver);
    const other = await otherFor(account);
    await other.append('Renamed', mail('after').body);
    expect(await namedIn(driver, 'Renamed', 3000)).toEqual({ folders: [['Renamed']], all: false });
  });

  describe('under IDLE (a Dovecot without NOTIFY)', () => {
    const WITHOUT_NOTIFY =
      'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE';
    let server: DovecotServer;
    beforeAll(async () => {
      server = await startDovecot({ extraConfig: WITHOUT_NOTIFY });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('the IDLE connection of a folder renamed through the driver follows it to the new name', async () => {
      const { user, password } = await server.addUser();
      const account: ImapAccountOptions = {
        host: '127.0.0.1',
        port: server.info.port,
        tls: 'none',
        user,
        password,
      };
      const driver = await driverFor(account);
      await driver.createFolder(['Watched', 'Below']);
      await driver.createFolder(['Watched']);
      const status = await driver.watch({ folders: [['Watched'], ['Watched', 'Below']] });
      expect(status).toMatchObject({ method: 'idle', connections: 2 });
      await driver.renameFolder(['Watched'], ['Renamed']);
      // Dovecot ends both IDLE sessions (their folders were renamed); each is restored, on the new
      // name, within the first backoff (at most 1 s), and says `all` for what it may have missed.
      expect(await noticeFor(driver, 'Renamed', 4000)).toMatchObject({ all: true });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await drain(driver);
      const other = await otherFor(account);
      await other.append('Renamed/Below', mail('below').body);
      expect(await namedIn(driver, 'Renamed/Below', 3000)).toEqual({
        folders: [['Renamed', 'Below']],
        all: false,
      });
      await other.append('Renamed', mail('top').body);
      expect(await namedIn(driver, 'Renamed', 3000)).toEqual({ folders: [['Renamed']], all: false });
    });
  });
});
