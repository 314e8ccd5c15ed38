import type { PairState } from '@twinbox/config/control';
import type { SyncReport } from '@twinbox/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RunnerHooks } from './pair-runner.js';

/** Where a pair is in the daemon's life cycle; the `twinbox_pair_state` gauge has one series per state. */
export type { PairState } from '@twinbox/config/control';

/** Every {@link PairState}, in the order the daemon goes through them. */
export const PAIR_STATES: readonly PairState[] = [
  'opening',
  'watching',
  'polling',
  'syncing',
  'backing-off',
  'stopped',
];

/**
 * How a sync of a pair ended: `ok` (no error), `partial` (it ran to the end but some folders or messages
 * failed), `aborted` (stopped by a signal before every folder was done), `failed` (no report: the pair
 * could not be opened, was locked, or a store failed mid-sync).
 */
export type SyncOutcome = 'ok' | 'partial' | 'aborted' | 'failed';

const OUTCOMES: readonly SyncOutcome[] = ['ok', 'partial', 'aborted', 'failed'];
const DIRECTIONS = ['left-to-right', 'right-to-left'] as const;
const SIDES = ['left', 'right'] as const;

/**
 * 5 ms (an incremental sync of two Maildirs with nothing new) to 10 min (a first sync of a large IMAP
 * account); anything longer lands in `+Inf`.
 */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * A driver's error code as a label value. Codes are identifiers (`MESSAGE_BAD`, `ECONNREFUSED`), but one
 * comes from whatever threw: anything else is counted as `OTHER`, so no server text ever becomes a label.
 */
function codeLabel(code: string | undefined): string {
  if (code === undefined || code === '') return 'UNKNOWN';
  return /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(code) ? code : 'OTHER';
}

/** One pair's health as {@link DaemonMetrics.health} sees it. Plain data, safe to serve as JSON. */
export interface PairHealth {
  /** The last state the daemon reported; absent before the first report. */
  state?: PairState;
  /** How the last sync ended; absent before the first one ended. */
  lastOutcome?: SyncOutcome;
  /** Unix seconds at the end of the last sync whose outcome was `ok`. */
  lastSuccess?: number;
  /** Syncs in a row that ended `failed`; back to 0 after any sync that produced a report. */
  consecutiveFailures: number;
}

/** What `/healthz` serves: `ok` decides the status (200 or 503), `pairs` is the detail, by pair name. */
export interface DaemonHealth {
  ok: boolean;
  pairs: Record<string, PairHealth>;
}

/** Options of {@link DaemonMetrics}. */
export interface DaemonMetricsOptions {
  /**
   * Also collect prom-client's default process metrics (RSS, CPU, event loop lag, heap, handles),
   * named `twinbox_process_*` and `twinbox_nodejs_*`. Default true.
   */
  defaultMetrics?: boolean;
  /** Unix time in seconds, for the last-success gauge and {@link PairHealth.lastSuccess}; tests fix it. */
  now?: () => number;
}

interface PairRecord {
  health: PairHealth;
  /** Error codes counted for the pair, so {@link DaemonMetrics.pairRemoved} can drop their series. */
  codes: Set<string>;
  /** Server connections held by the pair's watches, by side. */
  watchConnections: { left: number; right: number };
  /** Server connections held by the pair's sync in progress. */
  syncConnections: number;
  /** Sessions a resident pair holds open between syncs. */
  openSessions: number;
}

/**
 * The daemon's Prometheus metrics, in a registry of their own (not prom-client's global one, so two
 * daemons in one process, or tests, never share counters). The daemon calls one method per event;
 * {@link serveMetrics} serves the registry. The metric names are listed in the package README.
 *
 * Labels are pair names (config keys), directions, sides, states, outcomes and error codes, never an
 * error's message: a server's text can carry anything, a user name or a token included.
 *
 * Direction follows the engine's report: a copy, flag change or deletion applied to the right side is
 * `left-to-right` (it came from the left), one applied to the left side is `right-to-left`.
 */
export class DaemonMetrics {
  /** The registry every metric of this instance is registered in. */
  readonly registry = new Registry();

  readonly #now: () => number;
  readonly #pairs = new Map<string, PairRecord>();
  readonly #copied: Counter<'pair' | 'direction'>;
  readonly #flagged: Counter<'pair' | 'direction'>;
  readonly #deleted: Counter<'pair' | 'direction'>;
  readonly #errors: Counter<'pair' | 'scope' | 'code'>;
  readonly #syncs: Counter<'pair' | 'outcome'>;
  readonly #duration: Histogram<'pair'>;
  readonly #lastSuccess: Gauge<'pair'>;
  readonly #state: Gauge<'pair' | 'state'>;
  readonly #folders: Gauge<'pair' | 'side'>;

