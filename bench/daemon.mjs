// The resident daemon (twinboxd) against the tools its users compare it with, in one run on a fresh
// Dovecot fixture with the SpamAssassin corpus at ×1 (6,046 messages; --limit N for a quick check of
// the script). Every tool gets its own users, copied from the loaded seed on the server's disk, and
// its own Maildir or IMAP target, synced once before anything is timed.
//
//   noop          `twinbox sync` (the CLI, a new process each time) through a running twinboxd that
//                 serves the pair, nothing changed; `twinbox --no-daemon sync` on a pair of its own;
//                 mbsync on its own. Interleaved, the order rotated each repetition.
//   server-batch  the same three after a batch on the server (lib/batch.mjs: per folder 1% new, 2%
//                 \Flagged toggled, 0.5% expunged). This twinboxd has no IMAP push (its account's
//                 watch-connections = 0; its Maildir is watched, and nothing but its own writes
//                 changes there): the CLI's request does the sync, not a notice that came first.
//   push          with the first twinboxd (NOTIFY on the server, inotify on the Maildir): a message
//                 APPENDed on the server until its file is in the Maildir, and a message delivered
//                 into the Maildir (tmp/, then a rename into new/) until the server has it (STATUS
//                 polled every 10 ms on a connection of its own).
//   imap-push     IMAP→IMAP: a message APPENDed on user A until user B has it (STATUS every 10 ms),
//                 interimap --watch=1 --notify against a twinboxd pair, interleaved; next to them, the
//                 floor of both, a bare client that only waits for Dovecot's NOTIFY STATUS and IDLE
//                 EXISTS after an APPEND.
//
// Each timed change comes 0 to 1 s at random after the previous one has settled, so that it does not
// fall into step with a watcher's poll (twinboxd's `watch-poll`, interimap's --watch=1).
// Every twinboxd runs with `daemon.full-pass` at a day, so that no full pass falls into a measurement;
// before each timed step the daemon is waited on until it is idle (its own writes come back as notices
// and short syncs). Times are wall clock in ms (lib/measure.mjs's `elapsed`: the spawn of the command
// to its end, the client process's start included); CPU of the command from GNU time, of twinboxd and
// Dovecot from /proc. Each sync run is verified (lib/snapshot.mjs: both sides hold exactly the
// expected messages); a wrong run is left out of the timings and listed. For the daemon's push, its
// `synced` log lines (the sync's length, the time it ended) split the latency into the wait before
// the sync started and the sync itself.
//
// A Markdown table on stdout, progress on stderr, every run in a JSON file (--out).
//
//   node bench/daemon.mjs [--limit N] [--repeat 10] [--runs 10] [--scenarios noop,server-batch,push,imap-push]
//     [--workers threads|inline] [--concurrency N] [--warm 1] [--ab-connections N] [--dir /tmp] [--out results.json]
//     [--cpu-prof dir]
// --concurrency N writes `concurrency = N` (folders synced at once) into every Twinbox config; without
// it the config's default applies.
// --warm N runs each tool N times before the timed repetitions of noop and server-batch, untimed (for
// server-batch each on a batch of its own): 1 by default. A twinboxd just started still pays V8's
// compiling in its first syncs (in most runs its sync of the batch fell from 100-140 ms in the first
// two to 60-80 ms from the fourth or fifth on: bench/README.md, session 15); a daemon that has been
// running has paid it.
// --ab-connections N adds to server-batch a second twinboxd on a user of its own whose account has
// `connections = N` (IMAP sessions a sync may use; the default is 4), interleaved with the first: the
// two differ in that setting only, and share the run's load.
// --cpu-prof writes a V8 CPU profile of each twinboxd thread into dir (open it in Chrome's DevTools).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectImap, serverBatch } from './lib/batch.mjs';
import { homeOf, newUser, resetFromSeed, startFixture } from './lib/fixture.mjs';
import { bareWatcher, maildirArrival, probeMessage, serverArrival, uidNextOf } from './lib/latency.mjs';
import { dovecotGroup, groupCpu, measure, threadCpu } from './lib/measure.mjs';
import { machineInfo, median } from './lib/report.mjs';
import { killResidents, pairStatus, requestSync, rssMb, startResident, waitIdle } from './lib/resident.mjs';
import { compareSnapshots, snapshot } from './lib/snapshot.mjs';
import { tools } from './lib/tools.mjs';

