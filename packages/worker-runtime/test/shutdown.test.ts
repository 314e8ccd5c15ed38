import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ComponentClosedError, startComponent } from '../src/index.js';
import type createCounter from './fixtures/counter.js';
import { fixture, modes, openHandles, openHandlesSettle, outcome, probe } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;

describe.each(modes)('orderly shutdown, %s', (mode) => {
  it("lets a call in flight finish, then calls the component's close(), then refuses calls", async () => {
    const events = probe();
    const handle = await startComponent<Counter>(fixture('counter'), {
      mode,
      args: { start: 1, probe: events.port },
    });
    const working = outcome(handle.api.work(20)); // about 200 ms
    await new Promise((resolve) => setTimeout(resolve, 20));
    const closed = handle.close();
    // Refused at once, even before the close finished.
    await expect(handle.api.add(1)).rejects.toBeInstanceOf(ComponentClosedError);
    await closed;
    expect(await working).toEqual({ value: 20 });
    await events.next('closed');
    expect(events.events).toEqual([
      { event: 'work-ended', done: 20, aborted: false },
      { event: 'closed', total: 1 },
    ]);
    await expect(handle.api.add(1)).rejects.toMatchObject({ code: 'COMPONENT_CLOSED' });
    await expect(handle.close()).resolves.toBeUndefined(); // idempotent
    events.close();
  });

  it('aborts a call still running after the grace period, and rejects it', async () => {
    const events = probe();
    const handle = await startComponent<Counter>(fixture('counter'), {
      mode,
      args: { start: 0, probe: events.port },
    });
    const working = outcome(handle.api.work(100_000));
    const hanging = outcome(handle.api.hang());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await handle.close({ graceMs: 100 });
    expect(Date.now() - started).toBeLessThan(3000);
    for (const call of [await working, await hanging]) {
      expect(call).toMatchObject({ error: { name: 'ComponentClosedError', code: 'COMPONENT_CLOSED' } });
    }
    // The component saw its signal aborted, stopped, and was closed after.
    await events.next('closed');
    expect(events.events).toEqual([
      { event: 'work-ended', done: expect.any(Number), aborted: true },
      { event: 'closed', total: 0 },
    ]);
    events.close();
  });

  it('leaves no Worker or MessagePort open once closed', async () => {
    const before = openHandles();
    const handle = await startComponent<Counter>(fixture('counter'), { mode, args: { start: 0 } });
    const port = await handle.connect(); // a connection nobody used: closed along with the component
    expect(await handle.api.add(1)).toBe(1);
    await handle.close();
    port.close();
    const after = await openHandlesSettle(before);
    expect(after.Worker).toBeLessThanOrEqual(before.Worker);
    expect(after.MessagePort).toBeLessThanOrEqual(before.MessagePort);
  });

  it('lets the process exit on its own after close, with a connected pair of components', async () => {
    const dist = new URL('../dist/index.js', import.meta.url).href;
    // No process.exit() here: the script ends only if nothing is left holding the event loop.
    const script = `
      import { startComponent } from ${JSON.stringify(dist)};
      const mode = ${JSON.stringify(mode)};
      const state = await startComponent(${JSON.stringify(fixture('state').href)}, { mode });
      const side = await startComponent(${JSON.stringify(fixture('side').href)}, {
        mode, args: { name: 'left', state: await state.connect() },
      });
      const counter = await startComponent(${JSON.stringify(fixture('counter').href)}, { mode, args: { start: 0 } });
      await side.api.report(100, 8);
      await counter.api.add(1);
      await Promise.all([side.close(), counter.close()]);
      await state.close();
      console.log('closed');
    `;
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-runtime-exit-'));
    const file = join(dir, 'script.mjs');
    await writeFile(file, script);
    try {
      const started = Date.now();
      // About 1 s on an idle machine (three threads start); far longer only on a loaded one.
      const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 25_000 });
      expect(stdout.trim()).toBe('closed');
      expect(Date.now() - started).toBeLessThan(25_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
