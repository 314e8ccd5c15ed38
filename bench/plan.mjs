// Plans a sync of one folder pair holding 100,000 messages on each side, 1% of them changed on each
// side since the last sync (flags, new, deleted), through the real path: both controllers list and run
// their 2-way merge concurrently, the engine merges the change sets (a dry run: the plan, no writes).
// Reports the time and the process's peak RSS, for a store answering full listings (a Maildir whose
// directories changed, an IMAP server without CONDSTORE) and one answering deltas (QRESYNC).
//
// The stores are listing-only drivers over compact arrays (ids, flags, sizes): what a real driver holds
// while it lists, and nothing a test store adds, so the peak RSS is that of planning.
//
//   node bench/plan.mjs [--messages 100000] [--changed 0.01] [--runs 5]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Controller } from '../packages/controller/dist/index.js';
import { sync } from '../packages/core/dist/index.js';
import { SqliteState } from '../packages/state-sqlite/dist/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    changed: { type: 'string', default: '0.01' },
    runs: { type: 'string', default: '5' },
    child: { type: 'string' },
    delta: { type: 'boolean', default: false },
  },
});
const N = Number(values.messages);
const CHANGED = Number(values.changed);
const RUNS = Number(values.runs);
const INBOX = ['INBOX'];
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** A store as its listing: the Driver calls planning uses, over plain arrays. */
class ListingDriver {
  capabilities = { keywords: true };
  constructor(messages, epoch) {
    this.messages = messages; // [{ id, flags, size, messageId }]
    this.epoch = epoch;
    this.modseq = 1;
    this.changed = []; // ids changed since modseq 1
    this.vanished = [];
    this.byId = new Map(messages.map((m) => [m.id, m]));
    this.incremental = true;
  }
  marker() {
    return { epoch: this.epoch, value: String(this.modseq) };
  }
  async listFolders() {
    return [{ path: INBOX, selectable: true }];
  }
  async listMessages(_path, { since }) {
    if (this.incremental && since && since.epoch === this.epoch) {
      if (since.value === String(this.modseq)) return { kind: 'unchanged', marker: this.marker() };
      const changed = this.changed.map((id) => this.byId.get(id)).filter(Boolean);
      const listed = changed.map(({ id, flags, size }) => ({ id, flags, size }));
      return { kind: 'delta', marker: this.marker(), changed: listed, vanished: this.vanished };
    }
    const listed = [];
    for (const m of this.byId.values()) listed.push({ id: m.id, flags: m.flags, size: m.size });
    return { kind: 'full', marker: this.marker(), messages: listed };
  }
  async describeMessages(_path, ids) {
    return ids.flatMap((id) => {
      const m = this.byId.get(id);
      return m ? [{ id, flags: m.flags, size: m.size, messageId: m.messageId }] : [];
    });
  }
  setFlags(id, flags) {
    this.byId.get(id).flags = flags;
    this.changed.push(id);
    this.modseq = 2;
  }
  remove(id) {
    this.byId.delete(id);
    this.vanished.push(id);
    this.modseq = 2;
  }
  add(m) {
    this.byId.set(m.id, m);
    this.changed.push(m.id);
    this.modseq = 2;
  }
}

