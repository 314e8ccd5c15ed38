// The wall time of `twinbox sync` through a running daemon that answers at once: what a user waits for
// when twinboxd has nothing to do. A stub daemon in this process (@twinbox/config/control's server, one
// pair, an empty report) serves a throwaway config; the built CLI (apps/cli/dist/bin.js) runs against
// it --runs times, then, for scale, `node -e 0` (Node's own start) and `twinbox --version` as many
// times, interleaved. Prints the median and the range of each. Build first (`pnpm build`).
//
//   node bench/cli-daemon-client.mjs [--runs 20]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'apps/cli/dist/bin.js');
const { controlSocketPath, serveControl } = await import(join(root, 'packages/config/dist/control/index.js'));

const dir = mkdtempSync(join(tmpdir(), 'twinbox-bench-daemon-'));
const config = join(dir, 'config.toml');
writeFileSync(config, '# the stub daemon serves this; the CLI never reads it\n');
const env = { PATH: process.env.PATH, HOME: dir, XDG_RUNTIME_DIR: dir };
const totals = {
  copied: 0,
  flagged: 0,
  deleted: 0,
  paired: 0,
  conflicts: 0,
  tooLarge: 0,
  tooOld: 0,
  errors: 0,
  foldersCreated: 0,
  foldersDeleted: 0,
};
const server = await serveControl(
  {
    configFile: config,
    version: 'bench',
    status: () => [
      {
        name: 'work',
        left: 'a',
        right: 'b',
        state: 'watching',
        since: new Date().toISOString(),
        failures: 0,
      },
    ],
    async sync(_request, send) {
      send({ type: 'pair-start', pair: 'work', title: 'a ⇄ b' });
      send({
        type: 'pair-done',
        pair: 'work',
        report: { aborted: false, folders: [], plans: [], totals },
        seconds: 0,
      });
    },
  },
  { path: controlSocketPath(config, env) },
);

/** Runs a command to its end and resolves to its wall time in ms; rejects when it fails. */
function timed(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`${args.join(' ')}: exit ${code}`)),
    );
  });
}

const cases = {
  'node -e 0': ['-e', '0'],
  'twinbox --version': [bin, '--version'],
  'twinbox sync (through the daemon)': [bin, '-c', config, 'sync'],
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
try {
  // One untimed run each: the compile cache is written on the first.
  for (const args of Object.values(cases)) await timed(args);
  for (let i = 0; i < runs; i++)
    for (const [name, args] of Object.entries(cases)) times[name].push(await timed(args));
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`${runs} runs each, Node ${process.version}, medians [range] in ms:`);
for (const [name, xs] of Object.entries(times))
  console.log(
    `  ${name.padEnd(36)} ${median(xs).toFixed(0).padStart(5)}  [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`,
  );
