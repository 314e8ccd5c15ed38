import { describe, expect, it } from 'vitest';
import type { Listing } from '../src/driver.js';
import { FolderError, MessageError, StoreError } from '../src/errors.js';
import {
  crashAfter,
  describeDriverConformance,
  type FaultPoint,
  MemoryDriver,
  MemoryStore,
  resolveListing,
  SimulatedCrash,
} from '../src/testing/index.js';

const INBOX = ['INBOX'];
const encode = (text: string) => new TextEncoder().encode(text);
const mail = (token: string, headers = `Message-ID: <${token}@twinbox.test>\r\n`) =>
  encode(`${headers}Subject: ${token}\r\n\r\nbody of ${token}\r\n`);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the call to reject');
    },
    (err: unknown) => err,
  );
}

describeDriverConformance('MemoryDriver', async () => ({ driver: new MemoryDriver(new MemoryStore()) }));
describeDriverConformance('MemoryDriver without keywords', async () => ({
  driver: new MemoryDriver(new MemoryStore(), { keywords: false }),
}));
describeDriverConformance('MemoryDriver with full listings only', async () => ({
  driver: new MemoryDriver(new MemoryStore(), { incremental: false }),
}));

describe('MemoryStore', () => {
  it('always holds the INBOX, under any spelling, and refuses to delete it', () => {
    const store = new MemoryStore();
    expect(store.folders()).toEqual([{ path: INBOX, selectable: true }]);
    store.createFolder(['inbox']);
    expect(store.hasFolder(['Inbox'])).toBe(true);
    expect(store.folders()).toHaveLength(1);
    expect(() => store.deleteFolder(INBOX)).toThrow(FolderError);
  });

  it('creates parents, and deleting a folder leaves its subfolders', () => {
    const store = new MemoryStore();
    store.createFolder(['A', 'B']);
    expect(store.folders().map((f) => f.path)).toEqual([['A'], ['A', 'B'], INBOX]);
    store.deleteFolder(['A']);
    store.deleteFolder(['A']);
    expect(store.folders().map((f) => f.path)).toEqual([['A', 'B'], INBOX]);
  });

  it('gives a re-created folder a new epoch, so its restarted ids cannot be mistaken for old ones', () => {
    const store = new MemoryStore();
    store.createFolder(['A']);
    const epoch = store.epoch(['A']);
    store.addMessage(['A'], mail('x'));
    store.deleteFolder(['A']);
    store.createFolder(['A']);
    expect(store.epoch(['A'])).not.toBe(epoch);
    expect(store.addMessage(['A'], mail('y'))).toBe('1');
  });

  it('raises the modseq on every write and never on a read', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store);
    const seen = [store.modseq(INBOX)];
    const stamp = () => seen.push(store.modseq(INBOX));
    const id = store.addMessage(INBOX, mail('a'));
    stamp();
    store.setMessageFlags(INBOX, id, ['\\Seen']);
    stamp();
    const [out] = await driver.appendMessages(INBOX, [{ body: mail('b'), flags: [] }]);
    stamp();
    await driver.setFlags(INBOX, [{ id, add: ['\\Seen'], remove: [] }]);
    stamp();
    await driver.deleteMessages(INBOX, [out?.ok ? out.id : '']);
    stamp();
    store.removeMessage(INBOX, id);
    stamp();
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);

    const before = store.modseq(INBOX);
    await driver.listMessages(INBOX, {});
    await driver.describeMessages(INBOX, ['1', '2']);
    await driver.deleteMessages(INBOX, ['1', '2']);
    await driver.listFolders();
    expect(store.modseq(INBOX)).toBe(before);
  });

  it('rejects test-side changes to a folder or message that does not exist', () => {
    const store = new MemoryStore();
    expect(() => store.addMessage(['Nowhere'], mail('a'))).toThrow(FolderError);
    expect(() => store.messages(['Nowhere'])).toThrow(FolderError);
    expect(() => store.setMessageFlags(INBOX, '42', [])).toThrow(MessageError);
    expect(() => store.removeMessage(INBOX, '42')).toThrow(MessageError);
  });

  it('hands out copies: changing what it returned or was given does not change the store', async () => {
    const store = new MemoryStore();
    const body = mail('a');
    const id = store.addMessage(INBOX, body, ['\\Seen'], 1_600_000_000_000);
    body[0] = 0;
    const [copy] = store.messages(INBOX);
    copy!.body[1] = 0;
    copy!.flags.push('\\Flagged');
    const driver = new MemoryDriver(store);
    const read = await driver.readMessage(INBOX, id);
    read.body[2] = 0;
    (read.flags as string[]).push('\\Draft');
    const listing = await driver.listMessages(INBOX, {});
    if (listing.kind === 'full') (listing.messages[0]!.flags as string[]).push('\\Answered');
    expect(store.messages(INBOX)).toEqual([
      { id, body: mail('a'), flags: ['\\Seen'], modseq: 1, internalDate: 1_600_000_000_000 },
    ]);
  });

  it('is plain data: a structured clone makes an independent store in the same state', async () => {
    const store = new MemoryStore();
    store.createFolder(['Archiv', 'Übersicht']);
    const id = store.addMessage(['Archiv', 'Übersicht'], mail('a'), ['\\Seen', '$label1'], 1_600_000_000_000);
    store.addMessage(INBOX, mail('b'));
    store.removeMessage(INBOX, '1');
    expect(structuredClone(store.data)).toEqual(store.data);
    const copy = new MemoryStore(structuredClone(store.data));
    expect(copy.snapshot()).toEqual(store.snapshot());
    copy.setMessageFlags(['Archiv', 'Übersicht'], id, []);
    expect(store.messages(['Archiv', 'Übersicht'])[0]!.flags).toEqual(['\\Seen', '$label1']);
    // The copy answers a marker taken on the original as the original would.
    const marker = (await new MemoryDriver(store).listMessages(INBOX, {})).marker;
    expect(
      (await new MemoryDriver(new MemoryStore(store.snapshot())).listMessages(INBOX, { since: marker })).kind,
    ).toBe('unchanged');
  });
});

