import { folderKey } from '@twinbox/core';
import type { FaultPoint } from '@twinbox/core/testing';
import { describe, expect, it } from 'vitest';
import { CrashSwitch, snapshot, tokenOf, World } from './harness.js';

const INBOX = ['INBOX'];
const ARCHIVE = ['Archive'];

/** Moves the message carrying `token` from one folder to another on one side, as a mail client would. */
function move(world: World, side: 'left' | 'right', from: string[], to: string[], token: string) {
  const m = world.stores[side].messages(from).find((x) => tokenOf(x.body) === token);
  if (!m) throw new Error(`${token} is not in ${from.join('/')} on the ${side}`);
  world.stores[side].moveMessages(from, to, [m.id]);
}

function where(world: World, side: 'left' | 'right', token: string): string[] {
  return world.stores[side]
    .folders()
    .filter((f) => world.stores[side].messages(f.path).some((m) => tokenOf(m.body) === token))
    .map((f) => folderKey(f.path));
}

/** Counts each driver operation per side, by the folder it was on. */
function counting() {
  const ops: { side: 'left' | 'right'; op: string; path?: string }[] = [];
  return {
    ops,
    hook: (side: 'left' | 'right') => (p: FaultPoint) => {
      ops.push({ side, op: p.op, ...(p.path ? { path: p.path.join('/') } : {}) });
    },
  };
}

async function twoFolders() {
  const world = new World();
  world.stores.left.createFolder(ARCHIVE);
  const a = world.add('left', INBOX, ['\\Seen']);
  const b = world.add('left', INBOX, []);
  await world.sync();
  return { world, a, b };
}

describe('a message moved between folders on one side', () => {
  for (const mover of ['left', 'right'] as const) {
    const other = mover === 'left' ? 'right' : 'left';
    it(`moved on the ${mover}: moved on the ${other} too, nothing copied or deleted, a second sync plans nothing`, async () => {
      const { world, a, b } = await twoFolders();
      move(world, mover, INBOX, ARCHIVE, a);
      const report = await world.sync();
      expect(report.totals).toMatchObject({ moved: 1, copied: 0, deleted: 0, errors: 0 });
      const archive = report.folders.find((f) => f.key === 'Archive')!;
      expect(archive.moved).toEqual(other === 'left' ? { toLeft: 1, toRight: 0 } : { toLeft: 0, toRight: 1 });
      expect(where(world, other, a)).toEqual(['Archive']);
      expect(where(world, other, b)).toEqual(['INBOX']);
      expect(snapshot(world.stores.left)).toEqual(snapshot(world.stores.right));
      expect(await world.pairs('INBOX')).toHaveLength(1);
      expect(await world.pairs('Archive')).toHaveLength(1);
      const dry = await world.sync({ dryRun: true });
      expect(dry.plans).toEqual([]);
      const again = await world.sync();
      expect(again.totals).toMatchObject({ moved: 0, copied: 0, flagged: 0, deleted: 0, errors: 0 });
    });
  }
});
