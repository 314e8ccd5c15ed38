// One first sync IMAP→Maildir (the corpus ×N on the Dovecot fixture), with `twinbox --json`: when each
// folder was planned, how its copies came in batch by batch, and when it was done, relative to the
// command's start. Shows which folder holds up the end of a first sync and how busy the copy pipeline
// of each folder is. Usage: node bench/first-timeline.mjs [--bin apps/cli/dist/bin.js]
// [--multiplier 1] [--workers auto|threads|inline] [--concurrency N]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { newUser, resetFromSeed, startFixture } from './lib/fixture.mjs';
import { tools } from './lib/tools.mjs';

const { values } = parseArgs({
  options: {
    bin: { type: 'string', default: 'apps/cli/dist/bin.js' },
    multiplier: { type: 'string', default: '1' },
    workers: { type: 'string', default: 'auto' },
    concurrency: { type: 'string' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'twinbox-first-timeline-'));
const fx = await startFixture({ corpus: { multiplier: Number(values.multiplier) }, dir, log: console.error });
try {
  const user = await newUser(fx.info, 'timeline');
  resetFromSeed(fx.info, 'timeline');
  const maildir = join(dir, 'mail');
  mkdirSync(maildir);
  const { config: cfg } = tools({
    twinboxBin: resolve(values.bin),
    workers: values.workers,
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
  }).twinbox.maildir({ dir, port: fx.info.tlsPort, caFile: fx.caFile, far: user, maildir });
  const started = performance.now();
  const child = spawn(process.execPath, [resolve(values.bin), '--json', '-c', cfg, 'sync'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const folders = new Map();
  const at = () => (performance.now() - started) / 1000;
  for await (const line of createInterface({ input: child.stdout })) {
    const e = JSON.parse(line);
    const t = at();
    const f =
      e.folder && (folders.get(e.folder) ?? folders.set(e.folder, { batches: 0, copied: 0 }).get(e.folder));
    if (e.type === 'folder-planned') Object.assign(f, { planned: t, copies: e.toRight.copies });
    if (e.type === 'copied')
      Object.assign(f, { batches: f.batches + 1, copied: f.copied + e.count, first: f.first ?? t });
    if (e.type === 'folder-done') f.done = t;
    if (e.type === 'pair-done')
      console.log(`pair done at ${t.toFixed(2)} s (its own count: ${e.seconds.toFixed(2)} s)`);
  }
  console.log(`exit at ${at().toFixed(2)} s\n`);
  console.log('| folder | copies | planned s | first batch s | done s | msgs/s while copying |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [name, f] of [...folders].sort((a, b) => (a[1].planned ?? 0) - (b[1].planned ?? 0))) {
    const rate = f.done && f.planned ? (f.copied / (f.done - f.planned)).toFixed(0) : '';
    console.log(
      `| ${name} | ${f.copies ?? ''} | ${f.planned?.toFixed(2) ?? ''} | ${f.first?.toFixed(2) ?? ''} | ${f.done?.toFixed(2) ?? ''} | ${rate} |`,
    );
  }
} finally {
  await fx.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