describe('MemoryDriver listings', () => {
  it('answers unchanged, then a delta of changed and vanished messages, against the marker', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store);
    const [a, b, c] = ['a', 'b', 'c'].map((t) => store.addMessage(INBOX, mail(t)));
    const first = await driver.listMessages(INBOX, {});
    expect(first).toMatchObject({ kind: 'full', marker: { epoch: store.epoch(INBOX), value: '3' } });
    expect(await driver.listMessages(INBOX, { since: first.marker })).toEqual({
      kind: 'unchanged',
      marker: first.marker,
    });
    store.setMessageFlags(INBOX, a!, ['\\Seen']);
    store.removeMessage(INBOX, b!);
    const d = store.addMessage(INBOX, mail('d'));
    const delta = await driver.listMessages(INBOX, { since: first.marker });
    expect(delta).toEqual({
      kind: 'delta',
      marker: { epoch: first.marker.epoch, value: '6' },
      changed: [
        { id: a, flags: ['\\Seen'], size: mail('a').length },
        { id: d, flags: [], size: mail('d').length },
      ],
      vanished: [b],
    });
    expect([...resolveListing(resolveListing(undefined, first), delta).keys()]).toEqual([a, c, d]);
  });

  it('answers in full to a marker of another epoch, from the future, or not its own', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store);
    store.addMessage(INBOX, mail('a'));
    const epoch = store.epoch(INBOX);
    for (const since of [
      { epoch: `${epoch}x`, value: '1' },
      { epoch, value: '99' },
      { epoch, value: 'mtime:12' },
      { epoch, value: '' },
    ]) {
      expect((await driver.listMessages(INBOX, { since })).kind).toBe('full');
    }
  });

  it('with incremental off, always answers in full', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store, { incremental: false });
    store.addMessage(INBOX, mail('a'));
    const first = await driver.listMessages(INBOX, {});
    expect((await driver.listMessages(INBOX, { since: first.marker })).kind).toBe('full');
    store.addMessage(INBOX, mail('b'));
    const second = await driver.listMessages(INBOX, { since: first.marker });
    expect(second.kind === 'full' && second.messages.map((m) => m.id)).toEqual(['1', '2']);
  });

  it('counts sizes with CRLF line endings even for a body stored with bare LF', async () => {
    const store = new MemoryStore();
    store.addMessage(INBOX, encode('Subject: lf\n\nline one\nline two\r\n'));
    const listing = await new MemoryDriver(store).listMessages(INBOX, {});
    expect(listing.kind === 'full' && listing.messages[0]!.size).toBe(
      encode('Subject: lf\r\n\r\nline one\r\nline two\r\n').length,
    );
  });

  it('reads the Message-ID header case-insensitively, unfolded and trimmed, from the header only', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store);
    const cases: [string, string | null][] = [
      ['message-id:   <lower@x>  \r\nSubject: a\r\n\r\nbody\r\n', '<lower@x>'],
      ['Subject: a\r\nMessage-ID:\r\n <folded@x>\r\n\r\nbody\r\n', '<folded@x>'],
      ['Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n', '<first@x>'],
      ['Subject: none\r\n\r\nMessage-ID: <in-body@x>\r\n', null],
      ['Message-ID:   \r\nSubject: empty\r\n\r\n', null],
      ['X-Message-ID: <other@x>\r\n\r\n', null],
      ['Subject: lf\nMessage-Id: <lf@x>\n\nbody\n', '<lf@x>'],
    ];
    const ids = cases.map(([text]) => store.addMessage(INBOX, encode(text)));
    const described = await driver.describeMessages(INBOX, [...ids, 'unknown', ids[0]!]);
    expect(described.map((m) => m.messageId)).toEqual(cases.map(([, id]) => id));
  });
});

