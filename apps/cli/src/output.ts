import type { SyncEvent, SyncReport } from '@twinbox/core';
import cliProgress from 'cli-progress';

/** How much the user asked to see. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

/**
 * Where a command's output goes. Three renderings of the same events: progress bars on a terminal,
 * plain lines for logs and pipes, JSON lines for programs. Errors go to stderr in the first two.
 */
export interface Reporter {
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
    `${verb} ${t.copied}, flagged ${t.flagged}, deleted ${t.deleted}, paired ${t.paired}, ` +
    `folders created ${t.foldersCreated}, deleted ${t.foldersDeleted}, conflicts ${t.conflicts}, ` +
    `${t.tooLarge ? `too large (not copied) ${t.tooLarge}, ` : ''}${t.tooOld ? `too old (not copied) ${t.tooOld}, ` : ''}errors ${t.errors} in ${seconds.toFixed(1)} s${report.aborted ? ' (interrupted: the rest is synced next time)' : ''}`
  );
}

function folderLine(f: SyncReport['folders'][number]): string | undefined {
  const parts: string[] = [];
  if (f.copied.toLeft || f.copied.toRight) parts.push(`copied ${f.copied.toRight} →, ${f.copied.toLeft} ←`);
  if (f.flagged.left || f.flagged.right) parts.push(`flagged ${f.flagged.right} →, ${f.flagged.left} ←`);
  if (f.deleted.left || f.deleted.right) parts.push(`deleted ${f.deleted.right} →, ${f.deleted.left} ←`);
  if (f.paired) parts.push(`paired ${f.paired}`);
  if (f.conflicts) parts.push(`conflicts ${f.conflicts}`);
  if (f.tooLarge) parts.push(`too large (not copied) ${f.tooLarge}`);
  if (f.tooOld) parts.push(`too old (not copied) ${f.tooOld}`);
  if (f.errors.length) parts.push(`errors ${f.errors.length}`);
  if (f.action !== 'synced') parts.unshift(f.action);
  return parts.length ? `${f.key}: ${parts.join(', ')}` : undefined;
}

/** Plain lines: one per folder that changed, and the summary. For logs, cron mail and pipes. */
export class PlainReporter implements Reporter {
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

/** Columns a progress line takes besides the folder name and the bar, at their widest in practice. */
const PROGRESS_TAIL = 52;

/**
 * How wide the folder name and the bar are on a terminal of `columns`: a line longer than the terminal
 * would be cut (losing the ETA) or wrap and break the redraw of every bar below it.
 */
export function progressLayout(columns: number): { folder: number; bar: number } {
  const room = Math.max(0, columns - PROGRESS_TAIL - 4);
  const folder = Math.min(30, Math.max(10, Math.floor(room * 0.45)));
  const bar = Math.min(30, Math.max(6, room - folder));
  return { folder, bar };
}

/** A folder name in `width` columns: long names keep their start and their end (the leaf). */
export function fitName(name: string, width: number): string {
  const chars = [...name];
  if (chars.length <= width) return name.padEnd(width + name.length - chars.length);
  const head = Math.ceil((width - 1) / 2);
  const tail = width - 1 - head;
  return `${chars.slice(0, head).join('')}…${tail > 0 ? chars.slice(-tail).join('') : ''}`;
}

/** Progress bars per folder (messages with rate and ETA, bytes), then the same lines as plain. */
export class TtyReporter extends PlainReporter {
  readonly #bars: cliProgress.MultiBar;
  readonly #layout: { folder: number; bar: number };

  constructor(
    verbosity: Verbosity,
    out: NodeJS.WritableStream = process.stdout,
    err: NodeJS.WriteStream = process.stderr,
  ) {
    super(verbosity, out, err);
    this.#layout = progressLayout(err.columns || 80);
    this.#bars = new cliProgress.MultiBar(
      {
        format: ' {folder} |{bar}| {value}/{total} {direction} {bytes} {rate} msg/s ETA {eta_formatted}',
        barsize: this.#layout.bar,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 50,
        autopadding: true,
        stream: err,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  readonly #live = new Map<
    string,
    { bar: cliProgress.SingleBar; value: number; bytes: number; started: number }
  >();

  override event(pair: string, event: SyncEvent): void {
    const id = `${pair}\u0000${event.key}`;
    if (event.type === 'folder-planned') {
      const total = event.plan.toLeft.copies.length + event.plan.toRight.copies.length;
      if (total === 0 || this.verbosity === 'quiet') return;
      const direction =
        event.plan.toLeft.copies.length === 0 ? '→' : event.plan.toRight.copies.length === 0 ? '←' : '⇄';
      const bar = this.#bars.create(total, 0, {
        folder: fitName(event.key, this.#layout.folder),
        direction,
        bytes: formatBytes(0),
        rate: '0',
      });
      this.#live.set(id, { bar, value: 0, bytes: 0, started: performance.now() });
    } else if (event.type === 'copied') {
      const live = this.#live.get(id);
      if (!live) return;
      live.bytes += event.bytes;
      live.value += event.count;
      const value = live.value;
      const seconds = Math.max(0.001, (performance.now() - live.started) / 1000);
      live.bar.update(value, {
        bytes: `${formatBytes(live.bytes)} ${formatBytes(live.bytes / seconds)}/s`,
        rate: (value / seconds).toFixed(0),
      });
    } else if (event.type === 'folder-done') {
      const live = this.#live.get(id);
      if (live) {
        live.bar.stop();
        this.#live.delete(id);
      }
      for (const e of event.report.errors) this.#bars.log(`${pair}: ${event.key}: ${e.code}: ${e.message}\n`);
    }
  }

  override pairDone(pair: string, report: SyncReport, seconds: number, dryRun: boolean): void {
    this.#bars.stop();
    if (this.verbosity !== 'quiet') {
      for (const f of report.folders) {
        const line = folderLine(f);
        if (line) this.out.write(`${pair}: ${line}\n`);
      }
    }
    super.pairDone(pair, report, seconds, dryRun);
  }

  override close(): void {
    this.#bars.stop();
  }
}

/** JSON lines on stdout, one object per event, for programs; nothing else is printed there. */
export class JsonReporter implements Reporter {
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
        },
        toRight: {
          copies: plan.toRight.copies.length,
          flags: plan.toRight.flags.length,
          deletes: plan.toRight.deletes.length,
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

export function makeReporter(options: { json?: boolean; quiet?: boolean; verbose?: boolean }): Reporter {
  const verbosity: Verbosity = options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal';
  if (options.json) return new JsonReporter();
  return process.stderr.isTTY ? new TtyReporter(verbosity) : new PlainReporter(verbosity);
}
