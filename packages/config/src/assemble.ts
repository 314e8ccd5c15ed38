import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageChannel, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import {
  type Driver,
  type FolderPath,
  parseFolderKey,
  resolvePolicy,
  type SideController,
  type StateBackend,
  StoreError,
  type SyncOptions,
  type SyncPolicy,
  type SyncReport,
  sync,
} from '@twinbox/core';
import type { CallOptions, ComponentHandle, StartOptions } from '@twinbox/worker-runtime';
import { movableBuffers } from './buffers.js';
// The drivers, the state and the controller are imported when a pair is opened, not with this module:
// `twinbox --help` and a config check then load neither imapflow nor SQLite; and the drivers and the
// state are optional peer dependencies (optional.ts), installed only by those whose configs use them.
import { folderMatcher } from './folders.js';
import type { LoadedConfig } from './load.js';
import { installed, loadOptional, missingPackage, type OptionalPackage } from './optional.js';
import { defaultStateDir } from './paths.js';
import type { AccountConfig, PairConfig, TwinboxConfig } from './schema.js';
import type { SideArgs } from './side-component.js';
import { parseAge, parseSize } from './units.js';

/**
 * The engine's view of a side component: its methods, with the bodies of copies moved into the side's
 * thread rather than copied (the engine does not use them after the call).
 */
function engineFacing(
  handle: ComponentHandle<SideController>,
  side: 'left' | 'right',
  transfer: typeof import('@twinbox/worker-runtime').transfer,
): SideController {
  const api = handle.api as unknown as SideController;
  return {
    ...api,
    // The proxy carries only the component's methods, and the engine checks each controller's side.
    side,
    applyCopies: (key, path, items) =>
      api.applyCopies(key, path, transfer(items, movableBuffers(items.map((i) => i.content)))),
  };
}

/** `object` without its undefined entries: the driver counts a key that is present as a source set. */
function definedOnly<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** How {@link openDriver} opens a store. */
export interface OpenDriverOptions {
  /**
   * Default false. True opens the store so that nothing in it can change: IMAP folders with EXAMINE,
   * a Maildir without making, cleaning or renaming anything (a missing root is an error); every write
   * method of the driver rejects with a `READ_ONLY` StoreError. For verifiers such as `twinbox check`.
   */
  readOnly?: boolean;
}

/**
 * Opens the store an account names. Throws the driver's StoreError when it cannot, and an error with
 * code `PACKAGE_MISSING` naming the package to install when the account's driver
 * (`@twinbox/driver-imap` or `@twinbox/driver-maildir`, optional peer dependencies) is not installed.
 */
export async function openDriver(account: AccountConfig, options: OpenDriverOptions = {}): Promise<Driver> {
  const readOnly = options.readOnly === true;
  if (account.type === 'maildir') {
    const { MaildirDriver } = await loadOptional(
      '@twinbox/driver-maildir',
      () => import('@twinbox/driver-maildir'),
    );
    return MaildirDriver.open({
      root: account.path,
      layout: account.layout,
      separator: account.separator,
      inbox: account.inbox,
      fsync: account.fsync,
      folderNames: account['folder-names'],
      readOnly,
    });
  }
  const oauth = account.oauth2;
  const credentials = oauth
    ? {
        oauth2: {
          tokenUrl: oauth['token-url'],
          clientId: oauth['client-id'],
          // The schema let exactly one source of the refresh token and at most one of the client
          // secret through; the driver reads whichever is set. An empty client-secret means none.
          ...definedOnly({
            refreshToken: oauth['refresh-token'],
            refreshTokenCommand: oauth['refresh-token-command'],
            refreshTokenEnv: oauth['refresh-token-env'],
            clientSecret: oauth['client-secret'] || undefined,
            clientSecretCommand: oauth['client-secret-command'],
            clientSecretEnv: oauth['client-secret-env'],
          }),
        },
      }
    : account['password-command'] !== undefined
      ? { passwordCommand: account['password-command'] }
      : account['password-env'] !== undefined
        ? { passwordEnv: account['password-env'] }
        : { password: account.password ?? '' };
  const { ImapDriver } = await loadOptional('@twinbox/driver-imap', () => import('@twinbox/driver-imap'));
  return ImapDriver.connect({
    host: account.host,
    ...(account.port ? { port: account.port } : {}),
    tls: account.tls,
    user: account.user,
    ...credentials,
    ...(account['ca-file'] ? { ca: await readFile(account['ca-file'], 'utf8') } : {}),
    ...(account.fingerprint ? { fingerprint: account.fingerprint } : {}),
    allowPlaintextPassword: account['allow-plaintext-password'],
    timeoutMs: account.timeout * 1000,
    watchPollMs: account['watch-poll'] * 1000,
    watchQuietPollMs: account['watch-quiet-poll'] * 1000,
    maxSessions: account.connections,
    readOnly,
  });
}

