import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OpenedPair, type PairConfig, readLastSync } from '@twinbox/config';
import { Controller } from '@twinbox/controller';
import {
  type ChangeNotice,
  type FolderPath,
  folderKey,
  type SideController,
  StoreError,
  type SyncEvent,
  type WatchRequest,
  type WatchStatus,
} from '@twinbox/core';
import { MemoryDriver, MemoryStore } from '@twinbox/core/testing';
import { MemoryState } from '@twinbox/state-memory';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import { PairRunner, type PairState } from '../src/pair-runner.js';
import { Slots } from '../src/wakeup.js';

const log = pino({ level: 'silent' });
const INBOX: FolderPath = ['INBOX'];
const body = (n: number) =>
  new TextEncoder().encode(`Message-ID: <m${n}@x>\r\nSubject: ${n}\r\n\r\nbody ${n}\r\n`);

/**
 * A side whose store "reports" changes when the test says so: the watch contract over a queue, as a
 * driver's would be over NOTIFY or inotify.
 */
class Watched {
  readonly requests: WatchRequest[] = [];
  #queue: ChangeNotice = { folders: [], all: false };
  #waiting: ((n: ChangeNotice) => void) | undefined;
  #fail: ((e: Error) => void) | undefined;
  notify(notice: ChangeNotice) {
    this.#queue = {
      folders: [...this.#queue.folders, ...notice.folders],
      all: this.#queue.all || notice.all,
    };
    this.#flush();
  }
  breakWatch(error: Error) {
    this.#fail?.(error);
  }
  #flush() {
    if (!this.#waiting || (this.#queue.folders.length === 0 && !this.#queue.all)) return;
    const resolve = this.#waiting;
    this.#waiting = undefined;
    this.#fail = undefined;
    const notice = this.#queue;
    this.#queue = { folders: [], all: false };
    resolve(notice);
  }
  wrap(controller: SideController, signal?: AbortSignal): SideController {
    const self = this;
    const extras: Partial<SideController> = {
      async watch(request: WatchRequest): Promise<WatchStatus> {
        self.requests.push(request);
        return { method: 'fs', watched: 'all', unwatched: [], connections: 0 };
      },
      nextChange(): Promise<ChangeNotice> {
        return new Promise<ChangeNotice>((resolve, reject) => {
          self.#waiting = resolve;
          self.#fail = reject;
          signal?.addEventListener('abort', () => reject(new StoreError('aborted', { code: 'ABORTED' })));
          self.#flush();
        });
      },
      async unwatch() {},
    };
    // The controller keeps private fields: its methods must run on it, not on a copy.
    return new Proxy(controller, {
      get(target, key) {
        if (key in extras) return extras[key as keyof SideController];
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

interface World {
  statePath: string;
  stores: { left: MemoryStore; right: MemoryStore };
  watched: { left: Watched; right: Watched };
  syncs: { folders: string[]; seconds?: number }[];
  opens: number;
  failOpen: number;
  runner: PairRunner;
  states: PairState[];
}

function world(
  options: { fullPassMs?: number; settleMs?: number; watch?: boolean; backoffMs?: number } = {},
): World {
  const stores = { left: new MemoryStore(), right: new MemoryStore() };
  stores.left.createFolder(INBOX);
  stores.left.createFolder(['Lists']);
  const state = new MemoryState();
  const stateDir = mkdtempSync(join(tmpdir(), 'twinbox-runner-'));
  const watched = { left: new Watched(), right: new Watched() };
  const w: Partial<World> = {
    stores,
    watched,
    syncs: [],
    opens: 0,
    failOpen: 0,
    states: [],
    statePath: join(stateDir, 'p.sqlite'),
  };
  const open = async (): Promise<OpenedPair> => {
    w.opens!++;
    if (w.failOpen! > 0) {
      w.failOpen!--;
      throw new StoreError('Cannot connect to imap.example.org: connection refused', {
        code: 'CONNECT_FAILED',
      });
    }
    const make = (side: 'left' | 'right', signal?: AbortSignal) => {
      const controller = new Controller({ side, state, driver: new MemoryDriver(stores[side]) });
      // Record which folders each sync looked at, through the listing calls the engine makes.
      const changes = controller.changes.bind(controller);
      controller.changes = (key, path, opts) => {
        if (side === 'left') w.syncs!.at(-1)?.folders.push(key);
        return changes(key, path, opts);
      };
      return options.watch === false ? controller : watched[side].wrap(controller, signal);
    };
    const controllers = { left: make('left'), right: make('right') };
    return {
      name: 'p',
      config: {} as PairConfig,
      left: controllers.left,
      right: controllers.right,
      withOptions: (side, call) => make(side, call.signal),
      syncOptions: {},
      statePath: join(stateDir, 'p.sqlite'),
      close: async () => {},
    };
  };
  w.runner = new PairRunner({
    name: 'p',
    left: 'l',
    right: 'r',
    open,
    sessions: 0,
    watchConnections: { left: 1, right: 1 },
    watchPatterns: ['INBOX'],
    fullPassMs: options.fullPassMs ?? 60_000,
    settleMs: options.settleMs ?? 20,
    backoff: { baseMs: options.backoffMs ?? 50, maxMs: 4 * (options.backoffMs ?? 50) },
    slots: new Slots(2),
    log,
    hooks: {
      syncStarted: () => w.syncs!.push({ folders: [] }),
      state: (_pair, s) => w.states!.push(s),
    },
  });
  return w as World;
}

async function until(check: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

let running: PairRunner | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe('PairRunner', () => {
  it('catches up with a full sync at start, then syncs only the folder a notice names', async () => {
    const w = world();
    w.stores.left.addMessage(INBOX, body(1));
    w.stores.left.addMessage(['Lists'], body(2));
    running = w.runner;
    w.runner.start();
    await until(() => w.runner.status().state === 'watching');
    expect(w.syncs).toHaveLength(1);
    expect(w.syncs[0]!.folders.sort()).toEqual([folderKey(INBOX), folderKey(['Lists'])].sort());
    expect(w.stores.right.messages(INBOX)).toHaveLength(1);
    expect(w.watched.left.requests[0]).toMatchObject({ folders: [INBOX], maxConnections: 1 });

    w.stores.left.addMessage(INBOX, body(3));
    w.watched.left.notify({ folders: [INBOX], all: false });
    await until(() => w.stores.right.messages(INBOX).length === 2);
    await until(() => w.runner.status().state === 'watching');
    expect(w.syncs).toHaveLength(2);
    expect(w.syncs[1]!.folders).toEqual([folderKey(INBOX)]);
    expect(w.runner.status()).toMatchObject({ failures: 0, lastSync: { totals: { copied: 1 } } });
    // Recorded next to the state, for `twinbox status --offline` once the daemon is gone: by the time
    // the pair has stopped.
    await w.runner.stop();
    expect(await readLastSync(w.statePath)).toMatchObject({ totals: { copied: 1 } });
  });

  it('turns a burst of notices into one sync', async () => {
    const w = world({ settleMs: 100 });
    running = w.runner;
    w.runner.start();
    await until(() => w.runner.status().state === 'watching');
    const before = w.syncs.length;
    for (let i = 0; i < 50; i++) {
      w.stores.left.addMessage(INBOX, body(100 + i));
      w.watched.left.notify({ folders: [INBOX], all: false });
      w.watched.right.notify({ folders: [['Lists']], all: false });
    }
    await until(() => w.stores.right.messages(INBOX).length === 50);
    await until(() => w.runner.status().state === 'watching');
    expect(w.syncs.length - before).toBe(1);
  });

  it('a sync asked for runs at once, with progress, and counts as the full pass', async () => {
    const w = world();
    running = w.runner;
    w.runner.start();
    await until(() => w.runner.status().state === 'watching');
    w.stores.right.addMessage(['Lists'], body(7));
    const events: SyncEvent[] = [];
    const { report } = await w.runner.syncNow({ onEvent: (e) => events.push(e) });
    expect(report.totals.copied).toBe(1);
    expect(events.length).toBeGreaterThan(0);
    const { report: dry } = await w.runner.syncNow({ dryRun: true, folders: ['Lists'] });
    expect(dry.totals.copied).toBe(0);
    expect(w.syncs.at(-1)!.folders).toEqual([folderKey(['Lists'])]);
  });

  it('with no watch, polls: a full pass every fullPassMs', async () => {
    const w = world({ watch: false, fullPassMs: 150 });
    running = w.runner;
    w.runner.start();
    await until(() => w.runner.status().state === 'polling');
    w.stores.left.addMessage(['Lists'], body(9));
    await until(() => w.stores.right.hasFolder(['Lists']) && w.stores.right.messages(['Lists']).length === 1);
    expect(w.runner.status().watch).toBeUndefined();
  });

  it('a pair that cannot open backs off, says so, and recovers', async () => {
    const w = world();
    w.failOpen = 3;
    running = w.runner;
    w.runner.start();
    await until(() => w.runner.status().state === 'backing-off');
    const status = w.runner.status();
    expect(status.failures).toBeGreaterThanOrEqual(1);
    expect(status.lastError).toMatchObject({ code: 'CONNECT_FAILED' });
    expect(status.nextAttemptAt).toBeDefined();
    await until(() => w.runner.status().state === 'watching');
    expect(w.opens).toBe(4);
    expect(w.runner.status().failures).toBe(0);
    expect(w.states).toContain('backing-off');
  });

  it('a request cuts a long backoff short and gets the outcome of the attempt it caused', async () => {
    const w = world({ backoffMs: 600_000 });
    w.failOpen = 1;
    running = w.runner;
    w.runner.start();
    await until(() => w.runner.status().state === 'backing-off');
    w.stores.left.addMessage(INBOX, body(21));
    const started = Date.now();
    const { report } = await w.runner.syncNow({});
    expect(Date.now() - started).toBeLessThan(2000);
    expect(report.totals.copied).toBe(1);
    expect(w.opens).toBe(2);
  });

  it('a broken watch is restored, and what it may have missed is synced', async () => {
    const w = world();
    running = w.runner;
    w.runner.start();
    await until(() => w.runner.status().state === 'watching');
    const syncs = w.syncs.length;
    w.stores.left.addMessage(['Lists'], body(11));
    w.watched.left.breakWatch(new StoreError('connection lost', { code: 'CONNECTION_LOST' }));
    await until(() => w.stores.right.messages(['Lists']).length === 1);
    await until(() => w.watched.left.requests.length === 2);
    expect(w.syncs.length).toBeGreaterThan(syncs);
  });

  it('stop ends a pair quickly and rejects requests queued after it', async () => {
    const w = world();
    w.runner.start();
    await until(() => w.runner.status().state === 'watching');
    const started = Date.now();
    await w.runner.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(w.runner.status().state).toBe('stopped');
    await expect(w.runner.syncNow({})).rejects.toThrow(/stopped/);
  });
});

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, each wait between half and all of its step', () => {
    const policy = { baseMs: 1000, maxMs: 60_000 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, policy, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelay(30, policy, () => 1)).toBe(60_000);
    expect(backoffDelay(30, policy, () => 0)).toBe(30_000);
  });
});
