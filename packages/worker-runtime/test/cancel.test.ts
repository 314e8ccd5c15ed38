import { describe, expect, it } from 'vitest';
import { AbortError, DeadlineExceededError, startComponent } from '../src/index.js';
import type createCounter from './fixtures/counter.js';
import { fixture, modes, probe } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;

describe.each(modes)('cancellation and deadlines, %s', (mode) => {
  it('rejects an aborted call at once, and the component sees its signal aborted and stops', async () => {
    const events = probe();
    const handle = await startComponent<Counter>(fixture('counter'), {
      mode,
      args: { start: 0, probe: events.port },
    });
    const controller = new AbortController();
    const call = handle.with({ signal: controller.signal }).work(1000); // 10 s if nothing stops it
    await new Promise((resolve) => setTimeout(resolve, 100));
    const abortedAt = Date.now();
    controller.abort();
    const err = await call.catch((e: unknown) => e);
    // At once: not after the 10 s of work, nor after the component noticed (generous for a busy CI).
    expect(Date.now() - abortedAt).toBeLessThan(250);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect((err as Error).message).toBe('counter.work() was aborted');
    expect((err as Error).cause).toMatchObject({ name: 'AbortError' }); // the signal's reason
    // The component noticed, and stopped well short of its 1000 steps.
    const ended = (await events.next('work-ended')) as { done: number; aborted: boolean };
    expect(ended.aborted).toBe(true);
    expect(ended.done).toBeLessThan(100);
    expect(await handle.api.aborts()).toEqual([{ method: 'work', reason: 'AbortError' }]);
    // The component goes on serving.
    expect(await handle.api.add(2)).toBe(2);
    await handle.close();
    events.close();
  });

  it('does not call the component at all with a signal already aborted', async () => {
    const handle = await startComponent<Counter>(fixture('counter'), { mode, args: { start: 0 } });
    const err = await handle
      .with({ signal: AbortSignal.abort(new Error('user quit')) })
      .add(5)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError', cause: { message: 'user quit' } });
    expect(await handle.api.add(0)).toBe(0);
    await handle.close();
  });

  it('leaves a call alone when its signal never aborts', async () => {
    const handle = await startComponent<Counter>(fixture('counter'), { mode, args: { start: 0 } });
    const controller = new AbortController();
    expect(await handle.with({ signal: controller.signal, deadlineMs: 5000 }).work(3)).toBe(3);
    controller.abort(); // after the answer: nothing to cancel any more
    expect(await handle.api.aborts()).toEqual([]);
    await handle.close();
  });

  it('rejects a call that never answers once its deadline passes, naming component and method', async () => {
    const handle = await startComponent<Counter>(fixture('counter'), { mode, args: { start: 0 } });
    const started = Date.now();
    const err = await handle
      .with({ deadlineMs: 150 })
      .hang()
      .catch((e: unknown) => e);
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect(err).toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      component: 'counter',
      method: 'hang',
      deadlineMs: 150,
      message: 'counter.hang() did not answer within 150 ms',
    });
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(3000);
    expect(await handle.api.aborts()).toEqual([{ method: 'hang', reason: 'DeadlineExceededError' }]);
    await handle.close({ graceMs: 50 });
  });

  it("applies the component's default deadline to every call, and a call can widen it", async () => {
    const handle = await startComponent<Counter>(fixture('counter'), {
      mode,
      args: { start: 0 },
      deadlineMs: 100,
    });
    await expect(handle.api.hang()).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', method: 'hang' });
    await expect(handle.api.work(30)).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', method: 'work' });
    expect(await handle.with({ deadlineMs: 5000 }).work(20)).toBe(20);
    expect(await handle.with({ deadlineMs: Number.POSITIVE_INFINITY }).work(15)).toBe(15);
    await handle.close({ graceMs: 50 });
  });
});
