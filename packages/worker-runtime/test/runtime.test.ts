import { describe, expect, it } from 'vitest';
import { RemoteError, type RunMode, startComponent, WorkerCrashedError } from '../src/index.js';
import type createCounter from './fixtures/counter.js';

type Counter = ReturnType<typeof createCounter>;
const counterUrl = new URL('./fixtures/counter.ts', import.meta.url);

describe.each<RunMode>(['inline', 'thread'])('a component run %s', (mode) => {
  it('answers typed async calls and keeps its own state', async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 10 } });
    expect(handle.mode).toBe(mode);
    expect(await handle.api.add(5)).toBe(15);
    expect(await handle.api.add(1)).toBe(16);
    expect(await Promise.all([handle.api.slowDouble(2), handle.api.slowDouble(3)])).toEqual([4, 6]);
    await handle.close();
  });

  it('passes plain data through structured clone, so the caller cannot share memory by accident', async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 0 } });
    const value = { list: [1, 2], when: new Date(0), bytes: new Uint8Array([1, 2, 3]) };
    const back = (await handle.api.echo(value)) as typeof value;
    expect(back).toEqual(value);
    expect(back).not.toBe(value);
    expect(back.list).not.toBe(value.list);
    await handle.close();
  });

  it("carries an error's class name, message and code across", async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 0 } });
    const err = await handle.api.fail().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ name: 'FolderError', message: 'the component refused', code: 'E_FOLDER' });
    expect((err as Error).stack).toMatch(/fail/);
    await handle.close();
  });

  it('reports a component that cannot start as an error, not a hang', async () => {
    await expect(startComponent(new URL('./fixtures/broken.ts', import.meta.url), { mode })).rejects.toThrow(
      'cannot open the store',
    );
  });
});

describe('a component in a thread', () => {
  it('rejects every pending call when its thread dies, instead of hanging', async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode: 'thread', args: { start: 0 } });
    const pending = handle.api.slowDouble(21);
    const crash = handle.api.crash();
    await expect(crash).rejects.toBeInstanceOf(WorkerCrashedError);
    // slowDouble answered before the crash or was rejected with it; it never hangs.
    await expect(
      pending.then(
        () => 'answered',
        (e) => (e as Error).name,
      ),
    ).resolves.toMatch(/answered|WorkerCrashedError/);
    await expect(handle.api.add(1)).rejects.toThrow(/exited \(code 7\)/);
    await handle.close();
  });
});
