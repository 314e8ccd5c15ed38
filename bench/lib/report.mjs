// The summary and the Markdown table of compare.mjs, from its runs: also used to re-render (and merge)
// the JSON files of earlier runs, say a ×1 and a ×5 run made separately. The other benches use its
// median, quantile and machine description.
import { cpus, hostname, release, totalmem } from 'node:os';

const TOOLS = ['twinbox', 'mbsync', 'plain', 'interimap', 'offlineimap'];
const SCENARIOS = ['first', 'noop', 'server-batch', 'maildir-batch', 'imap-first', 'imap-noop'];

/** The median of a list of numbers (NaN for none). */
export const median = (xs) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The q-quantile (0–1) by the nearest rank: a value that was measured, never an interpolation. */
export const quantile = (xs, q) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

/** Where a result was measured: host, CPUs, memory, kernel, Node, and the tools' versions if given. */
export const machineInfo = (versions) => ({
  host: hostname(),
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
  ...(versions ? { versions } : {}),
});

/** Per multiplier, scenario and tool: timings over the correct runs only, and the ratios to Twinbox. */
export function summarize(runs) {
  const summary = [];
  const multipliers = [...new Set(runs.map((r) => r.multiplier))].sort((a, b) => a - b);
  for (const multiplier of multipliers)
    for (const scenario of SCENARIOS)
      for (const tool of TOOLS) {
        const all = runs.filter(
          (r) => r.multiplier === multiplier && r.scenario === scenario && r.tool === tool,
        );
        if (!all.length) continue;
        const good = all.filter((r) => r.ok);
        const pick = (k) => good.map((r) => r[k]);
        // The wrong runs' own time, for the notes only: it never enters a ratio.
        const wrongWall = all.filter((r) => !r.ok && Number.isFinite(r.wall)).map((r) => r.wall);
        summary.push({
          multiplier,
          messages: all[0].messages,
          scenario,
          tool,
          runs: all.length,
          ok: good.length,
          ...(good.length
            ? {
                wall: {
                  min: Math.min(...pick('wall')),
                  median: median(pick('wall')),
                  max: Math.max(...pick('wall')),
                },
                user: median(pick('user')),
                sys: median(pick('sys')),
                rssMb: Math.max(...pick('rssMb')),
                serverCpu: median(pick('serverCpu')),
              }
            : {}),
          ...(wrongWall.length ? { wrongWallMedian: median(wrongWall) } : {}),
        });
      }
  for (const s of summary) {
    const t = summary.find(
      (x) => x.multiplier === s.multiplier && x.scenario === s.scenario && x.tool === 'twinbox',
    );
    if (s.tool !== 'twinbox' && s.wall && t?.wall) {
      s.ratio = t.wall.median / s.wall.median;
      if (s.serverCpu > 0) s.serverRatio = t.serverCpu / s.serverCpu;
    }
  }
  return summary;
}

const f2 = (x) => x.toFixed(2);

/** The table, with a header line saying when, where and with what, and notes on every failure. */
export function markdown({ started, seconds, machine, repeat, runs, notes = [] }) {
  const summary = summarize(runs);
  const lines = [
    `Measured ${started.slice(0, 16).replace('T', ' ')} UTC on ${machine.host} (${machine.cpu}, ` +
      `${machine.memoryGb} GB, Linux ${machine.kernel}, Node ${machine.node}); ${repeat} repetitions, interleaved; ` +
      `Dovecot on loopback over IMAPS; the run took ${(seconds / 60).toFixed(0)} min. ${Object.entries(
        machine.versions,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}.`,
    ...(runs.some((r) => r.load !== undefined)
      ? [
          '',
          `1-minute load average before each run: ${f2(Math.min(...runs.map((r) => r.load ?? Number.POSITIVE_INFINITY)))}–` +
            `${f2(Math.max(...runs.map((r) => r.load ?? 0)))} (it counts threads, so the previous run's own threads and server processes show in it; a value well above the tool's own spread means other work).`,
        ]
      : []),
    '',
    '| corpus | scenario | tool | correct | wall s, median [min–max] | user s | sys s | peak RSS MB | server CPU s | Twinbox / tool, wall | Twinbox / tool, server CPU |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ratio = (s, x) => (x ? `${f2(x)}×` : s.tool === 'twinbox' ? '' : '–');
  for (const s of summary)
    lines.push(
      `| ×${s.multiplier} (${s.messages}) | ${s.scenario} | ${s.tool} | ${s.ok}/${s.runs} | ` +
        (s.wall
          ? `${f2(s.wall.median)} [${f2(s.wall.min)}–${f2(s.wall.max)}] | ${f2(s.user)} | ${f2(s.sys)} | ${s.rssMb.toFixed(0)} | ${f2(s.serverCpu)} | `
          : '– | – | – | – | – | ') +
        `${ratio(s, s.ratio)} | ${ratio(s, s.serverRatio)} |`,
    );
  const failed = summary.filter((s) => s.ok < s.runs);
  if (failed.length || notes.length) lines.push('');
  for (const n of notes) lines.push(`- ${n}`);
  for (const s of failed) {
    const wrong = runs.filter(
      (r) => !r.ok && r.multiplier === s.multiplier && r.scenario === s.scenario && r.tool === s.tool,
    );
    const span = (xs) =>
      Math.min(...xs) === Math.max(...xs) ? `${xs[0]}` : `${Math.min(...xs)}–${Math.max(...xs)}`;
    const v = (side, k) => span(wrong.map((r) => r.verify[side][k]));
    lines.push(
      `- ×${s.multiplier} ${s.scenario} ${s.tool}: ${wrong.length} of ${s.runs} runs wrong (exit ${[...new Set(wrong.map((r) => r.exitCode))].join(', ')}; ` +
        `messages missing / extra: server side ${v('server', 'missing')} / ${v('server', 'extra')}, ` +
        `local side ${v('local', 'missing')} / ${v('local', 'extra')}); ` +
        `their median wall time, not counted: ${f2(s.wrongWallMedian ?? Number.NaN)} s`,
    );
  }
  return { summary, table: lines.join('\n') };
}
