import { describe, expect, it } from 'vitest';
import { startComponent, startHost, startPool } from '../src/index.js';
import type createCounter from './fixtures/counter.js';
import { fixture } from './helpers.js';

type Counter = ReturnType<typeof createCounter>;

// 6 MB of young generation is V8's 2 MB semi-spaces: a new space of 4 MB at most. Left alone, a
// thread that churns through short-lived objects grows it to V8's maximum (64 MB on Node 24).
const limits = { maxYoungGenerationSizeMb: 6 };

describe('resourceLimits', () => {
  it("bound a component's own thread, and only in thread mode do they apply", async () => {
    const limited = await startComponent<Counter>(fixture('counter'), {
      args: { start: 0 },
      resourceLimits: limits,
    });
    const free = await startComponent<Counter>(fixture('counter'), { args: { start: 0 } });
    try {
      expect(await limited.api.youngGenerationMb()).toBeLessThanOrEqual(4);
      expect(await free.api.youngGenerationMb()).toBeGreaterThan(4);
    } finally {
      await Promise.all([limited.close(), free.close()]);
    }
    // Inline the component shares this thread, whose heap was sized when it started: accepted, ignored.
    const inline = await startComponent<Counter>(fixture('counter'), {
      mode: 'inline',
      args: { start: 1 },
      resourceLimits: limits,
    });
    expect(await inline.api.add(1)).toBe(2);
    await inline.close();
  });

  it("bound a host's thread and every thread of a pool", async () => {
    const host = await startHost({ resourceLimits: limits });
    const pool = startPool({ size: 2, resourceLimits: limits });
    try {
      const onHost = await host.start<Counter>(fixture('counter'), { args: { start: 0 } });
      const inPool = await Promise.all(
        [0, 1].map((start) => pool.start<Counter>(fixture('counter'), { args: { start } })),
      );
      expect(pool.hosts).toHaveLength(2);
      for (const handle of [onHost, ...inPool])
        expect(await handle.api.youngGenerationMb()).toBeLessThanOrEqual(4);
    } finally {
      await Promise.all([host.close(), pool.close()]);
    }
  });
});
