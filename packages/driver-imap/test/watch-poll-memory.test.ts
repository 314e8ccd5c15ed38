import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdleClient, watchOn } from './idle-client.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const polled = (client: IdleClient) => watchOn(client, { pollMs: 1, account: 'poll@test' });

/** Runs poll rounds (fake 1 ms timers) until `client` has answered `count` more NOOPs. */
async function rounds(client: IdleClient, count: number): Promise<void> {
  const until = client.noops + count;
  while (client.noops < until) await vi.advanceTimersByTimeAsync(1);
}

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the NOOP poll of a watch connection', () => {
  // A daemon polls every watch connection twice a second for as long as it runs: 72,000 rounds an
  // hour for 10 pairs. A round that leaves a few hundred bytes reachable (a reaction on a promise or a
  // signal that lives as long as the connection) grew its memory by tens of MB an hour.
  it('leaves nothing behind round after round', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const client = new IdleClient();
    const watch = polled(client);
    expect(await watch.watch({ folders: [['INBOX']] })).toMatchObject({ method: 'idle', connections: 1 });
    await rounds(client, 2000);
    const before = heapUsed();
    await rounds(client, 20_000);
    const grown = heapUsed() - before;
    // The leak this guards against was ~570 bytes a round (11 MB here); allow GC noise, 50 bytes a round.
    expect(grown).toBeLessThan(20_000 * 50);
    expect(client.listenerCount('close')).toBeLessThanOrEqual(1);
    await watch.unwatch();
    expect(client.usable).toBe(false);
  });

  it('holds one close listener on the connection whatever the rounds, and none once unwatched', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const client = new IdleClient();
    const watch = polled(client);
    await watch.watch({ folders: [['INBOX']] });
    const counts = new Set<number>();
    for (let i = 0; i < 50; i++) {
      await rounds(client, 1);
      counts.add(client.listenerCount('close'));
    }
    expect([...counts]).toEqual([1]);
    await watch.unwatch();
    expect(getEventListeners(client, 'close')).toEqual([]);
  });
});