  constructor(options: DaemonMetricsOptions = {}) {
    this.#now = options.now ?? (() => Date.now() / 1000);
    const registers = [this.registry];
    const perDirection = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['pair', 'direction'] as const, registers });
    this.#copied = perDirection(
      'twinbox_messages_copied_total',
      'Messages copied, by pair and direction (left-to-right: read on the left, written on the right).',
    );
    this.#flagged = perDirection(
      'twinbox_flag_changes_total',
      'Flag changes applied, by pair and direction (left-to-right: changed on the left, applied on the right).',
    );
    this.#deleted = perDirection(
      'twinbox_messages_deleted_total',
      'Deletions applied, by pair and direction (left-to-right: deleted on the left, removed on the right).',
    );
    this.#errors = new Counter({
      name: 'twinbox_errors_total',
      help: 'Errors by pair, scope (message, folder: from a sync report; pair: a sync that failed) and code.',
      labelNames: ['pair', 'scope', 'code'] as const,
      registers,
    });
    this.#syncs = new Counter({
      name: 'twinbox_syncs_total',
      help: 'Syncs ended, by pair and outcome (ok, partial, aborted, failed).',
      labelNames: ['pair', 'outcome'] as const,
      registers,
    });
    this.#duration = new Histogram({
      name: 'twinbox_sync_duration_seconds',
      help: 'How long syncs took, by pair, whatever their outcome.',
      labelNames: ['pair'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#lastSuccess = new Gauge({
      name: 'twinbox_last_success_timestamp_seconds',
      help: 'Unix time at which the last sync of the pair ended with outcome ok.',
      labelNames: ['pair'] as const,
      registers,
    });
    this.#state = new Gauge({
      name: 'twinbox_pair_state',
      help: `The pair's state: 1 for the current one of ${PAIR_STATES.join(', ')}; 0 for the others.`,
      labelNames: ['pair', 'state'] as const,
      registers,
    });
    this.#folders = new Gauge({
      name: 'twinbox_watched_folders',
      help: 'Folders watched for changes, by pair and side.',
      labelNames: ['pair', 'side'] as const,
      registers,
    });
    const pairs = this.#pairs;
    new Gauge({
      name: 'twinbox_server_connections',
      help: "Server connections, an estimate: every pair's watch connections, plus one sync session per IMAP side of an open pair (an idle side's session closes after a minute; a sync may open up to the account's connections).",
      registers,
      collect() {
        let total = 0;
        for (const p of pairs.values())
          total += p.watchConnections.left + p.watchConnections.right + p.syncConnections + p.openSessions;
        this.set(total);
      },
    });
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: 'twinbox_' });
  }

  #pair(pair: string): PairRecord {
    let record = this.#pairs.get(pair);
    if (!record) {
      record = {
        health: { consecutiveFailures: 0 },
        codes: new Set(),
        watchConnections: { left: 0, right: 0 },
        syncConnections: 0,
        openSessions: 0,
      };
      this.#pairs.set(pair, record);
      // Zero series from the start, so `rate()` and `increase()` see the first increment of each.
      for (const direction of DIRECTIONS) {
        this.#copied.inc({ pair, direction }, 0);
        this.#flagged.inc({ pair, direction }, 0);
        this.#deleted.inc({ pair, direction }, 0);
      }
      for (const outcome of OUTCOMES) this.#syncs.inc({ pair, outcome }, 0);
    }
    return record;
  }

  /**
   * A sync of the pair begins. `connections`: the server connections it opens (0 for two Maildirs),
   * counted in `twinbox_server_connections` until {@link DaemonMetrics.syncFinished} or
   * {@link DaemonMetrics.syncFailed}.
   */
  syncStarted(pair: string, connections = 0): void {
    this.#pair(pair).syncConnections = connections;
  }

  /**
   * The server sessions a resident pair holds open whether it syncs or not (its logged-in IMAP
   * sides), counted in `twinbox_server_connections` until set again (0 once the pair is closed).
   */
  sessionsOpen(pair: string, sessions: number): void {
    this.#pair(pair).openSessions = sessions;
  }

  /**
   * A sync of the pair produced its report (of a real sync: a dry run's report counts what it planned).
   * Counts what it applied in each direction and its folder and message errors, and observes `seconds`.
   */
  syncFinished(pair: string, report: SyncReport, seconds: number): void {
    const record = this.#pair(pair);
    record.syncConnections = 0;
    let copied = { l2r: 0, r2l: 0 };
    let flagged = { l2r: 0, r2l: 0 };
    let deleted = { l2r: 0, r2l: 0 };
    let errors = 0;
    for (const f of report.folders) {
      // The engine names each count after the side it was applied to; that side received the change.
      copied = { l2r: copied.l2r + f.copied.toRight, r2l: copied.r2l + f.copied.toLeft };
      flagged = { l2r: flagged.l2r + f.flagged.right, r2l: flagged.r2l + f.flagged.left };
      deleted = { l2r: deleted.l2r + f.deleted.right, r2l: deleted.r2l + f.deleted.left };
      for (const e of f.errors) {
        errors++;
        const code = codeLabel(e.code);
        record.codes.add(code);
        this.#errors.inc({ pair, scope: e.scope, code });
      }
    }
    for (const [counter, counts] of [
      [this.#copied, copied],
      [this.#flagged, flagged],
      [this.#deleted, deleted],
    ] as const) {
      counter.inc({ pair, direction: 'left-to-right' }, counts.l2r);
      counter.inc({ pair, direction: 'right-to-left' }, counts.r2l);
    }
    const outcome: SyncOutcome = report.aborted ? 'aborted' : errors > 0 ? 'partial' : 'ok';
    this.#end(pair, record, outcome, seconds);
  }

  /**
   * A sync of the pair failed without a report (the pair could not be opened, was locked by another
   * sync, a store failed). `code` is the error's code, if it has one; `seconds` how long it ran.
   */
  syncFailed(pair: string, code: string | undefined, seconds?: number): void {
    const record = this.#pair(pair);
    record.syncConnections = 0;
    const label = codeLabel(code);
    record.codes.add(label);
    this.#errors.inc({ pair, scope: 'pair', code: label });
    this.#end(pair, record, 'failed', seconds);
  }

  #end(pair: string, record: PairRecord, outcome: SyncOutcome, seconds: number | undefined): void {
    this.#syncs.inc({ pair, outcome });
    if (seconds !== undefined && Number.isFinite(seconds) && seconds >= 0)
      this.#duration.observe({ pair }, seconds);
    record.health.lastOutcome = outcome;
    record.health.consecutiveFailures = outcome === 'failed' ? record.health.consecutiveFailures + 1 : 0;
    if (outcome === 'ok') {
      const now = this.#now();
      record.health.lastSuccess = now;
      this.#lastSuccess.set({ pair }, now);
    }
  }

  /** The pair entered `state`: its series for that state becomes 1, the others 0. */
  pairState(pair: string, state: PairState): void {
    this.#pair(pair).health.state = state;
    for (const s of PAIR_STATES) this.#state.set({ pair, state: s }, s === state ? 1 : 0);
  }

  /**
   * The pair's watch on one side now covers `folders` folders over `connections` server connections
   * (0 and 0 when the watch ended, or for a side that cannot be watched).
   */
  watching(pair: string, side: 'left' | 'right', folders: number, connections: number): void {
    this.#pair(pair).watchConnections[side] = connections;
    this.#folders.set({ pair, side }, folders);
  }

  /**
   * The pair is gone (a config reload removed it): every series labelled with it is dropped, so it no
   * longer shows, and no longer alerts, as if it still existed; its connections stop counting.
   */
  pairRemoved(pair: string): void {
    const record = this.#pairs.get(pair);
    this.#pairs.delete(pair);
    for (const direction of DIRECTIONS) {
      this.#copied.remove({ pair, direction });
      this.#flagged.remove({ pair, direction });
      this.#deleted.remove({ pair, direction });
    }
    for (const outcome of OUTCOMES) this.#syncs.remove({ pair, outcome });
    for (const code of record?.codes ?? [])
      for (const scope of ['message', 'folder', 'pair'] as const) this.#errors.remove({ pair, scope, code });
    for (const state of PAIR_STATES) this.#state.remove({ pair, state });
    for (const side of SIDES) this.#folders.remove({ pair, side });
    this.#duration.remove({ pair });
    this.#lastSuccess.remove({ pair });
  }

  /**
   * The daemon's health from what it reported here: `ok` unless every pair known is failing, a pair
   * failing when its last sync ended `failed` (no report: unreachable, locked, rejected credentials) or
   * it is backing off. A partial sync is not failing: it ran, and its errors are in the metrics. With no
   * pair yet (starting, or an empty config) the daemon is ok: it runs and nothing failed.
   */
  health(): DaemonHealth {
    const pairs: Record<string, PairHealth> = {};
    let failing = 0;
    for (const [name, record] of this.#pairs) {
      const h = record.health;
      pairs[name] = { ...h };
      if (h.lastOutcome === 'failed' || h.state === 'backing-off') failing++;
    }
    return { ok: this.#pairs.size === 0 || failing < this.#pairs.size, pairs };
  }
}

/** The daemon's hooks that keep `metrics` up to date. */
export function metricsHooks(metrics: DaemonMetrics): RunnerHooks & { removed(pair: string): void } {
  return {
    state: (pair, state) => metrics.pairState(pair, state),
    syncStarted: (pair) => metrics.syncStarted(pair),
    syncFinished: (pair, report, seconds, dryRun) => {
      // A dry run changed nothing: counting its plan as work done would lie.
      if (!dryRun) metrics.syncFinished(pair, report, seconds);
    },
    syncFailed: (pair, error, seconds) => {
      const code = (error as { code?: unknown } | undefined)?.code;
      metrics.syncFailed(pair, typeof code === 'string' ? code : undefined, seconds);
    },
    watching: (pair, side, status, folders) =>
      metrics.watching(pair, side, status ? folders : 0, status?.connections ?? 0),
    sessions: (pair, sessions) => metrics.sessionsOpen(pair, sessions),
    removed: (pair) => metrics.pairRemoved(pair),
  };
}
