import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SideController, sync } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPair } from '../src/index.js';
import { twoMaildirs } from './two-maildirs.js';

// Another program stores the same message in both Maildirs of a pair while it syncs, after one side
// listed the inbox and before the other did: the real drivers, not the in-memory ones of the
// controller's tests, must let the copy made beside its twin give way to it.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-twins-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The inbox's messages of one Maildir, as their bytes, sorted. */
async function inbox(account: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const at = join(dir, account, sub);
    for (const name of await readdir(at).catch(() => [])) out.push(await readFile(join(at, name), 'utf8'));
  }
  return out.sort();
}

async function deliver(account: string, name: string, text: string) {
  await mkdir(join(dir, account, 'tmp'), { recursive: true });
  await writeFile(join(dir, account, 'tmp', name), text);
  await mkdir(join(dir, account, 'new'), { recursive: true });
  await rename(join(dir, account, 'tmp', name), join(dir, account, 'new', name));
}

/** `side` with its `changes` replaced (a worker's proxy keeps its own methods). */
function withChanges(side: SideController, changes: SideController['changes']): SideController {
  return new Proxy(side, {
    get(target, prop, receiver) {
      if (prop === 'changes') return changes;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function syncOnce(between?: () => Promise<void>) {
  const pair = await openPair(twoMaildirs(dir), 'p', { mode: 'inline' });
  try {
    if (!between) return await sync(pair.left, pair.right, pair.syncOptions);
    let leftListed = () => {};
    const listed = new Promise<void>((resolve) => {
      leftListed = resolve;
    });
    const left = withChanges(pair.left, async (key, path, options) => {
      const changes = await pair.left.changes(key, path, options);
      if (path.join('/') === 'INBOX') leftListed();
      return changes;
    });
    const right = withChanges(pair.right, async (key, path, options) => {
      if (path.join('/') === 'INBOX') {
        await listed;
        await between();
      }
      return pair.right.changes(key, path, options);
    });
    return await sync(left, right, pair.syncOptions);
  } finally {
    await pair.close();
  }
}

describe('a message another program stores on both Maildirs between the two listings', () => {
  it('is copied to the side that listed first, where the copy gives way to it: once on each side', async () => {
    const first = 'Message-ID: <first@twinbox.test>\nSubject: first\n\nfirst\n';
    const twin = 'Message-ID: <twin@twinbox.test>\nSubject: twin\n\ntwin\n';
    await deliver('one', '1700000000.M1P1.elsewhere', first);
    for (const account of ['one', 'two']) await mkdir(join(dir, account, 'cur'), { recursive: true });
    expect((await syncOnce()).totals).toMatchObject({ copied: 1, errors: 0 });
    // The user reads the first message on the left: its inbox is listed by reading its files, so its
    // driver vouches for it after the copy only by looking again (markerAfterWrites).
    await rename(
      join(dir, 'one', 'new', '1700000000.M1P1.elsewhere'),
      join(dir, 'one', 'cur', '1700000000.M1P1.elsewhere:2,S'),
    );
    const report = await syncOnce(async () => {
      await deliver('one', '1700000001.M2P2.elsewhere', twin);
      await deliver('two', '1700000001.M2P2.elsewhere', twin);
    });
    // The right listed the twin as new and copied it to the left, which had it by then.
    expect(report.totals).toMatchObject({ copied: 1, flagged: 1, errors: 0 });
    expect(await inbox('one')).toEqual([first, twin].sort());
    for (let i = 0; i < 2; i++) {
      const next = await syncOnce();
      expect(next.totals).toMatchObject({ copied: 0, deleted: 0, errors: 0 });
      expect(await inbox('one')).toEqual([first, twin].sort());
      expect(await inbox('two')).toEqual([first, twin].sort());
    }
  });
});