/** The engine's policy for a pair's settings. */
export function policyOf(pair: PairConfig): SyncPolicy {
  const has = (op: PairConfig['sync'][number]) => pair.sync.includes(op);
  return resolvePolicy({
    direction: pair.direction,
    propagate: {
      new: has('new'),
      flags: has('flags'),
      deletions: has('deletions'),
      folderCreation: has('folder-creation'),
      folderDeletion: has('folder-deletion'),
    },
    conflicts: { flags: pair.conflicts.flags, deleteVsChange: pair.conflicts['delete-vs-change'] },
    maxMessageSize: pair['max-size'] === undefined ? undefined : parseSize(pair['max-size']),
    maxMessageAge: pair['max-age'] === undefined ? undefined : parseAge(pair['max-age']),
  });
}

/**
 * How long one call may go unanswered before the sync fails rather than hangs: a state write is a
 * local transaction; a side's call is at most one batch against a server, which has its own socket
 * timeouts, so its deadline only catches a worker stuck for good.
 */
export const STATE_DEADLINE_MS = 2 * 60_000;
const SIDE_DEADLINE_MS = 30 * 60_000;

/**
 * Where a pair's components run for a `workers` setting. `auto` runs them in this thread once the pair
 * has a state, that is after its first sync: a sync after it moves only what changed, and starting
 * three threads (a Node environment each, every bundle loaded once per thread) cost a one-shot no-op
 * about twice the CPU time, 40 MB more memory and more wall time than the sync itself, even on two
 * cores. A first sync, which copies every message, keeps the threads: parsing on one side overlaps
 * writing on the other.
 */
function runModeOf(workers: TwinboxConfig['workers'], statePath: string): 'thread' | 'inline' {
  if (workers === 'auto') return existsSync(statePath) ? 'inline' : 'thread';
  return workers === 'threads' ? 'thread' : 'inline';
}

/**
 * V8 heap limits for the worker threads that run sides and states. A busy thread grows its young
 * generation to V8's maximum (64 MB on Node 24) and keeps it: a first sync's three threads held about
 * 190 MB of mostly empty young space, more than the bodies in flight. 24 MB (8 MB semi-spaces) cut a
 * 30,000-message first sync's peak RSS from about 350 to 265 MB at no CPU cost we could measure
 * (bench/README.md, "Memory: the young generation").
 */
export const workerResourceLimits: Readonly<ResourceLimits> = Object.freeze({ maxYoungGenerationSizeMb: 24 });

/**
 * The state's thread does less than a side's: small SQLite transactions, no bodies. Its young
 * generation stayed at 1-4 MB when it could grow; a process that starts every young generation at its
 * maximum (the CLI does, see its bin.ts) would give it a side's 24 MB for nothing.
 */
const stateResourceLimits: Readonly<ResourceLimits> = Object.freeze({ maxYoungGenerationSizeMb: 6 });

/** Where a pair's state lives. */
export function statePath(config: TwinboxConfig, pairName: string): string {
  return join(config.state.dir ?? defaultStateDir(), `${pairName}.sqlite`);
}

/**
 * Starts a component somewhere of its choosing: `startComponent` without the mode, as a worker-runtime
 * pool's or host's `start` is, so that many pairs can share a few threads.
 */
export type ComponentStarter = <T extends object>(
  moduleUrl: string | URL,
  options: Omit<StartOptions, 'mode'>,
) => Promise<ComponentHandle<T>>;

/** A pair ready to sync: both sides' controllers, the engine options its config asks for, and close. */
export interface OpenedPair {
  name: string;
  config: PairConfig;
  left: SideController;
  right: SideController;
  /**
   * A side's controller whose calls carry `options`: a signal that cancels a call (the long wait of
   * `nextChange` above all) and its own deadline.
   */
  withOptions(side: 'left' | 'right', options: CallOptions): SideController;
  /** Pass to `sync` (add your own `onEvent`, `dryRun`, `signal`). */
  syncOptions: SyncOptions;
  statePath: string;
  close(): Promise<void>;
}

