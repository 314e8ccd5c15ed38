// compare.mjs's imap-first scenario (a first sync IMAP→IMAP over IMAPS into an empty second user) for
// A/B runs of Twinbox builds, and interimap, on one kept fixture: each round runs every build (and
// interimap with --interimap) once, the order rotated each round, so that all see the same load on a
// shared machine. Per run: wall, the tool's user and system CPU, Dovecot's CPU (lib/measure.mjs); a
// run is counted only if it exits 0 and the second user then holds as many messages as the seed.
// With --noop each first sync is followed by the same command again, nothing changed (compare.mjs's
// imap-noop), timed and checked the same way, in a table of its own.
//
//   node bench/imap-first-ab.mjs --bin /tmp/base/apps/cli/dist/bin.js --bin apps/cli/dist/bin.js --rounds 5 --interimap
//
// Options: --bin (repeatable; default this checkout's build; `path@N` runs it with `connections = N`,
// `path%MODE` with `workers = MODE`, both as `path@N%MODE`), --rounds 5, --multiplier 1, --interimap, --noop,
// --workers (written into Twinbox's config; by default none), --connections N (Twinbox's, per account).
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { emptyUser, homeOf, newUser, resetFromSeed, startFixture } from './lib/fixture.mjs';
import { dovecotGroup, measure } from './lib/measure.mjs';
import { tools } from './lib/tools.mjs';

const { values } = parseArgs({
  options: {
    bin: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '5' },
    multiplier: { type: 'string', default: '1' },
    interimap: { type: 'boolean', default: false },
    noop: { type: 'boolean', default: false },
    workers: { type: 'string' },
    connections: { type: 'string' },
  },
});
// `path@N`: that build with `connections = N` on both accounts; `path%MODE`: with `workers = MODE`.
const bins = (values.bin ?? ['apps/cli/dist/bin.js']).map((b) => {
  const [spec, workers] = b.split('%');
  const [path, connections] = spec.split('@');
  return {
    path: resolve(path),
    connections: connections ?? values.connections,
    workers: workers ?? values.workers,
  };
});

/** Messages in a user's Maildir (every folder's cur/ and new/). */
function countMessages(home) {
  let n = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === 'cur' || e.name === 'new') n += readdirSync(join(d, e.name)).length;
      else if (e.name !== 'tmp') walk(join(d, e.name));
    }
  };
  walk(join(home, 'Maildir'));
  return n;
}

const dir = mkdtempSync(join(tmpdir(), 'twinbox-imap-ab-'));
const fx = await startFixture({
  corpus: { multiplier: Number(values.multiplier) },
  dir,
  log: (l) => console.error(l),
});
try {
  const group = dovecotGroup(fx.configFile);
  const expected = countMessages(homeOf(fx.info, 'seed'));
  const entrants = bins.map(({ path, connections, workers }, i) => ({
    name: `twinbox ${i + 1}`,
    bin: path,
    connections,
    workers,
    label: `${path}${connections ? ` (connections = ${connections})` : ''}${workers ? ` (workers = ${workers})` : ''}`,
  }));
  if (values.interimap) entrants.push({ name: 'interimap' });
  for (const [i, e] of entrants.entries()) {
    e.far = await newUser(fx.info, `ab${i}s`);
    e.near = await newUser(fx.info, `ab${i}d`);
    e.runs = [];
    e.noops = [];
  }
  const loads = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const order = entrants.map((_, i) => entrants[(i + round) % entrants.length]);
    for (const e of order) {
      resetFromSeed(fx.info, e.far.user);
      emptyUser(fx.info, e.near.user);
      const d = join(dir, `${e.far.user}-${round}`);
      mkdirSync(d);
      const args = { dir: d, port: fx.info.tlsPort, caFile: fx.caFile, far: e.far, near: e.near };
      let run;
      if (e.bin) {
        run = tools({ twinboxBin: e.bin, workers: e.workers }).twinbox.imap(args);
        if (e.connections) {
          const { readFileSync, writeFileSync } = await import('node:fs');
          const cfg = readFileSync(run.config, 'utf8').replaceAll(
            'ca-file =',
            `connections = ${e.connections}\nca-file =`,
          );
          writeFileSync(run.config, cfg);
        }
      } else run = tools({ twinboxBin: bins[0].path }).interimap.imap(args);
      for (const [what, runs] of [['first', e.runs], ...(values.noop ? [['noop', e.noops]] : [])]) {
        loads.push(loadavg()[0]);
        const m = await measure(run.command[0], run.command[1], { env: run.env, serverGroup: group });
        const got = countMessages(homeOf(fx.info, e.near.user));
        const ok = m.exitCode === 0 && got === expected;
        console.error(
          `round ${round + 1} ${e.name} ${what}: ${ok ? 'ok' : `WRONG (exit ${m.exitCode}, ${got}/${expected})`} wall ${m.wall.toFixed(2)} user ${m.user.toFixed(2)} sys ${m.sys.toFixed(2)} server ${m.server.toFixed(2)}`,
        );
        if (ok) runs.push(m);
        else if (m.output) console.error(m.output);
      }
    }
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
  console.log(
    `1-minute load average before each run: ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}\n`,
  );
  for (const [title, key] of [
    ['first sync', 'runs'],
    ...(values.noop ? [['no-op after it', 'noops']] : []),
  ]) {
    console.log(`\n${title}\n`);
    console.log(
      '| tool | build | correct | wall s, median [min–max] | user s | sys s | peak RSS MB | server CPU s, median [min–max] |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const e of entrants) {
      const runs = e[key];
      const w = runs.map((r) => r.wall);
      const s = runs.map((r) => r.server);
      console.log(
        `| ${e.name} | ${e.label ?? ''} | ${runs.length}/${values.rounds} | ${med(w).toFixed(2)} [${Math.min(...w).toFixed(2)}–${Math.max(...w).toFixed(2)}] | ${med(runs.map((r) => r.user)).toFixed(2)} | ${med(runs.map((r) => r.sys)).toFixed(2)} | ${Math.max(...runs.map((r) => r.rssMb)).toFixed(0)} | ${med(s).toFixed(2)} [${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)}] |`,
      );
    }
  }
} finally {
  await fx.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
