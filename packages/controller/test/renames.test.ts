import { type Driver, folderKey, type Side, sync } from '@twinbox/core';
import { type FaultPoint, MemoryDriver, type MemoryStore } from '@twinbox/core/testing';
import { describe, expect, it } from 'vitest';
import { CrashSwitch, failingState, sides, snapshot, tokenOf, World } from './harness.js';

const SIDES = ['left', 'right'] as const;
const otherOf = (side: Side): Side => (side === 'left' ? 'right' : 'left');
const PROJECTS = ['Projekte'];
const OLD = ['Projekte', 'Alt'];
const RENAMED = ['Archiv', 'Projekte 2025'];

/** Folder key -> sorted tokens with their flags, on one side. */
function contents(world: World, side: Side): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of world.stores[side].folders()) {
    out[folderKey(f.path)] = world.stores[side]
      .messages(f.path)
      .map((m) => `${tokenOf(m.body)}${m.flags.length ? ` ${[...m.flags].sort().join(' ')}` : ''}`)
      .sort();
  }
  return out;
}

/** A folder with three messages and a subfolder with one, synced to both sides. */
async function synced() {
  const world = new World();
  world.stores.left.createFolder(OLD);
  const tokens = [
    world.add('left', PROJECTS, ['\\Seen']),
    world.add('left', PROJECTS, []),
    world.add('left', PROJECTS, ['\\Flagged']),
  ];
  const old = world.add('left', OLD, ['\\Answered']);
  const first = await world.sync();
  expect(first.totals).toMatchObject({ copied: 4, errors: 0 });
  return { world, tokens, old };
}

/** A driver of `store` without `renameFolder`. */
function unrenaming(store: MemoryStore): Driver {
  const inner = new MemoryDriver(store);
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'renameFolder') return undefined;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Both sides the same, nothing duplicated, and a dry run and a real sync after it find nothing to do. */
async function settled(world: World) {
  expect(snapshot(world.stores.left)).toEqual(snapshot(world.stores.right));
  for (const folder of snapshot(world.stores.left).values()) {
    for (const [t, v] of folder) expect(v.count, `token ${t}`).toBe(1);
  }
  const dry = await world.sync({ dryRun: true });
  expect(dry.plans).toEqual([]);
  expect(dry.totals).toMatchObject({ foldersRenamed: 0, foldersCreated: 0, foldersDeleted: 0 });
  const again = await world.sync();
  expect(again.totals).toMatchObject({
    copied: 0,
    flagged: 0,
    deleted: 0,
    paired: 0,
    errors: 0,
    foldersRenamed: 0,
  });
}

