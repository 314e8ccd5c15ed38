import { describe, expect, it } from 'vitest';
import { type ComponentPool, startPool, WorkerCrashedError } from '../src/index.js';
import type createCounter from './fixtures/counter.js';
import type createSide from './fixtures/side.js';
import type createState from './fixtures/state.js';
import { fixture, modes, openHandles, openHandlesSettle, outcome } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;
type State = ReturnType<typeof createState>;
type Side = Awaited<ReturnType<typeof createSide>>;

const sizes = (pool: ComponentPool) => pool.hosts.map((host) => host.size);
const counter = (pool: ComponentPool, start = 0) =>
  pool.start<Counter>(fixture('counter'), { args: { start } });

describe.each(modes)('a pool, %s', (mode) => {
  it('starts hosts as components come, up to its size, and places each on the least busy', async () => {
    const before = openHandles();
    const pool = startPool({ size: 3, mode, name: 'sync' });
    expect(pool).toMatchObject({ name: 'sync', mode });
    expect(pool.hosts).toEqual([]); // nothing started yet
    const first = await counter(pool);
    expect(sizes(pool)).toEqual([1]);
    await counter(pool);
    expect(sizes(pool)).toEqual([1, 1]);
    // Started together, they are spread at once, not all put on the first host found empty.
    const together = await Promise.all(Array.from({ length: 5 }, (_, i) => counter(pool, i)));
    expect(sizes(pool)).toEqual([3, 2, 2]);
    expect(pool.hosts.map((host) => host.name)).toEqual(['sync-1', 'sync-2', 'sync-3']);
    const threads = new Set(
      (await Promise.all([first, ...together].map((h) => h.api.where()))).map((w) => w.threadId),
    );
    expect(threads.size).toBe(mode === 'thread' ? 3 : 1);
    // Closing makes room where it was closed: the next goes there.
    await first.close();
    expect(sizes(pool)).toEqual([2, 2, 2]);
    await counter(pool);
    expect(sizes(pool)).toEqual([3, 2, 2]);
    await pool.close();
    expect(pool.hosts).toEqual([]);
    await expect(counter(pool)).rejects.toMatchObject({ name: 'ComponentClosedError' });
    await expect(together[0]?.api.add(1)).rejects.toMatchObject({ code: 'COMPONENT_CLOSED' });
    const after = await openHandlesSettle(before);
    expect(after.Worker).toBeLessThanOrEqual(before.Worker);
    expect(after.MessagePort).toBeLessThanOrEqual(before.MessagePort);
  });

  it('connects components on different hosts of the pool directly', async () => {
    const pool = startPool({ size: 2, mode });
    const state = await pool.start<State>(fixture('state'));
    const sides = await Promise.all(
      ['left', 'right', 'third'].map(async (name) =>
        pool.start<Side>(fixture('side'), { name, args: { name, state: await state.connect() } }),
      ),
    );
    expect(sizes(pool)).toEqual([2, 2]);
    const reports = await Promise.all(sides.map((side) => side.api.report(50, 4)));
    const counts = await state.api.counts();
    expect(counts).toMatchObject({ total: 150, bySide: { left: 50, right: 50, third: 50 } });
    if (mode === 'thread') {
      // The state's host holds one side; the other two are on the second host, and call across.
      const elsewhere = reports.filter((r) => r.threadId !== counts.threadId);
      expect(elsewhere).toHaveLength(2);
    }
    await pool.close();
  });

  it('refuses a size that is not a whole number of hosts', () => {
    expect(() => startPool({ size: 0, mode })).toThrow(RangeError);
    expect(() => startPool({ size: 1.5, mode })).toThrow(/whole number of at least 1 \(got 1\.5\)/);
  });
});

describe('a pool, thread', () => {
  it('replaces a host whose thread died: its components fail, the others and later starts go on', async () => {
    const pool = startPool({ size: 2, name: 'p' });
    const handles = await Promise.all(Array.from({ length: 4 }, (_, i) => counter(pool, i)));
    const where = await Promise.all(handles.map((h) => h.api.where()));
    const doomedThread = where[0]?.threadId;
    const doomed = handles.filter((_, i) => where[i]?.threadId === doomedThread);
    const spared = handles.filter((_, i) => where[i]?.threadId !== doomedThread);
    expect([doomed.length, spared.length]).toEqual([2, 2]);
    const totals = await Promise.all(spared.map((h) => h.api.add(10)));
    const pending = doomed.map((h) => outcome(h.api.hang()));
    await expect(doomed[0]?.api.crash()).rejects.toBeInstanceOf(WorkerCrashedError);
    for (const call of await Promise.all(pending)) {
      expect(call).toMatchObject({ error: { name: 'WorkerCrashedError', code: 'WORKER_CRASHED' } });
    }
    // The other host's components kept their state.
    expect(await Promise.all(spared.map((h) => h.api.add(1)))).toEqual(totals.map((t) => t + 1));
    expect(sizes(pool)).toEqual([2]); // the dead host is gone from the pool
    // The next start gets a new host (the pool is below its size again), in a new thread.
    const replacement = await counter(pool);
    expect(pool.hosts.map((host) => host.name)).toEqual([expect.stringMatching(/^p-[12]$/), 'p-3']);
    expect(sizes(pool)).toEqual([2, 1]);
    const thread = (await replacement.api.where()).threadId;
    expect(thread).not.toBe(doomedThread);
    expect(
      new Set([thread, ...(await Promise.all(spared.map((h) => h.api.where()))).map((w) => w.threadId)]).size,
    ).toBe(2);
    for (const h of doomed) await h.close();
    await pool.close();
  });
});
