// Records 100,000 message pairs in the SQLite state (one call, one transaction), then opens the
// database afresh and loads them back, and looks up --find of them by each side's id (findPairs, as
// an incremental sync does for what changed: a ×10 server batch asks for ~1,500). Prints the median of
// several runs for each, and the peak RSS.
//
//   node bench/state-sqlite.mjs [--pairs 100000] [--runs 5] [--find 1500]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SqliteState } from '../packages/state-sqlite/dist/index.js';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    find: { type: 'string', default: '1500' },
  },
});
const FIND = Number(values.find);
const N = Number(values.pairs);
const RUNS = Number(values.runs);
const SEEN = ['\\Seen'];
const NONE = [];
// Realistic ids: IMAP UIDs on the left, Maildir unique names on the right.
const pairs = Array.from({ length: N }, (_, i) => ({
  left: String(i + 1),
  right: `1700${String(i).padStart(6, '0')}.M${i}P4242Q${i % 97}.bench.host,S=${1000 + (i % 9000)},W=${1020 + (i % 9000)}`,
  flags: i % 3 === 0 ? SEEN : NONE,
}));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const record = [];
const load = [];
const find = [];
for (let r = 0; r < RUNS; r++) {
  const dir = mkdtempSync(join(tmpdir(), 'twinbox-bench-sqlite-'));
  const path = join(dir, 'state.sqlite');
  try {
    const writer = new SqliteState({ path });
    let t = performance.now();
    await writer.recordPairs('INBOX', pairs);
    record.push(performance.now() - t);
    await writer.close();
    const reader = new SqliteState({ path });
    t = performance.now();
    const loaded = await reader.loadPairs('INBOX');
    load.push(performance.now() - t);
    if (loaded.length !== N) throw new Error(`loaded ${loaded.length} pairs, expected ${N}`);
    // Spread over the table, a different set each run; each lookup is a point query on an index.
    const some = Array.from({ length: FIND }, (_, i) => pairs[(i * 7919 + r * 104729) % N]);
    t = performance.now();
    const byLeft = await reader.findPairs(
      'INBOX',
      'left',
      some.map((p) => p.left),
    );
    const byRight = await reader.findPairs(
      'INBOX',
      'right',
      some.map((p) => p.right),
    );
    find.push(performance.now() - t);
    const wanted = new Set(some.map((p) => p.left)).size;
    if (byLeft.length !== wanted || byRight.length !== wanted)
      throw new Error(`found ${byLeft.length} and ${byRight.length} pairs, expected ${wanted} each`);
    await reader.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const fmt = (xs) =>
  `${median(xs).toFixed(0)} ms median (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
console.log(`record ${N} pairs (one call, synchronous = FULL): ${fmt(record)}`);
console.log(`load   ${N} pairs (fresh open):                   ${fmt(load)}`);
console.log(`find  ${FIND} pairs by left id, then by right id:    ${fmt(find)}`);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; ${RUNS} runs`);