const SCENARIOS = ['noop', 'server-batch', 'push', 'imap-push'];
const { values } = parseArgs({
  options: {
    limit: { type: 'string' },
    repeat: { type: 'string', default: '10' },
    runs: { type: 'string', default: '10' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    workers: { type: 'string', default: 'threads' },
    concurrency: { type: 'string' },
    warm: { type: 'string', default: '1' },
    'ab-connections': { type: 'string' },
    dir: { type: 'string' },
    out: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const scenarios = values.scenarios.split(',');
for (const s of scenarios)
  if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (${SCENARIOS})`);
const repeat = Math.max(1, Number(values.repeat));
const latencyRuns = Math.max(1, Number(values.runs));
const warm = Number(values.warm);
if (!(Number.isInteger(warm) && warm >= 0))
  throw new Error(`--warm takes a whole number, not ${values.warm}.`);
const root = fileURLToPath(new URL('..', import.meta.url));
const twinboxBin = join(root, 'apps/cli/dist/bin.js');
const twinboxdBin = join(root, 'apps/daemon/dist/bin.js');
for (const bin of [twinboxBin, twinboxdBin])
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run pnpm build first.`);
// No full pass during the run: a day between two.
const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 16))
  throw new Error(`--concurrency takes a whole number from 1 to 16, not ${values.concurrency}.`);
const abConnections = values['ab-connections'] === undefined ? undefined : Number(values['ab-connections']);
if (
  abConnections !== undefined &&
  !(Number.isInteger(abConnections) && abConnections >= 1 && abConnections <= 16)
)
  throw new Error(`--ab-connections takes a whole number from 1 to 16, not ${values['ab-connections']}.`);
const abTool = `twinbox via twinboxd, connections = ${abConnections}`;
const catalogue = tools({ twinboxBin, workers: values.workers, fullPass: 86_400, concurrency });
for (const name of ['mbsync', 'interimap'])
  if (!catalogue[name].version)
    throw new Error(
      `${name} is not installed: apt-get install isync interimap (the peers this compares with).`,
    );
const dovecotVersion = (() => {
  try {
    return execFileSync('/usr/sbin/dovecot', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
})();
const machine = machineInfo({
  twinbox: catalogue.twinbox.version,
  mbsync: catalogue.mbsync.version,
  interimap: catalogue.interimap.version,
  dovecot: dovecotVersion,
});

const log = (line) => console.error(line);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/**
 * A pause of 0 to 1 s at random before a timed change. A watcher that polls (twinboxd's NOOP every
 * `watch-poll`, interimap's every second) hears of a change at its next poll; without the pause every
 * change would come the same time after the poll that reported the previous one (the bench waits for
 * a fixed quiet time after it), and the runs would show one phase of the poll instead of its spread.
 */
const dephase = () => sleep(Math.random() * 1000);
const started = new Date();
const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'twinbox-daemon-bench-'));
// The daemons' control sockets, private to this run; every twinbox and twinboxd started inherits it.
const runtimeDir = join(dir, 'run');
mkdirSync(runtimeDir, { mode: 0o700 });
process.env.XDG_RUNTIME_DIR = runtimeDir;

let fixture;
const imapClients = [];
const residents = [];
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await Promise.allSettled(residents.map((r) => r.stop()));
    killResidents();
    await Promise.allSettled(imapClients.map((c) => c.logout()));
    await fixture?.server.stop();
    rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
// However the run ends: no daemon, interimap or Dovecot left behind, no temporary directory.
process.on('exit', killResidents);
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    log(`${signal}: stopping everything this run started`);
    void cleanup().finally(() => process.exit(130));
  });

