// Twinbox side by side with the other sync tools that are installed (mbsync from isync, interimap,
// OfflineIMAP), on the Dovecot fixture with the SpamAssassin corpus at ×1, ×5 (and ×10 by a flag).
//
// Scenarios, in this order for each repetition, each tool in turn (interleaved, the order rotated every
// repetition so that no tool always runs right after another's cache-warming):
//   first          first sync IMAP→Maildir, into an empty Maildir with no state
//   noop           the same sync again, nothing changed
//   server-batch   after 1% new, 2% flag changes, 0.5% expunged on the server (over IMAP)
//   maildir-batch  after the same shares in the Maildir (new files, flag renames, deletions)
//   imap-first     first sync IMAP→IMAP between two fixture users (the second one empty)
//   imap-noop      the same again, nothing changed
// `plain` is the baseline a first sync is held against: one client that FETCHes every body and writes
// each to a file (plain-client.mjs); it runs the `first` scenario only.
// Every tool gets its own server users, reset from one loaded seed before each first sync, so nobody's
// changes leak into another tool's run. interimap only syncs IMAP with IMAP, so it runs the imap-*
// scenarios only.
//
// Every result is verified: both sides, read from disk (the tool's Maildir, the users' Maildirs on
// Dovecot's side), must hold exactly the messages expected (by content hash, folder and system flags;
// see lib/snapshot.mjs), which for a batch is the changed side as it was before the sync. A run that
// fails or gets it wrong is marked and left out of the timings: a fast wrong answer does not count.
//
// Recorded per run: wall time, user and system CPU of the tool's whole process tree, its peak RSS
// (summed over the tree, sampled from /proc; see lib/measure.mjs), and the CPU time Dovecot's processes
// used meanwhile. Printed: a Markdown table (min, median, max wall; medians of the rest; the ratio
// Twinbox / tool of the median wall times); written: a JSON file with every run.
//
//   node bench/compare.mjs [--multipliers 1,5] [--x10] [--repeat 3] [--scenarios first,noop,...]
//     [--tools twinbox,mbsync,plain,interimap,offlineimap] [--workers auto|threads|inline] [--bin path/to/bin.js]
//     [--concurrency N]
//     [--limit N] [--dir /tmp] [--out results.json] [--timeout 1800]
//   node bench/compare.mjs --from x1.json,x5.json     (one table from earlier runs)

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { maildirBatch, serverBatch } from './lib/batch.mjs';
import { emptyUser, homeOf, newUser, resetFromSeed, startFixture } from './lib/fixture.mjs';
import { dovecotGroup, measure } from './lib/measure.mjs';
import { machineInfo, markdown } from './lib/report.mjs';
import { compareSnapshots, snapshot } from './lib/snapshot.mjs';
import { tools as allTools } from './lib/tools.mjs';

const SCENARIOS = ['first', 'noop', 'server-batch', 'maildir-batch', 'imap-first', 'imap-noop'];
const { values } = parseArgs({
  options: {
    multipliers: { type: 'string', default: '1,5' },
    x10: { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    tools: { type: 'string', default: 'twinbox,mbsync,plain,interimap,offlineimap' },
    // None by default: the config's default (auto since the build that has it; threads before).
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    bin: { type: 'string' },
    limit: { type: 'string' },
    dir: { type: 'string' },
    out: { type: 'string' },
    timeout: { type: 'string', default: '1800' },
    from: { type: 'string' },
  },
});
if (values.from) {
  // Re-renders earlier runs' JSON files as one table (say a ×1 and a ×5 run made separately), with the
  // first file's date and machine, the runs' total length and the smallest repetition count.
  const files = values.from.split(',').map((f) => JSON.parse(readFileSync(f, 'utf8')));
  const { table } = markdown({
    started: files[0].started,
    seconds: files.reduce((t, f) => t + f.seconds, 0),
    machine: { ...files[0].machine, versions: Object.assign({}, ...files.map((f) => f.machine.versions)) },
    repeat: Math.min(...files.map((f) => f.repeat ?? f.options.repeat)),
    runs: files.flatMap((f) => f.runs),
    notes: [...new Set(files.flatMap((f) => f.notes ?? []))],
  });
  console.log(table);
  process.exit(0);
}
const multipliers = values.multipliers.split(',').map(Number);
if (values.x10 && !multipliers.includes(10)) multipliers.push(10);
const repeat = Math.max(1, Number(values.repeat));
const scenarios = values.scenarios.split(',');
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
const twinboxBin = values.bin ?? new URL('../apps/cli/dist/bin.js', import.meta.url).pathname;
const timeoutMs = Number(values.timeout) * 1000;
// --concurrency N writes `concurrency = N` into every Twinbox config (as bench/daemon.mjs does).
const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 16))
  throw new Error(`--concurrency takes a whole number from 1 to 16, not ${values.concurrency}.`);
