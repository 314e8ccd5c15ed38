import {
  type DescribeRequest,
  type Driver,
  folderKey,
  type ListedMessage,
  type Listing,
  type Side,
  sync,
} from '@twinbox/core';
import { type FaultPoint, MemoryDriver, type MemoryStore } from '@twinbox/core/testing';
import { describe, expect, it } from 'vitest';
import { allTokens, CrashSwitch, failingState, sides, snapshot, tokenOf, World } from './harness.js';

const INBOX = ['INBOX'];
const ARCHIVE = ['Archive'];
const SIDES = ['left', 'right'] as const;
const otherOf = (side: Side): Side => (side === 'left' ? 'right' : 'left');

/** Moves the message carrying `token` from one folder to another on one side, as a mail client would. */
function move(world: World, side: Side, from: string[], to: string[], token: string) {
  const m = world.stores[side].messages(from).find((x) => tokenOf(x.body) === token);
  if (!m) throw new Error(`${token} is not in ${from.join('/')} on the ${side}`);
  world.stores[side].createFolder(to);
  world.stores[side].moveMessages(from, to, [m.id]);
}

/** Sets the flags of the message carrying `token`, as a mail client would. */
function flag(world: World, side: Side, path: string[], token: string, flags: string[]) {
  const m = world.stores[side].messages(path).find((x) => tokenOf(x.body) === token)!;
  world.stores[side].setMessageFlags(path, m.id, flags);
}

/** The folders holding `token` on one side, and the flags it has in each. */
function where(world: World, side: Side, token: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of world.stores[side].folders()) {
    for (const m of world.stores[side].messages(f.path)) {
      if (tokenOf(m.body) === token) out[folderKey(f.path)] = m.flags;
    }
  }
  return out;
}

