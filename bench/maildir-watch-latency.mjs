// How long a Maildir watch takes to report a delivery: from the rename of a message file out of tmp/
// into new/ (what an MDA does last) to `nextChange` resolving with the folder. Two ways:
//   - driver: MaildirDriver.nextChange in this thread;
//   - thread: the side component in a worker thread, as `openPair` runs it (threads mode), the notice
//     crossing the thread boundary.
// The file is written to tmp/ before the clock starts; each run waits for the previous notice to be
// out of the way. Medians of --runs with the range. Run after `pnpm build`. Nearly all of it is the
// watch's settle time (SETTLE_QUIET_MS, 30 ms), which gathers a burst into one notice.
//
//   node bench/maildir-watch-latency.mjs [--runs 20]
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const root = resolve(import.meta.dirname, '..');
const { MaildirDriver } = await import(join(root, 'packages/driver-maildir/dist/index.js'));
const { startComponent, transfer } = await import(join(root, 'packages/worker-runtime/dist/index.js'));
const { parseConfig } = await import(join(root, 'packages/config/dist/index.js'));

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Times `runs` deliveries into `folderDir`, each reported by `nextChange()`. */
async function measure(folderDir, nextChange) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const name = `${Date.now()}.M${i}P${process.pid}.bench`;
    writeFileSync(join(folderDir, 'tmp', name), `Subject: ${i}\n\nbody\n`);
    const waiting = nextChange();
    await pause(50); // the call is surely waiting, in whichever thread
    const started = performance.now();
    renameSync(join(folderDir, 'tmp', name), join(folderDir, 'new', name));
    const notice = await waiting;
    times.push(performance.now() - started);
    if (notice.all || notice.folders.length !== 1)
      throw new Error(`unexpected notice ${JSON.stringify(notice)}`);
  }
  return times;
}

function summary(label, times) {
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(
    `${label.padEnd(8)} median ${median.toFixed(1)} ms  (min ${sorted[0].toFixed(1)}, max ${sorted.at(-1).toFixed(1)}, n=${sorted.length})`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'twinbox-watch-bench-'));
try {
  // driver, this thread
  const maildir = join(dir, 'direct');
  const driver = await MaildirDriver.open({ root: maildir });
  await driver.createFolder(['Lists']);
  await driver.watch({ folders: 'all' });
  summary('driver', await measure(join(maildir, '.Lists'), () => driver.nextChange()));
  await driver.close();

  // the side component in a worker thread
  const config = parseConfig(
    '[accounts.a]\ntype = "maildir"\npath = "threaded"\n[accounts.b]\ntype = "maildir"\npath = "other"\n[pairs.p]\nleft = "a"\nright = "b"\n',
    join(dir, 'config.toml'),
  );
  const state = await startComponent(pathToFileURL(join(root, 'packages/state-sqlite/dist/component.js')), {
    mode: 'thread',
    args: { path: join(dir, 'state.sqlite'), wait: false },
  });
  const port = await state.connect();
  const side = await startComponent(pathToFileURL(join(root, 'packages/config/dist/side-component.js')), {
    mode: 'thread',
    args: transfer({ side: 'left', account: config.accounts.a, rename: {}, statePort: port }, [port]),
  });
  await side.api.createFolder(['Lists']);
  await side.api.watch({ folders: 'all' });
  summary('thread', await measure(join(dir, 'threaded', '.Lists'), () => side.api.nextChange()));
  await side.close();
  await state.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
