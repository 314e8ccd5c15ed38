import { describe, expect, it } from 'vitest';
import { startComponent, WorkerCrashedError } from '../src/index.js';
import type createCounter from './fixtures/counter.js';
import { fixture, openHandles, openHandlesSettle, outcome } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;

// Only a thread can crash apart from its caller: inline, the same faults end the caller's process.
describe('a component whose thread dies', () => {
  it('rejects every call in flight when the thread exits mid-call, and every later call at once', async () => {
    const handle = await startComponent<Counter>(fixture('counter'), { args: { start: 0 } });
    const pending = Array.from({ length: 50 }, () => outcome(handle.api.hang()));
    const crash = outcome(handle.api.crash()); // process.exit(7) in the thread
    for (const call of [...(await Promise.all(pending)), await crash]) {
      expect(call).toMatchObject({ error: expect.any(WorkerCrashedError) });
    }
    const started = Date.now();
    await expect(handle.api.add(1)).rejects.toThrow('The worker running counter exited (code 7)');
    expect(Date.now() - started).toBeLessThan(100);
    await handle.close();
  });

  it('rejects calls in flight when the thread throws from a timer, naming the error', async () => {
    const handle = await startComponent<Counter>(fixture('counter'), { args: { start: 0 } });
    const pending = outcome(handle.api.hang());
    const err = await handle.api.throwLater().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCrashedError);
    expect((err as Error).message).toBe('The worker running counter failed: boom from a timer');
    expect((err as Error).cause).toMatchObject({ message: 'boom from a timer' });
    expect(await pending).toEqual({ error: err });
    await expect(handle.api.add(1)).rejects.toBe(err);
    await handle.close();
  });

  it('still answers, by deadline, for a thread stuck in a loop, and close() ends it', async () => {
    const before = openHandles();
    const handle = await startComponent<Counter>(fixture('counter'), { args: { start: 0 }, deadlineMs: 200 });
    const spinning = outcome(handle.api.spin());
    await expect(handle.api.add(1)).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', method: 'add' });
    expect(await spinning).toMatchObject({ error: { code: 'DEADLINE_EXCEEDED', method: 'spin' } });
    const started = Date.now();
    await handle.close({ graceMs: 100 });
    // The host never answers the close; the thread is terminated after 3 × grace + 1 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1250);
    expect(Date.now() - started).toBeLessThan(5000);
    const after = await openHandlesSettle(before);
    expect(after.Worker).toBeLessThanOrEqual(before.Worker);
  });
});
