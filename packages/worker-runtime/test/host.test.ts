import { MessageChannel, threadId as mainThreadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type ComponentHost, startHost, WorkerCrashedError } from '../src/index.js';
import type createCounter from './fixtures/counter.js';
import type createSide from './fixtures/side.js';
import type createState from './fixtures/state.js';
import { fixture, modes, openHandles, openHandlesSettle, outcome, probe } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;
type State = ReturnType<typeof createState>;
type Side = Awaited<ReturnType<typeof createSide>>;

const counters = (host: ComponentHost, n: number, extra: { deadlineMs?: number } = {}) =>
  Promise.all(
    Array.from({ length: n }, (_, i) =>
      host.start<Counter>(fixture('counter'), { name: `counter-${i}`, args: { start: i * 100 }, ...extra }),
    ),
  );

describe.each(modes)('a host, %s', (mode) => {
  it('runs many components in one thread, each with its own args and state', async () => {
    const before = openHandles();
    const host = await startHost({ mode, name: 'shared' });
    expect(host).toMatchObject({ name: 'shared', mode, size: 0, alive: true });
    const handles = await counters(host, 20);
    expect(host.size).toBe(20);
    const where = await Promise.all(handles.map((h) => h.api.where()));
    const threads = new Set(where.map((w) => w.threadId));
    expect(threads.size).toBe(1);
    if (mode === 'thread') expect(threads.has(mainThreadId)).toBe(false);
    else expect(threads.has(mainThreadId)).toBe(true);
    // Each its own state, though they share the thread and the module.
    expect(await Promise.all(handles.map((h, i) => h.api.add(i)))).toEqual(
      Array.from({ length: 20 }, (_, i) => i * 101),
    );
    expect(handles[7]?.name).toBe('counter-7');
    expect(handles[7]?.mode).toBe(mode);
    await host.close();
    expect(host.size).toBe(0);
    expect(host.alive).toBe(false);
    const after = await openHandlesSettle(before);
    expect(after.Worker).toBeLessThanOrEqual(before.Worker);
    expect(after.MessagePort).toBeLessThanOrEqual(before.MessagePort);
  });

  it('closes one component only: its close() runs, the others go on in the same thread', async () => {
    const host = await startHost({ mode });
    const events = [probe(), probe(), probe()];
    const [a, b, c] = await Promise.all(
      events.map((e, i) => host.start<Counter>(fixture('counter'), { args: { start: i, probe: e.port } })),
    );
    if (!a || !b || !c) throw new Error('three counters');
    const thread = (await a.api.where()).threadId;
    await b.close();
    expect(host.size).toBe(2);
    await expect(b.api.add(1)).rejects.toMatchObject({ code: 'COMPONENT_CLOSED' });
    expect(await events[1]?.next('closed')).toEqual({ event: 'closed', total: 1 });
    expect(await a.api.add(10)).toBe(10);
    expect(await c.api.add(10)).toBe(12);
    expect((await c.api.where()).threadId).toBe(thread);
    expect(events[0]?.events).toEqual([]);
    expect(events[2]?.events).toEqual([]);
    // A component started after goes to the same thread.
    const d = await host.start<Counter>(fixture('counter'), { args: { start: 0 } });
    expect((await d.api.where()).threadId).toBe(thread);
    await host.close();
    expect(await events[0]?.next('closed')).toEqual({ event: 'closed', total: 10 });
    for (const e of events) e.close();
  });

  it("gives a closing component's calls their grace period and leaves its neighbours' calls alone", async () => {
    const host = await startHost({ mode });
    const closingEvents = probe();
    const busyEvents = probe();
    const closing = await host.start<Counter>(fixture('counter'), {
      name: 'closing',
      args: { start: 0, probe: closingEvents.port },
    });
    const busy = await host.start<Counter>(fixture('counter'), {
      name: 'busy',
      args: { start: 0, probe: busyEvents.port },
    });
    const finishing = outcome(closing.api.work(10)); // about 100 ms: within the grace
    const stuck = outcome(closing.api.work(100_000)); // aborted once the grace ran out
    const neighbour = outcome(busy.api.work(60)); // about 600 ms, past the close
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await closing.close({ graceMs: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await finishing).toEqual({ value: 10 });
    expect(await stuck).toMatchObject({ error: { name: 'ComponentClosedError', code: 'COMPONENT_CLOSED' } });
    expect(await neighbour).toEqual({ value: 60 });
    await busyEvents.next('work-ended');
    expect(busyEvents.events).toEqual([{ event: 'work-ended', done: 60, aborted: false }]);
    expect(await busy.api.aborts()).toEqual([]);
    expect(await busy.api.add(1)).toBe(1);
    await host.close();
    closingEvents.close();
    busyEvents.close();
  });

  it('keeps deadlines, aborts and start deadlines per component', async () => {
    const host = await startHost({ mode });
    const [strict] = await counters(host, 1, { deadlineMs: 100 });
    const [lenient] = await counters(host, 1);
    if (!strict || !lenient) throw new Error('two counters');
    const slow = outcome(lenient.api.work(30)); // about 300 ms, past the other's deadline
    await expect(strict.api.hang()).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', method: 'hang' });
    expect(await slow).toEqual({ value: 30 });
    // One component's caller aborting touches none of the other's calls.
    const stop = new AbortController();
    const aborted = outcome(strict.with({ signal: stop.signal, deadlineMs: 5000 }).work(1000));
    const untouched = outcome(lenient.with({ signal: new AbortController().signal }).work(20));
    await new Promise((resolve) => setTimeout(resolve, 30));
    stop.abort();
    expect(await aborted).toMatchObject({ error: { name: 'AbortError', code: 'ABORT_ERR' } });
    expect(await untouched).toEqual({ value: 20 });
    expect(await lenient.api.aborts()).toEqual([]);
    // A start that misses its deadline fails alone; the host goes on starting and serving.
    const late = await outcome(host.start(fixture('slow-start'), { startDeadlineMs: 200 }));
    expect(late).toMatchObject({
      error: { name: 'DeadlineExceededError', message: /slow-start\.start\(\)/ },
    });
    // And built after all, it is closed at once: nobody can reach it.
    const events = probe();
    const later = await outcome(
      host.start(fixture('slow-start'), { startDeadlineMs: 100, args: { ms: 300, probe: events.port } }),
    );
    expect(later).toMatchObject({ error: { name: 'DeadlineExceededError' } });
    expect(await events.next('closed')).toEqual({ event: 'closed' });
    events.close();
    const broken = await outcome(host.start(fixture('broken')));
    expect(broken).toMatchObject({ error: { name: 'Error', message: 'cannot open the store' } });
    expect(host.size).toBe(2);
    expect(await lenient.api.add(5)).toBe(5);
    const [another] = await counters(host, 1);
    expect(await another?.api.add(1)).toBe(1);
    await host.close({ graceMs: 50 });
  });

  it('closes every component on close(), refuses starts after, and rejects with a close() that threw', async () => {
    const host = await startHost({ mode });
    const events = probe();
    const probed = await host.start<Counter>(fixture('counter'), { args: { start: 1, probe: events.port } });
    const handles = [probed, ...(await counters(host, 3))];
    const failing = await host.start(fixture('bad-close'));
    const working = outcome(probed.api.work(10));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closed = await outcome(host.close());
    expect(closed).toMatchObject({ error: { message: 'cannot flush the store', code: 'E_FLUSH' } });
    expect(host.size).toBe(0);
    expect(await working).toEqual({ value: 10 });
    await events.next('closed');
    expect(events.events).toEqual([
      { event: 'work-ended', done: 10, aborted: false },
      { event: 'closed', total: 1 },
    ]);
    for (const h of handles) await expect(h.api.add(1)).rejects.toMatchObject({ code: 'COMPONENT_CLOSED' });
    await expect(failing.close()).rejects.toMatchObject({ code: 'E_FLUSH' }); // as close() answered
    await expect(host.start(fixture('counter'), { args: { start: 0 } })).rejects.toMatchObject({
      name: 'ComponentClosedError',
      message: expect.stringMatching(/start components on another one/),
    });
    expect(await outcome(host.close())).toEqual(closed); // idempotent
    events.close();
  });

  it('connects components across hosts and within one, each calling the other directly', async () => {
    const stateHost = await startHost({ mode, name: 'states' });
    const sideHost = await startHost({ mode, name: 'sides' });
    const state = await stateHost.start<State>(fixture('state'));
    const [left, right] = await Promise.all(
      ['left', 'right'].map(async (name) =>
        sideHost.start<Side>(fixture('side'), { name, args: { name, state: await state.connect() } }),
      ),
    );
    // And one on the state's own host.
    const near = await stateHost.start<Side>(fixture('side'), {
      name: 'near',
      args: { name: 'near', state: await state.connect() },
    });
    if (!left || !right) throw new Error('two sides');
    const reports = await Promise.all([
      left.api.report(100, 8),
      right.api.report(100, 8),
      near.api.report(50, 4),
    ]);
    const counts = await state.api.counts();
    expect(counts).toMatchObject({ total: 250, bySide: { left: 100, right: 100, near: 50 } });
    const [l, r, n] = reports.map((x) => x.threadId);
    expect(l).toBe(r);
    expect(n).toBe(counts.threadId);
    if (mode === 'thread') expect(l).not.toBe(counts.threadId);
    // A component started later serves one started before it, on another host, through serve().
    const { port1, port2 } = new MessageChannel();
    const late = sideHost.start<Side>(fixture('side'), {
      name: 'late',
      args: { name: 'late', state: port2 },
    });
    await state.serve(port1);
    expect(await (await late).api.once()).toBe(251);
    await sideHost.close();
    await stateHost.close();
  });
});

describe('a host, thread', () => {
  it('imports a module once in its thread, however many components are built from it', async () => {
    const host = await startHost();
    const handles = await counters(host, 3);
    // Imported once: all three were built by the same module instance (each import, a count of 1).
    const built = await Promise.all(handles.map((h) => h.api.where()));
    expect(built.map((w) => w.built)).toEqual([3, 3, 3]);
    await host.close();
  });

  it('fails every component on it when its thread dies, and refuses later starts; other hosts go on', async () => {
    const before = openHandles();
    const host = await startHost({ name: 'doomed' });
    const other = await startHost({ name: 'other' });
    const handles = await counters(host, 3);
    const [bystander] = await counters(other, 1);
    const pending = handles.map((h) => outcome(h.api.hang()));
    const crash = await outcome(handles[1]?.api.crash() ?? Promise.reject(new Error('no handle')));
    expect(crash).toMatchObject({
      error: {
        name: 'WorkerCrashedError',
        message: 'The worker running counter-1 (host doomed) exited (code 7)',
      },
    });
    const outcomes = await Promise.all(pending);
    outcomes.forEach((o, i) => {
      expect(o).toMatchObject({
        error: { message: `The worker running counter-${i} (host doomed) exited (code 7)` },
      });
      expect((o as { error: Error }).error).toBeInstanceOf(WorkerCrashedError);
    });
    await expect(handles[2]?.api.add(1)).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(host.alive).toBe(false);
    expect(host.size).toBe(0);
    await expect(host.start(fixture('counter'), { args: { start: 0 } })).rejects.toMatchObject({
      name: 'WorkerCrashedError',
      message: 'The worker of host doomed exited (code 7); start its components again elsewhere',
    });
    expect(await bystander?.api.add(1)).toBe(1);
    for (const h of handles) await h.close();
    await host.close();
    await other.close();
    const after = await openHandlesSettle(before);
    expect(after.Worker).toBeLessThanOrEqual(before.Worker);
    expect(after.MessagePort).toBeLessThanOrEqual(before.MessagePort);
  });

  it('rejects a start still under way when the host closes, instead of leaving it hanging', async () => {
    const host = await startHost();
    const starting = outcome(host.start(fixture('slow-start')));
    expect(host.size).toBe(1);
    await host.close();
    expect(await starting).toMatchObject({ error: { name: 'ComponentClosedError' } });
    expect(host.size).toBe(0);
  });

  it('gives up on a thread that does not start in time', async () => {
    const err = await startHost({ name: 'slow', startDeadlineMs: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'DeadlineExceededError',
      message: 'slow.start() did not answer within 0 ms',
    });
  });
});