const catalogue = allTools({ twinboxBin, workers: values.workers, concurrency });
const chosen = [];
const notes = [];
for (const name of values.tools.split(',')) {
  const tool = catalogue[name];
  if (!tool) throw new Error(`unknown tool ${name}`);
  if (tool.version) chosen.push(name);
  else notes.push(`${name}: not installed, left out`);
}
if (!chosen.includes('twinbox')) throw new Error(`twinbox does not run: ${twinboxBin} (run pnpm build)`);
// The Maildir chain (first → noop → server-batch → maildir-batch) builds on its first sync, and
// imap-noop on imap-first: a later scenario asked for alone still runs the first one, untimed in the
// table.
const wantMaildir = scenarios.some((s) => !s.startsWith('imap-'));
const wantImap = scenarios.some((s) => s.startsWith('imap-'));
const maildirChain = ['first', 'noop', 'server-batch', 'maildir-batch'];
const lastMaildir = Math.max(...maildirChain.map((s, i) => (scenarios.includes(s) ? i : -1)));

const machine = machineInfo(Object.fromEntries(chosen.map((t) => [t, catalogue[t].version])));
const started = new Date();
const runs = [];
const log = (line) => console.error(line);

for (const multiplier of multipliers) {
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'twinbox-compare-'));
  const corpus = { multiplier, ...(values.limit ? { limit: Number(values.limit) } : {}) };
  const fx = await startFixture({ corpus, dir, log });
  try {
    const serverGroup = dovecotGroup(fx.configFile);
    const port = fx.info.tlsPort;
    const seedSnap = snapshot(join(homeOf(fx.info, 'seed'), 'Maildir'));
    log(`×${multiplier}: ${seedSnap.messages} messages in the seed`);
    // Per tool: its users and its two setups.
    const setups = {};
    for (const name of chosen) {
      const tool = catalogue[name];
      const s = {};
      if (wantMaildir && tool.maildir) {
        const d = join(dir, `${name}-maildir`);
        mkdirSync(d);
        const far = await newUser(fx.info, `${name}-m`);
        const maildir = join(d, 'mail');
        s.maildir = { far, maildir, ...tool.maildir({ dir: d, port, caFile: fx.caFile, far, maildir }) };
      }
      if (wantImap && tool.imap) {
        const d = join(dir, `${name}-imap`);
        mkdirSync(d);
        const far = await newUser(fx.info, `${name}-s`);
        const near = await newUser(fx.info, `${name}-d`);
        s.imap = { far, near, ...tool.imap({ dir: d, port, caFile: fx.caFile, far, near }) };
      }
      setups[name] = s;
    }
    const serverMaildir = (u) => join(homeOf(fx.info, u.user), 'Maildir');

    /** Prepares, times and verifies one run of one tool in one scenario. */
    async function one(name, scenario, rep) {
      const kind = scenario.startsWith('imap-') ? 'imap' : 'maildir';
      const s = setups[name][kind];
      const sideA = serverMaildir(s.far);
      const sideB = kind === 'imap' ? serverMaildir(s.near) : s.maildir;
      let expected;
      let batch;
      if (scenario === 'first' || scenario === 'imap-first') {
        resetFromSeed(fx.info, s.far.user);
        if (kind === 'imap') emptyUser(fx.info, s.near.user);
        else rmSync(s.maildir, { recursive: true, force: true });
        s.reset();
        expected = seedSnap;
      } else if (scenario === 'server-batch') {
        batch = await serverBatch(
          { host: '127.0.0.1', port, ca: fx.info.ca, user: s.far.user, password: s.far.password },
          `server ${rep}`,
        );
        expected = snapshot(sideA);
      } else if (scenario === 'maildir-batch') {
        batch = maildirBatch(s.maildir, `maildir ${rep}`);
        expected = snapshot(sideB);
      } else {
        // A no-op: what both sides held after the last run is what they must still hold.
        expected = snapshot(sideA);
      }
      const [command, args] = s.command;
      // Other work on the machine shows here first: with 2 cores, anything above ~1 before a run means
      // someone else was competing for the CPU.
      const load = loadavg()[0];
      const m = await measure(command, args, { env: s.env, serverGroup, timeoutMs });
      const a = compareSnapshots(expected, snapshot(sideA));
      const b = compareSnapshots(expected, snapshot(sideB));
      const ok = m.exitCode === 0 && a.ok && b.ok;
      const run = {
        multiplier,
        messages: seedSnap.messages,
        scenario,
        tool: name,
        rep,
        ok,
        exitCode: m.exitCode,
        wall: m.wall,
        user: m.user,
        sys: m.sys,
        rssMb: m.rssMb,
        serverCpu: m.server,
        load,
        ...(batch ? { batch } : {}),
        verify: { server: a, local: b },
        ...(m.output ? { output: m.output } : {}),
      };
      log(
        `×${multiplier} rep ${rep + 1} ${scenario.padEnd(13)} ${name.padEnd(11)} ${m.wall.toFixed(2)} s ` +
          `user ${m.user.toFixed(2)} sys ${m.sys.toFixed(2)} ${m.rssMb.toFixed(0)} MB server ${m.server.toFixed(2)} s` +
          (ok
            ? ''
            : `  WRONG (exit ${m.exitCode}; missing ${a.missing}/${b.missing}, extra ${a.extra}/${b.extra})`),
      );
      if (!ok && m.output) log(m.output.split('\n').slice(-5).join('\n'));
      return run;
    }

    for (let rep = 0; rep < repeat; rep++) {
      // Rotate who goes first.
      const order = chosen.map((_, i) => chosen[(i + rep) % chosen.length]);
      if (wantMaildir)
        for (const scenario of maildirChain.slice(0, lastMaildir + 1))
          for (const name of order) {
            if (!setups[name].maildir) continue;
            // The plain client keeps no state: it can only do a first sync.
            if (catalogue[name].firstOnly && scenario !== 'first') continue;
            const run = await one(name, scenario, rep);
            if (scenarios.includes(scenario)) runs.push(run);
          }
      if (wantImap)
        for (const scenario of ['imap-first', 'imap-noop']) {
          if (scenario === 'imap-noop' && !scenarios.includes('imap-noop')) continue;
          for (const name of order) {
            if (!setups[name].imap) continue;
            const run = await one(name, scenario, rep);
            if (scenarios.includes(scenario)) runs.push(run);
          }
        }
    }
  } finally {
    await fx.server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const seconds = (Date.now() - started.getTime()) / 1000;
const { summary, table } = markdown({
  started: started.toISOString(),
  seconds,
  machine,
  repeat,
  runs,
  notes,
});
console.log(table);
const out =
  values.out ?? join(tmpdir(), `twinbox-compare-${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  out,
  `${JSON.stringify({ started: started.toISOString(), seconds, machine, repeat, notes, options: values, summary, runs }, null, 2)}\n`,
);
log(`\nJSON: ${out}`);
