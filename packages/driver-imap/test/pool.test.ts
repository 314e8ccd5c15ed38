import type { FolderPath } from '@twinbox/core';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImapDriver, type ImapDriverOptions } from '../src/index.js';
import { fullOf, mail } from './helpers.js';
import { CuttingProxy } from './proxy.js';

// With `maxSessions` above 1, calls on different folders run on different IMAP sessions, each folder
// staying selected on its own. These tests count the connections and commands through a proxy.

let proxy: CuttingProxy;
beforeAll(async () => {
  proxy = await CuttingProxy.start(dovecot().port);
});
afterAll(async () => {
  await proxy?.stop();
});

const open: ImapDriver[] = [];
afterEach(async () => {
  proxy.record(false);
  for (const d of open.splice(0)) await d.close().catch(() => undefined);
});

async function driverFor(options: Partial<ImapDriverOptions> = {}): Promise<ImapDriver> {
  const { user, password } = await newUser();
  const driver = await ImapDriver.connect({
    host: '127.0.0.1',
    port: proxy.port,
    tls: 'none',
    user,
    password,
    ...options,
  });
  open.push(driver);
  return driver;
}

/** Appends `count` messages of about `size` bytes whose bodies carry `marker`; returns their ids. */
async function fill(driver: ImapDriver, path: FolderPath, count: number, size: number, marker = '') {
  await driver.createFolder(path);
  const line = `${marker}${'x'.repeat(70)}\r\n`;
  const outcomes = await driver.appendMessages(
    path,
    Array.from({ length: count }, (_, i) => ({
      body: mail(`${path.join('.')}${i}`, line.repeat(Math.ceil(size / line.length))).body,
      flags: [],
    })),
  );
  return outcomes.map((o) => {
    if (!o.ok) throw new Error(`append failed: ${o.message}`);
    return o.id;
  });
}

/** Folders A and B with a message each, listed at once (so on two sessions); returns that listing again. */
async function twoFoldersListedAtOnce(driver: ImapDriver): Promise<() => Promise<unknown>> {
  await fill(driver, ['A'], 1, 500);
  await fill(driver, ['B'], 1, 500);
  const listBoth = () => Promise.all([driver.listMessages(['A'], {}), driver.listMessages(['B'], {})]);
  await listBoth();
  return listBoth;
}

const sorted = (ids: readonly string[]) => [...ids].sort((a, b) => Number(a) - Number(b));

/**
 * Folders A (10 messages) and B (30) read at once, with the connection cut when the server sends text
 * found only in A's messages. No reconnection: a call that loses its connection fails, so one that did
 * not lose it shows.
 */
async function cutUnderA(options: Partial<ImapDriverOptions>) {
  const driver = await driverFor({ ...options, reconnect: { attempts: 0 } });
  const a = await fill(driver, ['A'], 10, 20_000, 'CUT-IN-A');
  const b = await fill(driver, ['B'], 30, 20_000);
  proxy.cutOnServerText('CUT-IN-A');
  const [readA, readB] = await Promise.allSettled([
    driver.readMessages(['A'], a),
    driver.readMessages(['B'], b),
  ]);
  return { driver, b, readA, readB };
}