describe('a folder renamed on one side', () => {
  for (const renamer of SIDES) {
    const other = otherOf(renamer);

    it(`renamed on the ${renamer} with its subfolder: renamed on the ${other}, no message read, written or deleted`, async () => {
      const { world, tokens, old } = await synced();
      world.stores[renamer].renameFolder(PROJECTS, RENAMED);
      const ops: { side: Side; op: string }[] = [];
      const { left, right } = sides(
        world,
        (side, store) =>
          new MemoryDriver(store, { faults: (p: FaultPoint) => void ops.push({ side, op: p.op }) }),
      );
      const report = await sync(left, right);
      expect(report.totals).toMatchObject({ copied: 0, deleted: 0, moved: 0, errors: 0, foldersRenamed: 1 });
      expect(report.totals.foldersDeleted).toBe(0);
      const renamed = report.folders.filter((f) => f.action === 'renamed');
      expect(renamed).toEqual([
        expect.objectContaining({
          key: 'Archiv/Projekte 2025',
          renamed: { from: 'Projekte', on: other, folders: 2 },
        }),
      ]);
      const count = (side: Side, op: string) => ops.filter((o) => o.side === side && o.op === op).length;
      expect(count(other, 'renameFolder')).toBe(1);
      expect(count(renamer, 'renameFolder')).toBe(0);
      for (const side of SIDES) {
        for (const op of [
          'appendMessages',
          'readMessages',
          'readMessage',
          'deleteMessages',
          'deleteFolder',
        ]) {
          expect(count(side, op), `${side} ${op}`).toBe(0);
        }
      }
      expect(contents(world, other)).toMatchObject({
        'Archiv/Projekte 2025': [`${tokens[0]} \\Seen`, tokens[1], `${tokens[2]} \\Flagged`].sort(),
        'Archiv/Projekte 2025/Alt': [`${old} \\Answered`],
      });
      expect(Object.keys(contents(world, other))).not.toContain('Projekte');
      // The pairs moved with the folders, so nothing is paired again by content.
      expect(await world.pairs('Archiv/Projekte 2025')).toHaveLength(3);
      expect(await world.pairs('Archiv/Projekte 2025/Alt')).toHaveLength(1);
      expect(await world.pairs('Projekte')).toEqual([]);
      expect((await world.state.listFolderPairs()).map((r) => r.key).sort()).toEqual([
        'Archiv',
        'Archiv/Projekte 2025',
        'Archiv/Projekte 2025/Alt',
        'INBOX',
      ]);
      await settled(world);
    });

    it(`a 200-message folder renamed on the ${renamer}: proven by a sample of its pairs, not by describing every message`, async () => {
      const { world } = await synced();
      for (let i = 0; i < 197; i++) world.add('left', PROJECTS, []);
      expect((await world.sync()).totals).toMatchObject({ copied: 197, errors: 0 });
      world.stores[renamer].renameFolder(PROJECTS, RENAMED);
      const described: Record<Side, number> = { left: 0, right: 0 };
      const counting = (side: Side, store: MemoryStore): Driver => {
        const inner = new MemoryDriver(store);
        return new Proxy(inner, {
          get(target, prop) {
            const value = Reflect.get(target, prop, target);
            if (prop === 'describeMessages') {
              return (path: string[], ids: readonly string[]) => {
                described[side] += ids.length;
                return target.describeMessages(path, ids);
              };
            }
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      };
      const { left, right } = sides(world, counting);
      const report = await sync(left, right);
      expect(report.totals).toMatchObject({ foldersRenamed: 1, copied: 0, deleted: 0, errors: 0 });
      // A sample of 32 of the folder's pairs, and the subfolder's one message (checked on its own).
      expect(described.left).toBeLessThanOrEqual(33);
      expect(described.right).toBeLessThanOrEqual(33);
      expect(described.left + described.right).toBeGreaterThan(0);
      await settled(world);
    });

    it(`renamed on the ${renamer}, changed on both sides meanwhile: every change lands under the new name`, async () => {
      const { world, tokens } = await synced();
      world.stores[renamer].renameFolder(PROJECTS, RENAMED);
      const mine = world.add(renamer, RENAMED, []);
      const theirs = world.add(other, PROJECTS, ['\\Seen']);
      world.removeToken(other, PROJECTS, tokens[1]!);
      const m = world.stores[renamer].messages(RENAMED).find((x) => tokenOf(x.body) === tokens[0])!;
      world.stores[renamer].setMessageFlags(RENAMED, m.id, ['\\Seen', '\\Answered']);
      const report = await world.sync();
      expect(report.totals).toMatchObject({
        copied: 2,
        deleted: 1,
        flagged: 1,
        errors: 0,
        foldersRenamed: 1,
      });
      for (const side of SIDES) {
        expect(contents(world, side)['Archiv/Projekte 2025']).toEqual(
          [`${tokens[0]} \\Answered \\Seen`, `${tokens[2]} \\Flagged`, mine, `${theirs} \\Seen`].sort(),
        );
      }
      await settled(world);
    });

    it(`renamed on the ${renamer} by a store that gives new ids on a rename: renamed, then paired by content`, async () => {
      const { world } = await synced();
      world.stores[renamer].renameFolder(PROJECTS, RENAMED, { newEpoch: true });
      const report = await world.sync();
      expect(report.totals).toMatchObject({ copied: 0, deleted: 0, paired: 4, errors: 0, foldersRenamed: 1 });
      await settled(world);
    });

    it(`a crash at any operation of a rename on the ${renamer}, then a sync: equal, nothing lost or duplicated`, async () => {
      let completed = false;
      // Every point inline; in thread mode (each sync starts worker threads) every tenth, which still
      // covers each kind of call, as the ordering under test is the engine's, not the threads'.
      const stride = process.env.TWINBOX_ENGINE_MODE === 'thread' ? 10 : 1;
      for (let at = 1; !completed; at += stride) {
        const { world, tokens, old } = await synced();
        world.stores[renamer].renameFolder(PROJECTS, RENAMED);
        const theirs = world.add(other, PROJECTS, []);
        const crash = new CrashSwitch(at);
        await world.sync({ crash }).catch((err: Error) => {
          if (err.name !== 'SimulatedCrash') throw err;
        });
        completed = !crash.dead;
        const report = await world.sync();
        expect(report.totals.errors, `crash at ${at}`).toBe(0);
        expect(
          report.totals.copied,
          `crash at ${at}: nothing of the folder copied but the new message`,
        ).toBeLessThanOrEqual(1);
        for (const side of SIDES) {
          const all = contents(world, side);
          expect(all['Archiv/Projekte 2025'], `crash at ${at}, ${side}`).toEqual(
            [`${tokens[0]} \\Seen`, tokens[1], `${tokens[2]} \\Flagged`, theirs].sort(),
          );
          expect(all['Archiv/Projekte 2025/Alt'], `crash at ${at}, ${side}`).toEqual([`${old} \\Answered`]);
          expect(Object.keys(all), `crash at ${at}, ${side}`).not.toContain('Projekte');
        }
        await settled(world);
        expect(at).toBeLessThan(500);
      }
    });

    it(`an ${other} side that cannot rename: copied and deleted, as before renames`, async () => {
      const { world } = await synced();
      world.stores[renamer].renameFolder(PROJECTS, RENAMED);
      const drivers = (side: Side, store: MemoryStore) =>
        side === other ? unrenaming(store) : new MemoryDriver(store);
      const { left, right } = sides(world, drivers);
      const report = await sync(left, right);
      expect(report.totals).toMatchObject({ copied: 4, foldersRenamed: 0, errors: 0 });
      expect(report.totals.foldersDeleted).toBe(2);
      await settled(world);
    });

    it(`renamed on the ${renamer}, but the state cannot record it: reported, and the next sync pairs without a copy`, async () => {
      const { world } = await synced();
      world.stores[renamer].renameFolder(PROJECTS, RENAMED);
      const broken = failingState(world.state, ['renameFolderPairs'], 1);
      const first = await world.sync({ state: broken });
      expect(first.totals).toMatchObject({ copied: 0, deleted: 0, errors: 1 });
      const failed = first.folders.find((f) => f.action === 'failed')!;
      expect(failed.errors[0]?.code).toBe('STATE_WRITE_FAILED');
      const second = await world.sync();
      expect(second.totals).toMatchObject({ copied: 0, deleted: 0, errors: 0 });
      // The subfolder, renamed along but not recorded, may be paired in the first sync already.
      expect(first.totals.paired + second.totals.paired).toBe(4);
      await settled(world);
    });

    it(`the rename on the ${other} store fails: reported, the old folder is not deleted, and the next sync renames it`, async () => {
      const { world, tokens } = await synced();
      world.stores[renamer].renameFolder(PROJECTS, RENAMED);
      const refusing = (p: FaultPoint) => {
        if (p.op === 'renameFolder')
          throw Object.assign(new Error('NO [CANNOT] not today'), {
            name: 'FolderError',
            code: 'FOLDER_RENAME_FAILED',
          });
      };
      const drivers = (side: Side, store: MemoryStore) =>
        new MemoryDriver(store, side === other ? { faults: refusing } : {});
      const { left, right } = sides(world, drivers);
      const first = await sync(left, right);
      expect(first.totals).toMatchObject({ copied: 0, deleted: 0, errors: 1, foldersDeleted: 0 });
      expect(contents(world, other).Projekte).toHaveLength(tokens.length);
      const second = await world.sync();
      expect(second.totals).toMatchObject({ copied: 0, deleted: 0, errors: 0, foldersRenamed: 1 });
      await settled(world);
    });
  }

  it('a dry run reports the rename and changes nothing', async () => {
    const { world } = await synced();
    world.stores.left.renameFolder(PROJECTS, RENAMED);
    const before = { left: world.stores.left.snapshot(), right: world.stores.right.snapshot() };
    const dry = await world.sync({ dryRun: true });
    expect(dry.totals).toMatchObject({ foldersRenamed: 1, foldersDeleted: 0, copied: 0 });
    expect(dry.folders.find((f) => f.action === 'renamed')?.renamed).toEqual({
      from: 'Projekte',
      on: 'right',
      folders: 2,
    });
    expect({ left: world.stores.left.snapshot(), right: world.stores.right.snapshot() }).toEqual(before);
    expect((await world.sync()).totals).toMatchObject({ foldersRenamed: 1, copied: 0 });
    await settled(world);
  });

  it('a folder deleted and another made with other messages: no rename, the old rules apply', async () => {
    const { world } = await synced();
    world.stores.left.deleteFolder(OLD);
    world.stores.left.deleteFolder(PROJECTS);
    world.stores.left.createFolder(['Neu']);
    const fresh = [world.add('left', ['Neu'], []), world.add('left', ['Neu'], [])];
    const report = await world.sync();
    expect(report.totals).toMatchObject({ foldersRenamed: 0, copied: 2, foldersDeleted: 2 });
    expect(contents(world, 'right').Neu).toEqual([...fresh].sort());
    await settled(world);
  });

  it('a folder that mostly holds other mail is not taken for the renamed one', async () => {
    const { world } = await synced();
    world.stores.left.renameFolder(PROJECTS, RENAMED);
    for (let i = 0; i < 4; i++) world.add('left', RENAMED, []);
    const report = await world.sync();
    // Its subfolder, unchanged, is renamed on its own.
    expect(report.folders.filter((f) => f.action === 'renamed').map((f) => f.renamed?.from)).toEqual([
      'Projekte/Alt',
    ]);
    await settled(world);
  });

  it('two copies of a deleted folder: renamed to neither, both synced', async () => {
    const { world, tokens } = await synced();
    for (const copy of [['Kopie 1'], ['Kopie 2']]) {
      world.stores.left.createFolder(copy);
      for (const m of world.stores.left.messages(PROJECTS))
        world.stores.left.addMessage(copy, m.body, m.flags);
    }
    world.stores.left.deleteFolder(OLD);
    world.stores.left.deleteFolder(PROJECTS);
    const report = await world.sync();
    expect(report.totals.foldersRenamed).toBe(0);
    for (const side of SIDES) {
      expect(contents(world, side)['Kopie 2']).toHaveLength(tokens.length);
      expect(contents(world, side)['Kopie 1']).toHaveLength(tokens.length);
    }
    await settled(world);
  });

  it('a folder copied, then renamed: the one that kept its ids is the renamed one, the copy is copied', async () => {
    const { world, tokens } = await synced();
    world.stores.left.createFolder(['Kopie']);
    for (const m of world.stores.left.messages(PROJECTS))
      world.stores.left.addMessage(['Kopie'], m.body, m.flags);
    world.stores.left.renameFolder(PROJECTS, ['Umbenannt']);
    const report = await world.sync();
    expect(report.folders.filter((f) => f.action === 'renamed').map((f) => [f.renamed?.from, f.key])).toEqual(
      [['Projekte', 'Umbenannt']],
    );
    expect(report.totals.copied).toBe(tokens.length);
    await settled(world);
  });

  it('renamed to the same name on both sides: nothing renamed or copied, the messages pair by content', async () => {
    const { world } = await synced();
    for (const side of SIDES) world.stores[side].renameFolder(PROJECTS, RENAMED);
    const report = await world.sync();
    expect(report.totals).toMatchObject({ copied: 0, deleted: 0, foldersRenamed: 0, paired: 4, errors: 0 });
    await settled(world);
  });

  it('a one-way pair does not rename against its direction', async () => {
    const { world } = await synced();
    world.stores.right.renameFolder(PROJECTS, RENAMED);
    const policy = {
      direction: 'left-to-right' as const,
      propagate: { new: true, flags: true, deletions: true, folderCreation: true, folderDeletion: true },
      conflicts: { deleteVsChange: 'keep' as const, flags: 'merge' as const },
    };
    const report = await world.sync({ policy });
    expect(report.totals.foldersRenamed).toBe(0);
    expect(Object.keys(contents(world, 'left'))).toContain('Projekte');
  });
});

describe('a folder renamed on a store that gives folder ids (OBJECTID)', () => {
  /** Like `synced`, on stores that list folder ids. */
  async function syncedWithIds() {
    const world = new World();
    world.folderIds = true;
    world.stores.left.createFolder(OLD);
    const tokens = [world.add('left', PROJECTS, ['\\Seen']), world.add('left', PROJECTS, [])];
    world.stores.left.createFolder(['Leer']);
    expect((await world.sync()).totals).toMatchObject({ copied: 2, errors: 0 });
    return { world, tokens };
  }

  it('records each side’s folder id with the folder pair', async () => {
    const { world } = await syncedWithIds();
    const records = await world.state.listFolderPairs();
    for (const r of records) {
      expect(r.ids?.left, r.key).toMatch(/^F\d+$/);
      expect(r.ids?.right, r.key).toMatch(/^F\d+$/);
    }
    // Recorded once: a sync with nothing changed writes no folder pair.
    let writes = 0;
    const counting = new Proxy(world.state, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        // Counted when called, not when looked up (a worker host looks every method up once).
        return (...args: unknown[]) => {
          if (prop === 'recordFolderPair') writes++;
          return value.apply(target, args);
        };
      },
    });
    await world.sync({ state: counting });
    expect(writes).toBe(0);
  });

  for (const renamer of SIDES) {
    const other = otherOf(renamer);

    it(`an empty folder renamed on the ${renamer}: renamed by its id, which no content could prove`, async () => {
      const { world } = await syncedWithIds();
      world.stores[renamer].renameFolder(['Leer'], ['Auch leer']);
      const report = await world.sync();
      expect(report.totals).toMatchObject({
        foldersRenamed: 1,
        foldersCreated: 0,
        foldersDeleted: 0,
        errors: 0,
      });
      expect(Object.keys(contents(world, other))).toContain('Auch leer');
      expect(Object.keys(contents(world, other))).not.toContain('Leer');
      await settled(world);
    });

    it(`renamed on the ${renamer} after all its mail was replaced: renamed by its id, without describing a message`, async () => {
      const { world, tokens } = await syncedWithIds();
      for (const t of tokens) world.removeToken(renamer, PROJECTS, t);
      const fresh = [
        world.add(renamer, PROJECTS, []),
        world.add(renamer, PROJECTS, []),
        world.add(renamer, PROJECTS, []),
      ];
      world.stores[renamer].renameFolder(PROJECTS, RENAMED);
      const ops: { side: Side; op: string }[] = [];
      const { left, right } = sides(
        world,
        (side, store) =>
          new MemoryDriver(store, {
            folderIds: true,
            faults: (p: FaultPoint) => void ops.push({ side, op: p.op }),
          }),
      );
      const report = await sync(left, right);
      expect(report.totals).toMatchObject({ foldersRenamed: 1, copied: 3, deleted: 2, errors: 0 });
      expect(ops.filter((o) => o.op === 'describeMessages')).toEqual([]);
      for (const side of SIDES)
        expect(contents(world, side)['Archiv/Projekte 2025']).toEqual([...fresh].sort());
      await settled(world);
    });
  }

  it('a copy of a deleted folder, under another id, is still renamed when its content proves it', async () => {
    const { world, tokens } = await syncedWithIds();
    world.stores.left.createFolder(['Kopie']);
    for (const m of world.stores.left.messages(PROJECTS))
      world.stores.left.addMessage(['Kopie'], m.body, m.flags);
    world.stores.left.deleteFolder(OLD);
    world.stores.left.deleteFolder(PROJECTS);
    const report = await world.sync();
    expect(report.totals).toMatchObject({ foldersRenamed: 1, copied: 0, errors: 0 });
    expect(contents(world, 'right').Kopie).toHaveLength(tokens.length);
    await settled(world);
  });
});
