#!/usr/bin/env node
// Issue 18's rename benchmark: a folder `Projects` of 30,000 corpus messages, synced IMAP ⇄ Maildir,
// renamed to `Archive/Projects 2025` on one side (on the server by another IMAP client's RENAME; in
// the Maildir by renaming its Maildir++ directory, as a mail client does), then one `twinbox sync`: its
// wall time, and the bytes on the wire each way (a TCP proxy in front of Dovecot's plain port counts
// them). A Twinbox that knows renames renames the folder on the other side too; one that does not
// copies every message to the new folder (downloads or uploads each body) and deletes the old one.
// Give `--bin` another build's `apps/cli/dist/bin.js` to measure it:
//
//   git worktree add --detach /tmp/rn-base a1106c1 && (cd /tmp/rn-base && pnpm install --frozen-lockfile && pnpm build)
//   node bench/renames-sync.mjs --bin /tmp/rn-base/apps/cli/dist/bin.js    # before: no renames
//   node bench/renames-sync.mjs                                            # after: this checkout
//
// Options: --count 30000 (corpus messages, repeated as the corpus's ×N copies, each with its own
// Message-ID), --runs 1 (each run on fresh data: a new server user copied from a seed, a new Maildir,
// a first sync that is not timed), --bin (default: this checkout's build), --breakdown (after each run,
// untimed: a no-op sync of the same pair, and this checkout's drivers listing and describing the
// renamed folder on each side, which is what finding a rename costs on top of a sync).
// --seed-cache DIR keeps the loaded seed user's mail in DIR/<count> and uses it instead of loading
// the corpus again next time.
// Each run is checked: afterwards both sides hold every message under the new name, once, and
// neither side has the old folder.
// Needs the built packages (pnpm build) and Dovecot (dovecot-imapd).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ImapDriver } from '../packages/driver-imap/dist/index.js';
import { MaildirDriver } from '../packages/driver-maildir/dist/index.js';
import { corpusFiles, readCorpus } from '../tooling/corpus/dist/index.js';
import { startDovecot } from '../tooling/dovecot/dist/index.js';
import { homeOf } from './lib/fixture.mjs';
import { countingProxy } from './lib/proxy.mjs';
import {
  buildVersion,
  fmtBytes,
  median,
  freshPair as newPair,
  onFreshPairs,
  plainAccount,
  timedSync,
  twinboxRunner,
  withImap,
} from './lib/sync-pair.mjs';

const require = createRequire(new URL('../tooling/corpus/package.json', import.meta.url));
const { ImapFlow } = require('imapflow');

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '30000' },
    runs: { type: 'string', default: '1' },
    bin: { type: 'string', default: join(here, '../apps/cli/dist/bin.js') },
    breakdown: { type: 'boolean', default: false },
    'seed-cache': { type: 'string' },
  },
});
const COUNT = Number(values.count);
const RUNS = Number(values.runs);
const BIN = values.bin;
const FROM = ['Projects'];
const TO = ['Archive', 'Projects 2025'];
/** Maildir++ directory of a folder path (Dovecot's and Twinbox's default layout). */
const maildirDir = (root, path) => join(root, `.${path.join('.')}`);
/** `cp -a` of a directory to `to`, replacing it: Dovecot's indexes and the files' times kept. */
const cp = (from, to) => {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(dirname(to), { recursive: true });
  execFileSync('cp', ['-a', from, to]);
};
const log = (line) => process.stderr.write(`${line}\n`);
const run = twinboxRunner(BIN);

const server = await startDovecot();
const { info } = server;
const proxy = await countingProxy(info.port);

