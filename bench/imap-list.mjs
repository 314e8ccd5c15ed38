#!/usr/bin/env node
// Lists a whole IMAP account through ImapDriver against a private Dovecot holding the SpamAssassin
// corpus (6,046 messages, and 30,230 with --multiplier 5), over IMAPS with the certificate verified:
//   - full listing of every folder (no marker),
//   - no-op listing (since = the markers just returned: one STATUS per folder, "unchanged"),
//   - listing after 1% of the messages of each folder had a flag changed by another client (QRESYNC delta).
// The corpus is loaded by this process; the listings run in a fresh child process, so its peak RSS is
// that of the driver alone (and of the small imapflow session making the 1% flag changes).
//
//   node bench/imap-list.mjs [--multipliers 1,5] [--runs 3]
// Needs the built packages: pnpm turbo run build --filter @twinbox/driver-imap... --filter @twinbox/test-corpus...
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ImapDriver, openImap } from '../packages/driver-imap/dist/index.js';

const { values } = parseArgs({
  options: {
    multipliers: { type: 'string', default: '1,5' },
    runs: { type: 'string', default: '3' },
    child: { type: 'string' },
  },
});
const RUNS = Number(values.runs);
const ms = (t) => `${t.toFixed(0)} ms`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

if (values.child) {
  process.stdout.write(`${JSON.stringify(await measure(JSON.parse(values.child)))}\n`);
  process.exit(0);
}

/** In the child: the three listings, each `RUNS` times (best time), on one driver session. */
async function measure(account) {
  const rssAtStart = process.memoryUsage().rss;
  const driver = await ImapDriver.connect(account);
  const folders = (await driver.listFolders()).filter((f) => f.selectable).map((f) => f.path);
  const listAll = async (markers) => {
    const result = new Map();
    for (const path of folders) {
      const key = path.join('/');
      result.set(key, await driver.listMessages(path, markers ? { since: markers.get(key).marker } : {}));
    }
    return result;
  };
  /** The first run (cold: the server opens its indexes) and the best of `RUNS`. */
  const best = async (fn) => {
    let time = Number.POSITIVE_INFINITY;
    let first;
    let value;
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      value = await fn();
      const took = performance.now() - started;
      first ??= took;
      time = Math.min(time, took);
    }
    return { time, first, value };
  };

  const full = await best(() => listAll());
  const listed = [...full.value.values()].reduce((n, l) => n + l.messages.length, 0);
  const afterFull = process.memoryUsage();
  const noop = await best(() => listAll(full.value));
  const unchanged = [...noop.value.values()].filter((l) => l.kind === 'unchanged').length;

  // 1% of each folder's messages get \Flagged toggled by another client (evenly spread UIDs).
  const other = await openImap(account);
  let changedCount = 0;
  for (const [key, listing] of full.value) {
    const pick = listing.messages.filter((_, i) => i % 100 === 50);
    if (pick.length === 0) continue;
    changedCount += pick.length;
    // Toggled, so every picked message really changes (4% of the corpus is \Flagged already).
    const flagged = pick.filter((m) => m.flags.includes('\\Flagged')).map((m) => m.id);
    const plain = pick.filter((m) => !m.flags.includes('\\Flagged')).map((m) => m.id);
    const lock = await other.getMailboxLock(key);
    try {
      if (plain.length) await other.messageFlagsAdd(plain.join(','), ['\\Flagged'], { uid: true });
      if (flagged.length) await other.messageFlagsRemove(flagged.join(','), ['\\Flagged'], { uid: true });
    } finally {
      lock.release();
    }
  }
  await other.logout();
  // Each run lists since the markers of the full listing, so every run sees the same 1%.
  const delta = await best(() => listAll(full.value));
  const kinds = [...delta.value.values()].map((l) => l.kind);
  const deltaChanged = [...delta.value.values()].reduce(
    (n, l) => n + (l.kind === 'delta' ? l.changed.length : 0),
    0,
  );
  await driver.close();
  return {
    folders: folders.length,
    listed,
    fullMs: full.time,
    fullFirstMs: full.first,
    noopMs: noop.time,
    noopFirstMs: noop.first,
    unchanged,
    changedCount,
    deltaMs: delta.time,
    deltaFirstMs: delta.first,
    deltaFolders: kinds.filter((k) => k === 'delta').length,
    deltaChanged,
    rssAtStart,
    rssAfterFull: afterFull.rss,
    heapAfterFull: afterFull.heapUsed,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
}

// Only the loading process needs the corpus and the server: the measuring child imports neither.
const { loadIntoImap } = await import('../tooling/corpus/dist/index.js');
const { startDovecot } = await import('../tooling/dovecot/dist/index.js');
for (const multiplier of values.multipliers.split(',').map(Number)) {
  const server = await startDovecot();
  const stop = () => void server.stop().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const { user, password } = await server.addUser('bench');
    const { info } = server;
    const report = await loadIntoImap(
      { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password },
      { multiplier, connections: 4 },
    );
    const account = { host: 'localhost', port: info.tlsPort, tls: 'implicit', ca: info.ca, user, password };
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--runs', String(RUNS), '--child', JSON.stringify(account)],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    if (child.status !== 0) throw new Error(`measuring process failed:\n${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split('\n').pop());
    console.log(
      `corpus ×${multiplier}: ${report.appended} messages in ${r.folders} folders (loaded in ${report.seconds.toFixed(0)} s, ${report.failed.length} failed)`,
    );
    console.log(
      `  full listing      ${ms(r.fullMs)}, first run ${ms(r.fullFirstMs)}  (${r.listed} messages, ${(r.listed / (r.fullMs / 1000)).toFixed(0)} messages/s)`,
    );
    console.log(
      `  no-op listing     ${ms(r.noopMs)}, first run ${ms(r.noopFirstMs)}  (${r.unchanged}/${r.folders} folders unchanged)`,
    );
    console.log(
      `  1% flags changed  ${ms(r.deltaMs)}, first run ${ms(r.deltaFirstMs)}  (${r.deltaFolders} delta listings, ${r.deltaChanged} changed of ${r.changedCount} flagged by the other client)`,
    );
    console.log(
      `  memory            RSS ${mib(r.rssAtStart)} before connecting, ${mib(r.rssAfterFull)} and heap ${mib(r.heapAfterFull)} after the full listing; peak RSS ${mib(r.maxRss)} (measuring process)`,
    );
    console.log(`  times: best of ${RUNS} runs on one session, and the first of them (cold server caches)`);
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await server.stop();
  }
}
