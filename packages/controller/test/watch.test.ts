import {
  type ChangeNotice,
  type Driver,
  errorScope,
  StoreError,
  type WatchRequest,
  type WatchStatus,
} from '@twinbox/core';
import { MemoryDriver, MemoryStore } from '@twinbox/core/testing';
import { MemoryState } from '@twinbox/state-memory';
import { describe, expect, it } from 'vitest';
import { Controller } from '../src/index.js';

/** The reference store with a watch that answers what the test scripts, and records what it was asked. */
class WatchedMemoryDriver
  extends MemoryDriver
  implements Required<Pick<Driver, 'watch' | 'nextChange' | 'unwatch'>>
{
  readonly requests: WatchRequest[] = [];
  readonly signals: (AbortSignal | undefined)[] = [];
  unwatched = 0;
  notice: ChangeNotice = { folders: [['Lists', 'a']], all: false };

  async watch(request: WatchRequest): Promise<WatchStatus> {
    this.requests.push(request);
    return { method: 'idle', watched: [['INBOX']], unwatched: [['Lists', 'a']], connections: 1 };
  }

  nextChange(signal?: AbortSignal): Promise<ChangeNotice> {
    this.signals.push(signal);
    if (!signal) return Promise.resolve(this.notice);
    return new Promise((resolve, reject) => {
      if (signal.aborted) reject(new StoreError('aborted', { code: 'ABORTED' }));
      signal.addEventListener('abort', () => reject(new StoreError('aborted', { code: 'ABORTED' })));
      setTimeout(() => resolve(this.notice), 50);
    });
  }

  async unwatch(): Promise<void> {
    this.unwatched++;
  }
}

describe('Controller watch', () => {
  it('passes watch, nextChange and unwatch through to a driver that has them, paths as the driver’s', async () => {
    const driver = new WatchedMemoryDriver(new MemoryStore());
    const controller = new Controller({ side: 'right', driver, state: new MemoryState() });
    const request: WatchRequest = { folders: [['INBOX'], ['Lists', 'a']], maxConnections: 1 };
    expect(await controller.watch(request)).toEqual({
      method: 'idle',
      watched: [['INBOX']],
      unwatched: [['Lists', 'a']],
      connections: 1,
    });
    expect(driver.requests).toEqual([request]);

    expect(await controller.nextChange()).toEqual({ folders: [['Lists', 'a']], all: false });
    const stop = new AbortController();
    const waiting = controller.nextChange(stop.signal);
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    expect(driver.signals).toEqual([undefined, stop.signal]);

    await controller.unwatch();
    expect(driver.unwatched).toBe(1);
  });

  it('rejects watch and nextChange with WATCH_UNSUPPORTED when the driver cannot be watched', async () => {
    const driver = new MemoryDriver(new MemoryStore());
    expect((driver as Driver).watch).toBeUndefined();
    const controller = new Controller({ side: 'left', driver, state: new MemoryState() });
    const err = await controller.watch({ folders: 'all' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'WATCH_UNSUPPORTED' });
    expect(errorScope(err)).toBe('store');
    expect((err as Error).message).toMatch(/left store cannot be watched.*timer/);
    await expect(controller.nextChange()).rejects.toMatchObject({ code: 'WATCH_UNSUPPORTED' });
    // Nothing to stop: resolves, as unwatch always may.
    await expect(controller.unwatch()).resolves.toBeUndefined();
  });
});
