#!/usr/bin/env node
// compare.mjs's server-batch scenario, repeated on one kept fixture, for profiling and A/B runs: the
// corpus ×N is loaded once, each build under test gets its own server user (a copy of the seed) and
// Maildir, syncs it once (first sync, then a no-op, untimed), and then, round after round, the same
// server batch as compare.mjs (lib/batch.mjs: per folder 1% new, 2% \Flagged toggled, 0.5% expunged,
// over IMAP) is applied and one `twinbox sync` is timed and verified. Builds alternate within a round,
// the order rotated each round, so that before and after see the same load.
//
//   node bench/server-batch.mjs --multiplier 5 --rounds 6 --bin /tmp/base/apps/cli/dist/bin.js --bin apps/cli/dist/bin.js
//   node bench/server-batch.mjs --rounds 3 --cpu-prof /tmp/prof          # one .cpuprofile per timed sync
//
// Options: --multiplier 5 (corpus copies), --rounds 5, --bin (repeatable; default this checkout's
// build), --workers auto|threads|inline (written into the config; by default none, so the build's
// default applies), --cpu-prof DIR (runs each timed sync under `node --cpu-prof`, profiles in
// DIR/<build index>-<round>/), --seed-cache DIR (keeps the loaded seed user's mail in DIR/x<N> and
// copies it next time instead of loading the corpus again: ×5 takes about a minute to load),
// --dir (where the Maildirs go). Needs the built packages (pnpm build) and Dovecot (dovecot-imapd).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startDovecot } from '../tooling/dovecot/dist/index.js';
import { serverBatch } from './lib/batch.mjs';
import { homeOf, newUser, resetFromSeed, startFixture } from './lib/fixture.mjs';
import { dovecotGroup, measure } from './lib/measure.mjs';
import { median } from './lib/report.mjs';
import { compareSnapshots, snapshot } from './lib/snapshot.mjs';
import { tools } from './lib/tools.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    multiplier: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    bin: { type: 'string', multiple: true },
    workers: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'seed-cache': { type: 'string' },
    dir: { type: 'string' },
  },
});
const multiplier = Number(values.multiplier);
const rounds = Number(values.rounds);
const bins = (values.bin ?? [join(here, '../apps/cli/dist/bin.js')]).map((b) => resolve(b));
const log = (line) => process.stderr.write(`${line}\n`);

const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'twinbox-server-batch-'));
const cache = values['seed-cache'] && join(values['seed-cache'], `x${multiplier}`);
const cp = (from, to) => {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(dirname(to), { recursive: true });
  execFileSync('cp', ['-a', from, to]);
};

let fx;
if (cache && existsSync(cache)) {
  const server = await startDovecot();
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, server.info.ca);
  await server.addUser('seed');
  cp(cache, homeOf(server.info, 'seed'));
  fx = { server, info: server.info, caFile, configFile: join(server.info.dir, 'dovecot.conf') };
  log(`seed copied from ${cache}`);
} else {
  fx = await startFixture({ corpus: { multiplier }, dir, log });
  if (cache) cp(homeOf(fx.info, 'seed'), cache);
}

try {
  const serverGroup = dovecotGroup(fx.configFile);
  const port = fx.info.tlsPort;
  const setups = [];
  for (const [i, bin] of bins.entries()) {
    const d = join(dir, `build${i}`);
    mkdirSync(d);
    const far = await newUser(fx.info, `b${i}`);
    resetFromSeed(fx.info, far.user);
    const maildir = join(d, 'mail');
    const setup = tools({ twinboxBin: bin, workers: values.workers }).twinbox.maildir({
      dir: d,
      port,
      caFile: fx.caFile,
      far,
      maildir,
    });
    setups.push({ bin, far, maildir, ...setup, walls: [], users: [], rss: [] });
  }
  const serverSide = (s) => join(homeOf(fx.info, s.far.user), 'Maildir');

  for (const [i, s] of setups.entries())
    for (const what of ['first sync', 'no-op']) {
      const m = await measure(...s.command, { serverGroup });
      if (m.exitCode !== 0) throw new Error(`build ${i} ${what} failed (exit ${m.exitCode}):\n${m.output}`);
      log(
        `build ${i} ${what}: ${m.wall.toFixed(2)} s, user ${m.user.toFixed(2)} s, ${m.rssMb.toFixed(0)} MB`,
      );
    }

  for (let round = 0; round < rounds; round++) {
    const order = setups.map((_, i) => (i + round) % setups.length);
    for (const i of order) {
      const s = setups[i];
      await serverBatch(
        { host: '127.0.0.1', port, ca: fx.info.ca, user: s.far.user, password: s.far.password },
        `server ${round}`,
      );
      const expected = snapshot(serverSide(s));
      const [command, args] = s.command;
      const profiled = values['cpu-prof']
        ? ['--cpu-prof', `--cpu-prof-dir=${join(values['cpu-prof'], `${i}-${round}`)}`]
        : [];
      const m = await measure(command, [...profiled, ...args], { serverGroup });
      const a = compareSnapshots(expected, snapshot(serverSide(s)));
      const b = compareSnapshots(expected, snapshot(s.maildir));
      const ok = m.exitCode === 0 && a.ok && b.ok;
      if (ok) {
        s.walls.push(m.wall);
        s.users.push(m.user);
        s.rss.push(m.rssMb);
      }
      log(
        `round ${round + 1} build ${i}: ${m.wall.toFixed(2)} s, user ${m.user.toFixed(2)} sys ${m.sys.toFixed(2)}, ` +
          `${m.rssMb.toFixed(0)} MB, server ${m.server.toFixed(2)} s${ok ? '' : `  WRONG (exit ${m.exitCode}; missing ${a.missing}/${b.missing}, extra ${a.extra}/${b.extra})\n${m.output}`}`,
      );
    }
  }
  console.log('| build | correct | wall s, median [min–max] | user s | peak RSS MB |');
  console.log('| ----- | ------- | ------------------------ | -----: | ----------: |');
  for (const s of setups) {
    const w = s.walls;
    console.log(
      `| ${s.bin} | ${w.length}/${rounds} | ${w.length ? `${median(w).toFixed(2)} [${Math.min(...w).toFixed(2)}–${Math.max(...w).toFixed(2)}]` : '–'} | ${w.length ? median(s.users).toFixed(2) : '–'} | ${w.length ? Math.max(...s.rss).toFixed(0) : '–'} |`,
    );
  }
} finally {
  await fx.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