/** How {@link openPair} (and `syncPair`) run a pair, beyond what its config says. */
export interface OpenPairOptions {
  /**
   * `threads`: each side (driver and controller) in a worker thread of its own and the state in a
   * third, which both sides call directly; `inline`: the same components in this thread; `auto`:
   * threads when the pair has no state yet (its first sync, which copies every message), inline
   * otherwise (a sync after it moves what changed, less work than starting three threads). Default:
   * the config's `workers`.
   */
  mode?: TwinboxConfig['workers'];
  /** Only folders whose (left) path passes this as well as the pair's patterns. */
  folderFilter?: (path: FolderPath) => boolean;
  /** Wait for another sync of the pair to finish rather than fail at once. */
  waitForLock?: boolean;
  /**
   * The modules the components are started from, for an app that ships them bundled (its own copies
   * start faster than this package's modules and their dependencies, loaded one by one). Each must
   * default-export what the module it replaces does, built from the same arguments: `state`, that of
   * `@twinbox/state-sqlite/component` (a `StateBackend` from `{ path, wait }`); `side`, that of this
   * package's side component (a side's controller from its `SideArgs`). Default: those two modules.
   */
  entries?: { state?: string | URL; side?: string | URL };
  /**
   * Where the components start, instead of a thread (or, inline, this thread) each: for a daemon that
   * runs many pairs on a few shared threads. `state` starts the state, `sides` each side; the starter
   * decides the thread, so `mode` is then ignored for that component.
   */
  starters?: { state?: ComponentStarter; sides?: ComponentStarter };
}

/**
 * Opens both stores and the state of a pair as worker-runtime components (see
 * {@link OpenPairOptions.mode}). Whatever was opened is closed again if a
 * later step fails, so a failed open leaves no connection or lock behind.
 *
 * The drivers the pair's accounts use and `@twinbox/state-sqlite` are optional peer dependencies of
 * this package: when one is not installed, it rejects before starting anything with an error of code
 * `PACKAGE_MISSING` that names the config file, the account and the package to install ("…:
 * accounts.work: this config uses an IMAP account: install @twinbox/driver-imap …"). With `entries`,
 * the modules given bring their own.
 */
