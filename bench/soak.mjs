// A soak of the resident daemon: one twinboxd serving --pairs IMAP ⇄ Maildir pairs (a fresh Dovecot
// fixture, a user with 10 + 5 messages in INBOX and Archive for each pair) for --minutes, while a driver
// makes one change at a time, every 1–5 s: a random pair, folder and kind, of six (server APPEND, server
// \Flagged toggle, server expunge, Maildir delivery, Maildir flag rename, Maildir deletion), and checks
// that it crossed within 2 s (the clock starts before the change is made; a change that did not is
// followed for up to --late seconds more, to tell late from lost). Every 30 s the daemon's RSS, threads
// and connections to Dovecot are read from /proc. Its log is kept and its warning and error lines are
// counted. At the end, once every pair is watching again, every pair is compared message by message
// (both sides equal by Message-ID and system flags, folder by folder). Printed: RSS at start, end and max
// with a slope (least squares, MB per hour), the changes made, crossing latency median / p95 / max (in
// all and per kind), every change that did not cross within 2 s, the log's warnings and errors, and the
// verification. Ctrl-C (SIGINT) ends the driver early and still reports. Each sample also reads the
// daemon's /metrics for its main thread's V8 heap (used) and external memory: growth in RSS without
// heap growth points at native memory or at the worker threads, whose heaps are not in it (--inline
// puts every component in the main thread, so that the heap figures cover them all).
//
//   node bench/soak.mjs [--minutes 60] [--pairs 10] [--out soak.json] [--late 60] [--keep]
//                       [--watch-poll SECONDS] [--inline]
// Run after `pnpm build`. The daemon's log goes next to the JSON (soak.daemon.log).
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectImap } from './lib/batch.mjs';
import {
  benchMessage,
  deliver,
  differences,
  folderDir,
  imapAccount,
  maildirMessages,
  newId,
  OTHER,
  pairsConfig,
  seedUsers,
  serverFolder,
  serverMessages,
  startManyDovecot,
  toggleMaildirFlag,
  until,
} from './lib/pairs.mjs';
import { machineInfo, median, quantile } from './lib/report.mjs';
import { connectionsTo, processStatus, scrape, startTwinboxd, waitSettled } from './lib/twinboxd.mjs';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    pairs: { type: 'string', default: '10' },
    out: { type: 'string' },
    late: { type: 'string', default: '60' },
    keep: { type: 'boolean', default: false },
    'watch-poll': { type: 'string' },
    inline: { type: 'boolean', default: false },
  },
});
const MINUTES = Number(values.minutes);
const PAIRS = Number(values.pairs);
const LATE_MS = Number(values.late) * 1000;
const PUSH_MS = 2000;
const SAMPLE_MS = 30_000;
const MiB = 2 ** 20;
const KINDS = [
  'server-append',
  'server-flag',
  'server-expunge',
  'maildir-deliver',
  'maildir-flag',
  'maildir-delete',
];
const log = (line) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const randomOf = (xs) => xs[Math.floor(Math.random() * xs.length)];

const started = new Date();
const dir = mkdtempSync(join(tmpdir(), 'twinbox-soak-'));
const out = values.out ?? join(tmpdir(), `twinbox-soak-${started.toISOString().slice(0, 19)}.json`);
const daemonLog = `${out.replace(/\.json$/, '')}.daemon.log`;
const configFile = join(dir, 'twinboxd.toml');
const maildirOf = (u) => join(dir, 'maildir', u.user);

let stopping = false;
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  stopping = true;
  log('SIGINT: ending the changes; verifying and reporting (again to quit at once)');
});