const runs = [];
const latencies = [];
const breakdown = [];
const notes = [];

try {
  fixture = await startFixture({
    corpus: { multiplier: 1, ...(values.limit ? { limit: Number(values.limit) } : {}) },
    dir,
    log,
  });
  await main(fixture);
} finally {
  await cleanup();
}
report();

async function main(fx) {
  const port = fx.info.tlsPort;
  const serverGroup = dovecotGroup(fx.configFile);
  const account = (u) => ({ host: '127.0.0.1', port, ca: fx.info.ca, user: u.user, password: u.password });
  const serverMaildir = (u) => join(homeOf(fx.info, u.user), 'Maildir');
  const imap = async (u) => {
    const client = await connectImap(account(u));
    imapClients.push(client);
    return client;
  };

  // Users copied from the seed before anyone logs in to them; IMAP targets and the bare watcher's
  // user start empty.
  const users = {};
  for (const name of [
    'push',
    'batch',
    'nodaemon',
    'mbsync',
    'tb-a',
    'ii-a',
    ...(abConnections ? ['batch-ab'] : []),
  ]) {
    users[name] = await newUser(fx.info, name);
    resetFromSeed(fx.info, name);
  }
  for (const name of ['tb-b', 'ii-b', 'bare']) users[name] = await newUser(fx.info, name);
  const setup = (tool, kind, name, options) => {
    const d = join(dir, name);
    mkdirSync(d);
    const maildir = kind === 'maildir' ? join(d, 'mail') : undefined;
    const opts = { ...options, ...(maildir ? { maildir } : {}) };
    return { ...opts, ...catalogue[tool][kind]({ dir: d, port, caFile: fx.caFile, ...opts }) };
  };
  const noDaemon = ([command, [bin, ...rest]]) => [command, [bin, '--no-daemon', ...rest]];
  const wantMaildir = scenarios.some((s) => s !== 'imap-push');

  /** A first sync, untimed: it must succeed. */
  async function firstSync(label, [command, args], env) {
    const m = await measure(command, args, { env });
    if (m.exitCode !== 0) throw new Error(`${label}: first sync failed (exit ${m.exitCode})\n${m.output}`);
    log(`${label}: first sync in ${m.wall.toFixed(2)} s`);
  }

  /**
   * Syncs a pair once with `twinbox --no-daemon`, then starts twinboxd on it and waits until the
   * daemon's own first pass (nothing left to do) is over and its watches are up: a CPU profile of the
   * daemon then holds what the measurements asked of it, not a first sync of the corpus.
   */
  async function startDaemon(label, { command, config }) {
    await firstSync(`twinbox --no-daemon (${label})`, noDaemon(command));
    // With --cpu-prof, every thread of the daemon writes a V8 CPU profile there when it stops.
    const prof = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [];
    const daemon = startResident(process.execPath, [...prof, twinboxdBin, '-c', config], {
      name: `twinboxd (${label})`,
    });
    residents.push(daemon);
    const t = performance.now();
    await Promise.race([
      waitIdle(config, { timeoutMs: 900_000 }),
      daemon.exited.then((code) => {
        throw new Error(`twinboxd (${label}) exited (${code}):\n${daemon.lines.slice(-10).join('\n')}`);
      }),
    ]);
    const [pair] = await pairStatus(config);
    log(
      `twinboxd (${label}): first pass and watches up in ${((performance.now() - t) / 1000).toFixed(1)} s; ` +
        `watched: ${JSON.stringify(Object.fromEntries(Object.entries(pair.watch ?? {}).map(([k, w]) => [k, w.method])))}`,
    );
    return daemon;
  }

  async function stopDaemon(daemon, label) {
    const code = await daemon.stop();
    residents.splice(residents.indexOf(daemon), 1);
    if (code !== 0) notes.push(`twinboxd (${label}) exited with ${code} when stopped`);
  }

  /**
   * Times one `sync` of one tool (a daemon's client waits for the daemon to be idle before and after,
   * and the daemon's CPU is counted over both), then checks both sides against `expected`.
   */
  async function timed(t, scenario, rep, expected, batch) {
    if (t.daemon) await waitIdle(t.setup.config);
    const daemonBefore = t.daemon ? groupCpu(t.daemon.pid) : undefined;
    const threadsBefore = t.daemon ? threadCpu(t.daemon.pid) : undefined;
    const load = loadavg()[0];
    const [command, args] = t.command;
    const sentAt = Date.now();
    const m = await measure(command, args, { env: t.setup.env, serverGroup, timeoutMs: 600_000 });
    let daemonCpu;
    let daemonSyncMs;
    let daemonThreads;
    if (t.daemon) {
      const [pair] = await waitIdle(t.setup.config);
      daemonCpu = groupCpu(t.daemon.pid) - daemonBefore;
      // By kind of thread, in ms: where the daemon's CPU went (V8Worker is V8's compiling and GC).
      daemonThreads = Object.fromEntries(
        Object.entries(threadCpu(t.daemon.pid))
          .map(([name, s]) => [name, Math.round((s - (threadsBefore[name] ?? 0)) * 1000)])
          .filter(([, ms]) => ms > 0),
      );
      // The daemon's own account of the sync it ran for this request: its log line when the sync
      // changed something (a sync that follows, for its own writes coming back, changes nothing and
      // logs nothing), else the last sync of its status, which then is this one.
      const line = t.daemon.lines.find(
        (l) => typeof l === 'object' && l.msg === 'synced' && l.time >= sentAt,
      );
      daemonSyncMs = line ? line.ms : pair.lastSync.seconds * 1000;
    }
    if (!expected) return undefined;
    const server = compareSnapshots(expected, snapshot(serverMaildir(t.setup.far)));
    const local = compareSnapshots(expected, snapshot(t.setup.maildir));
    const ok = m.exitCode === 0 && server.ok && local.ok;
    const run = {
      scenario,
      tool: t.tool,
      rep,
      ok,
      exitCode: m.exitCode,
      ms: m.elapsed * 1000,
      user: m.user,
      sys: m.sys,
      rssMb: m.rssMb,
      serverCpu: m.server,
      ...(daemonCpu !== undefined ? { daemonCpu, daemonSyncMs, daemonThreads } : {}),
      load,
      ...(batch ? { batch } : {}),
      verify: { server, local },
      ...(m.output ? { output: m.output } : {}),
    };
    log(
      `${scenario} rep ${rep + 1} ${t.tool.padEnd(20)} ${run.ms.toFixed(0).padStart(5)} ms` +
        (daemonCpu !== undefined
          ? ` (twinboxd: its sync ${daemonSyncMs.toFixed(0)} ms, CPU ${(daemonCpu * 1000).toFixed(0)} ms: ${Object.entries(
              daemonThreads,
            )
              .map(([name, ms]) => `${name} ${ms}`)
              .join(', ')})`
          : '') +
        (ok
          ? ''
          : `  WRONG (exit ${m.exitCode}; missing ${server.missing}/${local.missing}, extra ${server.extra}/${local.extra})`),
    );
    if (!ok && m.output) log(m.output.split('\n').slice(-5).join('\n'));
    runs.push(run);
    return run;
  }

  /**
   * Each tool --warm times, untimed (Node's compile cache, the daemon's first requests and V8's
   * compiling in it), each on a change of its own, then the repetitions interleaved.
   */
  async function interleave(scenario, list, prepare) {
    for (let w = 0; w < warm; w++)
      for (const t of list) {
        await prepare(t, `warm-up ${w}`);
        await timed(t, 'warm-up', w);
      }
    for (let rep = 0; rep < repeat; rep++)
      for (let i = 0; i < list.length; i++) {
        const t = list[(i + rep) % list.length];
        const { expected, batch } = await prepare(t, rep);
        await timed(t, scenario, rep, expected, batch);
      }
  }

  if (wantMaildir) {
    const push = setup('twinbox', 'maildir', 'push', { far: users.push });
    const nodaemon = setup('twinbox', 'maildir', 'nodaemon', { far: users.nodaemon });
    const mbsync = setup('mbsync', 'maildir', 'mbsync', { far: users.mbsync });
    await firstSync('mbsync', mbsync.command);
    await firstSync('twinbox --no-daemon', noDaemon(nodaemon.command));
    const daemonA =
      scenarios.includes('noop') || scenarios.includes('push') ? await startDaemon('push', push) : undefined;
    const noopTools = [
      { tool: 'twinbox via twinboxd', setup: push, command: push.command, daemon: daemonA },
      { tool: 'twinbox --no-daemon', setup: nodaemon, command: noDaemon(nodaemon.command) },
      { tool: 'mbsync', setup: mbsync, command: mbsync.command },
    ];
    if (scenarios.includes('noop')) {
      // Nothing changes: what each server side holds now is what both sides must hold after each run.
      const expected = new Map(noopTools.map((t) => [t, snapshot(serverMaildir(t.setup.far))]));
      await interleave('noop', noopTools, async (t) => ({ expected: expected.get(t) }));
      // Where a no-op through the daemon goes: the same request from this process (no process to
      // start), Node's own start, and the CLI's start without a sync.
      for (let rep = 0; rep < repeat; rep++) {
        await waitIdle(push.config);
        breakdown.push({ what: 'request', ...(await requestSync(push.config)) });
        breakdown.push({
          what: 'node -e 0',
          ms: (await measure(process.execPath, ['-e', '0'])).elapsed * 1000,
        });
        const version = await measure(process.execPath, [twinboxBin, '--version']);
        breakdown.push({ what: 'twinbox --version', ms: version.elapsed * 1000 });
      }
      notes.push(`twinboxd (push) resident memory after the no-op runs: ${rssMb(daemonA.pid).toFixed(0)} MB`);
    }
    if (scenarios.includes('push')) await pushLatency(push, daemonA);
    if (daemonA) await stopDaemon(daemonA, 'push');

    if (scenarios.includes('server-batch')) {
      const batch = setup('twinbox', 'maildir', 'batch', { far: users.batch, push: false });
      const daemonB = await startDaemon('batch, no IMAP push', batch);
      const batchTools = [
        { tool: 'twinbox via twinboxd', setup: batch, command: batch.command, daemon: daemonB },
        noopTools[1],
        noopTools[2],
      ];
      let daemonAb;
      if (abConnections) {
        const ab = setup('twinbox', 'maildir', 'batch-ab', {
          far: users['batch-ab'],
          push: false,
          connections: abConnections,
        });
        daemonAb = await startDaemon(`batch, connections = ${abConnections}`, ab);
        batchTools.push({ tool: abTool, setup: ab, command: ab.command, daemon: daemonAb });
      }
      await interleave('server-batch', batchTools, async (t, rep) => {
        const counts = await serverBatch(account(t.setup.far), `server ${rep}`);
        return { expected: snapshot(serverMaildir(t.setup.far)), batch: counts };
      });
      notes.push(
        `twinboxd (batch) resident memory after the batch runs: ${rssMb(daemonB.pid).toFixed(0)} MB`,
      );
      await stopDaemon(daemonB, 'batch');
      if (daemonAb) await stopDaemon(daemonAb, `batch, connections = ${abConnections}`);
    }
  }

  /** IMAP→Maildir and Maildir→IMAP through twinboxd, one message at a time; the first run untimed. */
  async function pushLatency(pair, daemon) {
    const writer = await imap(pair.far);
    const poller = await imap(pair.far);
    for (let i = 0; i <= latencyRuns; i++) {
      await waitIdle(pair.config, { quietMs: 1000 });
      await dephase();
      const down = `down-${i}-${Date.now()}`;
      const arrival = maildirArrival(pair.maildir, down);
      const t0 = performance.now();
      const e0 = Date.now();
      await writer.append('INBOX', probeMessage(down));
      const t1 = await arrival.arrived;
      if (i > 0) latencies.push(await withDaemonLog(daemon, e0, 'IMAP → Maildir', 'twinboxd', t1 - t0));

      // Written to tmp/ before the daemon is waited on: only the rename is the delivery.
      const up = `up-${i}-${Date.now()}`;
      writeFileSync(join(pair.maildir, 'tmp', up), probeMessage(up));
      await waitIdle(pair.config, { quietMs: 1000 });
      await dephase();
      const uidNext = await uidNextOf(poller, 'INBOX');
      const u0 = performance.now();
      const f0 = Date.now();
      renameSync(join(pair.maildir, 'tmp', up), join(pair.maildir, 'new', up));
      const u1 = await serverArrival(poller, 'INBOX', uidNext);
      if (i > 0) latencies.push(await withDaemonLog(daemon, f0, 'Maildir → IMAP', 'twinboxd', u1 - u0));
    }
  }

  if (scenarios.includes('imap-push')) {
    const tb = setup('twinbox', 'imap', 'tb-imap', { far: users['tb-a'], near: users['tb-b'] });
    const ii = setup('interimap', 'imap', 'interimap', { far: users['ii-a'], near: users['ii-b'] });
    await firstSync('interimap', ii.command, ii.env);
    const [iiCommand, iiArgs] = ii.command;
    const interimap = startResident(iiCommand, [...iiArgs, '--watch=1', '--notify'], {
      env: ii.env,
      name: 'interimap',
    });
    residents.push(interimap);
    const daemonD = await startDaemon('IMAP ⇄ IMAP', tb);
    const notify = await bareWatcher(account(users.bare), 'notify');
    const idle = await bareWatcher(account(users.bare), 'idle');
    const bareWriter = await imap(users.bare);
    const peers = [
      { tool: 'interimap --watch=1 --notify', setup: ii },
      { tool: 'twinboxd', setup: tb, daemon: daemonD },
      { tool: 'bare client', bare: true },
    ];
    for (const p of peers)
      if (!p.bare) {
        p.writer = await imap(p.setup.far);
        p.poller = await imap(p.setup.near);
      }
    for (let i = 0; i <= latencyRuns; i++)
      for (let k = 0; k < peers.length; k++) {
        const p = peers[(k + i) % peers.length];
        if (p.daemon) await waitIdle(p.setup.config, { quietMs: 1000 });
        else await sleep(1500);
        await dephase();
        const id = `imap-${i}-${k}-${Date.now()}`;
        if (p.bare) {
          const heard = [notify.next(), idle.next()];
          const t0 = performance.now();
          await bareWriter.append('INBOX', probeMessage(id));
          const [n, d] = await Promise.all(heard);
          if (i > 0)
            latencies.push(
              { direction: 'Dovecot alone', tool: 'bare client: APPEND → NOTIFY STATUS', ms: n - t0 },
              { direction: 'Dovecot alone', tool: 'bare client: APPEND → IDLE EXISTS', ms: d - t0 },
            );
          continue;
        }
        const uidNext = await uidNextOf(p.poller, 'INBOX');
        const t0 = performance.now();
        const e0 = Date.now();
        await p.writer.append('INBOX', probeMessage(id));
        const t1 = await serverArrival(p.poller, 'INBOX', uidNext);
        if (i === 0) continue;
        latencies.push(
          p.daemon
            ? await withDaemonLog(p.daemon, e0, 'IMAP A → IMAP B', p.tool, t1 - t0)
            : { direction: 'IMAP A → IMAP B', tool: p.tool, ms: t1 - t0 },
        );
      }
    for (const w of [notify, idle]) w.close();
    const code = await interimap.stop();
    residents.splice(residents.indexOf(interimap), 1);
    // interimap ends on SIGTERM with a status of its own; say what it was, it is no failure.
    if (code !== 0) notes.push(`interimap --watch ended with ${code} on SIGTERM`);
    await stopDaemon(daemonD, 'IMAP ⇄ IMAP');
  }
}

