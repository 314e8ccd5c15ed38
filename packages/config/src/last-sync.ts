import { readFile, writeFile } from 'node:fs/promises';
import type { SyncReport } from '@twinbox/core';

/**
 * What `twinbox status` shows about the last sync of a pair, written next to its state by whoever ran
 * the sync (the CLI or the daemon), so either can show what the other did.
 */
export interface LastSync {
  /** When the sync ended, ISO 8601. */
  finishedAt: string;
  seconds: number;
  /** Set when the sync was stopped before every folder was done. */
  aborted: boolean;
  totals: SyncReport['totals'];
  folders: { key: string; action: string; errors: number }[];
}

/** Where the {@link LastSync} of the pair whose state is at `statePath` lives. */
export function lastSyncFile(statePath: string): string {
  return `${statePath}.last.json`;
}

/** The {@link LastSync} summary of a report. */
export function lastSyncOf(report: SyncReport, seconds: number, finishedAt: Date = new Date()): LastSync {
  return {
    finishedAt: finishedAt.toISOString(),
    seconds,
    aborted: report.aborted,
    totals: report.totals,
    folders: report.folders.map((f) => ({ key: f.key, action: f.action, errors: f.errors.length })),
  };
}

/** Writes the {@link LastSync} of a sync (not of a dry run: it changed nothing) next to the pair's state. */
export async function recordLastSync(statePath: string, report: SyncReport, seconds: number): Promise<void> {
  const text = `${JSON.stringify(lastSyncOf(report, seconds), null, 2)}\n`;
  await writeFile(lastSyncFile(statePath), text, { mode: 0o600 });
}

/** The {@link LastSync} recorded for the pair whose state is at `statePath`; undefined when never synced. */
export async function readLastSync(statePath: string): Promise<LastSync | undefined> {
  try {
    return JSON.parse(await readFile(lastSyncFile(statePath), 'utf8')) as LastSync;
  } catch {
    // Never synced (or synced by a version that wrote no summary): nothing to show.
    return undefined;
  }
}
