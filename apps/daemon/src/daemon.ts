import { watch as watchFile } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  type ComponentStarter,
  defaultConfigPath,
  type LoadedConfig,
  loadConfig,
  openPair,
  recordLastSync,
  syncPair,
  workerResourceLimits,
} from '@twinbox/config';
import {
  type ControlServer,
  type SyncRequest as ControlSyncRequest,
  type ControlTarget,
  controlSocketPath,
  type SyncReply,
  serveControl,
} from '@twinbox/config/control';
import type { SyncEvent, SyncReport } from '@twinbox/core';
import { type ComponentPool, startPool } from '@twinbox/worker-runtime';
import type { Logger } from 'pino';
import { type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.js';
import { PairRunner, type RunnerHooks, type RunnerStatus, type SyncRequest } from './pair-runner.js';
import { Slots } from './wakeup.js';

export interface DaemonOptions {
  config?: string;
  /** Run every component in this thread (debugging); default: the config's `workers`. */
  inline?: boolean;
  log: Logger;
  /** Seconds between two full passes; default: the config's `daemon.full-pass`. */
  fullPass?: number;
  /** How long a notice waits for more before its sync starts, in ms. Default 10 (the drivers coalesce too). */
  settleMs?: number;
  backoff?: BackoffPolicy;
  hooks?: RunnerHooks & {
    /** A reload removed the pair (it is stopped): drop what is kept about it. */
    removed?(pair: string): void;
  };
  /** Reload when the config file changes (besides SIGHUP). Default true. */
  watchConfig?: boolean;
  /** Serve `twinbox sync` and `twinbox status` on the config's control socket. Default true. */
  control?: boolean;
  /** The version the control socket announces. */
  version?: string;
  /**
   * Where components start: by default each in a thread of its own (or inline). A pool shares a
   * few threads between every pair.
   */
  starters?: { state?: ComponentStarter; sides?: ComponentStarter };
}

/** What a change of config means for a running pair: everything it is built from. */
function fingerprint(loaded: LoadedConfig, name: string): string {
  const { config } = loaded;
  const pair = config.pairs[name]!;
  return JSON.stringify({
    pair,
    left: config.accounts[pair.left],
    right: config.accounts[pair.right],
    state: config.state,
    workers: config.workers,
    concurrency: config.concurrency,
    fullPass: config.daemon['full-pass'],
  });
}

/** The settings the daemon applies only at start (its slots and thread pools), by config key. */
interface FixedSettings {
  'daemon.pairs-at-once': number;
  'daemon.side-threads': number;
  workers: string;
}

function fixedSettings({ config }: LoadedConfig): FixedSettings {
  return {
    'daemon.pairs-at-once': config.daemon['pairs-at-once'],
    'daemon.side-threads': config.daemon['side-threads'],
    workers: config.workers,
  };
}

const watchConnectionsOf = (loaded: LoadedConfig, account: string) => {
  const config = loaded.config.accounts[account]!;
  // A Maildir watch holds no connection; only a nonzero value matters for it.
  return config.type === 'imap' ? config['watch-connections'] : 1;
};

/**
 * The resident daemon: every pair of the config opened once and kept open, synced as its stores
 * report changes (IMAP NOTIFY or IDLE, file-system notifications), by a periodic full pass, and on
 * request; at most `daemon.pairs-at-once` pairs sync at the same time. A reload (SIGHUP, an edit of
 * the file) reopens only the pairs whose config changed.
 */
export class Daemon implements ControlTarget {
  readonly configFile: string;
  readonly version: string;
  #control: ControlServer | undefined;
  #pools: { sides: ComponentPool; states: ComponentPool } | undefined;
  readonly #options: DaemonOptions;
  readonly #runners = new Map<string, { runner: PairRunner; fingerprint: string }>();
  #loaded: LoadedConfig | undefined;
  #slots: Slots | undefined;
  #configWatch: { close(): void } | undefined;
  #reloading: Promise<void> = Promise.resolve();
  /** What the slots and pools were made with at start (see {@link fixedSettings}). */
  #fixed: FixedSettings | undefined;
  #stopped = false;

  constructor(options: DaemonOptions) {
    this.#options = options;
    this.configFile = resolve(options.config ?? defaultConfigPath());
    this.version = options.version ?? '0.0.0';
  }

  /** Loads the config and starts every pair. Rejects if the config cannot be loaded. */
  async start(): Promise<void> {
    const loaded = await loadConfig(this.configFile);
    this.#loaded = loaded;
    this.#fixed = fixedSettings(loaded);
    this.#slots = new Slots(loaded.config.daemon['pairs-at-once']);
    if (!this.#options.starters) {
      // Every pair's sides share a few threads, and every state one more, each serving many: a thread
      // per side and per state would cost ~10 MB each, 300 threads for 100 pairs.
      const mode = this.#options.inline || loaded.config.workers === 'inline' ? 'inline' : 'thread';
      this.#pools = {
        sides: startPool({
          size: loaded.config.daemon['side-threads'],
          mode,
          name: 'sides',
          resourceLimits: workerResourceLimits,
        }),
        states: startPool({ size: 1, mode, name: 'states', resourceLimits: workerResourceLimits }),
      };
    }
    if (this.#options.control !== false) {
      // Before any pair opens: a second daemon for the same config is refused here, not after it
      // has fought the first one for the pairs' locks.
      const path = controlSocketPath(this.configFile);
      this.#control = await serveControl(this, {
        path,
        log: (msg) => this.#options.log.warn({ socket: path }, msg),
      });
      this.#options.log.info({ socket: path }, 'control socket ready');
    }
    for (const name of Object.keys(loaded.config.pairs)) this.#startPair(loaded, name);
    if (this.#options.watchConfig !== false) this.#watchConfigFile();
    this.#options.log.info({ pairs: this.#runners.size, config: this.configFile }, 'serving');
  }

  #startPair(loaded: LoadedConfig, name: string) {
    const pair = loaded.config.pairs[name]!;
    const options = this.#options;
    const runner = new PairRunner({
      name,
      left: pair.left,
      right: pair.right,
      open: () =>
        openPair(loaded, name, {
          ...(options.inline ? { mode: 'inline' as const } : {}),
          ...(options.starters
            ? { starters: options.starters }
            : this.#pools
              ? {
                  starters: {
                    sides: (url, o) => this.#pools!.sides.start(url, o),
                    state: (url, o) => this.#pools!.states.start(url, o),
                  },
                }
              : {}),
        }),
      sessions: [pair.left, pair.right].filter((a) => loaded.config.accounts[a]!.type === 'imap').length,
      watchConnections: {
        left: watchConnectionsOf(loaded, pair.left),
        right: watchConnectionsOf(loaded, pair.right),
      },
      watchPatterns: pair.watch,
      fullPassMs: (options.fullPass ?? loaded.config.daemon['full-pass']) * 1000,
      settleMs: options.settleMs ?? 10,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      slots: this.#slots!,
      log: options.log,
      ...(options.hooks ? { hooks: options.hooks } : {}),
    });
    this.#runners.set(name, { runner, fingerprint: fingerprint(loaded, name) });
    runner.start();
  }

  /**
   * Reads the config again: pairs added are started, pairs removed are stopped, pairs whose config
   * changed are stopped and started again; the others are not touched. A config that does not load is
   * logged and the running pairs go on as they were.
   */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(async () => {
      if (this.#stopped) return;
      let loaded: LoadedConfig;
      try {
        loaded = await loadConfig(this.configFile);
      } catch (err) {
        this.#options.log.error(
          { file: this.configFile, code: (err as { code?: unknown }).code },
          `the config was not reloaded; the pairs go on as before: ${(err as Error).message}`,
        );
        return;
      }
      // The slots and the thread pools are made once, at start: say so rather than let an edit of
      // them look applied.
      const fixed = fixedSettings(loaded);
      const ignored = Object.keys(fixed).filter(
        (k) => fixed[k as keyof FixedSettings] !== this.#fixed?.[k as keyof FixedSettings],
      );
      if (ignored.length > 0)
        this.#options.log.warn(
          { keys: ignored, running: this.#fixed },
          `${ignored.join(' and ')} changed: twinboxd goes on with the values it started with until it restarts`,
        );
      const names = new Set(Object.keys(loaded.config.pairs));
      const stopping: Promise<void>[] = [];
      const changed: string[] = [];
      const removedNames: string[] = [];
      for (const [name, { runner, fingerprint: old }] of this.#runners) {
        if (names.has(name) && fingerprint(loaded, name) === old) continue;
        this.#runners.delete(name);
        if (names.has(name)) changed.push(name);
        else removedNames.push(name);
        stopping.push(runner.stop());
      }
      await Promise.all(stopping);
      for (const name of removedNames) this.#options.hooks?.removed?.(name);
      const added: string[] = [];
      for (const name of names) {
        if (this.#runners.has(name)) continue;
        if (!changed.includes(name)) added.push(name);
        this.#startPair(loaded, name);
      }
      this.#loaded = loaded;
      this.#options.log.info({ added, changed, removed: removedNames }, 'config reloaded');
    });
    return this.#reloading;
  }

  #watchConfigFile() {
    // Editors save by writing a new file and renaming it over the old one: watch the directory.
    const file = basename(this.configFile);
    let timer: NodeJS.Timeout | undefined;
    try {
      const watcher = watchFile(dirname(this.configFile), (_event, name) => {
        if (name !== null && name !== file) return;
        clearTimeout(timer);
        timer = setTimeout(() => void this.reload(), 200);
      });
      watcher.on('error', () => {});
      this.#configWatch = {
        close: () => {
          clearTimeout(timer);
          watcher.close();
        },
      };
    } catch (err) {
      this.#options.log.warn(
        { file: this.configFile },
        `edits of the config are not watched (send SIGHUP to reload): ${(err as Error).message}`,
      );
    }
  }

  /** Stops every pair (each finishes or interrupts its sync in flight) and closes them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#configWatch?.close();
    await this.#control?.close();
    await this.#reloading;
    await Promise.all([...this.#runners.values()].map(({ runner }) => runner.stop()));
    await Promise.all([this.#pools?.sides.close(), this.#pools?.states.close()]);
  }

  /** The pairs' live status, in config order. */
  status(): RunnerStatus[] {
    return [...this.#runners.values()].map(({ runner }) => runner.status());
  }

  /** The pairs a request names (all when none); an unknown name is an error naming the known ones. */
  pairs(names: readonly string[]): string[] {
    const known = [...this.#runners.keys()];
    if (names.length === 0) return known;
    for (const name of names)
      if (!this.#runners.has(name))
        throw new Error(
          `No pair named ${JSON.stringify(name)} in ${this.configFile} (pairs: ${known.join(', ') || 'none'}).`,
        );
    return [...names];
  }

  /** Syncs one pair now, after its sync in flight, with progress for the caller. */
  syncNow(name: string, request: SyncRequest): Promise<{ report: SyncReport; seconds: number }> {
    const entry = this.#runners.get(name);
    if (!entry) return Promise.reject(new Error(`No pair named ${JSON.stringify(name)}.`));
    return entry.runner.syncNow(request);
  }

  /**
   * The control socket's `sync`: each pair in turn, synced now after its sync in flight, with its
   * progress sent to the client. A client that goes away stops the pairs not yet started; the one in
   * flight finishes, as a daemon's sync would have.
   */
  async sync(
    request: ControlSyncRequest,
    send: (reply: SyncReply) => void,
    signal: AbortSignal,
  ): Promise<void> {
    for (const name of this.pairs(request.pairs)) {
      if (signal.aborted) return;
      const status = this.#runners.get(name)?.runner.status();
      send({ type: 'pair-start', pair: name, title: `${status?.left ?? '?'} ⇄ ${status?.right ?? '?'}` });
      try {
        const { report, seconds } = await this.syncNow(name, {
          ...(request.folders?.length ? { folders: request.folders } : {}),
          dryRun: request.dryRun === true,
          // The control server drops the events the client did not ask for; none at all, none made.
          ...(request.events === 'none'
            ? {}
            : { onEvent: (event: SyncEvent) => send({ type: 'event', pair: name, event }) }),
        });
        send({ type: 'pair-done', pair: name, report, seconds });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        send({
          type: 'pair-error',
          pair: name,
          message: (err as Error).message,
          ...(typeof code === 'string' ? { code } : {}),
        });
      }
    }
  }

  /** The config the daemon runs now (after the last successful reload). */
  get loaded(): LoadedConfig | undefined {
    return this.#loaded;
  }
}

/** `twinboxd --once`: each pair opened, synced and closed once, one after the other. */
export async function runOnce(options: {
  config?: string;
  inline?: boolean;
  signal: AbortSignal;
  log: Logger;
}): Promise<number> {
  const { log, signal } = options;
  const file = options.config ?? defaultConfigPath();
  let failures = 0;
  try {
    const loaded = await loadConfig(file);
    for (const name of Object.keys(loaded.config.pairs)) {
      if (signal.aborted) break;
      const started = Date.now();
      try {
        const { report, statePath } = await syncPair(loaded, name, {
          ...(options.inline ? { mode: 'inline' as const } : {}),
          signal,
        });
        const ms = Date.now() - started;
        log.info({ pair: name, totals: report.totals, aborted: report.aborted, ms }, 'synced');
        // What `twinbox status` shows for the pair, as after a sync by the CLI or the resident daemon:
        // a cron job or a systemd timer running `--once` is a way to run the pairs like any other.
        await recordLastSync(statePath, report, ms / 1000).catch((err: unknown) => {
          log.warn({ pair: name }, `cannot record the last sync: ${(err as Error).message}`);
        });
        for (const f of report.folders)
          for (const e of f.errors) log.warn({ pair: name, folder: f.key, code: e.code }, e.message);
        if (report.totals.errors > 0) failures++;
      } catch (err) {
        failures++;
        log.error({ pair: name, code: (err as { code?: unknown }).code }, (err as Error).message);
      }
    }
  } catch (err) {
    failures++;
    log.error({ file, code: (err as { code?: unknown }).code }, (err as Error).message);
  }
  return failures;
}
