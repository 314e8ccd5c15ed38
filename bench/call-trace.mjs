// Sums up a TWINBOX_TRACE_CALLS file (see @twinbox/worker-runtime): the calls made through component
// handles, in every thread, grouped into bursts (calls less than --gap ms apart, nextChange's long
// waits left out) — with a daemon, one burst per sync. Per burst: its wall time, and for each
// component.method the count, the summed and the longest call, and the time from the burst's start
// to the end of its last call (where a phase ends).
//   TWINBOX_TRACE_CALLS=/tmp/calls.txt node bench/daemon.mjs --scenarios server-batch
//   node bench/call-trace.mjs /tmp/calls.txt [--gap 500] [--min 100] [--last 3]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    gap: { type: 'string', default: '500' },
    min: { type: 'string', default: '100' },
    last: { type: 'string', default: '3' },
  },
});
if (positionals.length !== 1)
  throw new Error('usage: node bench/call-trace.mjs FILE [--gap ms] [--min ms] [--last n]');
const calls = readFileSync(positionals[0], 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [start, end, ms, thread, what, subject, pid = ''] = line.split('\t');
    return { start: Number(start), end: Number(end), ms: Number(ms), thread, what, subject, pid };
  })
  .filter((c) => !c.what.endsWith('.nextChange'))
  .sort((a, b) => a.start - b.start);
// A burst is one process's: a CLI run beside a daemon makes bursts of its own.
const bursts = [];
const open = new Map();
for (const c of calls) {
  const b = open.get(c.pid);
  if (b && c.start - b.end < Number(values.gap)) {
    b.calls.push(c);
    b.end = Math.max(b.end, c.end);
  } else {
    const started = { start: c.start, end: c.end, calls: [c], pid: c.pid };
    bursts.push(started);
    open.set(c.pid, started);
  }
}
const shown = bursts.filter((b) => b.end - b.start >= Number(values.min)).slice(-Number(values.last));
console.log(
  `${bursts.length} bursts, ${shown.length} shown (at least ${values.min} ms, the last ${values.last})`,
);
for (const b of shown) {
  console.log(
    `\nburst of ${(b.end - b.start).toFixed(1)} ms, ${b.calls.length} calls${b.pid ? `, process ${b.pid}` : ''}`,
  );
  const by = new Map();
  for (const c of b.calls) {
    const e = by.get(c.what) ?? { n: 0, sum: 0, max: 0, first: c.start - b.start, until: 0 };
    e.n++;
    e.sum += c.ms;
    e.max = Math.max(e.max, c.ms);
    e.until = Math.max(e.until, c.end - b.start);
    by.set(c.what, e);
  }
  console.log('| call | n | sum ms | max ms | from ms | until ms |\n| --- | --- | --- | --- | --- | --- |');
  for (const [what, e] of [...by].sort((x, y) => x[1].first - y[1].first)) {
    console.log(
      `| ${what} | ${e.n} | ${e.sum.toFixed(1)} | ${e.max.toFixed(1)} | ${e.first.toFixed(1)} | ${e.until.toFixed(1)} |`,
    );
  }
}
