// Many pairs in one twinboxd: a fresh Dovecot fixture with --pairs users (a few messages in INBOX and
// in a second folder each), each paired with a Maildir of its own, all in ONE daemon and one config.
// At each size of --sizes (default 1, 10, 50 and --pairs), once every pair is synced and watching both
// sides and has stayed so for 5 s, over --idle seconds (default 30, the least): the daemon's RSS (from
// /proc/PID/status every 3 s; the median of the last 10 samples), its threads, its CPU, its established
// connections to Dovecot (from /proc) at the start and the end next to its own count
// (twinbox_server_connections), and how long until every pair watched. --inline runs the daemon with every side and state in its main thread;
// --side-threads N sets the config's daemon.side-threads (default 2).
// --grow restart (default) starts a new daemon for each size, with every Maildir and the state wiped, so
// each size is a first sync of that many pairs from nothing; --grow sighup keeps one daemon and adds the
// pairs to its config, then sends SIGHUP. Then, with the largest size watched, how long a change takes
// to cross: an APPEND into a random user's INBOX until the file is in its Maildir, and a delivery into a
// random user's Maildir INBOX (tmp/, then a rename into new/) until the server has it; each sample on a
// different user; the clock starts before the change is made. Targets: under 300 MB for 100 idle pairs;
// every change across within 2 s.
//
//   node bench/many-pairs.mjs [--pairs 100] [--sizes 1,10,50,100] [--grow restart|sighup] [--inline]
//     [--side-threads N] [--idle 30] [--samples 12] [--out results.json] [--keep]
// Run after `pnpm build`. The Markdown tables go to standard output, progress to standard error.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectImap } from './lib/batch.mjs';
import { processCpu } from './lib/measure.mjs';
import {
  benchMessage,
  deliver,
  folderDir,
  imapAccount,
  maildirMessages,
  newId,
  pairsConfig,
  seedUsers,
  serverFolder,
  startManyDovecot,
  until,
} from './lib/pairs.mjs';
import { machineInfo, median, quantile } from './lib/report.mjs';
import { connectionsTo, processStatus, scrape, startTwinboxd, waitSettled } from './lib/twinboxd.mjs';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100' },
    sizes: { type: 'string' },
    grow: { type: 'string', default: 'restart' },
    samples: { type: 'string', default: '12' },
    out: { type: 'string' },
    inline: { type: 'boolean', default: false },
    'side-threads': { type: 'string' },
    idle: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
  },
});
const PAIRS = Number(values.pairs);
const SIZES = (values.sizes ?? [1, 10, 50, PAIRS].join(','))
  .split(',')
  .map(Number)
  .filter((n, i, all) => n >= 1 && n <= PAIRS && all.indexOf(n) === i)
  .sort((a, b) => a - b);
const SAMPLES = Number(values.samples);
const IDLE_S = Math.max(30, Number(values.idle));
if (!['restart', 'sighup'].includes(values.grow)) throw new Error('--grow is restart or sighup');
const PUSH_MS = 2000;
const MiB = 2 ** 20;
const log = (line) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const started = new Date();
const dir = mkdtempSync(join(tmpdir(), 'twinbox-many-pairs-'));
const out = values.out ?? join(tmpdir(), `twinbox-many-pairs-${started.toISOString().slice(0, 19)}.json`);
const configFile = join(dir, 'twinboxd.toml');
const daemonLog = `${out.replace(/\.json$/, '')}.daemon.log`;
const maildirOf = (u) => join(dir, 'maildir', u.user);

