import { describe, expect, it } from 'vitest';
import { RemoteError, startComponent, WorkerCrashedError } from '../src/index.js';
import type createCounter from './fixtures/counter.js';
import { fixture, modes } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;
const counterUrl = fixture('counter');

describe.each(modes)('a component run %s', (mode) => {
  it('answers typed async calls and keeps its own state', async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 10 } });
    expect(handle.mode).toBe(mode);
    expect(handle.name).toBe('counter');
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
    // Not moved: the caller's copy is intact.
    expect(value.bytes.byteLength).toBe(3);
    await handle.close();
  });

  it('refuses what structured clone refuses, in both modes alike', async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 0 } });
    await expect(handle.api.echo({ f: () => 1 })).rejects.toMatchObject({ name: 'DataCloneError' });
    expect(await handle.api.add(1)).toBe(1);
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

  it("carries an error's own data (a scope) and its cause chain, down to a plain value", async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 0 } });
    const err = (await handle.api.failWithCause().catch((e: unknown) => e)) as RemoteError;
    expect(err).toMatchObject({ name: 'FolderError', code: 'FOLDER_BAD', scope: 'folder' });
    expect(err.cause).toBeInstanceOf(RemoteError);
    expect(err.cause).toMatchObject({ name: 'Error', message: 'connection reset', code: 'ECONNRESET' });
    expect((err.cause as Error).cause).toEqual({ errno: -104 });
    await handle.close();
  });

  it('cuts a looping cause chain instead of recursing forever', async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 0 } });
    const err = (await handle.api.failWithLoop().catch((e: unknown) => e)) as Error;
    let depth = 0;
    for (let e: unknown = err; e instanceof Error; e = e.cause) depth++;
    expect(depth).toBe(9); // the error and 8 causes
    expect(err.message).toBe('a');
    expect((err.cause as Error).message).toBe('b');
    await handle.close();
  });

  it("carries an AggregateError's errors", async () => {
    const handle = await startComponent<Counter>(counterUrl, { mode, args: { start: 0 } });
    const err = (await handle.api.failAggregate().catch((e: unknown) => e)) as RemoteError;
    expect(err.name).toBe('AggregateError');
    expect(err.errors?.map((e) => [e.name, e.message])).toEqual([
      ['TypeError', 'one'],
      ['RangeError', 'two'],
    ]);
    await handle.close();
  });

  it('reports a component that cannot start as an error, not a hang', async () => {
    await expect(startComponent(fixture('broken'), { mode })).rejects.toThrow('cannot open the store');
  });

  it('reports a module that throws while it loads as an error, not a hang', async () => {
    const err = await startComponent(fixture('top-level-throw'), { mode }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ message: 'top-level failure in the component module' });
  });

  it('gives up on a start that takes longer than its deadline', async () => {
    const started = Date.now();
    const err = await startComponent(fixture('slow-start'), { mode, startDeadlineMs: 200 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'DeadlineExceededError', code: 'DEADLINE_EXCEEDED' });
    expect((err as Error).message).toMatch(/slow-start\.start\(\)/);
    expect(Date.now() - started).toBeLessThan(5000);
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
