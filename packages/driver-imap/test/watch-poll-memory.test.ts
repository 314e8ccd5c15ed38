import { EventEmitter, getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ImapFlow } from 'imapflow';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ImapWatch } from '../src/watch.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Just enough of an imapflow client for an IDLE watch link: IDLE lasts until the next command (the
 * NOOP) ends it, as on a real connection. Counts the NOOPs, i.e. the poll rounds.
 */
class IdleClient extends EventEmitter {
  readonly capabilities = new Map<string, boolean>([['IDLE', true]]);
  usable = true;
  noops = 0;
  #endIdle: (() => void) | undefined;

  async mailboxOpen(): Promise<void> {}

  idle(): Promise<boolean> {
    return new Promise((resolve) => {
      this.#endIdle = () => resolve(true);
    });
  }

  async noop(): Promise<boolean> {
    this.noops++;
    this.#endIdle?.();
    return true;
  }

  async logout(): Promise<void> {
    this.close();
  }

  close(): void {
    if (!this.usable) return;
    this.usable = false;
    this.#endIdle?.();
    this.emit('close');
  }
}

function watchOn(client: IdleClient): ImapWatch {
  return new ImapWatch({
    open: async () => client as unknown as ImapFlow,
    nameOf: (path) => path.join('/'),
    delimiter: '/',
    utf8Names: () => true,
    timeoutMs: 20_000,
    maxConnections: 1,
    pollMs: 1,
    account: 'poll@test',
  });
}

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
    const watch = watchOn(client);
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
    const watch = watchOn(client);
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