describe('MemoryDriver errors', () => {
  it('rejects every per-folder method on a missing folder with FOLDER_GONE', async () => {
    const driver = new MemoryDriver(new MemoryStore());
    const path = ['Nowhere'];
    // One after the other, as the engine calls a folder.
    const calls: (() => Promise<unknown>)[] = [
      () => driver.listMessages(path, {}),
      () => driver.describeMessages(path, ['1']),
      () => driver.readMessage(path, '1'),
      () => driver.appendMessages(path, [{ body: mail('a'), flags: [] }]),
      () => driver.setFlags(path, [{ id: '1', add: ['\\Seen'], remove: [] }]),
      () => driver.deleteMessages(path, ['1']),
    ];
    for (const call of calls) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(FolderError);
      expect(err).toMatchObject({ code: 'FOLDER_GONE' });
    }
  });

  it('rejects reading a missing message with MESSAGE_GONE', async () => {
    const err = await rejection(new MemoryDriver(new MemoryStore()).readMessage(INBOX, '1'));
    expect(err).toBeInstanceOf(MessageError);
    expect(err).toMatchObject({ code: 'MESSAGE_GONE' });
  });

  it('rejects every call after close with DRIVER_CLOSED, and closes twice without complaint', async () => {
    const driver = new MemoryDriver(new MemoryStore());
    await driver.close();
    await driver.close();
    const err = await rejection(driver.listFolders());
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'DRIVER_CLOSED' });
  });
});

describe('MemoryDriver without the keywords capability', () => {
  it('drops keywords on every write and never lists them', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store, { keywords: false });
    expect(driver.capabilities).toEqual({ keywords: false });
    const [out] = await driver.appendMessages(INBOX, [{ body: mail('a'), flags: ['\\Seen', '$label1'] }]);
    const id = out?.ok ? out.id : '';
    expect(store.messages(INBOX)[0]!.flags).toEqual(['\\Seen']);

    // Keywords another program stored are invisible to this driver, and so beyond its reach.
    store.setMessageFlags(INBOX, id, ['\\Seen', 'Work']);
    const listing = await driver.listMessages(INBOX, {});
    expect(listing.kind === 'full' && listing.messages[0]!.flags).toEqual(['\\Seen']);
    expect((await driver.readMessage(INBOX, id)).flags).toEqual(['\\Seen']);
    expect((await driver.describeMessages(INBOX, [id]))[0]!.flags).toEqual(['\\Seen']);
    await driver.setFlags(INBOX, [{ id, add: ['$label2', '\\Flagged'], remove: ['Work'] }]);
    expect(store.messages(INBOX)[0]!.flags).toEqual(['\\Flagged', '\\Seen', 'Work']);
  });
});

describe('MemoryStore.resetEpoch', () => {
  it('gives a new epoch and every message a new id, so old ids name other messages', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store);
    const tokens = ['a', 'b', 'c'];
    for (const t of tokens) store.addMessage(INBOX, mail(t));
    store.removeMessage(INBOX, '2');
    const before = store.messages(INBOX);
    const first = await driver.listMessages(INBOX, {});
    store.resetEpoch(INBOX);
    const after = store.messages(INBOX);
    expect(store.epoch(INBOX)).not.toBe(first.marker.epoch);
    expect(after.map((m) => m.id)).toEqual(['1', '2']);
    const bodyOf = (list: typeof before, id: string) => list.find((m) => m.id === id)?.body;
    for (const m of before) expect(bodyOf(after, m.id)).not.toEqual(m.body);
    expect(after.map((m) => m.body).sort()).toEqual(before.map((m) => m.body).sort());

    // The old marker is of another epoch: a full listing, not a delta against void ids.
    const listing = await driver.listMessages(INBOX, { since: first.marker });
    expect(listing.kind).toBe('full');
    expect(store.addMessage(INBOX, mail('d'))).toBe('3');
  });
});

