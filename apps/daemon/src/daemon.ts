import { setTimeout as sleep } from 'node:timers/promises';
import { defaultConfigPath, loadConfig, syncPair } from '@twinbox/config';
import type { Logger } from 'pino';

export interface DaemonOptions {
  config?: string;
  /** Seconds between the start of two rounds. */
  interval: number;
  /** One round, then exit (for cron-like use and tests). */
  once?: boolean;
  inline?: boolean;
  signal: AbortSignal;
  log: Logger;
}

/**
 * Syncs every pair of the config, round after round. The config is read again each round, so an edit
 * applies without a restart, and a broken edit is logged and retried rather than ending the daemon.
 * A pair that fails (server down, locked by a `twinbox sync` the user runs) is logged and tried again
 * next round; the others go on. Returns how many pairs failed in the last round.
 */
export async function runDaemon(options: DaemonOptions): Promise<number> {
  const { log, signal } = options;
  const file = options.config ?? defaultConfigPath();
  let failures = 0;
  while (!signal.aborted) {
    const started = Date.now();
    failures = 0;
    try {
      const loaded = await loadConfig(file);
      for (const name of Object.keys(loaded.config.pairs)) {
        if (signal.aborted) break;
        try {
          const { report } = await syncPair(loaded, name, {
            ...(options.inline ? { mode: 'inline' as const } : {}),
            signal,
          });
          log.info(
            { pair: name, totals: report.totals, aborted: report.aborted, ms: Date.now() - started },
            'synced',
          );
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
    if (options.once) break;
    const wait = Math.max(0, options.interval * 1000 - (Date.now() - started));
    await sleep(wait, undefined, { signal }).catch(() => {});
  }
  return failures;
}