/** A driver of `store` without `moveMessages`, or whose moves never say the new id. */
function limited(store: MemoryStore, mode: 'no-move' | 'no-new-id'): Driver {
  const inner = new MemoryDriver(store);
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'moveMessages') {
        if (mode === 'no-move') return undefined;
        return async (...args: Parameters<MemoryDriver['moveMessages']>) =>
          (await target.moveMessages(...args)).map((o) => (o.ok ? { id: o.id, ok: true } : o));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Two messages synced into the INBOX of both sides, and an Archive folder on both. */
/**
 * A memory driver on `store` that hands each `describeMessages` call's request and answer to `seen`,
 * and passes each listing through `listed` when given.
 */
function watched(
  store: MemoryStore,
  seen: (request: DescribeRequest | undefined, out: ListedMessage[]) => void,
  listed?: (listing: Listing) => Listing,
): Driver {
  return new Proxy(new MemoryDriver(store), {
    get(target, prop) {
      if (prop === 'describeMessages')
        return async (...args: Parameters<MemoryDriver['describeMessages']>) => {
          const out = await target.describeMessages(...args);
          seen(args[2], out);
          return out;
        };
      if (prop === 'listMessages' && listed)
        return async (...args: Parameters<MemoryDriver['listMessages']>) =>
          listed(await target.listMessages(...args));
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Synced, then on the left: `a` moved from INBOX to Archive, another message of INBOX (`a` and more
 * text: of another size) deleted, and `c` (of a third size) new in Archive.
 */
async function movedAndDeleted() {
  const world = new World();
  world.stores.left.createFolder(ARCHIVE);
  const a = world.add('left', INBOX, ['\\Seen']);
  const b = world.add('left', INBOX, [], `${a}-longer`);
  await world.sync();
  move(world, 'left', INBOX, ARCHIVE, a);
  world.removeToken('left', INBOX, b);
  const c = world.add('left', ARCHIVE, [], `${a}-of-another-size`);
  return { world, a, c };
}

async function synced() {
  const world = new World();
  world.stores.left.createFolder(ARCHIVE);
  const a = world.add('left', INBOX, ['\\Seen']);
  const b = world.add('left', INBOX, []);
  await world.sync();
  return { world, a, b };
}

/** Both sides the same, nothing duplicated, and a dry run and a real sync after it find nothing to do. */
async function settled(world: World) {
  expect(snapshot(world.stores.left)).toEqual(snapshot(world.stores.right));
  for (const folder of snapshot(world.stores.left).values()) {
    for (const [t, v] of folder) expect(v.count, `token ${t}`).toBe(1);
  }
  const dry = await world.sync({ dryRun: true });
  expect(dry.plans).toEqual([]);
  const again = await world.sync();
  expect(again.totals).toMatchObject({ moved: 0, copied: 0, flagged: 0, deleted: 0, paired: 0, errors: 0 });
}

describe('a message moved between folders on one side', () => {
  for (const mover of SIDES) {
    const other = otherOf(mover);
    const to = other === 'left' ? 'toLeft' : 'toRight';

    it(`moved on the ${mover}: moved on the ${other} too, nothing copied or deleted`, async () => {
      const { world, a, b } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      const report = await world.sync();
      expect(report.totals).toMatchObject({ moved: 1, copied: 0, deleted: 0, errors: 0 });
      const archive = report.folders.find((f) => f.key === 'Archive')!;
      expect(archive.moved).toEqual({ toLeft: 0, toRight: 0, [to]: 1 });
      expect(where(world, other, a)).toEqual({ Archive: ['\\Seen'] });
      expect(where(world, other, b)).toEqual({ INBOX: [] });
      expect(await world.pairs('INBOX')).toHaveLength(1);
      expect(await world.pairs('Archive')).toHaveLength(1);
      await settled(world);
    });

    it(`moved on the ${mover} with its flags changed there and on the ${other}: both changes kept, in one sync`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      flag(world, mover, ARCHIVE, a, ['\\Seen', '\\Flagged']);
      flag(world, other, INBOX, a, ['$label1']);
      const report = await world.sync();
      expect(report.totals).toMatchObject({ moved: 1, copied: 0, deleted: 0, errors: 0 });
      for (const side of SIDES) {
        expect(where(world, side, a)).toEqual({ Archive: ['\\Flagged', '$label1'] });
      }
      await settled(world);
    });

    it(`makes the ${other} driver move the message: no body read for copying, none written`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      const ops: { side: Side; op: string }[] = [];
      const { left, right } = sides(
        world,
        (side, store) =>
          new MemoryDriver(store, { faults: (p: FaultPoint) => void ops.push({ side, op: p.op }) }),
      );
      const report = await sync(left, right);
      expect(report.totals).toMatchObject({ moved: 1, copied: 0, errors: 0 });
      const count = (side: Side, op: string) => ops.filter((o) => o.side === side && o.op === op).length;
      expect(count(other, 'moveMessages')).toBe(1);
      expect(count(mover, 'moveMessages')).toBe(0);
      for (const side of SIDES) {
        expect(count(side, 'appendMessages')).toBe(0);
        expect(count(side, 'readMessages')).toBe(0);
        expect(count(side, 'deleteMessages')).toBe(0);
      }
      await settled(world);
    });

    it(`a crash at any driver or state operation of a move on the ${mover}, then a sync: equal, nothing lost or duplicated`, async () => {
      let completed = false;
      for (let at = 1; !completed; at++) {
        const { world, a, b } = await synced();
        move(world, mover, INBOX, ARCHIVE, a);
        flag(world, mover, ARCHIVE, a, ['\\Seen', '\\Flagged']);
        flag(world, other, INBOX, a, ['$label1']);
        const crash = new CrashSwitch(at);
        await world.sync({ crash }).catch((err: Error) => {
          if (err.name !== 'SimulatedCrash') throw err;
        });
        completed = !crash.dead;
        const report = await world.sync();
        expect(report.totals.errors, `crash at ${at}`).toBe(0);
        for (const side of SIDES) {
          // Both users' additions are kept wherever the crash fell. Between the store's move and its
          // record, the two are left unpaired and paired by content next time, without a base: their
          // flags are then the union, and the other side's removal of \Seen is not carried.
          const flags = where(world, side, a).Archive;
          expect(flags, `crash at ${at}`).toEqual(expect.arrayContaining(['\\Flagged', '$label1']));
          expect(Object.keys(where(world, side, a)), `crash at ${at}`).toEqual(['Archive']);
          expect(where(world, side, b), `crash at ${at}`).toEqual({ INBOX: [] });
        }
        await settled(world);
        expect(at).toBeLessThan(500);
      }
    });

    it(`a store that does not say the new id (no UIDPLUS): moved, then paired by content on the next sync`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      const drivers = (side: Side, store: MemoryStore) =>
        side === other ? limited(store, 'no-new-id') : new MemoryDriver(store);
      const { left, right } = sides(world, drivers);
      const first = await sync(left, right);
      expect(first.totals).toMatchObject({ moved: 1, copied: 0, deleted: 0, errors: 0 });
      expect(where(world, other, a)).toEqual({ Archive: ['\\Seen'] });
      const second = await world.sync();
      expect(second.totals).toMatchObject({ copied: 0, paired: 1, errors: 0 });
      await settled(world);
    });

    it(`a ${other} side that cannot move: copied and deleted, as before moves`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      const drivers = (side: Side, store: MemoryStore) =>
        side === other ? limited(store, 'no-move') : new MemoryDriver(store);
      const { left, right } = sides(world, drivers);
      const report = await sync(left, right);
      expect(report.totals).toMatchObject({ moved: 0, copied: 1, deleted: 1, errors: 0 });
      expect(where(world, other, a)).toEqual({ Archive: ['\\Seen'] });
      await settled(world);
    });

    it(`a move the ${other} store refuses for that message: copied and deleted instead`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      const refusing = {
        message: (p: FaultPoint) => {
          if (p.op === 'moveMessages') throw new Error('NO [CANNOT] not today');
        },
      };
      const drivers = (side: Side, store: MemoryStore) =>
        new MemoryDriver(store, side === other ? { faults: refusing } : {});
      const { left, right } = sides(world, drivers);
      const report = await sync(left, right);
      expect(report.totals).toMatchObject({ moved: 0, copied: 1, deleted: 1, errors: 0 });
      expect(where(world, other, a)).toEqual({ Archive: ['\\Seen'] });
      await settled(world);
    });

    it(`moved, but the state cannot record it: reported, and the next sync pairs it without a copy`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      const broken = failingState(world.state, ['recordPairs'], 1);
      const first = await world.sync({ state: broken });
      expect(first.totals).toMatchObject({ moved: 0, copied: 0, deleted: 0, errors: 1 });
      expect(first.folders.find((f) => f.key === 'Archive')?.errors[0]?.code).toBe('STATE_WRITE_FAILED');
      expect(where(world, other, a)).toEqual({ Archive: ['\\Seen'] });
      const second = await world.sync();
      expect(second.totals).toMatchObject({ copied: 0, deleted: 0, paired: 1, errors: 0 });
      await settled(world);
    });

    it(`moved on the ${mover}, deleted on the ${other}: it survives in its new folder (a move is no deletion)`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ARCHIVE, a);
      world.removeToken(other, INBOX, a);
      const report = await world.sync();
      expect(report.totals).toMatchObject({ moved: 0, copied: 1, errors: 0 });
      for (const side of SIDES) expect(where(world, side, a)).toEqual({ Archive: ['\\Seen'] });
      await settled(world);
    });

    it(`moved on the ${mover} into a folder it just made: the folder is made on the ${other} and the message moved`, async () => {
      const { world, a } = await synced();
      move(world, mover, INBOX, ['Projects', '2026'], a);
      const report = await world.sync();
      expect(report.totals).toMatchObject({ moved: 1, copied: 0, deleted: 0, errors: 0 });
      expect(where(world, other, a)).toEqual({ 'Projects/2026': ['\\Seen'] });
      await settled(world);
    });
  }

  it('moved on both sides into the same folder: nothing to do but pair them there', async () => {
    const { world, a } = await synced();
    for (const side of SIDES) move(world, side, INBOX, ARCHIVE, a);
    const report = await world.sync();
    expect(report.totals).toMatchObject({ moved: 0, copied: 0, deleted: 0, paired: 1, errors: 0 });
    await settled(world);
  });

  it('moved on both sides into different folders: it ends in both, on both sides', async () => {
    const { world, a } = await synced();
    move(world, 'left', INBOX, ARCHIVE, a);
    move(world, 'right', INBOX, ['Later'], a);
    const report = await world.sync();
    expect(report.totals).toMatchObject({ moved: 0, copied: 2, errors: 0 });
    for (const side of SIDES)
      expect(where(world, side, a)).toEqual({ Archive: ['\\Seen'], Later: ['\\Seen'] });
    await settled(world);
  });

  it('moved into a folder the other side deleted: the folder comes back, and the message is copied there', async () => {
    const { world, a } = await synced();
    move(world, 'left', INBOX, ARCHIVE, a);
    world.stores.right.deleteFolder(ARCHIVE);
    const report = await world.sync();
    expect(report.totals).toMatchObject({ moved: 0, copied: 1, deleted: 1, errors: 0 });
    expect(report.folders.find((f) => f.key === 'Archive')?.action).toBe('recreated');
    for (const side of SIDES) expect(where(world, side, a)).toEqual({ Archive: ['\\Seen'] });
    await settled(world);
  });

  it('a dry run plans the move, counts it, and changes nothing', async () => {
    const { world, a } = await synced();
    move(world, 'left', INBOX, ARCHIVE, a);
    const before = { left: world.stores.left.snapshot(), right: world.stores.right.snapshot() };
    const dry = await world.sync({ dryRun: true });
    expect(dry.totals).toMatchObject({ moved: 1, copied: 0, deleted: 0 });
    const plan = dry.plans.find((p) => p.key === 'Archive')!;
    expect(plan.toRight.moves).toHaveLength(1);
    expect(plan.toRight.copies).toEqual([]);
    expect(dry.plans.find((p) => p.key === 'INBOX')?.toRight.deletes ?? []).toEqual([]);
    expect({ left: world.stores.left.snapshot(), right: world.stores.right.snapshot() }).toEqual(before);
    expect((await world.sync()).totals).toMatchObject({ moved: 1, copied: 0 });
  });

  it('a message without Message-ID is moved when its body proves it, and two identical ones move one each', async () => {
    const world = new World();
    world.stores.left.createFolder(ARCHIVE);
    const t = world.token();
    world.add('left', INBOX, [], t, false);
    world.add('left', INBOX, ['\\Seen'], t, false);
    const other = world.add('left', INBOX, [], world.token(), false);
    await world.sync();
    for (const m of world.stores.left.messages(INBOX)) {
      if (tokenOf(m.body) === t) world.stores.left.moveMessages(INBOX, ARCHIVE, [m.id]);
    }
    const report = await world.sync();
    expect(report.totals).toMatchObject({ moved: 2, copied: 0, deleted: 0, errors: 0 });
    expect(allTokens(snapshot(world.stores.right))).toEqual(new Set([t, other]));
    expect(
      world.stores.right
        .messages(ARCHIVE)
        .map((m) => m.flags)
        .sort(),
    ).toEqual([[], ['\\Seen']]);
    expect(snapshot(world.stores.left)).toEqual(snapshot(world.stores.right));
    const dry = await world.sync({ dryRun: true });
    expect(dry.plans).toEqual([]);
  });

  it('asks for the Message-IDs of the messages that left a folder only where one of their size arrived elsewhere', async () => {
    const { world, a, c } = await movedAndDeleted();
    const requests: unknown[] = [];
    const recording = (side: Side, store: MemoryStore): Driver =>
      side === 'left'
        ? new MemoryDriver(store)
        : watched(store, (request, out) => {
            requests.push(request);
            // Both halves described, only the one that can have moved with its Message-ID.
            expect(out.map((m) => m.messageId === undefined).sort()).toEqual([false, true]);
          });
    const { left, right } = sides(world, recording);
    const report = await sync(left, right);
    expect(report.totals).toMatchObject({ moved: 1, copied: 1, deleted: 1, errors: 0 });
    const sizes = world.stores.left.messages(ARCHIVE).map((m) => m.body.length);
    expect(requests).toHaveLength(1);
    expect(new Set((requests[0] as { sizes: number[] }).sizes)).toEqual(new Set(sizes));
    expect(where(world, 'right', a)).toEqual({ [folderKey(ARCHIVE)]: ['\\Seen'] });
    expect(where(world, 'right', c)).toEqual({ [folderKey(ARCHIVE)]: [] });
    await settled(world);
  });

  it('describes new messages listed without a size first, then the messages that left by their sizes', async () => {
    const { world, a, c } = await movedAndDeleted();
    const calls: { side: Side; request: unknown; described: (string | null | undefined)[] }[] = [];
    // The left side lists its messages without sizes, as a Maildir lists files named without one.
    const unsized = (listing: Listing): Listing => {
      const strip = (list: ListedMessage[]) => list.map(({ size: _, ...m }) => m);
      if (listing.kind === 'full') return { ...listing, messages: strip(listing.messages) };
      if (listing.kind === 'delta') return { ...listing, changed: strip(listing.changed) };
      return listing;
    };
    const recording = (side: Side, store: MemoryStore): Driver =>
      watched(
        store,
        (request, out) => calls.push({ side, request, described: out.map((m) => m.messageId) }),
        side === 'left' ? unsized : undefined,
      );
    const { left, right } = sides(world, recording);
    const report = await sync(left, right);
    expect(report.totals).toMatchObject({ moved: 1, copied: 1, deleted: 1, errors: 0 });
    // The new messages first (both, whole), then the halves that left, asked for by those sizes: only
    // the one of a size that arrived comes with its Message-ID.
    expect(calls.map((call) => call.side)).toEqual(['left', 'right']);
    expect(calls[0]!.described.every((id) => typeof id === 'string')).toBe(true);
    expect(calls[0]!.described).toHaveLength(2);
    const sizes = world.stores.left.messages(ARCHIVE).map((m) => m.body.length);
    expect(new Set((calls[1]!.request as { sizes: number[] }).sizes)).toEqual(new Set(sizes));
    expect(calls[1]!.described.map((id) => id === undefined).sort()).toEqual([false, true]);
    expect(where(world, 'right', a)).toEqual({ [folderKey(ARCHIVE)]: ['\\Seen'] });
    expect(where(world, 'right', c)).toEqual({ [folderKey(ARCHIVE)]: [] });
    await settled(world);
  });

  it('describes a new message for move detection only when a message that left another folder has its size', async () => {
    const { world, a } = await synced();
    const gone = world.stores.left.messages(INBOX).find((m) => tokenOf(m.body) === a)!;
    world.stores.left.removeMessage(INBOX, gone.id);
    // Of another size than the message that left INBOX: no move can bring it, nothing to describe.
    const other = world.add('left', ARCHIVE, [], `${a}-of-another-size`);
    const described: string[] = [];
    const watch = (point: FaultPoint) => {
      if (point.op === 'describeMessages' && point.stage === 'before') described.push(folderKey(point.path!));
    };
    const report = await world.sync({ interfere: watch as () => void });
    expect(report.totals).toMatchObject({ moved: 0, copied: 1, deleted: 1, errors: 0 });
    expect(described).toEqual([folderKey(INBOX)]);
    expect(where(world, 'right', other)).toEqual({ [folderKey(ARCHIVE)]: [] });
    // Of the same size (another message all the same): described, and still no move.
    const b = world.stores.left.messages(INBOX)[0]!;
    world.stores.left.removeMessage(INBOX, b.id);
    const twin = world.add('left', ARCHIVE, [], `t${'9'.repeat(tokenOf(b.body).length - 1)}`);
    expect(world.stores.left.messages(ARCHIVE).find((m) => tokenOf(m.body) === twin)!.body.length).toBe(
      b.body.length,
    );
    described.length = 0;
    const again = await world.sync({ interfere: watch as () => void });
    expect(again.totals).toMatchObject({ moved: 0, copied: 1, deleted: 1, errors: 0 });
    expect(described.sort()).toEqual([folderKey(ARCHIVE), folderKey(INBOX)].sort());
    expect(snapshot(world.stores.left)).toEqual(snapshot(world.stores.right));
  });
});
