import { afterEach, describe, expect, it } from 'vitest';
import type { ImapDriver } from '../src/index.js';
import { appendAll, connectDriver, freshAccount, fullOf } from './helpers.js';

// The engine syncs several folders at once (`concurrency`): calls on different folders arrive
// interleaved, on one IMAP session (the default) or on several (`maxSessions`), where a folder may be
// selected on a session other than the one that deletes or renames it. These tests make the
// interleavings that used to break.

const open: ImapDriver[] = [];
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

async function driverWith(folders: string[][], maxSessions: number): Promise<ImapDriver> {
  const driver = await connectDriver({ ...(await freshAccount()), maxSessions });
  open.push(driver);
  for (const f of folders) await driver.createFolder(f);
  return driver;
}

describe.each([1, 4])('calls on different folders at once, on %i session(s)', (sessions) => {
  it('deleting the folder selected last does not deselect the folder another call is listing', async () => {
    const driver = await driverWith([['Old'], ['Work']], sessions);
    const ids = await appendAll(driver, ['Work'], ['w1', 'w2', 'w3']);
    await appendAll(driver, ['Old'], ['o1']);
    await driver.listFolders();
    // `Old` is the selected folder now, as after the engine's full listing of a folder it then deletes.
    fullOf(await driver.listMessages(['Old'], {}));
    // The listing of `Work` is sent first (its SELECT is in flight) and the DELETE of `Old` right
    // after: imapflow's DELETE leaves the folder it finds selected (`Old`, still) with an UNSELECT,
    // which, queued behind the SELECT of `Work`, would have closed `Work` under its listing.
    const [listing] = await Promise.all([driver.listMessages(['Work'], {}), driver.deleteFolder(['Old'])]);
    expect(
      fullOf(listing)
        .messages.map((m) => m.id)
        .sort(),
    ).toEqual([...ids].sort());
    const names = (await driver.listFolders()).flatMap((f) => ('path' in f ? [f.path.join('/')] : []));
    expect(names).not.toContain('Old');
    expect(names).toContain('Work');
  });

  it('renaming the parent of the folder selected last does not deselect the folder another call is listing', async () => {
    const driver = await driverWith([['P', 'Q'], ['Work']], sessions);
    const ids = await appendAll(driver, ['Work'], ['w1', 'w2']);
    await driver.listFolders();
    fullOf(await driver.listMessages(['P', 'Q'], {}));
    const [listing] = await Promise.all([
      driver.listMessages(['Work'], {}),
      driver.renameFolder(['P'], ['R']),
    ]);
    expect(
      fullOf(listing)
        .messages.map((m) => m.id)
        .sort(),
    ).toEqual([...ids].sort());
    const names = (await driver.listFolders()).flatMap((f) => ('path' in f ? [f.path.join('/')] : []));
    expect(names).toEqual(expect.arrayContaining(['R', 'R/Q', 'Work']));
  });

  it('flags set in one folder while another is deleted and a third created all land', async () => {
    const driver = await driverWith([['A'], ['B'], ['Gone']], sessions);
    const [a] = await appendAll(driver, ['A'], ['a1']);
    await appendAll(driver, ['Gone'], ['g1']);
    await driver.listFolders();
    fullOf(await driver.listMessages(['Gone'], {}));
    const [flagged] = await Promise.all([
      driver.setFlags(['A'], [{ id: a!, add: ['\\Flagged'], remove: [] }]),
      driver.deleteFolder(['Gone']),
      driver.createFolder(['B', 'Child']),
      driver.listMessages(['B'], {}),
    ]);
    expect(flagged).toEqual([expect.objectContaining({ id: a, ok: true })]);
    const after = fullOf(await driver.listMessages(['A'], {}));
    expect(after.messages.find((m) => m.id === a)?.flags).toContain('\\Flagged');
  });
});
