// Maildir driver benchmark.
// 1. Lists a folder of 60,000 messages: cold (page cache dropped, when we may), warm, and unchanged
//    (the marker of the last listing given as `since`). Target: unchanged under 20 ms.
// 2. Writes the 6,046 corpus messages durably, in the engine's batches (50), next to one fsync per
//    message on the same disk, and with fsync off.
// 3. Removes --remove corpus messages from a folder (a ×10 server batch expunges ~300), durably.
//
//   node bench/maildir.mjs [--messages 60000] [--dir <on the disk to measure>] [--runs 5]
//     [--remove 300] [--parts 1,2,3]
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MaildirDriver } from '../packages/driver-maildir/dist/index.js';
import { readCorpus } from '../tooling/corpus/dist/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '60000' },
    dir: { type: 'string', default: tmpdir() },
    runs: { type: 'string', default: '5' },
    remove: { type: 'string', default: '300' },
    parts: { type: 'string', default: '1,2,3' },
  },
});
const parts = new Set(values.parts.split(',').map(Number));
const N = Number(values.messages);
const RUNS = Number(values.runs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(1)} ms`;
const sleep = (t) => new Promise((r) => setTimeout(r, t));

function dropCaches() {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

const corpus = [];
for await (const m of readCorpus()) corpus.push(m);
console.log(
  `corpus: ${corpus.length} messages, ${(corpus.reduce((s, m) => s + m.raw.length, 0) / 2 ** 20).toFixed(1)} MiB`,
);

const base = await mkdtemp(join(values.dir, 'twinbox-bench-maildir-'));
try {
  // ---- 1. listing 60,000 -------------------------------------------------------------------------
  if (parts.has(1)) await listing();
  if (parts.has(2)) await writing();
  if (parts.has(3)) await removing();
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  await rm(base, { recursive: true, force: true });
}

async function listing() {
  const root = join(base, 'list');
  const writer = await MaildirDriver.open({ root, fsync: false });
  await writer.createFolder(['Big']);
  let t = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const batch = [];
    for (let k = i; k < Math.min(N, i + 1000); k++) {
      const m = corpus[k % corpus.length];
      batch.push({ body: m.raw, flags: m.flags, internalDate: m.date?.getTime() });
    }
    const outcomes = await writer.appendMessages(['Big'], batch);
    if (outcomes.some((o) => !o.ok)) throw new Error('a write failed while filling the folder');
  }
  console.log(`filled a folder with ${N} messages in ${ms(performance.now() - t)} (fsync off)`);
  // A marker proves "unchanged" only once the directories' mtimes are older than the file system's
  // timestamp granularity window (2 s), as they are between two real syncs.
  await sleep(2100);

  const cold = [];
  const warm = [];
  const unchanged = [];
  let cacheDropped = false;
  for (let r = 0; r < RUNS; r++) {
    cacheDropped = dropCaches();
    const driver = await MaildirDriver.open({ root });
    t = performance.now();
    const first = await driver.listMessages(['Big'], {});
    cold.push(performance.now() - t);
    if (first.kind !== 'full' || first.messages.length !== N) throw new Error('wrong listing');
    t = performance.now();
    const second = await driver.listMessages(['Big'], {});
    warm.push(performance.now() - t);
    if (second.kind !== 'full') throw new Error('wrong listing');
    t = performance.now();
    const again = await driver.listMessages(['Big'], { since: first.marker });
    unchanged.push(performance.now() - t);
    if (again.kind !== 'unchanged') throw new Error(`expected unchanged, got ${again.kind}`);
  }
  console.log(`\nlisting a folder of ${N} messages (median of ${RUNS}):`);
  console.log(
    `  cold (${cacheDropped ? 'page cache dropped' : 'could not drop the page cache: first listing of a fresh driver'}): ${ms(median(cold))}`,
  );
  console.log(`  full, warm:                 ${ms(median(warm))}`);
  console.log(`  unchanged (since marker):   ${ms(median(unchanged))}   target < 20 ms`);
}

// ---- 2. durable writes of the corpus ------------------------------------------------------------
async function writing() {
  const messages = corpus.map((m) => ({ body: m.raw, flags: m.flags, internalDate: m.date?.getTime() }));
  const write = async (name, options, batch) => {
    const dir = join(base, name);
    await mkdir(dir);
    const driver = await MaildirDriver.open({ root: dir, ...options });
    const start = performance.now();
    for (let i = 0; i < messages.length; i += batch) {
      const outcomes = await driver.appendMessages(['INBOX'], messages.slice(i, i + batch));
      if (outcomes.some((o) => !o.ok)) throw new Error('a write failed');
    }
    const elapsed = performance.now() - start;
    await rm(dir, { recursive: true, force: true });
    return elapsed;
  };
  console.log(`\nwriting ${messages.length} corpus messages to ${values.dir}:`);
  const perMessage = await write('one-by-one', {}, 1);
  console.log(
    `  one fsync per message (file + directory, batch of 1): ${ms(perMessage)}  (${(messages.length / (perMessage / 1000)).toFixed(0)} msg/s)`,
  );
  for (const batch of [50, 500]) {
    const durable = await write(`batched-${batch}`, {}, batch);
    console.log(
      `  batched durable, batches of ${String(batch).padEnd(3)}:                 ${ms(durable)}  (${(messages.length / (durable / 1000)).toFixed(0)} msg/s, ${(perMessage / durable).toFixed(1)}x faster)`,
    );
  }
  const unsafe = await write('no-fsync', { fsync: false }, 50);
  console.log(
    `  fsync off, batches of 50:                        ${ms(unsafe)}  (${(messages.length / (unsafe / 1000)).toFixed(0)} msg/s)`,
  );
}

// ---- 3. durable removals --------------------------------------------------------------------------
async function removing() {
  const count = Number(values.remove);
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    const root = join(base, `remove-${r}`);
    const driver = await MaildirDriver.open({ root });
    const batch = corpus
      .slice(0, count)
      .map((m) => ({ body: m.raw, flags: m.flags, internalDate: m.date?.getTime() }));
    const outcomes = await driver.appendMessages(['INBOX'], batch);
    if (outcomes.some((o) => !o.ok)) throw new Error('a write failed');
    // Written and flushed a while ago, as the messages a sync removes usually are.
    await sleep(500);
    const t = performance.now();
    await driver.deleteMessages(
      ['INBOX'],
      outcomes.map((o) => o.id),
    );
    times.push(performance.now() - t);
    const left = await driver.listMessages(['INBOX'], {});
    if (left.kind !== 'full' || left.messages.length !== 0) throw new Error('a removal did not happen');
    await rm(root, { recursive: true, force: true });
  }
  console.log(
    `\nremoving ${count} corpus messages from a folder in ${values.dir} (median of ${RUNS}): ${ms(median(times))} [${ms(Math.min(...times))}–${ms(Math.max(...times))}]`,
  );
}
