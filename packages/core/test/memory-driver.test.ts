import { describe, expect, it } from 'vitest';
import {
  crashAfter,
  describeDriverConformance,
  MemoryDriver,
  MemoryStore,
  SimulatedCrash,
} from '../src/testing/index.js';

describeDriverConformance('MemoryDriver', async () => ({ driver: new MemoryDriver(new MemoryStore()) }));
describeDriverConformance('MemoryDriver without CONDSTORE-like deltas', async () => ({
  driver: new MemoryDriver(new MemoryStore(), { incremental: false }),
}));

const INBOX = ['INBOX'];
const body = (s: string) => new TextEncoder().encode(`Message-ID: <${s}@x>\r\nSubject: ${s}\r\n\r\n${s}\r\n`);

describe('MemoryDriver specifics', () => {
  it('without the keywords capability, drops keywords on write and never lists them', async () => {
    const driver = new MemoryDriver(new MemoryStore(), { keywords: false });
    const [out] = await driver.appendMessages(INBOX, [{ body: body('a'), flags: ['\\Seen', '$label1'] }]);
    const listing = await driver.listMessages(INBOX, {});
    expect(listing.kind === 'full' && listing.messages.map((m) => m.flags)).toEqual([['\\Seen']]);
    expect(out?.ok).toBe(true);
  });

  it('a UIDVALIDITY-like reset gives a new epoch, and old ids may now name other messages', async () => {
    const store = new MemoryStore();
    const a = store.addMessage(INBOX, body('a'));
    store.addMessage(INBOX, body('b'));
    const epoch = store.epoch(INBOX);
    store.resetEpoch(INBOX);
    expect(store.epoch(INBOX)).not.toBe(epoch);
    const driver = new MemoryDriver(store);
    const read = await driver.readMessage(INBOX, a);
    expect(new TextDecoder().decode(read.body)).toContain('Subject: b');
  });

  it('refuses ids once the folder changed epoch since its listing (EPOCH_CHANGED), instead of acting on the wrong message', async () => {
    const store = new MemoryStore();
    const a = store.addMessage(INBOX, body('a'));
    store.addMessage(INBOX, body('b'));
    const driver = new MemoryDriver(store);
    await driver.listMessages(INBOX, {});
    store.resetEpoch(INBOX);
    await expect(driver.readMessage(INBOX, a)).rejects.toMatchObject({
      name: 'FolderError',
      code: 'EPOCH_CHANGED',
    });
    await expect(driver.deleteMessages(INBOX, [a])).rejects.toMatchObject({ code: 'EPOCH_CHANGED' });
    expect(store.messages(INBOX)).toHaveLength(2);
  });

  it('fault hooks: "before" leaves the store untouched, "after" has changed it but the caller hears an error', async () => {
    const store = new MemoryStore();
    const failing = (stage: 'before' | 'after') =>
      new MemoryDriver(store, {
        faults: {
          [stage]: () => {
            throw new Error(`dropped ${stage}`);
          },
        },
      });
    await expect(failing('before').appendMessages(INBOX, [{ body: body('x'), flags: [] }])).rejects.toThrow(
      'dropped before',
    );
    expect(store.messages(INBOX)).toHaveLength(0);
    await expect(failing('after').appendMessages(INBOX, [{ body: body('y'), flags: [] }])).rejects.toThrow(
      'dropped after',
    );
    expect(store.messages(INBOX)).toHaveLength(1);
  });

  it('crashAfter(n) lets n operation points pass, then everything throws SimulatedCrash', async () => {
    const hooks = crashAfter(3);
    const driver = new MemoryDriver(new MemoryStore(), { faults: hooks });
    await driver.listFolders(); // points 1 and 2
    // The listing's "before" is point 3, which passes; its "after" is point 4, which crashes.
    await expect(driver.listMessages(INBOX, {})).rejects.toBeInstanceOf(SimulatedCrash);
    expect(hooks.crashed).toBe(true);
    await expect(driver.listFolders()).rejects.toBeInstanceOf(SimulatedCrash);
  });

  it('its store is plain data: a snapshot survives structuredClone and rebuilds an equal store', () => {
    const store = new MemoryStore();
    store.createFolder(['Archiv', 'Übersicht']);
    store.addMessage(['Archiv', 'Übersicht'], body('z'), ['\\Flagged']);
    const copy = new MemoryStore(structuredClone(store.snapshot()));
    expect(copy.folders()).toEqual(store.folders());
    expect(copy.messages(['Archiv', 'Übersicht'])).toEqual(store.messages(['Archiv', 'Übersicht']));
  });
});
