// Where the time of a no-op `twinbox sync` goes. The corpus is loaded into an account of the Dovecot
// fixture and synced once into an empty Maildir; then, each --runs times and interleaved:
//   - whole processes, as a user runs them: `node -e 0` (Node's own start), `twinbox --version` (Node
//     and loading the program), `twinbox sync` with workers = threads and inline (wall and CPU time);
//   - the phases of one sync, timed inside a process: loading the config, opening the pair (starting
//     the state and both sides: threads or modules, SQLite, TLS and login), the sync, and closing; with
//     the worker entries the CLI ships (apps/cli/dist), which an older build without them ignores.
// Medians, with the range in brackets. --compare runs another checkout's build too (say, one from
// before a change), interleaved with this one's against the same server and corpus, each with its own
// state and Maildir: on a busy machine, only numbers measured side by side compare.
//
//   node bench/noop-breakdown.mjs [--runs 7] [--limit N] [--compare path/to/other/checkout]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    limit: { type: 'string' },
    compare: { type: 'string' },
    // Internal: one timed sync in this process (checkout, config file, mode).
    root: { type: 'string' },
    child: { type: 'string' },
    mode: { type: 'string' },
  },
});
if (values.child) {
  // One sync, phase by phase, as the CLI's `sync` does it (open, sync, close), with the CLI's entries
  // and, as its bin.js, the compile cache on.
  const t0 = performance.now();
  (await import('node:module')).enableCompileCache?.();
  const root = values.root;
  const lap = [];
  const mark = (phase) => lap.push([phase, performance.now()]);
  const { loadConfig, openPair } = await import(pathToFileURL(join(root, 'packages/config/dist/index.js')));
  const { sync } = await import(pathToFileURL(join(root, 'packages/core/dist/index.js')));
  let entries;
  try {
    ({ workerEntries: entries } = await import(pathToFileURL(join(root, 'apps/cli/dist/entries.js'))));
  } catch {
    // A build from before the CLI shipped its own entries: openPair's defaults.
  }
  mark('import the config and core packages');
  const loaded = await loadConfig(values.child);
  mark('load the config');
  const pair = await openPair(loaded, 'mail', { mode: values.mode, ...(entries ? { entries } : {}) });
  mark('open: start state and sides, log in');
  const report = await sync(pair.left, pair.right, pair.syncOptions);
  mark('sync (nothing to do)');
  await pair.close();
  mark('close');
  if (report.totals.copied !== 0 || report.totals.errors !== 0) throw new Error('not a no-op sync');
  // Durations, not times since start: each phase from the end of the one before.
  const phases = {};
  let last = t0;
  for (const [phase, t] of lap) {
    phases[phase] = t - last;
    last = t;
  }
  // Node's own start, before this module ran: from process start to the main script's first line.
  phases['node start (bootstrap)'] = performance.nodeTiming.bootstrapComplete;
  process.stdout.write(JSON.stringify(phases));
  process.exit(0);
}

const { corpusSize, loadIntoImap } = await import('../tooling/corpus/dist/index.js');
const { startDovecot } = await import('../tooling/dovecot/dist/index.js');

const runs = Math.max(1, Number(values.runs));
const corpus = { multiplier: 1, ...(values.limit ? { limit: Number(values.limit) } : {}) };

/** Runs a command under GNU time: wall and CPU (user + system) seconds, and its standard output. */
function timed(command, args) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', command, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    throw new Error(`${command} ${args.join(' ')} exited ${r.status}`);
  }
  const [wall, user, sys] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { wall, cpu: user + sys, stdout: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const range = (xs) => `[${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;

const roots = [new URL('..', import.meta.url).pathname, ...(values.compare ? [values.compare] : [])].map(
  (r) => resolve(r),
);
const server = await startDovecot();
const dir = mkdtempSync(join(tmpdir(), 'twinbox-noop-breakdown-'));
try {
  const { user, password } = await server.addUser('bench');
  const { info } = server;
  const total = await corpusSize(corpus);
  process.stdout.write(`loading ${total} corpus messages into Dovecot… `);
  const loaded = await loadIntoImap(
    { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password },
    corpus,
  );
  console.log(`${loaded.appended} in ${loaded.seconds.toFixed(1)} s`);
  writeFileSync(join(dir, 'ca.pem'), info.ca);
  const self = new URL(import.meta.url).pathname;
  const builds = roots.map((root, n) => {
    const configs = {};
    for (const workers of ['threads', 'inline']) {
      configs[workers] = join(dir, `${n}-${workers}.toml`);
      writeFileSync(
        configs[workers],
        `workers = "${workers}"
[state]
dir = "${join(dir, `${n}-state`)}"
[accounts.remote]
type = "imap"
host = "localhost"
port = ${info.tlsPort}
user = "${user}"
password = "${password}"
ca-file = "${join(dir, 'ca.pem')}"
[accounts.local]
type = "maildir"
path = "${join(dir, `${n}-mail`)}"
[pairs.mail]
left = "remote"
right = "local"
`,
      );
    }
    const bin = join(root, 'apps/cli/dist/bin.js');
    const processes = {
      'node -e 0': [process.execPath, ['-e', '0']],
      'twinbox --version': [process.execPath, [bin, '--version']],
      'twinbox sync (threads)': [process.execPath, [bin, '-q', '-c', configs.threads, 'sync']],
      'twinbox sync (inline)': [process.execPath, [bin, '-q', '-c', configs.inline, 'sync']],
    };
    const first = timed(process.execPath, [bin, '-q', '-c', configs.threads, 'sync']);
    console.log(`${root}: first sync ${first.wall.toFixed(1)} s`);
    return {
      root,
      configs,
      processes,
      whole: Object.fromEntries(Object.keys(processes).map((k) => [k, []])),
      phases: { threads: [], inline: [] },
    };
  });

  for (let i = 0; i < runs; i++) {
    for (const b of builds) {
      for (const [name, [command, args]] of Object.entries(b.processes))
        b.whole[name].push(timed(command, args));
      for (const mode of ['threads', 'inline']) {
        const r = timed(process.execPath, [
          self,
          '--root',
          b.root,
          '--child',
          b.configs[mode],
          '--mode',
          mode,
        ]);
        b.phases[mode].push({ ...JSON.parse(r.stdout), 'whole process (wall)': r.wall * 1000 });
      }
    }
  }

  for (const b of builds) {
    console.log(`\n${b.root}: ${total} messages, median of ${runs} runs [range], milliseconds`);
    console.log(`${'process'.padEnd(40)} ${'wall'.padEnd(18)} cpu (user + sys)`);
    for (const [name, rs] of Object.entries(b.whole)) {
      const w = rs.map((r) => r.wall * 1000);
      const c = rs.map((r) => r.cpu * 1000);
      console.log(
        `${name.padEnd(40)} ${`${median(w).toFixed(0)} ${range(w)}`.padEnd(18)} ${median(c).toFixed(0)} ${range(c)}`,
      );
    }
    console.log(`${'phase of one sync'.padEnd(40)} ${'threads'.padEnd(18)} inline`);
    for (const phase of Object.keys(b.phases.threads[0])) {
      const cell = (mode) => {
        const xs = b.phases[mode].map((p) => p[phase]);
        return `${median(xs).toFixed(0)} ${range(xs)}`;
      };
      console.log(`${phase.padEnd(40)} ${cell('threads').padEnd(18)} ${cell('inline')}`);
    }
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