/**
 * The latency with the daemon's own account of it: its `synced` log line for the change (the first one
 * after `sentAt` that copied something) says when the sync ended and how long it took, so when it
 * started.
 */
async function withDaemonLog(daemon, sentAt, direction, tool, ms) {
  const line = await daemon.waitFor(
    (l) => typeof l === 'object' && l.msg === 'synced' && l.time >= sentAt && l.totals?.copied > 0,
    10_000,
  );
  return { direction, tool, ms, untilSyncMs: line.time - line.ms - sentAt, syncMs: line.ms };
}

function report() {
  const seconds = (Date.now() - started.getTime()) / 1000;
  const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');
  const range = (xs) => `${f0(median(xs))} [${f0(Math.min(...xs))}–${f0(Math.max(...xs))}]`;
  const messages = runs.find((r) => r.verify)?.verify.server.expected;
  const lines = [
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine.host} (${machine.cpu}, ` +
      `${machine.memoryGb} GB, Linux ${machine.kernel}, Node ${machine.node}); the run took ${(seconds / 60).toFixed(0)} min; ` +
      `corpus ×1${values.limit ? ` limited to ${values.limit}` : ''}${messages ? ` (${messages} messages per account)` : ''}, ` +
      `Dovecot on loopback over IMAPS; Twinbox's concurrency ${concurrency ?? 'as the config defaults'}. ${Object.entries(
        machine.versions,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}.`,
    ...(runs.length
      ? [
          '',
          `1-minute load average before the timed syncs: ${Math.min(...runs.map((r) => r.load)).toFixed(2)}–${Math.max(...runs.map((r) => r.load)).toFixed(2)}.`,
        ]
      : []),
    '',
  ];
  const summary = { sync: [], push: [] };
  const timedRuns = runs.filter((r) => r.scenario !== 'warm-up');
  if (timedRuns.length) {
    lines.push(
      `Sync on request, ${repeat} repetitions interleaved, after ${warm} untimed per tool: wall ms from the command's start to its end, a new process each time.`,
      '',
      "| scenario | tool | correct | wall ms, median [min–max] | of which twinboxd's sync, ms | CPU ms of the command, user + sys | CPU ms of twinboxd | server CPU ms | peak RSS MB of the command | Twinbox / mbsync, wall |",
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const scenario of ['noop', 'server-batch']) {
      const of = (tool) => timedRuns.filter((r) => r.scenario === scenario && r.tool === tool);
      const mb = of('mbsync').filter((r) => r.ok);
      for (const tool of ['twinbox via twinboxd', abTool, 'twinbox --no-daemon', 'mbsync']) {
        const all = of(tool);
        if (!all.length) continue;
        const good = all.filter((r) => r.ok);
        const pick = (k) => good.map((r) => r[k]);
        const s = {
          scenario,
          tool,
          runs: all.length,
          ok: good.length,
          ...(good.length
            ? {
                ms: {
                  median: median(pick('ms')),
                  min: Math.min(...pick('ms')),
                  max: Math.max(...pick('ms')),
                },
                cpuMs: median(good.map((r) => (r.user + r.sys) * 1000)),
                daemonCpuMs: good[0].daemonCpu === undefined ? undefined : median(pick('daemonCpu')) * 1000,
                daemonSyncMs: good[0].daemonSyncMs === undefined ? undefined : median(pick('daemonSyncMs')),
                serverCpuMs: median(pick('serverCpu')) * 1000,
                rssMb: Math.max(...pick('rssMb')),
              }
            : {}),
        };
        if (tool !== 'mbsync' && s.ms && mb.length) s.ratio = s.ms.median / median(mb.map((r) => r.ms));
        summary.sync.push(s);
        lines.push(
          `| ${scenario} | ${tool} | ${s.ok}/${s.runs} | ${s.ms ? `${range(pick('ms'))} | ${s.daemonSyncMs === undefined ? '' : f0(s.daemonSyncMs)} | ${f0(s.cpuMs)} | ${s.daemonCpuMs === undefined ? '' : f0(s.daemonCpuMs)} | ${f0(s.serverCpuMs)} | ${f0(s.rssMb)}` : '– | – | – | – | – | –'} | ${s.ratio ? `${s.ratio.toFixed(2)}×` : ''} |`,
        );
      }
    }
    lines.push('');
  }
  if (breakdown.length) {
    const of = (what, k = 'ms') => breakdown.filter((b) => b.what === what).map((b) => b[k]);
    summary.noopBreakdown = {
      request: median(of('request')),
      requestSync: median(of('request', 'syncMs')),
      nodeStart: median(of('node -e 0')),
      cliStart: median(of('twinbox --version')),
    };
    lines.push(
      `Where a no-op through twinboxd goes (${repeat} runs each, interleaved, after the table's runs):`,
      '',
      '| step | ms, median [min–max] |',
      '| --- | --- |',
      `| the same request from a running process: connect, hello, sync, replies | ${range(of('request'))} |`,
      `| of which twinboxd's sync (its pair-done seconds) | ${range(of('request', 'syncMs'))} |`,
      `| \`node -e 0\`: Node's start alone | ${range(of('node -e 0'))} |`,
      `| \`twinbox --version\`: Node's start and loading the CLI | ${range(of('twinbox --version'))} |`,
      '',
    );
  }
  if (latencies.length) {
    lines.push(
      `Push latency, ${latencyRuns} runs each (one untimed before): ms from the change until the other side has it.`,
      '',
      '| direction | tool | n | latency ms, median [min–max] | until the sync starts, median ms | the sync, median ms | / interimap |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    const groups = [...new Set(latencies.map((l) => `${l.direction}\t${l.tool}`))];
    const interimap = latencies.filter((l) => l.tool.startsWith('interimap')).map((l) => l.ms);
    for (const g of groups) {
      const [direction, tool] = g.split('\t');
      const xs = latencies.filter((l) => l.direction === direction && l.tool === tool);
      const ms = xs.map((l) => l.ms);
      const s = {
        direction,
        tool,
        n: xs.length,
        ms: { median: median(ms), min: Math.min(...ms), max: Math.max(...ms) },
        ...(xs[0].syncMs !== undefined
          ? { untilSyncMs: median(xs.map((l) => l.untilSyncMs)), syncMs: median(xs.map((l) => l.syncMs)) }
          : {}),
        ...(tool === 'twinboxd' && interimap.length ? { ratio: median(ms) / median(interimap) } : {}),
      };
      summary.push.push(s);
      lines.push(
        `| ${direction} | ${tool} | ${s.n} | ${range(ms)} | ${f0(s.untilSyncMs)} | ${f0(s.syncMs)} | ${s.ratio ? `${s.ratio.toFixed(2)}×` : ''} |`,
      );
    }
    lines.push('');
  }
  for (const n of notes) lines.push(`- ${n}`);
  for (const r of timedRuns.filter((r) => !r.ok))
    lines.push(
      `- ${r.scenario} ${r.tool} rep ${r.rep + 1}: wrong (exit ${r.exitCode}; server side missing ${r.verify.server.missing}, extra ${r.verify.server.extra}; local side missing ${r.verify.local.missing}, extra ${r.verify.local.extra}); left out`,
    );
  console.log(lines.join('\n'));
  const out =
    values.out ?? join(tmpdir(), `twinbox-daemon-bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    out,
    `${JSON.stringify({ started: started.toISOString(), seconds, machine, options: values, notes, summary, runs, breakdown, latencies }, null, 2)}\n`,
  );
  log(`\nJSON: ${out}`);
}
