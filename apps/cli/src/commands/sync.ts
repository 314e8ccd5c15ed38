import { writeFile } from 'node:fs/promises';
import { folderMatcher, syncPair } from '@twinbox/config';
import type { SyncReport } from '@twinbox/core';
import type { Command } from 'commander';
import { type Context, contextOf, selectPairs } from '../context.js';
import { workerEntries } from '../entries.js';
import { EXIT } from '../exit-codes.js';
import { exitCodeOf } from '../failure.js';

export interface SyncCommandOptions {
  folder?: string[];
  dryRun?: boolean;
}

/** What `twinbox status` reads about the last sync of a pair: written next to its state. */
export interface LastSync {
  finishedAt: string;
  seconds: number;
  aborted: boolean;
  totals: SyncReport['totals'];
  folders: { key: string; action: string; errors: number }[];
}

export const lastSyncFile = (statePath: string) => `${statePath}.last.json`;

/**
 * Stops the sync on the first SIGINT/SIGTERM: no batch starts after it, the batch in flight gets the
 * engine's grace period (2 s), then the connections are cut, and what was done is recorded. A second
 * signal ends the process at once, which the state survives too (every write is a transaction).
 */
function interruptions(ctx: Context): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.INTERRUPTED);
    ctx.reporter.error(
      `${name}: stopping; the batch in flight gets 2 s, then the connections are cut and what was done is recorded. Press Ctrl-C again to quit at once.`,
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function runSync(
  ctx: Context,
  pairNames: string[],
  options: SyncCommandOptions,
): Promise<number> {
  const loaded = await ctx.load();
  const names = selectPairs(loaded, pairNames);
  const folderFilter = options.folder?.length ? folderMatcher(options.folder) : undefined;
  const { signal, dispose } = interruptions(ctx);
  let exit: number = EXIT.OK;
  try {
    for (const name of names) {
      if (signal.aborted) break;
      const pair = loaded.config.pairs[name]!;
      ctx.reporter.pairStart(
        name,
        `${pair.left} ⇄ ${pair.right}${options.dryRun ? ' (dry run: nothing is changed)' : ''}`,
      );
      const started = performance.now();
      try {
        const { report, statePath } = await syncPair(loaded, name, {
          entries: workerEntries,
          ...(ctx.options.inline ? { mode: 'inline' as const } : {}),
          ...(folderFilter ? { folderFilter } : {}),
          dryRun: options.dryRun === true,
          signal,
          onEvent: (event) => ctx.reporter.event(name, event),
        });
        const seconds = (performance.now() - started) / 1000;
        ctx.reporter.pairDone(name, report, seconds, options.dryRun === true);
        if (!options.dryRun) await recordLastSync(statePath, report, seconds);
        if (report.totals.errors > 0) exit = Math.max(exit, EXIT.PARTIAL);
        if (report.aborted) exit = EXIT.INTERRUPTED;
      } catch (err) {
        ctx.reporter.error(`${name}: ${(err as Error).message}`, {
          pair: name,
          code: (err as { code?: string }).code,
        });
        exit = Math.max(exit, exitCodeOf(err));
      }
    }
    if (signal.aborted) exit = EXIT.INTERRUPTED;
    return exit;
  } finally {
    dispose();
    ctx.reporter.close();
  }
}

async function recordLastSync(statePath: string, report: SyncReport, seconds: number): Promise<void> {
  const last: LastSync = {
    finishedAt: new Date().toISOString(),
    seconds,
    aborted: report.aborted,
    totals: report.totals,
    folders: report.folders.map((f) => ({ key: f.key, action: f.action, errors: f.errors.length })),
  };
  await writeFile(lastSyncFile(statePath), `${JSON.stringify(last, null, 2)}\n`, { mode: 0o600 });
}

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('Sync pairs both ways (all pairs of the config when none is named).')
    .argument('[pair...]', 'pairs to sync')
    .option('-f, --folder <pattern...>', 'only folders matching these patterns (left-side names; *, %, !)')
    .option('-n, --dry-run', 'show what would be done, change nothing')
    .addHelpText(
      'after',
      `
Examples:
  twinbox sync                       sync every pair
  twinbox sync work                  sync the pair "work"
  twinbox sync work --folder INBOX --folder 'Archive/*'
  twinbox sync --dry-run -v          show every folder and what would change
  twinbox sync --json | jq .         machine-readable events, one JSON object per line`,
    )
    .action(async (pairs: string[], options: SyncCommandOptions, command: Command) => {
      process.exitCode = await runSync(contextOf(command), pairs, options);
    });
}
