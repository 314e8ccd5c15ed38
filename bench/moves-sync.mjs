#!/usr/bin/env node
// Issue 18's filing benchmark: 5,000 corpus messages filed from INBOX into several folders on one side
// (on the server by UID MOVE from another client; in the Maildir by renaming the files, as a mail
// client does), then one `twinbox sync` of the IMAP ⇄ Maildir pair: its wall time, and the bytes on the
// wire each way (a TCP proxy in front of Dovecot's plain port counts them; plain IMAP on loopback, so no
// TLS overhead). A Twinbox that knows moves moves the messages on the other side too; one that does not
// copies each message (downloads or uploads its body) and deletes the original. Give `--bin` another
// build's `apps/cli/dist/bin.js` to measure it:
//
//   git worktree add /tmp/base e0162f6 && (cd /tmp/base && pnpm install --frozen-lockfile && pnpm build)
//   node bench/moves-sync.mjs --bin /tmp/base/apps/cli/dist/bin.js    # before: no moves
//   node bench/moves-sync.mjs                                         # after: this checkout
//
// Options: --count 5000 (corpus messages, spread over the corpus), --folders 4 (message i goes to folder
// `Filed<i mod folders>`), --runs 1 (each run on fresh data: a new server user copied from a seed, a
// new Maildir, a first sync that is not timed), --bin (default: this checkout's build).
// Each run is checked: afterwards both sides hold every message in its folder and INBOX is empty.
// Needs the built packages (pnpm build) and Dovecot (dovecot-imapd).
import { copyFileSync, existsSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readCorpus } from '../tooling/corpus/dist/index.js';
import { startDovecot } from '../tooling/dovecot/dist/index.js';
import { countingProxy } from './lib/proxy.mjs';
import {
  buildVersion,
  fmtBytes,
  median,
  freshPair as newPair,
  onFreshPairs,
  timedSync,
  twinboxRunner,
  withImap,
} from './lib/sync-pair.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '5000' },
    folders: { type: 'string', default: '4' },
    runs: { type: 'string', default: '1' },
    bin: { type: 'string', default: join(here, '../apps/cli/dist/bin.js') },
  },
});
const COUNT = Number(values.count);
const FOLDERS = Array.from({ length: Number(values.folders) }, (_, k) => `Filed${k}`);
const RUNS = Number(values.runs);
const BIN = values.bin;
const log = (line) => process.stderr.write(`${line}\n`);

const run = twinboxRunner(BIN);

const messages = [];
for await (const m of readCorpus({ limit: COUNT })) {
  messages.push({ body: new Uint8Array(m.raw), flags: m.flags, internalDate: m.date?.getTime() });
}
const bodyBytes = messages.reduce((n, m) => n + m.body.byteLength, 0);

const server = await startDovecot();
const { info } = server;
const proxy = await countingProxy(info.port);

// The seed: every message in INBOX, the folders they are filed into already there (a user files into
// folders of their own, synced long ago). Each run's user is a copy of it made on the server's disk.
const seed = await server.addUser('seed');
await withImap(seed, info.port, async (loader) => {
  for (const f of FOLDERS) await loader.createFolder([f]);
  const loaded = await loader.appendMessages(['INBOX'], messages);
  if (loaded.some((o) => !o.ok)) throw new Error('the corpus load failed');
});
log(`loaded ${messages.length} corpus messages (${fmtBytes(bodyBytes)}) into the seed user`);

let users = 0;
const freshPair = () =>
  newPair({ server, proxyPort: proxy.port, run, name: `run${++users}`, prefix: 'twinbox-bench-moves-' });

const folderOf = (i) => FOLDERS[i % FOLDERS.length];

/** Files every message on the server, by UID MOVE from another client (not through the proxy). */
async function fileOnServer(pair) {
  await withImap(pair.u, info.port, async (client) => {
    const ids = (await client.listMessages(['INBOX'], {})).messages.map((m) => m.id);
    for (const [k, f] of FOLDERS.entries()) {
      const out = await client.moveMessages(
        ['INBOX'],
        [f],
        ids.filter((_, i) => i % FOLDERS.length === k),
      );
      if (out.some((o) => !o.ok)) throw new Error(`a move into ${f} failed`);
    }
  });
}

/**
 * Files every message in the Maildir: each file renamed into its folder's cur/, name kept, as a mail
 * client does; the folders get INBOX's dovecot-keywords, so that keyword letters keep their meaning.
 */
function fileInMaildir(pair) {
  const root = pair.maildir;
  for (const f of FOLDERS) {
    if (existsSync(join(root, 'dovecot-keywords')))
      copyFileSync(join(root, 'dovecot-keywords'), join(root, `.${f}`, 'dovecot-keywords'));
  }
  let i = 0;
  for (const sub of ['cur', 'new']) {
    for (const name of readdirSync(join(root, sub)).sort()) {
      const to = join(root, `.${folderOf(i++)}`, 'cur', name.includes(':2,') ? name : `${name}:2,`);
      renameSync(join(root, sub, name), to);
    }
  }
}

/** Both sides hold the same number of messages in each folder, all of them filed, and INBOX none. */
async function check(pair) {
  let total = 0;
  await withImap(pair.u, info.port, async (client) => {
    for (const f of ['INBOX', ...FOLDERS]) {
      const onServer = (await client.listMessages([f], {})).messages.length;
      const dir = f === 'INBOX' ? pair.maildir : join(pair.maildir, `.${f}`);
      const local = ['cur', 'new'].reduce((k, s) => k + readdirSync(join(dir, s)).length, 0);
      if (onServer !== local || (f === 'INBOX' && local !== 0))
        throw new Error(`${f}: ${onServer} on the server, ${local} in the Maildir`);
      total += local;
    }
  });
  if (total !== COUNT) throw new Error(`${total} messages after the sync, ${COUNT} expected`);
}

const rows = [];
for (const [where, file] of [
  ['server (UID MOVE)', fileOnServer],
  ['Maildir (renames)', fileInMaildir],
]) {
  const results = await onFreshPairs(RUNS, freshPair, async (pair, r) => {
    await file(pair);
    const result = await timedSync(run, proxy, pair);
    await check(pair);
    log(`${where}, run ${r + 1}: ${(result.ms / 1000).toFixed(1)} s, ${result.summary}`);
    return result;
  });
  const pick = (k) => median(results.map((x) => x[k]));
  rows.push(
    `| ${where} | ${(pick('ms') / 1000).toFixed(1)} s | ${fmtBytes(pick('down'))} | ${fmtBytes(pick('up'))} | ${results[0].summary.replace(/, folders created.*$/, '')} |`,
  );
}
await proxy.stop();
await server.stop();

const version = buildVersion(BIN);
console.log(
  `${COUNT} corpus messages (${fmtBytes(bodyBytes)}) filed from INBOX into ${FOLDERS.length} folders, one sync; Twinbox ${version}; median of ${RUNS}\n`,
);
console.log('| filed on | sync wall time | bytes received | bytes sent | the sync says |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const row of rows) console.log(row);
