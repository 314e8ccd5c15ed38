import type { SyncEvent, SyncReport } from '@twinbox/core';

/** How much the user asked to see. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

/**
 * Where a command's output goes. Three renderings of the same events: progress bars on a terminal
 * (tty-reporter.ts: it loads cli-progress, which a sync through the daemon in a script never needs),
 * plain lines for logs and pipes, JSON lines for programs. Errors go to stderr in the first two.
 */
export interface Reporter {
  /**
   * Which events {@link event} shows anything for: `all`, or only `folders` (each folder's end). A
   * sync through the daemon asks it for no more than these.
   */
  readonly events: 'all' | 'folders';
  pairStart(pair: string, detail: string): void;
  event(pair: string, event: SyncEvent): void;
  pairDone(pair: string, report: SyncReport, seconds: number, dryRun: boolean): void;
  /** A line of information (not shown with --quiet, nor as text with --json). */
  info(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
  /** Called once at the end; stops any live display. */
  close(): void;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

export function summaryLine(report: SyncReport, seconds: number, dryRun: boolean): string {
  const t = report.totals;
  const verb = dryRun ? 'would copy' : 'copied';
  return (
    `${verb} ${t.copied}, ${t.moved ? `moved ${t.moved}, ` : ''}flagged ${t.flagged}, deleted ${t.deleted}, paired ${t.paired}, ` +
    `folders created ${t.foldersCreated}, deleted ${t.foldersDeleted}, ${t.foldersRenamed ? `renamed ${t.foldersRenamed}, ` : ''}conflicts ${t.conflicts}, ` +
    `${t.tooLarge ? `too large (not copied) ${t.tooLarge}, ` : ''}${t.tooOld ? `too old (not copied) ${t.tooOld}, ` : ''}errors ${t.errors} in ${seconds.toFixed(1)} s${report.aborted ? ' (interrupted: the rest is synced next time)' : ''}`
  );
}

export function folderLine(f: SyncReport['folders'][number]): string | undefined {
  const parts: string[] = [];
  if (f.copied.toLeft || f.copied.toRight) parts.push(`copied ${f.copied.toRight} →, ${f.copied.toLeft} ←`);
  // A report from a daemon older than moves has none.
  if (f.moved?.toLeft || f.moved?.toRight) parts.push(`moved ${f.moved.toRight} →, ${f.moved.toLeft} ←`);
  if (f.flagged.left || f.flagged.right) parts.push(`flagged ${f.flagged.right} →, ${f.flagged.left} ←`);
  if (f.deleted.left || f.deleted.right) parts.push(`deleted ${f.deleted.right} →, ${f.deleted.left} ←`);
  if (f.paired) parts.push(`paired ${f.paired}`);
  if (f.conflicts) parts.push(`conflicts ${f.conflicts}`);
  if (f.tooLarge) parts.push(`too large (not copied) ${f.tooLarge}`);
  if (f.tooOld) parts.push(`too old (not copied) ${f.tooOld}`);
  if (f.errors.length) parts.push(`errors ${f.errors.length}`);
  if (f.action === 'renamed' && f.renamed) {
    const below = f.renamed.folders - 1;
    const along = below > 0 ? `, with ${below} subfolder${below === 1 ? '' : 's'}` : '';
    parts.unshift(`renamed ${f.renamed.from} → ${f.key} (on the ${f.renamed.on}${along})`);
    return parts.join(', ');
  }
  if (f.action !== 'synced') parts.unshift(f.action);
  return parts.length ? `${f.key}: ${parts.join(', ')}` : undefined;
}

/** Plain lines: one per folder that changed, and the summary. For logs, cron mail and pipes. */
export class PlainReporter implements Reporter {
  get events(): 'all' | 'folders' {
    return 'folders';
  }

  constructor(
    protected readonly verbosity: Verbosity,
    protected readonly out: NodeJS.WritableStream = process.stdout,
    protected readonly err: NodeJS.WritableStream = process.stderr,
  ) {}

  pairStart(pair: string, detail: string): void {
    if (this.verbosity !== 'quiet') this.out.write(`${pair}: ${detail}\n`);
  }

  event(pair: string, event: SyncEvent): void {
    if (event.type !== 'folder-done') return;
    this.folderDone(pair, event.report);
  }

  protected folderDone(pair: string, f: SyncReport['folders'][number]): void {
    for (const e of f.errors) this.err.write(`${pair}: ${f.key}: ${e.code}: ${e.message}\n`);
    if (this.verbosity === 'quiet') return;
    const line = folderLine(f);
    if (line) this.out.write(`${pair}: ${line}\n`);
    else if (this.verbosity === 'verbose') this.out.write(`${pair}: ${f.key}: nothing to do\n`);
  }

  pairDone(pair: string, report: SyncReport, seconds: number, dryRun: boolean): void {
    this.out.write(`${pair}: ${summaryLine(report, seconds, dryRun)}\n`);
  }

  info(message: string): void {
    if (this.verbosity !== 'quiet') this.out.write(`${message}\n`);
  }

  error(message: string): void {
    this.err.write(`${message}\n`);
  }

  close(): void {}
}

/** JSON lines on stdout, one object per event, for programs; nothing else is printed there. */
export class JsonReporter implements Reporter {
  readonly events = 'all';

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  #write(value: Record<string, unknown>): void {
    this.out.write(`${JSON.stringify(value)}\n`);
  }

  pairStart(pair: string, detail: string): void {
    this.#write({ type: 'pair-start', pair, detail });
  }

  event(pair: string, event: SyncEvent): void {
    if (event.type === 'folder-planned') {
      const { plan } = event;
      this.#write({
        type: 'folder-planned',
        pair,
        folder: event.key,
        toLeft: {
          copies: plan.toLeft.copies.length,
          flags: plan.toLeft.flags.length,
          deletes: plan.toLeft.deletes.length,
          moves: plan.toLeft.moves?.length ?? 0,
        },
        toRight: {
          copies: plan.toRight.copies.length,
          flags: plan.toRight.flags.length,
          deletes: plan.toRight.deletes.length,
          moves: plan.toRight.moves?.length ?? 0,
        },
      });
    } else if (event.type === 'copied') {
      this.#write({
        type: 'copied',
        pair,
        folder: event.key,
        to: event.to,
        count: event.count,
        bytes: event.bytes,
      });
    } else if (event.type === 'folder-done') {
      this.#write({ type: 'folder-done', pair, folder: event.key, ...event.report });
    }
  }

  pairDone(pair: string, report: SyncReport, seconds: number, dryRun: boolean): void {
    this.#write({ type: 'pair-done', pair, dryRun, seconds, aborted: report.aborted, totals: report.totals });
  }

  info(message: string, data?: Record<string, unknown>): void {
    this.#write({ type: 'info', message, ...data });
  }

  error(message: string, data?: Record<string, unknown>): void {
    this.#write({ type: 'error', message, ...data });
  }

  close(): void {}
}

/**
 * The reporter for the global options: JSON lines, progress bars when stderr is a terminal, else plain
 * lines. Async because the progress bars' module (cli-progress) is imported only on a terminal: a sync
 * run from a script or cron never loads it.
 */
export async function reporterFor(options: {
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}): Promise<Reporter> {
  const verbosity: Verbosity = options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal';
  if (options.json) return new JsonReporter();
  if (!process.stderr.isTTY) return new PlainReporter(verbosity);
  const { TtyReporter } = await import('./tty-reporter.js');
  return new TtyReporter(verbosity);
}