describe('MemoryDriver after an epoch change in mid-sync', () => {
  it('rejects every call that takes or returns ids with EPOCH_CHANGED until the folder is listed again', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store);
    const [a] = ['a', 'b'].map((t) => store.addMessage(INBOX, mail(t)));
    const first = await driver.listMessages(INBOX, {});
    store.resetEpoch(INBOX);
    const calls: (() => Promise<unknown>)[] = [
      () => driver.describeMessages(INBOX, [a!]),
      () => driver.readMessage(INBOX, a!),
      () => driver.appendMessages(INBOX, [{ body: mail('c'), flags: [] }]),
      () => driver.setFlags(INBOX, [{ id: a!, add: ['\\Seen'], remove: [] }]),
      () => driver.deleteMessages(INBOX, [a!]),
    ];
    for (const call of calls) {
      const err = await rejection(call());
      expect(err).toBeInstanceOf(FolderError);
      expect(err).toMatchObject({ code: 'EPOCH_CHANGED' });
    }
    expect(store.messages(INBOX).map((m) => m.flags)).toEqual([[], []]);

    const again = await driver.listMessages(INBOX, { since: first.marker });
    expect(again.kind).toBe('full');
    expect(again.marker.epoch).not.toBe(first.marker.epoch);
    await driver.deleteMessages(INBOX, [a!]);
    expect(store.messages(INBOX)).toHaveLength(1);
  });

  it('holds its caller to one call per folder at a time, but for a read beside an append', async () => {
    const store = new MemoryStore();
    const id = store.addMessage(INBOX, mail('a'));
    // A hook that keeps each call open long enough for the next to start.
    const driver = new MemoryDriver(store, { faults: () => new Promise((r) => setTimeout(r, 20)) });
    const listing = driver.listMessages(INBOX, {});
    await expect(driver.setFlags(INBOX, [{ id, add: ['\\Seen'], remove: [] }])).rejects.toThrow(
      /broke the Driver contract: setFlags on folder INBOX while listMessages/,
    );
    await listing;
    // Copies both ways: reading for the other side while appending from it is allowed.
    await Promise.all([
      driver.readMessage(INBOX, id),
      driver.appendMessages(INBOX, [{ body: mail('b'), flags: [] }]),
    ]);
    // Another folder is another matter.
    await Promise.all([
      driver.listMessages(INBOX, {}),
      driver.listMessages(['Other'], {}).catch(() => undefined),
    ]);
  });

  it('treats a folder deleted and made again since its listing as an epoch change', async () => {
    const store = new MemoryStore();
    store.createFolder(['A']);
    const id = store.addMessage(['A'], mail('a'));
    const driver = new MemoryDriver(store);
    await driver.listMessages(['A'], {});
    store.deleteFolder(['A']);
    store.createFolder(['A']);
    store.addMessage(['A'], mail('other'));
    await expect(driver.readMessage(['A'], id)).rejects.toMatchObject({ code: 'EPOCH_CHANGED' });
  });

  it('checks nothing for a folder this driver has not listed', async () => {
    const store = new MemoryStore();
    const id = store.addMessage(INBOX, mail('a'));
    store.resetEpoch(INBOX);
    const read = await new MemoryDriver(store).readMessage(INBOX, id);
    expect(new Uint8Array(read.body)).toEqual(mail('a'));
  });
});

