/**
 * A world for the engine's property tests: two in-memory stores (the "disks"), one in-memory state,
 * and a way to crash at any operation. Every message's body carries a unique token, so the tests can
 * say which message is which on either side without trusting any id.
 */
import {
  type Driver,
  type FolderPath,
  folderKey,
  type MessagePair,
  type Side,
  type StateBackend,
  type SyncOptions,
  type SyncReport,
  sync,
} from '@twinbox/core';
import { MemoryDriver, MemoryStore, SimulatedCrash } from '@twinbox/core/testing';
import { MemoryState } from '@twinbox/state-memory';
import { Controller } from '../src/index.js';

/**
 * Counts operation points (before and after every driver and state call) and, at the chosen one,
 * "kills the process": that point and every later one throw, so nothing more reaches a store or the
 * state, as after a real kill -9.
 */
export class CrashSwitch {
  count = 0;
  dead = false;
  constructor(readonly at: number) {}
  point(): void {
    if (this.dead) throw new SimulatedCrash('the process is dead');
    if (++this.count === this.at) {
      this.dead = true;
      throw new SimulatedCrash(`crash at operation point ${this.at}`);
    }
  }
}

/** Wraps a state backend so each call passes two crash points: before it, and after it committed. */
export function crashingState(state: StateBackend, sw: CrashSwitch): StateBackend {
  return new Proxy(state, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        sw.point();
        const result = await value.apply(target, args);
        sw.point();
        return result;
      };
    },
  });
}

/** Wraps a state backend so the listed write methods fail `times` times. */
export function failingState(state: StateBackend, methods: string[], times = 1): StateBackend {
  let left = times;
  return new Proxy(state, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (methods.includes(String(prop)) && left > 0) {
          left--;
          throw new Error(`simulated state failure in ${String(prop)} (disk full)`);
        }
        return value.apply(target, args);
      };
    },
  });
}

export function body(token: string, withMessageId = true): Uint8Array {
  const header = withMessageId ? `Message-ID: <${token}@twinbox.test>\r\n` : '';
  return new TextEncoder().encode(`${header}Subject: ${token}\r\n\r\nbody of ${token}\r\n`);
}

export function tokenOf(bytes: Uint8Array): string {
  const m = /^Subject: (\S+)/m.exec(new TextDecoder().decode(bytes));
  if (!m) throw new Error('message without a token');
  return m[1]!;
}

/** A side's content: folder key -> token -> flags (sorted), plus a count to catch duplicates. */
export type Snapshot = Map<string, Map<string, { flags: string[]; count: number }>>;

export function snapshot(store: MemoryStore): Snapshot {
  const out: Snapshot = new Map();
  for (const folder of store.folders()) {
    const key = folderKey(folder.path);
    const tokens = new Map<string, { flags: string[]; count: number }>();
    for (const m of store.messages(folder.path)) {
      const t = tokenOf(m.body);
      const seen = tokens.get(t);
      tokens.set(t, { flags: [...m.flags].sort(), count: (seen?.count ?? 0) + 1 });
    }
    out.set(key, tokens);
  }
  return out;
}

export function allTokens(s: Snapshot): Set<string> {
  const out = new Set<string>();
  for (const folder of s.values()) for (const t of folder.keys()) out.add(t);
  return out;
}

let hostedCount = 0;

export class World {
  readonly stores: Record<Side, MemoryStore> = { left: new MemoryStore(), right: new MemoryStore() };
  readonly state = new MemoryState();
  /** Drivers list each folder's id (`FolderInfo.id`), like servers with OBJECTID. */
  folderIds = false;
  /** Tokens the user deleted (a message, or a folder with its messages) since the last complete sync. */
  deleted = new Set<string>();
  /** Tokens that existed anywhere after the last complete sync. */
  synced = new Set<string>();
  private next = 0;

  token(): string {
    return `t${++this.next}`;
  }

