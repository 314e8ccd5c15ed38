import type { FolderMarker } from '@twinbox/core';
import type { ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import type { ImapDriver } from '../src/index.js';
import { accountsClosedAfterEach, appendAll, connectDriver, deltaOf, fullOf, mail } from './helpers.js';

const { setup, keep } = accountsClosedAfterEach();

/** `folder` holding messages a and b, listed: the listing's marker and the two UIDs. */
async function listedFolder(driver: ImapDriver, folder: string) {
  await driver.createFolder([folder]);
  const [a, b] = await appendAll(driver, [folder], ['a', 'b']);
  const listed = fullOf(await driver.listMessages([folder], {}));
  return { a: a!, b: b!, marker: listed.marker };
}

async function changeAs(other: ImapFlow, folder: string, change: (other: ImapFlow) => Promise<unknown>) {
  const lock = await other.getMailboxLock(folder);
  try {
    await change(other);
  } finally {
    lock.release();
  }
}

describe('ImapDriver markerAfterWrites against Dovecot', () => {
  it('vouches for its own appends and deletions: the next listing since its marker, in any process, is unchanged', async () => {
    const { account, driver } = await setup();
    const { a, marker } = await listedFolder(driver, 'Own');
    const outcomes = await driver.appendMessages(
      ['Own'],
      [
        { body: mail('c').body, flags: ['\\Seen'] },
        { body: mail('d').body, flags: ['$label1', '\\Flagged'] },
      ],
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    await driver.deleteMessages(['Own'], [a]);

    const settled = await driver.markerAfterWrites(['Own'], marker);
    expect(settled.epoch).toBe(marker.epoch);
    expect(BigInt(settled.value)).toBeGreaterThan(BigInt(marker.value));
    expect(await driver.listMessages(['Own'], { since: settled })).toEqual({
      kind: 'unchanged',
      marker: settled,
    });
    const later = await connectDriver(account);
    keep(later);
    expect(await later.listMessages(['Own'], { since: settled })).toEqual({
      kind: 'unchanged',
      marker: settled,
    });
    // What happens after the marker still shows.
    const [e] = await appendAll(driver, ['Own'], ['e']);
    expect(deltaOf(await later.listMessages(['Own'], { since: settled })).changed.map((m) => m.id)).toEqual([
      e,
    ]);
  });

  const foreign: [string, (other: ImapFlow, ids: { a: string; c: string }) => Promise<unknown>][] = [
    [
      're-flags a message the driver appended',
      (o, { c }) => o.messageFlagsAdd(c, ['\\Answered'], { uid: true }),
    ],
    [
      're-flags a message that was there before',
      (o, { a }) => o.messageFlagsAdd(a, ['\\Flagged'], { uid: true }),
    ],
    ['expunges a message', (o, { a }) => o.messageDelete(a, { uid: true })],
    ['appends a message', (o) => o.append('Foreign', Buffer.from(mail('x').body), [])],
  ];
  it.each(foreign)(
    'keeps the listing marker when another client %s after the listing, and the next listing shows it',
    async (_, change) => {
      const { driver, other } = await setup();
      const { a, marker } = await listedFolder(driver, 'Foreign');
      const [c] = await appendAll(driver, ['Foreign'], ['c']);
      await changeAs(other, 'Foreign', (o) => change(o, { a, c: c! }));
      expect(await driver.markerAfterWrites(['Foreign'], marker)).toEqual(marker);
      // More than the driver's own append of c, with no flags.
      const delta = deltaOf(await driver.listMessages(['Foreign'], { since: marker }));
      const others = delta.changed.filter((m) => m.id !== c || m.flags.length > 0);
      expect(others.length + delta.vanished.length).toBeGreaterThan(0);
    },
  );

  it('keeps the listing marker after a flag change of its own (the rest of those flags are not known to it)', async () => {
    const { driver } = await setup();
    const { a, marker } = await listedFolder(driver, 'Flags');
    await appendAll(driver, ['Flags'], ['c']);
    const [outcome] = await driver.setFlags(['Flags'], [{ id: a, add: ['\\Seen'], remove: [] }]);
    expect(outcome?.ok).toBe(true);
    expect(await driver.markerAfterWrites(['Flags'], marker)).toEqual(marker);
  });

  it('keeps a marker that is not the last listing of the folder, and one with nothing written since', async () => {
    const { driver } = await setup();
    const { marker } = await listedFolder(driver, 'Stale');
    expect(await driver.markerAfterWrites(['Stale'], marker)).toEqual(marker);
    await appendAll(driver, ['Stale'], ['c']);
    const older: FolderMarker = { epoch: marker.epoch, value: String(BigInt(marker.value) - 1n) };
    expect(await driver.markerAfterWrites(['Stale'], older)).toEqual(older);
    // Listed again after the append: that listing saw it, and nothing was written since.
    const again = deltaOf(await driver.listMessages(['Stale'], { since: marker }));
    expect(await driver.markerAfterWrites(['Stale'], again.marker)).toEqual(again.marker);
  });

  it('keeps the marker of a folder that took messages by a move (their flags came from elsewhere)', async () => {
    const { driver } = await setup();
    const source = await listedFolder(driver, 'Source');
    const target = await listedFolder(driver, 'Target');
    const [moved] = await driver.moveMessages(['Source'], ['Target'], [source.a]);
    expect(moved?.ok).toBe(true);
    expect(await driver.markerAfterWrites(['Target'], target.marker)).toEqual(target.marker);
    // The source only lost a message, by this driver's hand.
    const settled = await driver.markerAfterWrites(['Source'], source.marker);
    expect(BigInt(settled.value)).toBeGreaterThan(BigInt(source.marker.value));
    expect((await driver.listMessages(['Source'], { since: settled })).kind).toBe('unchanged');
  });
});
