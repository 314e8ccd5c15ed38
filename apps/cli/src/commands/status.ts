import type { LastSync } from '@twinbox/config/control';
import type { Command } from 'commander';
import { contextOf, selectPairs } from '../context.js';
import { findDaemon, statusThroughDaemon } from '../daemon-client.js';
import { workerEntries } from '../entries.js';
import { EXIT } from '../exit-codes.js';

interface PairStatus {
  pair: string;
  state: string;
  lastSync?: LastSync;
  /** Per folder with something to do: what a sync now would do (a dry run). */
  pending?: {
    folder: string;
    toLeft: number;
    toRight: number;
    flags: number;
    deletes: number;
    /** Messages to move into this folder (from another), both ways. */
    moves: number;
  }[];
  /**
   * What a sync now would do to folders themselves (`rename Projekte → Archiv/Projekte`, `create X`,
   * `delete Y`): a dry run's folder reports other than synced and skipped.
   */
  pendingFolders?: string[];
  error?: string;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description(
      'Per pair: the last sync, and what a sync now would change (per folder); with a daemon, what it is doing.',
    )
    .argument('[pair...]', 'pairs to show (all when none is named)')
    .option('--offline', 'do not connect: show only what the last sync recorded')
    .addHelpText(
      'after',
      "\nWhen twinboxd runs for the same config, each pair's live state comes from it: watching, polling, syncing or backing off, since when, its last sync and error, and how each side is watched (--no-daemon: what the last sync recorded and, unless --offline, a dry run here, which cannot open the pairs the daemon holds: their state is locked, exit 5).\n\nExamples:\n  twinbox status\n  twinbox status work --offline\n  twinbox status --json",
    )
    .action(async (pairs: string[], options: { offline?: boolean }, command: Command) => {
      const ctx = await contextOf(command);
      const daemon = await findDaemon(ctx);
      if (daemon) {
        process.exitCode = await statusThroughDaemon(ctx, daemon, pairs);
        return;
      }
      const { readLastSync, statePath, syncPair } = await import('@twinbox/config');
      const { exitCodeOf } = await import('../failure.js');
      const loaded = await ctx.load();
      const statuses: PairStatus[] = [];
      let exit: number = EXIT.OK;
      for (const name of selectPairs(loaded, pairs)) {
        const path = statePath(loaded.config, name);
        const status: PairStatus = { pair: name, state: path };
        const lastSync = await readLastSync(path);
        if (lastSync) status.lastSync = lastSync;
        if (!options.offline) {
          try {
            const { report } = await syncPair(loaded, name, {
              entries: workerEntries,
              ...(ctx.options.inline ? { mode: 'inline' as const } : {}),
              dryRun: true,
            });
            status.pending = report.plans.map((p) => ({
              folder: p.key,
              toLeft: p.toLeft.copies.length,
              toRight: p.toRight.copies.length,
              flags: p.toLeft.flags.length + p.toRight.flags.length,
              deletes: p.toLeft.deletes.length + p.toRight.deletes.length,
              moves: (p.toLeft.moves?.length ?? 0) + (p.toRight.moves?.length ?? 0),
            }));
            status.pendingFolders = report.folders.flatMap((f) => {
              if (f.action === 'renamed' && f.renamed) {
                return [`rename ${f.renamed.from} → ${f.key} (on the ${f.renamed.on})`];
              }
              if (f.action === 'created' || f.action === 'recreated') return [`create ${f.key}`];
              if (f.action === 'deleted') return [`delete ${f.key}`];
              return [];
            });
          } catch (err) {
            status.error = (err as Error).message;
            exit = Math.max(exit, exitCodeOf(err));
          }
        }
        statuses.push(status);
      }
      if (ctx.options.json) {
        process.stdout.write(`${JSON.stringify(statuses)}\n`);
      } else {
        for (const s of statuses) process.stdout.write(renderStatus(s));
      }
      process.exitCode = exit;
    });
}

function renderStatus(s: PairStatus): string {
  const lines = [`${s.pair}  (state ${s.state})`];
  if (s.lastSync) {
    const t = s.lastSync.totals;
    lines.push(
      `  last sync ${s.lastSync.finishedAt}${s.lastSync.aborted ? ' (interrupted)' : ''}: copied ${t.copied}, ${t.moved ? `moved ${t.moved}, ` : ''}${t.foldersRenamed ? `folders renamed ${t.foldersRenamed}, ` : ''}flagged ${t.flagged}, deleted ${t.deleted}, errors ${t.errors}, ${s.lastSync.folders.length} folders`,
    );
  } else {
    lines.push('  never synced');
  }
  if (s.error) lines.push(`  cannot tell what is pending: ${s.error}`);
  else if (s.pending?.length === 0 && !s.pendingFolders?.length) lines.push('  in sync: nothing pending');
  else if (s.pending) {
    for (const f of s.pendingFolders ?? []) lines.push(`  pending folder ${f}`);
    for (const p of s.pending)
      lines.push(
        `  pending ${p.folder}: copy ${p.toRight} →, ${p.toLeft} ←; ${p.moves ? `moves ${p.moves}; ` : ''}flags ${p.flags}; deletions ${p.deletes}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