describe('MemoryDriver fault hooks', () => {
  it('a before hook that throws fails the operation without touching the store', async () => {
    const store = new MemoryStore();
    const seen: FaultPoint[] = [];
    const driver = new MemoryDriver(store, {
      faults: (point) => {
        seen.push(point);
        if (point.op === 'appendMessages') throw new Error('connection dropped');
      },
    });
    await driver.listFolders();
    const err = await rejection(driver.appendMessages(INBOX, [{ body: mail('a'), flags: [] }]));
    expect(err).toMatchObject({ message: 'connection dropped' });
    expect(store.messages(INBOX)).toEqual([]);
    expect(seen).toEqual([
      { op: 'listFolders', stage: 'before' },
      { op: 'appendMessages', path: INBOX, stage: 'before' },
    ]);
  });

  it('an after hook that throws fails the operation after the store changed', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store, {
      faults: {
        after: (point) => {
          if (point.op === 'appendMessages') throw new Error('no answer from the server');
        },
      },
    });
    await expect(driver.appendMessages(INBOX, [{ body: mail('a'), flags: [] }])).rejects.toThrow(
      'no answer from the server',
    );
    expect(store.messages(INBOX)).toHaveLength(1);
  });

  it('a message hook that throws fails only that message of a batch', async () => {
    const store = new MemoryStore();
    const driver = new MemoryDriver(store, {
      faults: {
        message: (point) => {
          if (point.index === 1) throw new MessageError('too big', { code: 'MESSAGE_TOO_BIG' });
        },
      },
    });
    const outcomes = await driver.appendMessages(INBOX, [
      { body: mail('a'), flags: [] },
      { body: mail('b'), flags: [] },
      { body: mail('c'), flags: [] },
    ]);
    expect(outcomes).toEqual([
      { ok: true, id: '1' },
      { ok: false, code: 'MESSAGE_TOO_BIG', message: 'too big' },
      { ok: true, id: '2' },
    ]);
    const flagged = await driver.setFlags(INBOX, [
      { id: '1', add: ['\\Seen'], remove: [] },
      { id: '2', add: ['\\Seen'], remove: [] },
    ]);
    expect(flagged).toEqual([
      { id: '1', ok: true },
      { id: '2', ok: false, gone: false, message: 'too big' },
    ]);
  });

  it('a hook may change the store in the middle of a sync, as another program would', async () => {
    const store = new MemoryStore();
    const id = store.addMessage(INBOX, mail('a'));
    const driver = new MemoryDriver(store, {
      faults: (point) => {
        if (point.op === 'setFlags') store.removeMessage(INBOX, id);
      },
    });
    const [outcome] = await driver.setFlags(INBOX, [{ id, add: ['\\Seen'], remove: [] }]);
    expect(outcome).toMatchObject({ id, ok: false, gone: true });
  });

  it('crashAfter(n) lets n points pass, crashes at the next, and stays dead', async () => {
    const writes = async (n: number) => {
      const store = new MemoryStore();
      const hooks = crashAfter(n);
      const driver = new MemoryDriver(store, { faults: hooks });
      const error = await (async () => {
        await driver.createFolder(['A']);
        await driver.appendMessages(['A'], [{ body: mail('a'), flags: [] }]);
        await driver.listMessages(['A'], {});
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      return { store, hooks, driver, error };
    };

    // Point 0: before createFolder; 1: after it; 2, 3: appendMessages; 4, 5: listMessages.
    const none = await writes(0);
    expect(none.error).toBeInstanceOf(SimulatedCrash);
    expect(none.error).toMatchObject({ name: 'SimulatedCrash' });
    expect(none.store.hasFolder(['A'])).toBe(false);

    const afterCreate = await writes(1);
    expect(afterCreate.error).toBeInstanceOf(SimulatedCrash);
    expect(afterCreate.store.hasFolder(['A'])).toBe(true);
    expect(afterCreate.hooks).toMatchObject({ points: 2, crashed: true });
    await expect(afterCreate.driver.listFolders()).rejects.toBeInstanceOf(SimulatedCrash);
    expect(afterCreate.hooks.points).toBe(2);

    const afterAppend = await writes(3);
    expect(afterAppend.store.messages(['A'])).toHaveLength(1);
    expect(afterAppend.error).toMatchObject({
      message: expect.stringContaining('after appendMessages on A'),
    });

    const never = await writes(6);
    expect(never.error).toBeUndefined();
    expect(never.hooks).toMatchObject({ points: 6, crashed: false });

    expect(() => crashAfter(-1)).toThrow(RangeError);
  });

  it('one crashAfter shared by two drivers counts the points of both', async () => {
    const hooks = crashAfter(2);
    const left = new MemoryDriver(new MemoryStore(), { faults: hooks });
    const right = new MemoryDriver(new MemoryStore(), { faults: hooks });
    await left.listFolders();
    await expect(right.listFolders()).rejects.toBeInstanceOf(SimulatedCrash);
  });
});

describe('resolveListing', () => {
  it('needs the previous messages for an unchanged or delta answer', () => {
    const marker = { epoch: '1', value: '1' };
    const unchanged: Listing = { kind: 'unchanged', marker };
    expect(() => resolveListing(undefined, unchanged)).toThrow();
    const previous = new Map([['1', { id: '1', flags: [] }]]);
    const result = resolveListing(previous, { kind: 'delta', marker, changed: [], vanished: ['1', '9'] });
    expect([...result.keys()]).toEqual([]);
    expect([...previous.keys()]).toEqual(['1']);
  });
});
