import type { LoadReport } from './imap.js';

/** Text table of a load: messages per folder, the failures (all of them: each one is a finding), time. */
export function formatReport(report: LoadReport, what = 'appended'): string {
  const names = Object.keys(report.folders);
  const width = Math.max(6, ...names.map((n) => n.length));
  const lines = [`${'folder'.padEnd(width)}  messages`];
  for (const name of names) lines.push(`${name.padEnd(width)}  ${String(report.folders[name]).padStart(8)}`);
  lines.push(`${'total'.padEnd(width)}  ${String(report.appended).padStart(8)}`);
  lines.push('');
  lines.push(
    `${report.appended} messages ${what} in ${report.seconds.toFixed(1)} s ` +
      `(${Math.round(report.appended / Math.max(report.seconds, 1e-9))} messages/s), ${report.failed.length} failed`,
  );
  for (const f of report.failed) lines.push(`  failed: ${f.key}: ${f.error}`);
  return lines.join('\n');
}

/**
 * Progress for a terminal (one line rewritten in place) or a log (a line every 10 %), so a CI log
 * does not get thousands of carriage returns.
 */
export function progressPrinter(
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): (done: number) => void {
  const step = Math.max(1, Math.ceil(total / 10));
  return (done) => {
    if (stream.isTTY) {
      if (done % 50 === 0 || done === total) stream.write(`\r${done}/${total}${done === total ? '\n' : ''}`);
    } else if (done % step === 0 || done === total) {
      stream.write(`${done}/${total}\n`);
    }
  };
}
