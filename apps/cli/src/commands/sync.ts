import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { type Context, contextOf, selectPairs } from '../context.js';
import { findDaemon, NO_DAEMON_ENV, syncThroughDaemon } from '../daemon-client.js';
import { workerEntries } from '../entries.js';
import { EXIT } from '../exit-codes.js';

export interface SyncCommandOptions {
  folder?: string[];
  dryRun?: boolean;
}

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
  // Here rather than at the top: a sync through the daemon loads none of it (see daemon-client.ts).
  const { folderMatcher, recordLastSync, statePath: statePathOf, syncPair } = await import('@twinbox/config');
  const { exitCodeOf } = await import('../failure.js');
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
      if (!ctx.options.inline) keepYoungGenerationsSmall(loaded.config, statePathOf(loaded.config, name));
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
  twinbox sync --json | jq .         machine-readable events, one JSON object per line

When twinboxd runs for the same config, the sync is asked of it (it holds the pairs' states and
sessions): the same progress, report and exit codes, and Ctrl-C only stops waiting, the daemon finishes
the sync in flight. --no-daemon (or ${NO_DAEMON_ENV}=1) syncs here instead, for a daemon that is stuck
(the pairs it holds stay locked until it stops: exit 5); so does --inline.`,
    )
    .action(async (pairs: string[], options: SyncCommandOptions, command: Command) => {
      const ctx = await contextOf(command);
      const daemon = await findDaemon(ctx);
      process.exitCode = daemon
        ? await syncThroughDaemon(ctx, daemon, pairs, options)
        : await runSync(ctx, pairs, options);
    });
}

/**
 * For a sync whose components run in threads (`workers = "threads"`, or `"auto"` for a pair with no
 * state yet: its first sync), the main thread only passes listings and bodies between the threads, and
 * a young generation grown to V8's 64 MB there was a fifth of the peak RSS of a 60,000-message first
 * sync (bench/README.md, "Memory at ×10"). `--semi-space-growth-factor` is read whenever V8 would grow
 * one, so set now it keeps every heap's at its starting size. Not for a sync in this thread, which
 * allocates enough for a small young generation to cost CPU (a no-op: about 20 ms). Process-wide,
 * hence here in the app and not in a library.
 */
function keepYoungGenerationsSmall(config: { workers: string }, statePath: string): void {
  const threaded = config.workers === 'threads' || (config.workers === 'auto' && !existsSync(statePath));
  if (threaded) setFlagsFromString('--semi-space-growth-factor=1');
}
