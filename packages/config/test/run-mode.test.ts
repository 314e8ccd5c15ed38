import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPair, statePath } from '../src/index.js';
import { twoMaildirs } from './two-maildirs.js';

// A side that answers the id of the thread it runs in: 0 is this, the main thread.
const SIDE = new URL('./fixtures/where-side.mjs', import.meta.url);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-run-mode-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function loaded(workers?: string) {
  return twoMaildirs(dir, workers);
}

/** The thread ids both sides of the pair run in when opened with these settings. */
async function threadsOf(workers?: string, mode?: 'auto' | 'threads' | 'inline'): Promise<number[]> {
  const pair = await openPair(loaded(workers), 'p', { entries: { side: SIDE }, ...(mode ? { mode } : {}) });
  try {
    const where = (side: unknown) => (side as { threadId(): Promise<number> }).threadId();
    return [await where(pair.left), await where(pair.right)];
  } finally {
    await pair.close();
  }
}

describe('where a pair runs (workers)', () => {
  it('auto, the default: threads for a pair without a state (its first sync), this thread once it has one', async () => {
    expect(loaded().config.workers).toBe('auto');
    expect(existsSync(statePath(loaded().config, 'p'))).toBe(false);
    const first = await threadsOf();
    expect(first.every((id) => id > 0)).toBe(true);
    expect(first[0]).not.toBe(first[1]);
    expect(existsSync(statePath(loaded().config, 'p'))).toBe(true);
    expect(await threadsOf()).toEqual([0, 0]);
    expect(await threadsOf('auto')).toEqual([0, 0]);
  });

  it('threads and inline mean what they say, state or not; the option wins over the config', async () => {
    expect(await threadsOf('inline')).toEqual([0, 0]);
    const threads = await threadsOf('threads');
    expect(threads.every((id) => id > 0)).toBe(true);
    expect(await threadsOf('threads', 'inline')).toEqual([0, 0]);
    expect((await threadsOf('inline', 'threads')).every((id) => id > 0)).toBe(true);
    expect((await threadsOf(undefined, 'threads')).every((id) => id > 0)).toBe(true);
  });
});
