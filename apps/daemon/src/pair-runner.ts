import { setTimeout as sleep } from 'node:timers/promises';
import { folderMatcher, lastSyncOf, type OpenedPair, recordLastSync } from '@twinbox/config';
import type { PairStatus } from '@twinbox/config/control';
import {
  type ChangeNotice,
  type FolderInfo,
  type FolderPath,
  folderKey,
  isRefusedFolder,
  parseFolderKey,
  type SyncEvent,
  type SyncReport,
  sync,
  type WatchStatus,
} from '@twinbox/core';
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay } from './backoff.js';
import type { PairState } from './metrics.js';
import { type Slots, Wakeup } from './wakeup.js';

export type { PairState } from './metrics.js';

/** A pair's live status: what `twinbox status` shows, through the control socket. */
export type RunnerStatus = PairStatus;

/** What a pair reports to the daemon as it runs: for logs and metrics. */
export interface RunnerHooks {
  state?(pair: string, state: PairState): void;
  syncStarted?(pair: string): void;
  syncFinished?(pair: string, report: SyncReport, seconds: number, dryRun: boolean): void;
  syncFailed?(pair: string, error: unknown, seconds: number): void;
  /** A side's watch started (`folders`: how many it covers) or stopped (`status` undefined). */
  watching?(pair: string, side: 'left' | 'right', status: WatchStatus | undefined, folders: number): void;
  /** The pair holds `sessions` server sessions open (its IMAP sides), from its opening to its close. */
  sessions?(pair: string, sessions: number): void;
}

/** How a pair runs: its config, how to open it, and the daemon's shared limits. */
export interface RunnerOptions {
  name: string;
  /** Account names, for the status. */
  left: string;
  right: string;
  /** Opens the pair's stores and state (the daemon places them on its shared threads). */
  open(): Promise<OpenedPair>;
  /** Server sessions the open pair holds (its IMAP sides), for the metrics. */
  sessions: number;
  /** Per side: how many connections a watch may hold (0: do not watch that side). */
  watchConnections: { left: number; right: number };
  /** The pair's `watch` patterns (left-side names): the folders an IDLE-only server watches. */
  watchPatterns: readonly string[];
  /** Time between two full passes, in ms. */
  fullPassMs: number;
  /** How long a notice waits for more before its sync starts, in ms (a burst is one sync). */
  settleMs: number;
  backoff: BackoffPolicy;
  /** The daemon's bound on pairs syncing at once. */
  slots: Slots;
  log: Logger;
  hooks?: RunnerHooks;
}

/** A sync asked for from outside (the CLI through the control socket), queued before the pair's own. */
export interface SyncRequest {
  /** Folder patterns (left names) as `twinbox sync --folder`; all the pair's folders when absent. */
  folders?: readonly string[];
  dryRun?: boolean;
  onEvent?: (event: SyncEvent) => void;
}

interface QueuedRequest extends SyncRequest {
  resolve(result: { report: SyncReport; seconds: number }): void;
  reject(error: unknown): void;
}

/** The folders a sync must look at: everything, or those named by notices. */
class Dirty {
  all = false;
  readonly keys = new Set<string>();
  get empty() {
    return !this.all && this.keys.size === 0;
  }
  add(notice: ChangeNotice) {
    if (notice.all) this.all = true;
    for (const path of notice.folders) this.keys.add(folderKey(path));
  }
  take(): { all: boolean; keys: Set<string> } {
    const taken = { all: this.all, keys: new Set(this.keys) };
    this.all = false;
    this.keys.clear();
    return taken;
  }
  restore(taken: { all: boolean; keys: Set<string> }) {
    if (taken.all) this.all = true;
    for (const key of taken.keys) this.keys.add(key);
  }
}

/** Folders a watch covers: those it names, or for a watch of everything, all the pair's folders. */
const watchedCount = (status: WatchStatus, asked: readonly FolderPath[]) =>
  status.watched === 'all' ? asked.length : status.watched.length;

const codeOf = (err: unknown) => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * One pair, resident: opened once and kept open (its workers, its state, its logged-in sessions),
 * synced when a side reports a change, when a full pass is due, and when the CLI asks. A sync that
 * fails for the whole pair (a server gone, a login refused) closes the pair, which is opened again
 * after an exponential backoff; the daemon's other pairs are not held up, since each runs on its own.
 */
