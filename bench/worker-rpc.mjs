// RPC through @twinbox/worker-runtime: a component in a worker thread against the same component
// inline (same contract: structured clone, transfers, signals), on one machine, one run each.
//  - small calls: round trips per second, one at a time and with 64 in flight, plain and with a
//    deadline and a signal (the cancellable path);
//  - message bodies of 100 KB and 1 MB, caller to component (`take`) and back (`give`), moved with
//    transfer() or copied; MB/s.
//
// Each case is the median of --trials runs of --seconds each: the machine is shared, so single runs
// are noisy.
//
//   node bench/worker-rpc.mjs [--seconds 1] [--trials 3]
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startComponent, transfer } from '../packages/worker-runtime/dist/index.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '1' }, trials: { type: 'string', default: '3' } },
});
const SECONDS = Number(values.seconds);
const TRIALS = Number(values.trials);
const component = new URL('./worker-rpc-component.mjs', import.meta.url);

/** Runs `batch()` (which does `n` operations) until SECONDS passed, after a warm-up; ops per second. */
async function rate(batch, n) {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) await batch();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < SECONDS * 1000) {
    await batch();
    ops += n;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

function cases(handle) {
  const api = handle.api;
  const controller = new AbortController();
  const cancellable = handle.with({ signal: controller.signal, deadlineMs: 10_000 });
  const sequential = (a) => async () => {
    for (let i = 0; i < 100; i++) await a.ping(i);
  };
  const inFlight = (a) => async () => {
    const calls = [];
    for (let i = 0; i < 64; i++) calls.push(a.ping(i));
    await Promise.all(calls);
  };
  const take = (size, moved) => async () => {
    const body = new Uint8Array(size);
    await api.take({ folder: 'INBOX', body: moved ? transfer(body, [body.buffer]) : body });
  };
  const give = (size, moved) => async () => {
    await api.give(size, moved);
  };
  const KB = 1024;
  const MB = 1024 * KB;
  return [
    ['small calls, sequential', 'calls/s', () => rate(sequential(api), 100)],
    ['small calls, 64 in flight', 'calls/s', () => rate(inFlight(api), 64)],
    ['small calls, sequential, signal+deadline', 'calls/s', () => rate(sequential(cancellable), 100)],
    ['small calls, 64 in flight, signal+deadline', 'calls/s', () => rate(inFlight(cancellable), 64)],
    ...[100 * KB, MB].flatMap((size) => {
      const label = size === MB ? '1 MB' : '100 KB';
      const mbs = async (batch) => ((await rate(batch, 1)) * size) / MB;
      return [
        [`${label} body to component, moved`, 'MB/s', () => mbs(take(size, true))],
        [`${label} body to component, copied`, 'MB/s', () => mbs(take(size, false))],
        [`${label} body from component, moved`, 'MB/s', () => mbs(give(size, true))],
        [`${label} body from component, copied`, 'MB/s', () => mbs(give(size, false))],
      ];
    }),
  ];
}

const results = {};
for (const mode of ['inline', 'thread']) {
  const handle = await startComponent(component, { mode });
  for (const [name, unit, run] of cases(handle)) {
    results[name] ??= { unit };
    const trials = [];
    for (let t = 0; t < TRIALS; t++) trials.push(await run());
    results[name][mode] = trials.sort((a, b) => a - b)[Math.floor(TRIALS / 2)];
  }
  await handle.close();
}

const fmt = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const rows = [
  ['case', 'unit', 'inline', 'thread', 'thread/inline'],
  ...Object.entries(results).map(([name, r]) => [
    name,
    r.unit,
    fmt(r.inline),
    fmt(r.thread),
    `${(r.thread / r.inline).toFixed(2)}x`,
  ]),
];
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
for (const [i, row] of rows.entries()) {
  console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
console.log(
  `node ${process.version}, ${os.availableParallelism()} CPUs, median of ${TRIALS} × ${SECONDS} s per case; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);