let server;
let daemon;
const clients = [];
try {
  server = await startManyDovecot();
  const { info } = server;
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, info.ca);
  log(`seeding ${PAIRS} users (10 messages in INBOX, 5 in ${OTHER} each)`);
  const users = await seedUsers(server, PAIRS, { prefix: 'soak', inbox: 10, other: 5 });
  mkdirSync(join(dir, 'maildir'));
  const imap = values['watch-poll'] === undefined ? '' : `watch-poll = ${Number(values['watch-poll'])}`;
  writeFileSync(
    configFile,
    pairsConfig({ info, caFile, stateDir: join(dir, 'state'), users, maildirOf, imap }),
  );
  daemon = startTwinboxd({
    config: configFile,
    logFile: daemonLog,
    args: ['--metrics', '127.0.0.1:0', ...(values.inline ? ['--inline'] : [])],
  });
  const { url: metricsUrl } = await daemon.waitFor((l) => l.msg === 'serving metrics');
  await waitSettled(configFile, PAIRS, { quietMs: 3000 });
  log(`${PAIRS} pairs synced and watching; changes for ${MINUTES} min`);
  for (const u of users) clients.push(await connectImap(imapAccount(info, u)));

  const t0 = Date.now();
  const samples = [];
  const metric = (name) => scrape(metricsUrl, name).catch(() => Number.NaN);
  const sample = async () => {
    const s = processStatus(daemon.pid);
    const at = (Date.now() - t0) / 1000;
    const [heapUsed, external] = await Promise.all([
      metric('twinbox_nodejs_heap_size_used_bytes'),
      metric('twinbox_nodejs_external_memory_bytes'),
    ]);
    samples.push({
      s: at,
      rssMb: s.rssBytes / MiB,
      heapUsedMb: heapUsed / MiB,
      externalMb: external / MiB,
      threads: s.threads,
      connections: connectionsTo(daemon.pid, info.tlsPort),
    });
  };
  await sample();
  const sampler = setInterval(() => void sample(), SAMPLE_MS);

  /** One change of `kind` on pair i, made and followed until it crossed (or was given up). */
  async function change(i, kind, folder) {
    const u = users[i];
    const client = clients[i];
    const root = maildirOf(u);
    const cache = new Map();
    const local = () => maildirMessages(root, cache).get(folder) ?? new Map();
    const remote = () => serverFolder(client, folder);
    const onServer = kind.startsWith('server');
    // What is there now on the side changed: a message to flag or delete is picked among these.
    const before = onServer ? await remote() : local();
    const ids = [...before.keys()];
    // A folder is never emptied: below three messages it only gets new ones.
    if (!kind.endsWith('append') && !kind.endsWith('deliver') && ids.length < 3)
      kind = onServer ? 'server-append' : 'maildir-deliver';
    const id = kind.endsWith('append') || kind.endsWith('deliver') ? newId(`soak.${kind}`) : randomOf(ids);
    const entry = before.get(id);
    let since = performance.now();
    let crossed;
    switch (kind) {
      case 'server-append':
        await client.append(folder, benchMessage(id));
        crossed = () => local().has(id);
        break;
      case 'server-flag': {
        const set = !entry.flags.includes('F');
        const lock = await client.getMailboxLock(folder);
        try {
          since = performance.now();
          if (set) await client.messageFlagsAdd(String(entry.uid), ['\\Flagged'], { uid: true });
          else await client.messageFlagsRemove(String(entry.uid), ['\\Flagged'], { uid: true });
        } finally {
          lock.release();
        }
        crossed = () => local().get(id)?.flags.includes('F') === set;
        break;
      }
      case 'server-expunge': {
        const lock = await client.getMailboxLock(folder);
        try {
          since = performance.now();
          await client.messageDelete(String(entry.uid), { uid: true });
        } finally {
          lock.release();
        }
        crossed = () => !local().has(id);
        break;
      }
      case 'maildir-deliver':
        deliver(folderDir(root, folder), benchMessage(id));
        crossed = async () => (await remote()).has(id);
        break;
      case 'maildir-flag': {
        const set = toggleMaildirFlag(entry.file, entry.dir, 'F');
        crossed = async () => (await remote()).get(id)?.flags.includes('F') === set;
        break;
      }
      case 'maildir-delete':
        unlinkSync(entry.file);
        crossed = async () => !(await remote()).has(id);
        break;
    }
    const everyMs = onServer ? 20 : 50;
    let ms = await until(crossed, PUSH_MS, { since, everyMs });
    let late = false;
    if (ms === undefined) {
      late = true;
      ms = await until(crossed, LATE_MS, { since, everyMs: 200 });
    }
    return { pair: `p${i}`, kind, folder, id, ms: ms ?? null, late };
  }

  const changes = [];
  const failures = [];
  const deadline = t0 + MINUTES * 60_000;
  while (!stopping && Date.now() < deadline) {
    const i = Math.floor(Math.random() * PAIRS);
    const kind = randomOf(KINDS);
    const folder = Math.random() < 0.7 ? 'INBOX' : OTHER;
    try {
      const c = await change(i, kind, folder);
      c.at = (Date.now() - t0) / 1000;
      changes.push(c);
      if (c.late)
        log(
          `${c.pair} ${c.kind} in ${c.folder} did not cross within 2 s: ${c.ms === null ? `not after ${LATE_MS / 1000} s` : `after ${(c.ms / 1000).toFixed(1)} s`}`,
        );
    } catch (err) {
      // The bench's own connection, say, dropped: noted, reconnected, and the soak goes on.
      failures.push({ at: (Date.now() - t0) / 1000, pair: `p${i}`, kind, error: err.message });
      log(`p${i} ${kind}: the bench's change failed: ${err.message}`);
      await clients[i].logout().catch(() => {});
      clients[i] = await connectImap(imapAccount(info, users[i]));
    }
    if (changes.length % 50 === 0 && changes.length)
      log(
        `${changes.length} changes, RSS ${samples.at(-1).rssMb.toFixed(0)} MB, daemon warnings ${daemon.problems.warn}, errors ${daemon.problems.error}`,
      );
    await sleep(1000 + Math.random() * 4000);
  }
  clearInterval(sampler);
  await sample();
  const minutes = (Date.now() - t0) / 60_000;

  log('changes over; waiting for every pair to be watching, then comparing both sides');
  await waitSettled(configFile, PAIRS, { quietMs: 5000, timeoutMs: 120_000 });
  const verification = [];
  for (let i = 0; i < PAIRS; i++) {
    const diff = differences(await serverMessages(clients[i]), maildirMessages(maildirOf(users[i])));
    const count = [...maildirMessages(maildirOf(users[i])).values()].reduce((n, f) => n + f.size, 0);
    verification.push({ pair: `p${i}`, messages: count, differences: diff });
  }

  // The report.
  const rss = samples.map((s) => s.rssMb);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  /** Least-squares slope of a sample field (RSS by default) over time, MB per hour. */
  const slopeOf = (ss, field = 'rssMb') => {
    if (ss.length < 2) return Number.NaN;
    const h = ss.map((x) => x.s / 3600);
    const m = ss.map((x) => x[field]);
    return (
      h.reduce((a, x, k) => a + (x - mean(h)) * (m[k] - mean(m)), 0) /
      h.reduce((a, x) => a + (x - mean(h)) ** 2, 0)
    );
  };
  const slope = slopeOf(samples);
  // The heap grows and shrinks for a while after the first syncs: the trend after 10 minutes says more.
  const settledSamples = samples.filter((x) => x.s >= 600);
  const slopeAfter10 = settledSamples.length >= 4 ? slopeOf(settledSamples) : Number.NaN;
  const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–');
  const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '–');
  const heap = {
    start: samples[0].heapUsedMb,
    end: samples.at(-1).heapUsedMb,
    max: Math.max(...samples.map((x) => x.heapUsedMb)),
    slopeMbPerHour: slopeOf(samples, 'heapUsedMb'),
    slopeAfter10MinMbPerHour: settledSamples.length >= 4 ? slopeOf(settledSamples, 'heapUsedMb') : Number.NaN,
    externalStart: samples[0].externalMb,
    externalEnd: samples.at(-1).externalMb,
  };
  const latencyRow = (name, cs) => {
    const ms = cs.map((c) => c.ms).filter((x) => x !== null);
    return `| ${name} | ${cs.length} | ${f0(median(ms))} | ${f0(quantile(ms, 0.95))} | ${f0(Math.max(...ms))} | ${cs.filter((c) => c.late).length} | ${cs.filter((c) => c.ms === null).length} |`;
  };
  const unequal = verification.filter((v) => v.differences.length);
  const lines = [
    `Soak ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineInfo().host} (${machineInfo().cpu}, ${machineInfo().memoryGb} GB, Linux ${machineInfo().kernel}, Node ${process.version}): ` +
      `${PAIRS} IMAP ⇄ Maildir pairs in one twinboxd (${values.inline ? '--inline' : 'daemon defaults'}, watch-poll ${values['watch-poll'] ?? 'default'}), ${minutes.toFixed(1)} min of changes, one every 1–5 s.`,
    '',
    '| RSS MB at start | at end | max | slope MB/hour | slope after 10 min | threads start / end | connections to Dovecot start / end | samples |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${f0(rss[0])} | ${f0(rss.at(-1))} | ${f0(Math.max(...rss))} | ${slope.toFixed(1)} | ${Number.isFinite(slopeAfter10) ? slopeAfter10.toFixed(1) : '–'} | ${samples[0].threads} / ${samples.at(-1).threads} | ${samples[0].connections} / ${samples.at(-1).connections} | ${samples.length} |`,
    '',
    `Main thread's V8 heap used: ${f1(heap.start)} MB at start, ${f1(heap.end)} at end, max ${f1(heap.max)}, slope ${f1(heap.slopeMbPerHour)} MB/hour (${f1(heap.slopeAfter10MinMbPerHour)} after 10 min); external ${f1(heap.externalStart)} → ${f1(heap.externalEnd)} MB.`,
    '',
    '| change | made | median ms | p95 ms | max ms | not within 2 s | never (within the late limit) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    latencyRow('all', changes),
    ...KINDS.map((k) =>
      latencyRow(
        k,
        changes.filter((c) => c.kind === k),
      ),
    ),
    '',
    `Daemon log: ${daemon.problems.error} error and ${daemon.problems.warn} warning lines, ${daemon.problems.stderrBytes} bytes on stderr. ` +
      `Bench changes that failed: ${failures.length}. Verification: ${PAIRS - unequal.length} of ${PAIRS} pairs equal on both sides ` +
      `(${verification.reduce((n, v) => n + v.messages, 0)} messages in all).`,
  ];
  for (const c of changes.filter((x) => x.late))
    lines.push(
      `- not within 2 s: at ${c.at.toFixed(0)} s, ${c.pair} ${c.kind} in ${c.folder}: ${c.ms === null ? 'never' : `${(c.ms / 1000).toFixed(2)} s`}`,
    );
  for (const p of daemon.problems.lines.slice(0, 20))
    lines.push(`- daemon ${p.level >= 50 ? 'error' : 'warn'}: ${p.pair ?? ''} ${p.msg}`);
  for (const f of failures.slice(0, 10)) lines.push(`- bench change failed: ${f.pair} ${f.kind}: ${f.error}`);
  for (const v of unequal)
    for (const d of v.differences.slice(0, 5))
      lines.push(`- ${v.pair} ${d.folder} ${d.id}: server ${d.server}, Maildir ${d.maildir}`);
  const table = lines.join('\n');
  console.log(table);
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        started: started.toISOString(),
        machine: machineInfo(),
        options: values,
        minutes,
        rss: {
          start: rss[0],
          end: rss.at(-1),
          max: Math.max(...rss),
          slopeMbPerHour: slope,
          slopeAfter10MinMbPerHour: slopeAfter10,
        },
        heap,
        samples,
        changes,
        failures,
        daemonProblems: daemon.problems,
        verification,
        table,
      },
      null,
      2,
    )}\n`,
  );
  log(`JSON: ${out}; daemon log: ${daemonLog}`);
} finally {
  for (const c of clients) await c.logout().catch(() => {});
  await daemon?.stop();
  await server?.stop();
  if (values.keep) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