// The seed: every message in `Projects` (INBOX empty), APPENDed in batches so that the ×N corpus is
// never held whole; or, with --seed-cache, a copy of an earlier run's seed (30,000 APPENDs take about
// ten minutes here, with Dovecot's fsyncs). Each run's user is a copy of it made on the server's disk.
const seed = await server.addUser('seed');
const cache = values['seed-cache'] && join(values['seed-cache'], String(COUNT));
let bodyBytes = 0;
// Distinct by Message-ID (by corpus key without one): what the server must hold once each afterwards.
const distinct = new Set();
{
  const started = performance.now();
  const multiplier = Math.ceil(COUNT / (await corpusFiles()).length);
  const cached = cache && existsSync(cache);
  if (cached) cp(cache, homeOf(info, seed.user));
  await withImap(seed, info.port, async (loader) => {
    if (!cached) await loader.createFolder(FROM);
    let batch = [];
    const flush = async () => {
      const loaded = await loader.appendMessages(FROM, batch);
      if (loaded.some((o) => !o.ok)) throw new Error('the corpus load failed');
      batch = [];
    };
    for await (const m of readCorpus({ multiplier, limit: COUNT })) {
      bodyBytes += m.raw.byteLength;
      distinct.add(m.messageId ?? m.key);
      if (cached) continue;
      batch.push({ body: new Uint8Array(m.raw), flags: m.flags, internalDate: m.date?.getTime() });
      if (batch.length === 1000) await flush();
    }
    if (batch.length) await flush();
  });
  if (cache && !cached) cp(homeOf(info, seed.user), cache);
  log(
    `${cached ? `copied from ${cache}` : 'loaded'}: ${COUNT} corpus messages (${fmtBytes(bodyBytes)}) in ${FROM.join('/')} of the seed user, in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}

let users = 0;
const freshPair = () =>
  newPair({ server, proxyPort: proxy.port, run, name: `run${++users}`, prefix: 'twinbox-bench-renames-' });

/** Renames the folder on the server, by another IMAP client (imapflow on IMAPS, not through the proxy). */
async function renameOnServer(pair) {
  const client = new ImapFlow({
    host: info.host,
    port: info.tlsPort,
    secure: true,
    tls: { ca: [info.ca], rejectUnauthorized: true },
    auth: { user: pair.u.user, pass: pair.u.password },
    logger: false,
    disableAutoIdle: true,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.mailboxRename(FROM.join('/'), TO.join('/'));
  } finally {
    await client.logout();
  }
}

/** Renames the folder's Maildir++ directory, as a mail client on the Maildir does. */
function renameInMaildir(pair) {
  renameSync(maildirDir(pair.maildir, FROM), maildirDir(pair.maildir, TO));
}

const countFiles = (dir) => ['cur', 'new'].reduce((k, s) => k + readdirSync(join(dir, s)).length, 0);

/**
 * Every message under the new name on both sides, each once (by Message-ID on the server, where the
 * corpus copies have unique ones), no message in any other folder, and the old folder on neither side.
 */
async function check(pair) {
  await withImap(pair.u, info.port, async (client) => {
    const folders = (await client.listFolders()).filter((f) => f.path && f.selectable);
    if (folders.some((f) => f.path.join('/') === FROM.join('/')))
      throw new Error(`${FROM.join('/')} is still on the server`);
    let total = 0;
    for (const f of folders) total += (await client.listMessages(f.path, {})).messages.length;
    const listed = (await client.listMessages(TO, {})).messages;
    const described = await client.describeMessages(
      TO,
      listed.map((m) => m.id),
    );
    const ids = new Set(described.map((m) => m.messageId ?? m.id));
    if (listed.length !== COUNT || total !== COUNT || ids.size !== distinct.size)
      throw new Error(
        `the server holds ${listed.length} messages in ${TO.join('/')} (${ids.size} Message-IDs), ${total} in all; ${COUNT} (${distinct.size}) expected`,
      );
  });
  if (existsSync(maildirDir(pair.maildir, FROM)))
    throw new Error(`${FROM.join('/')} is still in the Maildir`);
  const dirs = readdirSync(pair.maildir).filter((d) => d.startsWith('.') && d.length > 1);
  const total = countFiles(pair.maildir) + dirs.reduce((k, d) => k + countFiles(join(pair.maildir, d)), 0);
  const renamed = countFiles(maildirDir(pair.maildir, TO));
  if (renamed !== COUNT || total !== COUNT)
    throw new Error(
      `the Maildir holds ${renamed} messages in ${TO.join('/')}, ${total} in all; ${COUNT} expected`,
    );
}

/** Times `work`, and counts the bytes through the proxy meanwhile. */
async function measured(work) {
  proxy.reset();
  const started = performance.now();
  await work();
  return { ms: performance.now() - started, down: proxy.counts.down, up: proxy.counts.up };
}

/**
 * Where a rename sync's time goes, measured on the pair after the run: a no-op sync (start-up, the
 * folder lists and the listing of the renamed folder on both sides, which the sync after a rename
 * does too), and what finding the rename adds: each side's full listing and description (Message-ID
 * and size) of the folder, as the engine asks of its drivers (both at once).
 */
async function breakdown(pair) {
  const noop = await measured(() => run(['-q', '-c', pair.config, 'sync']));
  const imap = await ImapDriver.connect(plainAccount(pair.u, proxy.port));
  const maildir = await MaildirDriver.open({ root: pair.maildir });
  try {
    const describe = async (driver) => {
      const listed = (await driver.listMessages(TO, {})).messages;
      return driver.describeMessages(
        TO,
        listed.map((m) => m.id),
      );
    };
    const imapMs = await measured(() => describe(imap));
    const maildirMs = await measured(() => describe(maildir));
    const both = await measured(() => Promise.all([describe(imap), describe(maildir)]));
    return { noop, imap: imapMs, maildir: maildirMs, both };
  } finally {
    await imap.close();
    await maildir.close();
  }
}

const number = (summary, re) => Number(re.exec(summary)?.[1] ?? 0);
const rows = [];
const breakdowns = [];
for (const [where, rename] of [
  ['server (IMAP RENAME)', renameOnServer],
  ['Maildir (directory renamed)', renameInMaildir],
]) {
  const results = await onFreshPairs(RUNS, freshPair, async (pair, r) => {
    await rename(pair);
    const { summary, ...sync } = await timedSync(run, proxy, pair);
    await check(pair);
    log(`${where}, run ${r + 1}: ${(sync.ms / 1000).toFixed(1)} s, ${summary}`);
    if (values.breakdown) {
      const b = await breakdown(pair);
      breakdowns.push({ where, ...b });
      log(`  breakdown: ${JSON.stringify(b)}`);
    }
    return {
      ...sync,
      renamed: number(summary, /renamed (\d+)/),
      copied: number(summary, /copied (\d+)/),
      deleted: number(summary, /flagged \d+, deleted (\d+)/),
      foldersDeleted: number(summary, /folders created \d+, deleted (\d+)/),
    };
  });
  const pick = (k) => median(results.map((x) => x[k]));
  const [first] = results;
  rows.push(
    `| ${where} | ${(pick('ms') / 1000).toFixed(1)} s | ${fmtBytes(pick('down'))} | ${fmtBytes(pick('up'))} | ${first.renamed} | ${first.copied} | ${first.deleted} | ${first.foldersDeleted} |`,
  );
}
await proxy.stop();
await server.stop();

console.log(
  `${COUNT} corpus messages (${fmtBytes(bodyBytes)}) in ${FROM.join('/')}, renamed to ${TO.join('/')} on one side, one sync; Twinbox ${buildVersion(BIN)}; median of ${RUNS}\n`,
);
console.log(
  '| renamed on | sync wall time | bytes received | bytes sent | folders renamed | copied | deleted | folders deleted |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
if (breakdowns.length) {
  const s = (m) => `${(m.ms / 1000).toFixed(1)} s, ${fmtBytes(m.down)} ↓ ${fmtBytes(m.up)} ↑`;
  console.log("\nWhere the time goes (after each run, untimed above; the drivers are this checkout's):\n");
  console.log('| renamed on | no-op sync | IMAP list + describe | Maildir list + describe | both at once |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const b of breakdowns)
    console.log(`| ${b.where} | ${s(b.noop)} | ${s(b.imap)} | ${s(b.maildir)} | ${s(b.both)} |`);
}
