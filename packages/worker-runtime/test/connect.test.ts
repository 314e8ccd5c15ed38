import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { connectRemote, startComponent, transfer, WorkerCrashedError } from '../src/index.js';
import type createSide from './fixtures/side.js';
import type createState from './fixtures/state.js';
import { fixture, modes, openHandles, openHandlesSettle, outcome } from './helpers.js';

type State = ReturnType<typeof createState>;
type Side = Awaited<ReturnType<typeof createSide>>;

// The design's topology: the state backend in one component, each side in its own, and the sides
// calling the state directly over ports from connect(), not through the caller (the engine).
describe.each(modes)('components connected directly, %s', (mode) => {
  it('lets two sides call one state component concurrently, each call counted once', async () => {
    const handles = openHandles();
    const state = await startComponent<State>(fixture('state'), { mode });
    const sides = await Promise.all(
      ['left', 'right'].map(async (name) =>
        startComponent<Side>(fixture('side'), { mode, name, args: { name, state: await state.connect() } }),
      ),
    );
    const [left, right] = await Promise.all(sides.map((side) => side.api.report(500, 16)));
    const counts = await state.api.counts();
    expect(counts.total).toBe(1000);
    expect(counts.bySide).toEqual({ left: 500, right: 500 });
    if (mode === 'thread') {
      // Three threads, none of them this one.
      const threads = new Set([left?.threadId, right?.threadId, counts.threadId]);
      expect(threads.size).toBe(3);
      expect(threads.has(0)).toBe(false);
    }
    await Promise.all(sides.map((side) => side.close()));
    await state.close();
    const open = await openHandlesSettle(handles);
    expect(open.MessagePort).toBeLessThanOrEqual(handles.MessagePort);
    expect(open.Worker).toBeLessThanOrEqual(handles.Worker);
  });

  it('gives this thread a direct client too, through the same port API', async () => {
    const state = await startComponent<State>(fixture('state'), { mode });
    const client = await connectRemote<State>(await state.connect());
    expect(client.name).toBe('state');
    const answers = await Promise.all([client.api.increment('me'), state.api.increment('engine')]);
    expect(answers.sort()).toEqual([1, 2]);
    await client.close();
    await expect(client.api.increment('me')).rejects.toMatchObject({ name: 'ComponentClosedError' });
    expect(await state.api.increment('engine')).toBe(3);
    await state.close();
  });

  it('starts a side together with the state it calls: the side waits on a port the state serves later', async () => {
    const handles = openHandles();
    const { port1, port2 } = new MessageChannel();
    const side = startComponent<Side>(fixture('side'), {
      mode,
      name: 'left',
      args: transfer({ name: 'left', state: port2 }, [port2]),
    });
    const state = await startComponent<State>(fixture('state'), { mode });
    await state.serve(port1);
    const left = await side;
    expect((await left.api.report(10, 2)).answeredAt).toHaveLength(10);
    expect((await state.api.counts()).bySide).toEqual({ left: 10 });
    await left.close();
    await state.close();
    const open = await openHandlesSettle(handles);
    expect(open.MessagePort).toBeLessThanOrEqual(handles.MessagePort);
    expect(open.Worker).toBeLessThanOrEqual(handles.Worker);
  });

  it('closes a port a closed state refuses to serve, so the side waiting on it fails instead of hanging', async () => {
    const { port1, port2 } = new MessageChannel();
    const side = outcome(
      startComponent<Side>(fixture('side'), {
        mode,
        name: 'left',
        args: transfer({ name: 'left', state: port2 }, [port2]),
      }),
    );
    const state = await startComponent<State>(fixture('state'), { mode });
    await state.close();
    await expect(state.serve(port1)).rejects.toMatchObject({ name: 'ComponentClosedError' });
    expect(await side).toMatchObject({
      error: {
        name: 'WorkerCrashedError',
        message: 'The connection to component was lost: its thread ended',
      },
    });
  });

  it('fails a side that connects only after the state refused its port, instead of hanging', async () => {
    // The race a loaded machine makes: the port is closed while the side is still loading, before
    // anything listens on it; Node then never tells that end.
    const { port1, port2 } = new MessageChannel();
    const state = await startComponent<State>(fixture('state'), { mode });
    await state.close();
    await expect(state.serve(port1)).rejects.toMatchObject({ name: 'ComponentClosedError' });
    const started = Date.now();
    const side = await outcome(
      startComponent(fixture('late-side'), {
        mode,
        name: 'left',
        args: transfer({ state: port2, delayMs: 200 }, [port2]),
      }),
    );
    expect(side).toMatchObject({
      error: {
        name: 'WorkerCrashedError',
        message: 'The connection to component was lost: its thread ended',
      },
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('tells a connected client that the state closed, and refuses connecting to a closed one', async () => {
    const state = await startComponent<State>(fixture('state'), { mode });
    const client = await connectRemote<State>(await state.connect());
    await state.close();
    await expect(client.api.increment('me')).rejects.toMatchObject({ name: 'ComponentClosedError' });
    await expect(state.connect()).rejects.toMatchObject({ name: 'ComponentClosedError' });
  });
});

describe('components connected directly, thread', () => {
  it('keeps the sides going while the caller thread is blocked: their calls do not pass through it', async () => {
    const state = await startComponent<State>(fixture('state'), { name: 'state' });
    const side = await startComponent<Side>(fixture('side'), {
      args: { name: 'left', state: await state.connect() },
    });
    const report = side.api.reportFor(600, 8);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const blockedFrom = Date.now();
    while (Date.now() - blockedFrom < 300) {} // this thread answers nothing for 300 ms
    const blockedUntil = Date.now();
    const { answeredAt } = await report;
    const duringBlock = answeredAt.filter((t) => t > blockedFrom + 20 && t < blockedUntil - 20).length;
    // Through this thread, none could have been answered while it was blocked.
    expect(duringBlock).toBeGreaterThan(20);
    await side.close();
    await state.close();
  });

  it("fails a side's calls, in flight and later, when the state's thread dies", async () => {
    const state = await startComponent<State>(fixture('state'));
    const side = await startComponent<Side>(fixture('side'), {
      args: { name: 'left', state: await state.connect() },
    });
    expect(await side.api.once()).toBe(1);
    const inFlight = outcome(side.api.reportFor(60_000, 4));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(state.api.crash()).rejects.toBeInstanceOf(WorkerCrashedError);
    // The side's component saw its connection lost; its error crosses to us with name and code.
    expect(await inFlight).toMatchObject({ error: { name: 'WorkerCrashedError', code: 'WORKER_CRASHED' } });
    await expect(side.api.once()).rejects.toMatchObject({
      name: 'WorkerCrashedError',
      message: 'The connection to state was lost: its thread ended',
    });
    await side.close();
    await state.close();
  });
});
