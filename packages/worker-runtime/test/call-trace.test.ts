import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type createCounter from './fixtures/counter.js';
import { fixture } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;

describe('TWINBOX_TRACE_CALLS', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('appends one line per settled call: start, end, length, thread, component.method, a string argument and the process id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-trace-'));
    const file = join(dir, 'calls.txt');
    vi.stubEnv('TWINBOX_TRACE_CALLS', file);
    // The variable is read when the module loads: a fresh copy of the package sees it.
    vi.resetModules();
    const { startComponent } = await import('../src/index.js');
    const handle = await startComponent<Counter>(fixture('counter'), { mode: 'thread', args: { start: 0 } });
    await handle.api.add(2);
    await handle.api.echo('INBOX');
    await expect(handle.api.fail()).rejects.toThrow();
    await handle.close();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
    const [add, echo, fail] = lines.map((l) => l.split('\t'));
    const pid = String(process.pid);
    expect(add!.slice(3)).toEqual(['t0', 'counter.add', '', pid]);
    expect(echo!.slice(3)).toEqual(['t0', 'counter.echo', 'INBOX', pid]);
    expect(fail!.slice(3, 5)).toEqual(['t0', 'counter.fail']);
    for (const [start, end, ms] of lines.map((l) => l.split('\t').map(Number))) {
      expect(end! - start!).toBeCloseTo(ms!, 0);
      expect(ms).toBeGreaterThanOrEqual(0);
    }
    await rm(dir, { recursive: true, force: true });
  });
});
