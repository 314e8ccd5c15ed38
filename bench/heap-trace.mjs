// Where a Twinbox process's memory is, per thread, from the trace the CLI writes with
// TWINBOX_HEAP_TRACE=<file> (apps/cli/src/heap-trace.ts: every thread appends a sample every 100 ms).
// For each process in the file: its peak RSS, and at that moment each thread's V8 heap (committed,
// used, of it the young generation) and its external and ArrayBuffer memory; then each thread's own
// maxima over the run. What the isolates' heaps do not explain of the RSS is code, stacks, malloc and
// native memory (OpenSSL, SQLite).
//
//   TWINBOX_HEAP_TRACE=/tmp/heap.jsonl node bench/compare.mjs --multipliers 5 --scenarios first --tools twinbox --repeat 1
//   node bench/heap-trace.mjs /tmp/heap.jsonl

import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: node bench/heap-trace.mjs <trace.jsonl>');
const samples = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const mb = (n) => (n / 1048576).toFixed(1);
const byPid = Map.groupBy(samples, (s) => s.pid);
for (const [pid, all] of byPid) {
  const threads = Map.groupBy(all, (s) => `${s.thread} ${s.name}`);
  const peak = all.reduce((a, b) => (b.rss > a.rss ? b : a));
  const t0 = Math.min(...all.map((s) => s.t));
  console.log(
    `\npid ${pid}: ${((Math.max(...all.map((s) => s.t)) - t0) / 1000).toFixed(1)} s traced, peak RSS ${mb(peak.rss)} MB at ${((peak.t - t0) / 1000).toFixed(1)} s`,
  );
  const rows = [];
  const sum = { heapTotal: 0, heapUsed: 0, youngSize: 0, external: 0, arrayBuffers: 0 };
  for (const [thread, list] of threads) {
    const near = list.reduce((a, b) => (Math.abs(b.t - peak.t) < Math.abs(a.t - peak.t) ? b : a));
    for (const k of Object.keys(sum)) sum[k] += near[k];
    const max = (k) => mb(Math.max(...list.map((s) => s[k])));
    rows.push([
      thread,
      mb(near.heapTotal),
      mb(near.heapUsed),
      mb(near.youngSize),
      mb(near.external),
      mb(near.arrayBuffers),
      max('heapTotal'),
      max('heapUsed'),
      max('youngSize'),
      max('arrayBuffers'),
    ]);
  }
  rows.push([
    'sum',
    mb(sum.heapTotal),
    mb(sum.heapUsed),
    mb(sum.youngSize),
    mb(sum.external),
    mb(sum.arrayBuffers),
    '',
    '',
    '',
    '',
  ]);
  const head = [
    'thread',
    'heap MB',
    'used',
    'young',
    'external',
    'ArrayBuffers',
    'max heap',
    'max used',
    'max young',
    'max ArrayBuffers',
  ];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`| ${head.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`RSS not in the isolates' heaps at the peak: ${mb(peak.rss - sum.heapTotal)} MB`);
}