export async function openPair(
  loaded: LoadedConfig,
  pairName: string,
  options: OpenPairOptions = {},
): Promise<OpenedPair> {
  const { config } = loaded;
  const pair = config.pairs[pairName];
  if (!pair) throw new Error(`No pair named ${JSON.stringify(pairName)} in ${loaded.file}.`);
  requirePackages(loaded, pair, options.entries);
  const opened: { state?: { close(): Promise<void> }; sides: { close(): Promise<void> }[] } = { sides: [] };
  const closeAll = async () => {
    // Both sides at once (each logs out of its own server), then the state they write to.
    await Promise.all(opened.sides.splice(0).map((side) => side.close().catch(() => {})));
    const { state } = opened;
    opened.state = undefined;
    await state?.close().catch(() => {});
  };
  try {
    const path = statePath(config, pairName);
    const runtime = await import('@twinbox/worker-runtime');
    const mode = runModeOf(options.mode ?? config.workers, path);
    const starterOf = (
      starter: ComponentStarter | undefined,
      resourceLimits: Readonly<ResourceLimits>,
    ): ComponentStarter =>
      starter ??
      ((url, startOptions) => runtime.startComponent(url, { ...startOptions, mode, resourceLimits }));
    const stateStarter = starterOf(options.starters?.state, stateResourceLimits);
    const sideStarter = starterOf(options.starters?.sides, workerResourceLimits);
    const startState = () =>
      stateStarter<StateBackend>(
        options.entries?.state ?? import.meta.resolve('@twinbox/state-sqlite/component'),
        {
          deadlineMs: STATE_DEADLINE_MS,
          name: `state of ${pairName}`,
          args: { path, wait: options.waitForLock ?? false },
        },
      );
    const startSide = (side: 'left' | 'right', port: MessagePort) => {
      const args: SideArgs = {
        stateDeadlineMs: STATE_DEADLINE_MS,
        side,
        account: config.accounts[pair[side]]!,
        rename: pair.rename,
        statePort: port,
      };
      const entry = options.entries?.side ?? new URL('./side-component.js', import.meta.url);
      return sideStarter<SideController>(entry, {
        deadlineMs: SIDE_DEADLINE_MS,
        name: `${side} side (${pair[side]})`,
        args: runtime.transfer(args, [port]),
      });
    };
    let sides: PromiseSettledResult<ComponentHandle<SideController>>[];
    if (options.waitForLock) {
      // The state may wait long for another sync's lock: no connection to a server idles meanwhile.
      const state = await startState();
      opened.state = state;
      const ports = [await state.connect(), await state.connect()] as const;
      sides = await Promise.allSettled([startSide('left', ports[0]), startSide('right', ports[1])]);
    } else {
      // All three start at once (in threads, each loading its code in parallel): each side gets its
      // end of a channel to the state now and waits on it until the state, once open, serves it. If
      // the state fails, its ends are closed, and the sides fail rather than wait.
      const channels = [new MessageChannel(), new MessageChannel()] as const;
      const starting = Promise.allSettled([
        startSide('left', channels[0].port2),
        startSide('right', channels[1].port2),
      ]);
      const stateFailure = await startState()
        .then(async (state) => {
          opened.state = state;
          await Promise.all(channels.map((c) => state.serve(c.port1)));
          return undefined;
        })
        .catch((error: unknown) => {
          for (const c of channels) c.port1.close();
          return { error };
        });
      sides = await starting;
      // The state's failure first: the sides' are only its consequence (their connection lost).
      if (stateFailure) {
        for (const s of sides) if (s.status === 'fulfilled') opened.sides.push(s.value);
        throw stateFailure.error;
      }
    }
    for (const s of sides) if (s.status === 'fulfilled') opened.sides.push(s.value);
    for (const s of sides) if (s.status === 'rejected') throw s.reason;
    const [left, right] = sides.map(
      (s) => (s as PromiseFulfilledResult<ComponentHandle<SideController>>).value,
    ) as [ComponentHandle<SideController>, ComponentHandle<SideController>];
    const matches = folderMatcher(pair.folders);
    const extra = options.folderFilter;
    return {
      name: pairName,
      config: pair,
      left: engineFacing(left, 'left', runtime.transfer),
      right: engineFacing(right, 'right', runtime.transfer),
      withOptions: (side, callOptions) =>
        engineFacing(
          {
            ...(side === 'left' ? left : right),
            api: (side === 'left' ? left : right).with(callOptions),
          },
          side,
          runtime.transfer,
        ),
      statePath: path,
      syncOptions: {
        policy: policyOf(pair),
        concurrency: config.concurrency,
        folders: (key) => {
          const path = parseFolderKey(key);
          return matches(path) && (!extra || extra(path));
        },
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The error {@link openPair} throws up front when the pair needs a package that is not installed. */
function requirePackages(loaded: LoadedConfig, pair: PairConfig, entries: OpenPairOptions['entries']): void {
  const needed: [OptionalPackage, string][] = [];
  // Another side or state module loads its own drivers or state (the CLI's are bundled with theirs).
  if (!entries?.side) {
    for (const name of [pair.left, pair.right]) {
      const type = loaded.config.accounts[name]?.type;
      needed.push([type === 'imap' ? '@twinbox/driver-imap' : '@twinbox/driver-maildir', `accounts.${name}`]);
    }
  }
  if (!entries?.state) needed.push(['@twinbox/state-sqlite', 'state']);
  for (const [pkg, key] of needed) if (!installed(pkg)) throw missingPackage(pkg, `${loaded.file}: ${key}`);
}

/** What a sync of one pair may add to what its config says: a dry run, a stop signal, progress. */
export type PairSyncOptions = OpenPairOptions & Pick<SyncOptions, 'dryRun' | 'signal' | 'onEvent'>;

/**
 * Opens a pair, syncs it once and closes it again, whatever happens: the one way both apps run a pair.
 * Rejects with the error that stopped it (opening, or a store error during the sync).
 */
export async function syncPair(
  loaded: LoadedConfig,
  pairName: string,
  options: PairSyncOptions = {},
): Promise<{ report: SyncReport; statePath: string }> {
  const { dryRun, signal, onEvent, ...open } = options;
  const opening = openPair(loaded, pairName, open);
  // A stop while the pair opens (a server slow to log in) does not wait for it: the pair is closed
  // once it is open, and the caller hears at once that nothing was synced.
  const pair = signal ? await untilAborted(opening, signal) : await opening;
  if (!pair) {
    opening.then((p) => p.close()).catch(() => {});
    throw new StoreError(
      `The sync of ${pairName} was interrupted before its stores were open; nothing was synced.`,
      {
        code: 'INTERRUPTED',
      },
    );
  }
  try {
    const report = await sync(pair.left, pair.right, {
      ...pair.syncOptions,
      ...(dryRun !== undefined ? { dryRun } : {}),
      ...(signal ? { signal } : {}),
      ...(onEvent ? { onEvent } : {}),
    });
    return { report, statePath: pair.statePath };
  } finally {
    await pair.close();
  }
}

/** `promise`'s value, or undefined as soon as `signal` fires (the promise goes on, unobserved). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
