import { describe, expect, it } from 'vitest';
import type { SideController } from '../src/controller.js';
import { sync } from '../src/engine.js';
import type { Side } from '../src/model.js';

/**
 * A controller that only records what the engine calls: every method rejects, so a sync that gets past
 * the check of the sides stops at its first call, and the calls show whether anything was touched.
 */
function recording(side: Side | undefined, calls: string[]): SideController {
  return new Proxy({} as SideController, {
    get(_target, prop) {
      if (prop === 'side') return side;
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      return async () => {
        calls.push(`${String(side)}.${prop}`);
        throw new Error('touched');
      };
    },
  });
}

describe('sync checks that each controller stands in its own place', () => {
  it('starts on controllers in their places (the check lets the right call through)', async () => {
    const calls: string[] = [];
    await expect(sync(recording('left', calls), recording('right', calls))).rejects.toThrow('touched');
    expect(calls.length).toBeGreaterThan(0);
  });

  it.each([
    ['swapped', 'right', 'left'],
    ['both left', 'left', 'left'],
    ['both right', 'right', 'right'],
  ] as const)('rejects %s controllers before calling either', async (_name, first, second) => {
    const calls: string[] = [];
    const error = await sync(recording(first, calls), recording(second, calls)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^sync\(left, right\) needs the left side's controller first/);
    expect((error as Error).message).toContain("built with side 'left' as the first argument");
    expect(calls).toEqual([]);
  });

  it('names each misplaced argument and what it has', async () => {
    const swapped = await sync(recording('right', []), recording('left', [])).catch((e: Error) => e.message);
    expect(swapped).toContain('the left argument has side "right" and the right argument has side "left"');
    const bothRight = await sync(recording('right', []), recording('right', [])).catch(
      (e: Error) => e.message,
    );
    expect(bothRight).toContain('the left argument has side "right".');
    const bothLeft = await sync(recording('left', []), recording('left', [])).catch((e: Error) => e.message);
    expect(bothLeft).toContain('the right argument has side "left".');
  });

  it('rejects a controller with no side (a worker proxy passed as is)', async () => {
    const calls: string[] = [];
    const message = await sync(recording(undefined, calls), recording('right', calls)).catch(
      (e: Error) => e.message,
    );
    expect(message).toContain('the left argument has no side');
    expect(message).toContain("{ ...handle.api, side: 'left' }");
    expect(calls).toEqual([]);
  });
});