async function world(existingState) {
  const message = (id, i, flags) => ({
    id,
    flags,
    size: 900 + (i % 5000),
    messageId: `<m${i}@bench.twinbox>`,
  });
  const lists = { left: [], right: [] };
  const pairs = [];
  const SEEN = ['\\Seen'];
  const NONE = [];
  for (let i = 0; i < N; i++) {
    const flags = i % 3 === 0 ? SEEN : NONE;
    // Left ids like IMAP UIDs, right ids like Maildir unique names.
    const l = String(i + 1);
    const r = `17000${String(i).padStart(6, '0')}.M${i}P4242.bench.host`;
    lists.left.push(message(l, i, flags));
    lists.right.push(message(r, i, flags));
    if (!existingState) pairs.push({ left: l, right: r, flags });
  }
  const stores = { left: new ListingDriver(lists.left, '1'), right: new ListingDriver(lists.right, 'md') };
  // The default backend, on disk as in real use: pairs are read from it during planning, and counted.
  let state;
  if (existingState) {
    state = new SqliteState({ path: existingState });
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'twinbox-bench-plan-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    state = new SqliteState({ path: join(dir, 'state.sqlite') });
    await state.recordFolderPair({ key: 'INBOX', left: INBOX, right: INBOX });
    await state.recordPairs('INBOX', pairs);
    for (const side of ['left', 'right']) await state.recordMarker('INBOX', side, stores[side].marker());
  }
  // 1% changed on each side: half flag changes, a quarter new messages, a quarter deletions.
  const k = Math.round(N * CHANGED);
  for (const [s, side] of [
    [0, 'left'],
    [1, 'right'],
  ]) {
    const ids = lists[side].map((m) => m.id);
    for (let j = 0; j < k / 2; j++) stores[side].setFlags(ids[(j * 97 + s) % N], ['\\Flagged', '\\Seen']);
    for (let j = 0; j < k / 4; j++) stores[side].remove(ids[(j * 389 + 7 + s * 13) % N]);
    for (let j = 0; j < k / 4; j++) stores[side].add(message(`new-${s}-${j}`, N + s * N + j, []));
  }
  return { stores, state };
}

async function plan({ stores, state }, incremental) {
  for (const d of Object.values(stores)) d.incremental = incremental;
  const side = (name) => new Controller({ side: name, state, driver: stores[name] });
  const t0 = performance.now();
  const report = await sync(side('left'), side('right'), { dryRun: true });
  const ms = performance.now() - t0;
  const p = report.plans[0];
  return {
    ms,
    actions: {
      copies: p.toLeft.copies.length + p.toRight.copies.length,
      flags: p.toLeft.flags.length + p.toRight.flags.length,
      deletes: p.toLeft.deletes.length + p.toRight.deletes.length,
    },
  };
}

if (values.child) {
  // Child: the state is on disk already; build only the listings (what drivers hold while listing),
  // plan once, and report this process's peak RSS: Node, the listings, the state reads, the plan.
  const w = await world(values.child);
  const base = process.resourceUsage().maxRSS * 1024;
  const result = await plan(w, values.delta);
  process.stdout.write(JSON.stringify({ ms: result.ms, base, peak: process.resourceUsage().maxRSS * 1024 }));
  process.exit(0);
}

const setup0 = performance.now();
const w = await world();
console.log(
  `setup: ${N} messages on each side, ${Math.round(N * CHANGED)} changed per side (${((performance.now() - setup0) / 1000).toFixed(1)} s)`,
);
// One process holds a pair's state at a time: hand it to each measuring process, then take it back.
await w.state.close();
for (const delta of [false, true]) {
  const args = [
    fileURLToPath(import.meta.url),
    '--child',
    w.state.path,
    '--messages',
    String(N),
    '--changed',
    String(CHANGED),
  ];
  const child = spawnSync(process.execPath, delta ? [...args, '--delta'] : args, { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`the measuring process failed: ${child.stderr}`);
  const measured = JSON.parse(child.stdout);
  console.log(
    `memory, ${delta ? 'delta' : 'full'} listings: peak RSS ${mb(measured.peak)} for a fresh process that builds both ` +
      `stand-in stores and plans once; ${mb(measured.base)} before planning (Node and the stand-ins), ` +
      `so planning added ${mb(measured.peak - measured.base)}`,
  );
}
w.state = new SqliteState({ path: w.state.path });
for (const incremental of [false, true]) {
  const times = [];
  let last;
  for (let r = 0; r < RUNS; r++) {
    last = await plan(w, incremental);
    times.push(last.ms);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${incremental ? 'delta listings' : 'full listings '}: plan in ${times[Math.floor(times.length / 2)].toFixed(0)} ms median ` +
      `(min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)}, ${RUNS} runs); plan: ${JSON.stringify(last.actions)}`,
  );
}
