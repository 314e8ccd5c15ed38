import type { SyncEvent, SyncReport } from '@twinbox/core';
import cliProgress from 'cli-progress';
import { folderLine, formatBytes, PlainReporter, type Verbosity } from './output.js';

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

  // Bars need every event; quiet shows no bars, only the errors in each folder's end.
  override get events(): 'all' | 'folders' {
    return this.verbosity === 'quiet' ? 'folders' : 'all';
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
      for (const e of event.report.errors) {
        const line = `${pair}: ${event.key}: ${e.code}: ${e.message}\n`;
        // Above the bars while they are drawn; cli-progress only prints its log at a redraw, so with
        // no bar (quiet, or nothing copied) the line goes out at once rather than never.
        if (this.#bars.isActive) this.#bars.log(line);
        else this.err.write(line);
      }
    }
  }

  /** Stops the bars, after a last redraw that prints the lines logged since the one before. */
  #stopBars(): void {
    if (this.#bars.isActive) this.#bars.update();
    this.#bars.stop();
  }

  override pairDone(pair: string, report: SyncReport, seconds: number, dryRun: boolean): void {
    this.#stopBars();
    if (this.verbosity !== 'quiet') {
      for (const f of report.folders) {
        const line = folderLine(f);
        if (line) this.out.write(`${pair}: ${line}\n`);
      }
    }
    super.pairDone(pair, report, seconds, dryRun);
  }

  override close(): void {
    this.#stopBars();
  }
}