let server;
let daemon;
try {
  server = await startManyDovecot();
  const { info } = server;
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, info.ca);
  log(`seeding ${PAIRS} users (5 messages in INBOX, 3 in Archive each)`);
  const users = await seedUsers(server, PAIRS);

  const writeConfig = (size) => {
    // Written aside and renamed over, as an editor saves: the daemon never reads half a file.
    const text = pairsConfig({
      info,
      caFile,
      stateDir: join(dir, 'state'),
      users: users.slice(0, size),
      maildirOf,
      daemon: values['side-threads'] ? `side-threads = ${Number(values['side-threads'])}` : '',
    });
    writeFileSync(`${configFile}.new`, text);
    renameSync(`${configFile}.new`, configFile);
  };
  const start = async () => {
    const d = startTwinboxd({
      config: configFile,
      logFile: daemonLog,
      args: ['--metrics', '127.0.0.1:0', ...(values.inline ? ['--inline'] : [])],
    });
    const { url } = await d.waitFor((l) => l.msg === 'serving metrics');
    return Object.assign(d, { url });
  };

  const rows = [];
  for (const size of SIZES) {
    let t0;
    if (values.grow === 'restart' || !daemon) {
      await daemon?.stop();
      if (values.grow === 'restart') {
        rmSync(join(dir, 'maildir'), { recursive: true, force: true });
        rmSync(join(dir, 'state'), { recursive: true, force: true });
      }
      mkdirSync(join(dir, 'maildir'), { recursive: true });
      writeConfig(size);
      t0 = Date.now();
      daemon = await start();
    } else {
      // The daemon reloads on the edit by itself too; the signal is what a script would send.
      writeConfig(size);
      t0 = Date.now();
      process.kill(daemon.pid, 'SIGHUP');
    }
    log(`${size} pairs: waiting until every pair is synced and watching`);
    const waitedFrom = Date.now();
    const firstAll = await waitSettled(configFile, size, { quietMs: 5000 });
    const settledS = (waitedFrom - t0 + firstAll) / 1000;
    // At least 30 s idle: long enough for a pair's sync session to time out (the account's 20 s),
    // after which only its watch connection stays open.
    const cpuBefore = processCpu(daemon.pid);
    const connectionsAtSettle = connectionsTo(daemon.pid, info.tlsPort);
    const rss = [];
    for (let i = 0; i < IDLE_S / 3; i++) {
      await sleep(3000);
      rss.push(processStatus(daemon.pid).rssBytes);
    }
    const row = {
      pairs: size,
      grow: values.grow,
      inline: values.inline,
      settledS,
      idleS: IDLE_S,
      rssMb: median(rss.slice(-10)) / MiB,
      rssFirstMb: rss[0] / MiB,
      rssMaxMb: Math.max(...rss) / MiB,
      rssSamplesMb: rss.map((b) => Math.round(b / MiB)),
      idleCpuPercent: ((processCpu(daemon.pid) - cpuBefore) / IDLE_S) * 100,
      threads: processStatus(daemon.pid).threads,
      connectionsAtSettle,
      connections: connectionsTo(daemon.pid, info.tlsPort),
      sessionsMetric: await scrape(daemon.url, 'twinbox_server_connections'),
      rssMetricMb: (await scrape(daemon.url, 'twinbox_process_resident_memory_bytes')) / MiB,
    };
    rows.push(row);
    log(
      `${size} pairs: ${row.rssMb.toFixed(0)} MB, ${row.threads} threads, ${row.connectionsAtSettle} then ${row.connections} connections, all watching after ${settledS.toFixed(1)} s`,
    );
  }

  // Push latency with the largest size watched, each sample on a user of its own where there are enough.
  const size = SIZES.at(-1);
  const order = users.slice(0, size).sort(() => Math.random() - 0.5);
  const pick = (i) => order[i % order.length];
  const latency = { down: [], up: [] };
  log(`${size} pairs watched: ${SAMPLES} changes each way`);
  for (let i = 0; i < SAMPLES; i++) {
    const u = pick(i);
    const client = await connectImap(imapAccount(info, u));
    try {
      const id = newId('down');
      const cache = new Map();
      const since = performance.now();
      await client.append('INBOX', benchMessage(id));
      const ms = await until(() => maildirMessages(maildirOf(u), cache).get('INBOX')?.has(id), 30_000, {
        since,
      });
      latency.down.push({ user: u.user, ms: ms ?? null });
    } finally {
      await client.logout();
    }
    await sleep(500);
  }
  for (let i = 0; i < SAMPLES; i++) {
    const u = pick(SAMPLES + i);
    const client = await connectImap(imapAccount(info, u));
    try {
      const id = newId('up');
      const inbox = folderDir(maildirOf(u), 'INBOX');
      const since = performance.now();
      deliver(inbox, benchMessage(id));
      const ms = await until(async () => (await serverFolder(client, 'INBOX')).has(id), 30_000, {
        since,
        everyMs: 50,
      });
      latency.up.push({ user: u.user, ms: ms ?? null });
    } finally {
      await client.logout();
    }
    await sleep(500);
  }
  const after = { ...processStatus(daemon.pid), connections: connectionsTo(daemon.pid, info.tlsPort) };
  const problems = daemon.problems;
  const stopCode = await daemon.stop();
  daemon = undefined;
  const dovecotWarnings = readFileSync(info.logFile, 'utf8')
    .split('\n')
    .filter((l) => /(warning|error|fatal|panic)/i.test(l));

  // The report.
  const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');
  const first = rows[0];
  const lines = [
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineInfo().host} (${machineInfo().cpu}, ${machineInfo().memoryGb} GB, Linux ${machineInfo().kernel}, Node ${process.version}); ` +
      `${PAIRS} IMAP ⇄ Maildir pairs (5 + 3 messages each) in one twinboxd, daemon defaults (side-threads ${values['side-threads'] ?? 2}, pairs-at-once 8)${values.inline ? ', --inline (every side and state in the main thread)' : ''}; ` +
      (values.grow === 'restart'
        ? 'a new daemon for each size, every Maildir and the state wiped.'
        : 'one daemon, pairs added to its config and SIGHUP.'),
    '',
    `| pairs | all watching after s | RSS MB (median of the last 30 s of ${IDLE_S} s idle) | MB per pair over the first row | MB per pair added since the row above | threads | idle CPU % | connections to Dovecot (/proc): settled, ${IDLE_S} s later | server sessions (metric), ${IDLE_S} s later |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  rows.forEach((r, i) => {
    const prev = rows[i - 1];
    lines.push(
      `| ${r.pairs} | ${r.settledS.toFixed(1)} | ${f0(r.rssMb)} | ${i ? ((r.rssMb - first.rssMb) / (r.pairs - first.pairs)).toFixed(2) : ''} | ${prev ? ((r.rssMb - prev.rssMb) / (r.pairs - prev.pairs)).toFixed(2) : ''} | ${r.threads} | ${r.idleCpuPercent.toFixed(1)} | ${r.connectionsAtSettle}, ${r.connections} | ${r.sessionsMetric ?? '–'} |`,
    );
  });
  const stats = (name, samples) => {
    const ms = samples.map((s) => s.ms).filter((x) => x !== null);
    const over = samples.filter((s) => s.ms === null || s.ms > PUSH_MS).length;
    return `| ${name} | ${samples.length} | ${f0(median(ms))} | ${f0(quantile(ms, 0.95))} | ${f0(Math.min(...ms))} | ${f0(Math.max(...ms))} | ${samples.length - over}/${samples.length} |`;
  };
  lines.push(
    '',
    `With ${size} pairs watched, a change made on one user's side until it is on the other:`,
    '',
    '| direction | samples | median ms | p95 ms | min ms | max ms | within 2 s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    stats('server APPEND → Maildir file', latency.down),
    stats('Maildir delivery → on the server', latency.up),
    '',
    `After the changes: RSS ${f0(after.rssBytes / MiB)} MB, ${after.threads} threads, ${after.connections} connections. ` +
      `Daemon log: ${problems.error} error and ${problems.warn} warning lines, ${problems.stderrBytes} bytes on stderr; exit ${stopCode}. ` +
      `Dovecot log: ${dovecotWarnings.length} warning or error lines.`,
  );
  for (const p of problems.lines.slice(0, 10))
    lines.push(`- daemon ${p.level >= 50 ? 'error' : 'warn'}: ${p.pair ?? ''} ${p.msg}`);
  for (const w of dovecotWarnings.slice(0, 10)) lines.push(`- dovecot: ${w}`);
  const table = lines.join('\n');
  console.log(table);
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        started: started.toISOString(),
        seconds: (Date.now() - started.getTime()) / 1000,
        machine: machineInfo(),
        options: values,
        rows,
        latency,
        after,
        daemonProblems: problems,
        dovecotWarnings,
        table,
      },
      null,
      2,
    )}\n`,
  );
  log(`JSON: ${out}; daemon log: ${daemonLog}`);
} finally {
  await daemon?.stop();
  await server?.stop();
  if (values.keep) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