  /** The drivers and the state a sync uses, with the options' fault injections. */
  parts(
    options: {
      state?: StateBackend;
      crash?: CrashSwitch;
      keywords?: Partial<Record<Side, boolean>>;
      /** Called before every driver operation: another program may change a store right there. */
      interfere?: () => void;
    } = {},
  ) {
    const hooks = options.crash
      ? { before: () => options.crash!.point(), after: () => options.crash!.point() }
      : options.interfere
        ? { before: options.interfere }
        : undefined;
    const state = options.crash
      ? crashingState(options.state ?? this.state, options.crash)
      : (options.state ?? this.state);
    const driver = (side: Side) =>
      new MemoryDriver(this.stores[side], {
        keywords: options.keywords?.[side] ?? true,
        folderIds: this.folderIds,
        ...(hooks ? { faults: hooks } : {}),
      });
    return { state, drivers: { left: driver('left'), right: driver('right') } };
  }

  controllers(options: Parameters<World['parts']>[0] = {}) {
    const { state, drivers } = this.parts(options);
    const make = (side: Side) => new Controller({ side, state, driver: drivers[side] });
    return { left: make('left'), right: make('right') };
  }

  /**
   * The same sync with each side's controller in a worker thread of its own (TWINBOX_ENGINE_MODE=thread),
   * calling the driver and the state, which stay in this thread for the test to inspect, over ports.
   */
  async #syncInThreads(options: Parameters<World['sync']>[0] = {}): Promise<SyncReport> {
    const runtime = await import('@twinbox/worker-runtime');
    const { state, drivers } = this.parts(options);
    const slot = Symbol.for('twinbox.test.hosted');
    const global = globalThis as Record<symbol, unknown>;
    if (!global[slot]) global[slot] = new Map<string, object>();
    const registry = global[slot] as Map<string, object>;
    const handles: { close(): Promise<void> }[] = [];
    const host = async (key: string, target: object) => {
      const id = `${key}-${++hostedCount}`;
      registry.set(id, target);
      const handle = await runtime.startComponent(new URL('./fixtures/hosted.mjs', import.meta.url), {
        mode: 'inline',
        args: { key: id },
        name: key,
      });
      handles.push({
        close: async () => {
          await handle.close();
          registry.delete(id);
        },
      });
      return handle;
    };
    try {
      const stateHandle = await host('state', state);
      const side = async (name: Side) => {
        const driverPort = await (await host(`${name} driver`, drivers[name])).connect();
        const statePort = await stateHandle.connect();
        const handle = await runtime.startComponent<Controller>(
          new URL('./fixtures/side.mjs', import.meta.url),
          {
            mode: 'thread',
            name: `${name} side`,
            args: runtime.transfer(
              { side: name, driverPort, statePort, capabilities: drivers[name].capabilities },
              [driverPort, statePort],
            ),
          },
        );
        handles.unshift(handle);
        // A proxy has only the component's methods; the engine also checks each controller's side.
        return { ...handle.api, side: name } as unknown as Controller;
      };
      const [left, right] = await Promise.all([side('left'), side('right')]);
      return await sync(left, right, options);
    } finally {
      for (const h of handles) await h.close();
    }
  }

  async sync(
    options: SyncOptions & {
      state?: StateBackend;
      crash?: CrashSwitch;
      keywords?: Partial<Record<Side, boolean>>;
      interfere?: () => void;
    } = {},
  ): Promise<SyncReport> {
    if (process.env.TWINBOX_ENGINE_MODE === 'thread') return this.#syncInThreads(options);
    const { left, right } = this.controllers(options);
    return sync(left, right, options);
  }

  add(
    side: Side,
    path: FolderPath,
    flags: string[] = [],
    token = this.token(),
    withMessageId = true,
  ): string {
    this.stores[side].addMessage(path, body(token, withMessageId), flags);
    return token;
  }

  removeToken(side: Side, path: FolderPath, token: string) {
    for (const m of this.stores[side].messages(path)) {
      if (tokenOf(m.body) === token) {
        this.stores[side].removeMessage(path, m.id);
        this.deleted.add(token);
      }
    }
  }

  async pairs(key: string): Promise<MessagePair[]> {
    return this.state.loadPairs(key);
  }
}

/**
 * Controllers over drivers of the world's stores built by `driver` (a driver with faults, or without
 * an optional method), and the world's state (or `state`).
 */
export function sides(
  world: World,
  driver: (side: Side, store: MemoryStore) => Driver,
  state: StateBackend = world.state,
): { left: Controller; right: Controller } {
  const make = (side: Side) => new Controller({ side, state, driver: driver(side, world.stores[side]) });
  return { left: make('left'), right: make('right') };
}