describe('an ImapDriver with maxSessions', () => {
  it('works on two folders at once on two connections, each folder staying selected on its own', async () => {
    const driver = await driverFor({ maxSessions: 4 });
    const a = await fill(driver, ['A'], 5, 2000);
    const b = await fill(driver, ['B'], 5, 2000);
    const before = proxy.connections;
    proxy.record(true);
    for (let round = 0; round < 5; round++) {
      const [readA, readB] = await Promise.all([
        driver.readMessages(['A'], a),
        driver.readMessages(['B'], b),
      ]);
      expect(readA.every((r) => r !== null && 'body' in r)).toBe(true);
      expect(readB.every((r) => r !== null && 'body' in r)).toBe(true);
    }
    // The first session and one more: never a session per call.
    expect(proxy.connections - before).toBeLessThanOrEqual(1);
    expect(proxy.connections).toBeGreaterThan(1);
    // One SELECT per folder (two, with the one the appends left): batches no longer flip the folder.
    expect(proxy.commands().filter((c) => c === 'SELECT').length).toBeLessThanOrEqual(2);
  });

  it('leaves a folder between two of its calls its session: another folder opens one of its own', async () => {
    // A folder just listed is planned and then read: had the next folder taken its idle session, A's
    // read would wait behind B's commands (on a stalling server, for ever) and select A again.
    // Appending selects the folder (the append cursor lives there), so A is selected on the first session.
    const driver = await driverFor({ maxSessions: 4 });
    const a = await fill(driver, ['A'], 3, 500);
    const before = proxy.connections;
    proxy.record(true);
    const b = await fill(driver, ['B'], 3, 500);
    await driver.readMessages(['A'], a);
    await driver.readMessages(['B'], b);
    await driver.readMessages(['A'], a);
    expect(proxy.connections - before).toBe(1);
    // B once, on the session opened for it; A never again.
    expect(proxy.commands().filter((c) => c === 'SELECT')).toHaveLength(1);
  });

  it('by default (one session) the same reads select the folders again and again (so the test above can fail)', async () => {
    const driver = await driverFor();
    const a = await fill(driver, ['A'], 5, 2000);
    const b = await fill(driver, ['B'], 5, 2000);
    const before = proxy.connections;
    proxy.record(true);
    for (let round = 0; round < 5; round++) {
      await Promise.all([driver.readMessages(['A'], a), driver.readMessages(['B'], b)]);
    }
    expect(proxy.connections).toBe(before);
    expect(proxy.commands().filter((c) => c === 'SELECT').length).toBeGreaterThanOrEqual(9);
  });

  it('a cut of one folder’s connection fails only that folder’s call; the other folder’s completes', async () => {
    const { driver, b, readA, readB } = await cutUnderA({ maxSessions: 2 });
    expect(readA.status).toBe('rejected');
    expect((readA as PromiseRejectedResult).reason).toMatchObject({ code: 'CONNECTION_LOST' });
    expect(readB.status).toBe('fulfilled');
    const results = (readB as PromiseFulfilledResult<Awaited<ReturnType<ImapDriver['readMessages']>>>).value;
    expect(results.filter((r) => r !== null && 'body' in r)).toHaveLength(30);
    // The other session goes on: B lists whole on it.
    expect(sorted(fullOf(await driver.listMessages(['B'], {})).messages.map((m) => m.id))).toEqual(sorted(b));
  });

  it('on one session the same cut fails both calls (so the test above can fail)', async () => {
    const { readA, readB } = await cutUnderA({});
    expect(readA.status).toBe('rejected');
    expect(readB.status).toBe('rejected');
  });

  it('deletes and renames folders selected on other sessions without the server ending those sessions', async () => {
    const driver = await driverFor({ maxSessions: 3 });
    await fill(driver, ['Gone'], 2, 500);
    await fill(driver, ['Old', 'Sub'], 2, 500);
    const work = await fill(driver, ['Work'], 2, 500);
    // Three folders selected on three sessions.
    await Promise.all([
      driver.listMessages(['Gone'], {}),
      driver.listMessages(['Old', 'Sub'], {}),
      driver.listMessages(['Work'], {}),
    ]);
    const before = proxy.connections;
    await driver.deleteFolder(['Gone']);
    await driver.renameFolder(['Old'], ['New']);
    // Three calls at once, twice: every session is used again. A listing of folders sends a NOOP on a
    // session with a folder selected, at which Dovecot ends one whose folder was deleted or renamed.
    await Promise.all([driver.listFolders(), driver.listFolders(), driver.listFolders()]);
    const [sub, listed] = await Promise.all([
      driver.listMessages(['New', 'Sub'], {}),
      driver.listMessages(['Work'], {}),
      driver.listMessages(['INBOX'], {}),
    ]);
    expect(fullOf(sub).messages).toHaveLength(2);
    expect(sorted(fullOf(listed).messages.map((m) => m.id))).toEqual(sorted(work));
    // Dovecot ends a session whose selected folder another deletes or renames: none had to log in again.
    expect(proxy.connections).toBe(before);
  });

  it('closes the sessions beyond the first once idle for extraSessionIdleMs, and opens them again when needed', async () => {
    const driver = await driverFor({ maxSessions: 2, extraSessionIdleMs: 1500 });
    const listBoth = await twoFoldersListedAtOnce(driver);
    const afterFirst = proxy.connections;
    await listBoth();
    // Still open a moment later: no new login.
    expect(proxy.connections).toBe(afterFirst);
    await new Promise((r) => setTimeout(r, 2500));
    await listBoth();
    // The extra session was closed while idle, and a new one was opened for this round.
    expect(proxy.connections).toBe(afterFirst + 1);
  });

  it('keeps the sessions beyond the first logged in between syncs a few seconds apart, by default', async () => {
    const driver = await driverFor({ maxSessions: 2 });
    const listBoth = await twoFoldersListedAtOnce(driver);
    const afterFirst = proxy.connections;
    await new Promise((r) => setTimeout(r, 2500));
    await listBoth();
    expect(proxy.connections).toBe(afterFirst);
  });

  it('deletes a message another of its sessions moved into a folder this session keeps selected', async () => {
    const driver = await driverFor({ maxSessions: 2 });
    const [moved] = await fill(driver, ['S'], 1, 500);
    await fill(driver, ['T'], 1, 500);
    // Listed at once: S and T each stay selected on a session of their own.
    await Promise.all([driver.listMessages(['S'], {}), driver.listMessages(['T'], {})]);
    const [outcome] = await driver.moveMessages(['S'], ['T'], [moved!]);
    expect(outcome).toMatchObject({ ok: true, newId: expect.any(String) });
    const newId = (outcome as { newId: string }).newId;
    // T's session has not seen the moved message yet; the deletion must not pass it by.
    await driver.deleteMessages(['T'], [newId]);
    const left = fullOf(await driver.listMessages(['T'], {})).messages.map((m) => m.id);
    expect(left).not.toContain(newId);
    expect(left).toHaveLength(1);
  });

  it('answers unchanged folders listed at once from the last LIST, without opening a session for them', async () => {
    const driver = await driverFor({ maxSessions: 4, extraSessionIdleMs: 1500 });
    const folders = [['A'], ['B'], ['C'], ['D']];
    for (const f of folders) await fill(driver, f, 1, 500);
    await driver.listFolders();
    const first = await Promise.all(folders.map((f) => driver.listMessages(f, {})));
    await new Promise((r) => setTimeout(r, 2500)); // the extra sessions close (extraSessionIdleMs)
    const before = proxy.connections;
    await driver.listFolders();
    const again = await Promise.all(
      folders.map((f, i) => driver.listMessages(f, { since: first[i]!.marker })),
    );
    expect(again.map((l) => l.kind)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(proxy.connections).toBe(before);
  });

  it('refuses a maxSessions out of range before any call', async () => {
    await expect(driverFor({ maxSessions: 0 })).rejects.toMatchObject({ code: 'BAD_OPTIONS' });
    for (const extraSessionIdleMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(driverFor({ maxSessions: 2, extraSessionIdleMs })).rejects.toMatchObject({
        code: 'BAD_OPTIONS',
        message: expect.stringMatching(/extraSessionIdleMs must be/),
      });
    }
  });
});