export class PairRunner {
  readonly name: string;
  readonly #options: RunnerOptions;
  readonly #stop = new AbortController();
  readonly #wakeup = new Wakeup();
  readonly #dirty = new Dirty();
  readonly #requests: QueuedRequest[] = [];
  readonly #watch: { left?: WatchStatus; right?: WatchStatus } = {};
  #state: PairState = 'opening';
  #since = new Date();
  #failures = 0;
  #lastSync: RunnerStatus['lastSync'];
  #lastError: RunnerStatus['lastError'];
  #nextAttemptAt: Date | undefined;
  #running: Promise<void> | undefined;
  /** The last-sync file being written: one write at a time, in the order of the syncs. */
  #recording: Promise<void> = Promise.resolve();

  constructor(options: RunnerOptions) {
    this.name = options.name;
    this.#options = options;
  }

  /** Starts the pair's loop; it runs until {@link stop}. */
  start(): void {
    this.#running ??= this.#run().catch((err: unknown) => {
      // A bug, not a store's failure: said loudly, and the pair is marked stopped.
      this.#options.log.error({ pair: this.name, err }, 'the pair stopped on an unexpected error');
      this.#setState('stopped');
    });
  }

  /**
   * Stops the pair: no sync starts after this, the one in flight is interrupted (the engine gives its
   * batch 2 s, then cuts the connections; what was done is recorded), and the pair is closed. Queued
   * requests are rejected.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wakeup.wake();
    for (const request of this.#requests.splice(0))
      request.reject(new Error(`The daemon stopped the pair ${this.name} before syncing it.`));
    await this.#running;
    await this.#recording;
    this.#setState('stopped');
  }

  /**
   * Syncs now, after the sync in flight (if any), with progress for the caller. A pair that is backing
   * off tries at once. Rejects with the error that stopped the sync (or the opening).
   */
  syncNow(request: SyncRequest): Promise<{ report: SyncReport; seconds: number }> {
    if (this.#stop.signal.aborted)
      return Promise.reject(new Error(`The pair ${this.name} is stopped: the daemon is shutting down.`));
    return new Promise((resolve, reject) => {
      this.#requests.push({ ...request, resolve, reject });
      this.#wakeup.wake();
    });
  }

  status(): RunnerStatus {
    const watch = this.#watch.left || this.#watch.right ? { ...this.#watch } : undefined;
    return {
      name: this.name,
      left: this.#options.left,
      right: this.#options.right,
      state: this.#state,
      since: this.#since.toISOString(),
      ...(this.#lastSync ? { lastSync: this.#lastSync } : {}),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#state === 'backing-off' && this.#nextAttemptAt
        ? { nextAttemptAt: this.#nextAttemptAt.toISOString() }
        : {}),
      failures: this.#failures,
      ...(watch ? { watch } : {}),
    };
  }

  #setState(state: PairState) {
    if (state === this.#state) return;
    this.#state = state;
    this.#since = new Date();
    this.#options.hooks?.state?.(this.name, state);
  }

  #failed(err: unknown) {
    this.#failures++;
    this.#lastError = {
      at: new Date().toISOString(),
      message: (err as Error).message,
      ...(codeOf(err) ? { code: codeOf(err)! } : {}),
    };
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      this.#setState('opening');
      let pair: OpenedPair;
      const release = await this.#options.slots.acquire();
      try {
        pair = await this.#options.open();
      } catch (err) {
        release();
        if (signal.aborted) break;
        this.#failed(err);
        this.#options.log.error(
          { pair: this.name, code: codeOf(err), failures: this.#failures },
          `cannot open the pair: ${(err as Error).message}`,
        );
        this.#options.hooks?.syncFailed?.(this.name, err, 0);
        for (const request of this.#requests.splice(0)) request.reject(err);
        await this.#backOff();
        continue;
      }
      release();
      this.#options.hooks?.sessions?.(this.name, this.#options.sessions);
      const watching = new AbortController();
      const stopWatching = () => watching.abort();
      signal.addEventListener('abort', stopWatching, { once: true });
      // Whatever happened while the pair was closed (or before the daemon started) is caught up first.
      this.#dirty.all = true;
      const watches = (['left', 'right'] as const).map((side) =>
        this.#watchSide(pair, side, watching.signal),
      );
      let failed = false;
      try {
        failed = await this.#serve(pair);
      } finally {
        watching.abort();
        signal.removeEventListener('abort', stopWatching);
        await Promise.allSettled(watches);
        this.#watch.left = undefined;
        this.#watch.right = undefined;
        await pair.close().catch((err: unknown) => {
          this.#options.log.warn({ pair: this.name }, `closing the pair: ${(err as Error).message}`);
        });
        this.#options.hooks?.sessions?.(this.name, 0);
      }
      if (failed && !signal.aborted) await this.#backOff();
    }
  }

  /** Waits out the backoff; a request from the CLI cuts it short. */
  async #backOff(): Promise<void> {
    const delay = backoffDelay(this.#failures, this.#options.backoff);
    this.#nextAttemptAt = new Date(Date.now() + delay);
    this.#setState('backing-off');
    this.#options.log.info({ pair: this.name, ms: delay, failures: this.#failures }, 'backing off');
    const deadline = Date.now() + delay;
    while (!this.#stop.signal.aborted && Date.now() < deadline) {
      await this.#wakeup.wait(deadline - Date.now(), this.#stop.signal);
      if (this.#requests.length > 0) break;
    }
    this.#nextAttemptAt = undefined;
  }

  /**
   * Syncs the open pair as long as it works: requests first, then what notices named, then a full
   * pass when one is due. Returns true when a sync failed for the whole pair (it must be reopened).
   */
  async #serve(pair: OpenedPair): Promise<boolean> {
    const signal = this.#stop.signal;
    let nextFullPass = Date.now() + this.#options.fullPassMs;
    while (!signal.aborted) {
      const request = this.#requests.shift();
      if (request) {
        const matches = request.folders?.length ? folderMatcher(request.folders) : undefined;
        const outcome = await this.#sync(pair, {
          ...(matches ? { only: (key: string) => matches(parseFolderKey(key)) } : {}),
          dryRun: request.dryRun === true,
          ...(request.onEvent ? { onEvent: request.onEvent } : {}),
        });
        if (outcome.ok) {
          // A whole pass asked for by the user counts as the next full pass.
          if (!matches && !request.dryRun) {
            this.#dirty.take();
            nextFullPass = Date.now() + this.#options.fullPassMs;
          }
          request.resolve(outcome.result);
          continue;
        }
        request.reject(outcome.error);
        return true;
      }
      if (!this.#dirty.empty) {
        // A burst of deliveries (a mailing list, a filter run) becomes one sync.
        await sleep(this.#options.settleMs, undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
        const taken = this.#dirty.take();
        if (taken.all) nextFullPass = Date.now() + this.#options.fullPassMs;
        const outcome = await this.#sync(pair, taken.all ? {} : { only: (key) => taken.keys.has(key) });
        if (!outcome.ok) {
          this.#dirty.restore(taken);
          return true;
        }
        if (taken.all) await this.#rewatch(pair);
        continue;
      }
      const wait = nextFullPass - Date.now();
      if (wait <= 0) {
        this.#dirty.all = true;
        continue;
      }
      this.#setState(this.#watch.left || this.#watch.right ? 'watching' : 'polling');
      await this.#wakeup.wait(wait, signal);
    }
    return false;
  }

  async #sync(
    pair: OpenedPair,
    how: { only?: (key: string) => boolean; dryRun?: boolean; onEvent?: (event: SyncEvent) => void },
  ): Promise<{ ok: true; result: { report: SyncReport; seconds: number } } | { ok: false; error: unknown }> {
    const release = await this.#options.slots.acquire();
    const started = performance.now();
    try {
      if (this.#stop.signal.aborted) throw new Error(`The daemon stopped the pair ${this.name}.`);
      this.#setState('syncing');
      this.#options.hooks?.syncStarted?.(this.name);
      const base = pair.syncOptions.folders;
      const only = how.only;
      const report = await sync(pair.left, pair.right, {
        ...pair.syncOptions,
        folders: only ? (key: string) => (!base || base(key)) && only(key) : base,
        dryRun: how.dryRun === true,
        signal: this.#stop.signal,
        ...(how.onEvent ? { onEvent: how.onEvent } : {}),
      });
      const seconds = (performance.now() - started) / 1000;
      if (!how.dryRun) {
        this.#failures = 0;
        this.#lastSync = lastSyncOf(report, seconds);
        // What `twinbox status --offline` reads once the daemon is gone (stop waits for it): written
        // after the sync's caller has its answer, not before, which a no-op sync would wait ~1 ms for.
        this.#recording = this.#recording.then(() =>
          recordLastSync(pair.statePath, report, seconds).catch((err: unknown) => {
            this.#options.log.warn(
              { pair: this.name },
              `cannot record the last sync: ${(err as Error).message}`,
            );
          }),
        );
      }
      for (const folder of report.folders)
        for (const e of folder.errors) {
          this.#lastError = {
            at: new Date().toISOString(),
            message: e.message,
            ...(e.code ? { code: e.code } : {}),
          };
          this.#options.log.warn({ pair: this.name, folder: folder.key, code: e.code }, e.message);
        }
      const { totals } = report;
      if (
        totals.copied +
          totals.moved +
          (totals.foldersRenamed ?? 0) +
          totals.flagged +
          totals.deleted +
          totals.errors +
          totals.foldersCreated +
          totals.foldersDeleted >
          0 ||
        how.dryRun
      )
        this.#options.log.info(
          { pair: this.name, totals, ms: Math.round(seconds * 1000), dryRun: how.dryRun === true },
          'synced',
        );
      this.#options.hooks?.syncFinished?.(this.name, report, seconds, how.dryRun === true);
      return { ok: true, result: { report, seconds } };
    } catch (error) {
      const seconds = (performance.now() - started) / 1000;
      if (!this.#stop.signal.aborted) {
        this.#failed(error);
        this.#options.log.error(
          { pair: this.name, code: codeOf(error), failures: this.#failures },
          `sync failed: ${(error as Error).message}`,
        );
      }
      this.#options.hooks?.syncFailed?.(this.name, error, seconds);
      return { ok: false, error };
    } finally {
      release();
    }
  }

  /**
   * The pair's folders on a side, and among them those its `watch` patterns name: what an IDLE-only
   * server is asked to watch (NOTIFY and a Maildir watch them all).
   */
  async #watchedFolders(
    pair: OpenedPair,
    side: 'left' | 'right',
  ): Promise<{ all: FolderPath[]; named: FolderPath[] }> {
    const folders = await pair[side].listFolders();
    const base = pair.syncOptions.folders;
    const wanted = folderMatcher(this.#options.watchPatterns);
    const all = folders
      .filter((f): f is FolderInfo => !isRefusedFolder(f))
      .map((f) => f.path)
      .filter((path) => !base || base(folderKey(path)));
    return { all, named: all.filter((path) => wanted(path)) };
  }

  #watchRequests: { left?: string; right?: string } = {};

  /** After a full pass the folder list may have changed: an IDLE watch follows it. */
  async #rewatch(pair: OpenedPair): Promise<void> {
    for (const side of ['left', 'right'] as const) {
      if (this.#watch[side]?.method !== 'idle') continue;
      try {
        const folders = await this.#watchedFolders(pair, side);
        const fingerprint = JSON.stringify(folders.named);
        if (fingerprint === this.#watchRequests[side]) continue;
        this.#watchRequests[side] = fingerprint;
        const connections = this.#options.watchConnections[side];
        const status = await pair[side].watch!({ folders: folders.named, maxConnections: connections });
        this.#watch[side] = status;
        // A change made while the connections were replaced may have gone unreported: look once more.
        for (const path of folders.named) this.#dirty.keys.add(folderKey(path));
        this.#wakeup.wake();
        this.#options.hooks?.watching?.(this.name, side, status, watchedCount(status, folders.all));
      } catch (err) {
        this.#options.log.warn(
          { pair: this.name, side, code: codeOf(err) },
          `cannot change the watch: ${(err as Error).message}`,
        );
      }
    }
  }

  /**
   * Watches one side for as long as the pair is open: each notice marks folders dirty and wakes the
   * loop. A side that cannot be watched is left to the full passes; a watch that fails is started
   * again after a backoff, and the full pass that follows covers what it missed.
   */
  async #watchSide(pair: OpenedPair, side: 'left' | 'right', signal: AbortSignal): Promise<void> {
    const connections = this.#options.watchConnections[side];
    if (connections === 0) return;
    const controller = pair.withOptions(side, { signal, deadlineMs: Number.POSITIVE_INFINITY });
    if (!controller.watch || !controller.nextChange) return;
    let attempts = 0;
    while (!signal.aborted) {
      try {
        const folders = await this.#watchedFolders(pair, side);
        this.#watchRequests[side] = JSON.stringify(folders.named);
        const status = await controller.watch({ folders: folders.named, maxConnections: connections });
        this.#watch[side] = status;
        this.#options.hooks?.watching?.(this.name, side, status, watchedCount(status, folders.all));
        if (this.#state === 'polling') this.#setState('watching');
        this.#options.log.info(
          {
            pair: this.name,
            side,
            method: status.method,
            connections: status.connections,
            unwatched: status.unwatched.length,
          },
          'watching',
        );
        attempts = 0;
        for (;;) {
          const notice = await controller.nextChange();
          this.#dirty.add(notice);
          this.#wakeup.wake();
        }
      } catch (err) {
        if (signal.aborted) return;
        this.#watch[side] = undefined;
        this.#options.hooks?.watching?.(this.name, side, undefined, 0);
        if (codeOf(err) === 'WATCH_UNSUPPORTED') return;
        attempts++;
        this.#options.log.warn(
          { pair: this.name, side, code: codeOf(err) },
          `the watch failed; changes are picked up by the full pass until it is back: ${(err as Error).message}`,
        );
        // Whatever happened while the watch was down.
        this.#dirty.all = true;
        this.#wakeup.wake();
        await sleep(backoffDelay(attempts, this.#options.backoff), undefined, { signal }).catch(() => {});
      }
    }
  }
}
