#!/usr/bin/env node
// Files 1,000 messages from INBOX into another folder through a driver's own move (moveMessages), and
// the same 1,000 the way a sync without moves does it (append them to the folder, delete them from
// INBOX), on a private Dovecot and in a Maildir: wall time, and on IMAP the bytes on the wire each way
// (a TCP proxy counts them; plain IMAP on loopback, so no TLS overhead is counted). The messages are
// 1,000 of the SpamAssassin corpus, spread over all of it. The copy's bodies are given from memory, as
// they come from the other side in a sync; reading them there (a download, for a move made on the
// server) is not counted. Each figure is the median of --runs runs, each on fresh data (a new user,
// a new Maildir).
//
//   node bench/move.mjs [--runs 3] [--count 1000]
// Needs the built packages: pnpm build
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ImapDriver } from '../packages/driver-imap/dist/index.js';
import { MaildirDriver } from '../packages/driver-maildir/dist/index.js';
import { readCorpus } from '../tooling/corpus/dist/index.js';
import { startDovecot } from '../tooling/dovecot/dist/index.js';
import { countingProxy } from './lib/proxy.mjs';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, count: { type: 'string', default: '1000' } },
});
const RUNS = Number(values.runs);
const COUNT = Number(values.count);
const FILED = ['Archive'];

/** Dovecot's own capabilities without MOVE: the driver's COPY path (UIDPLUS kept). */
const NO_MOVE =
  'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS BINARY LITERAL+ SPECIAL-USE';

const messages = [];
for await (const m of readCorpus({ limit: COUNT })) {
  messages.push({ body: new Uint8Array(m.raw), flags: m.flags, internalDate: m.date?.getTime() });
}
const bodyBytes = messages.reduce((n, m) => n + m.body.byteLength, 0);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtBytes = (n) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

/** Fresh data, then `op` timed; `store` makes a driver holding `messages` in INBOX and an empty FILED. */
async function measure(store, op) {
  const times = [];
  const up = [];
  const down = [];
  for (let run = 0; run < RUNS; run++) {
    const { driver, ids, bytes, done } = await store();
    try {
      bytes?.reset();
      const started = performance.now();
      await op(driver, ids);
      times.push(performance.now() - started);
      if (bytes) {
        up.push(bytes.counts.up);
        down.push(bytes.counts.down);
      }
      // Whatever the way, the folder must end up with every message and INBOX with none.
      const inbox = await driver.listMessages(['INBOX'], {});
      const filed = await driver.listMessages(FILED, {});
      if (inbox.messages.length !== 0 || filed.messages.length !== ids.length) {
        throw new Error(
          `after the run INBOX holds ${inbox.messages.length}, ${FILED} ${filed.messages.length}`,
        );
      }
    } finally {
      await done();
    }
  }
  return {
    ms: median(times),
    up: up.length ? median(up) : undefined,
    down: down.length ? median(down) : undefined,
  };
}

/** How a sync without moves files them: the bodies appended to the folder, then deleted from INBOX. */
async function copyAndDelete(driver, ids) {
  const outcomes = await driver.appendMessages(FILED, messages);
  if (outcomes.some((o) => !o.ok)) throw new Error('an append failed');
  await driver.deleteMessages(['INBOX'], ids);
}

/** Messages whose new id the last move reported (from COPYUID on IMAP). */
let newIds = 0;

async function move(driver, ids) {
  const outcomes = await driver.moveMessages(['INBOX'], FILED, ids);
  if (outcomes.some((o) => !o.ok))
    throw new Error(`a move failed: ${JSON.stringify(outcomes.find((o) => !o.ok))}`);
  newIds = outcomes.filter((o) => o.ok && o.newId !== undefined).length;
}

function imapStore(server, proxy) {
  return async () => {
    const { user, password } = await server.addUser();
    const account = { host: '127.0.0.1', tls: 'none', user, password };
    // Loaded straight to Dovecot, not through the proxy: only the measured part is counted.
    const loader = await ImapDriver.connect({ ...account, port: server.info.port });
    await loader.createFolder(FILED);
    const loaded = await loader.appendMessages(['INBOX'], messages);
    await loader.close();
    const driver = await ImapDriver.connect({ ...account, port: proxy.port });
    const listing = await driver.listMessages(['INBOX'], {});
    await driver.listMessages(FILED, {});
    if (listing.messages.length !== loaded.length) throw new Error('the load failed');
    return { driver, ids: listing.messages.map((m) => m.id), bytes: proxy, done: () => driver.close() };
  };
}

function maildirStore() {
  return async () => {
    const root = await mkdtemp(join(tmpdir(), 'twinbox-bench-move-'));
    const driver = await MaildirDriver.open({ root });
    await driver.createFolder(FILED);
    await driver.appendMessages(['INBOX'], messages);
    const listing = await driver.listMessages(['INBOX'], {});
    await driver.listMessages(FILED, {});
    return {
      driver,
      ids: listing.messages.map((m) => m.id),
      done: async () => {
        await driver.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  };
}

const rows = [];
const row = (store, way, r) =>
  rows.push(
    `| ${store} | ${way} | ${(r.ms / 1000).toFixed(2)} s | ${r.up === undefined ? '–' : fmtBytes(r.up)} | ${r.down === undefined ? '–' : fmtBytes(r.down)} | ${way === 'moveMessages' ? newIds : 'all'} |`,
  );

for (const [label, extraConfig] of [
  ['Dovecot (MOVE)', undefined],
  ['Dovecot without MOVE (UID COPY + UID EXPUNGE)', NO_MOVE],
]) {
  const server = await startDovecot(extraConfig ? { extraConfig } : {});
  const proxy = await countingProxy(server.info.port);
  try {
    row(label, 'moveMessages', await measure(imapStore(server, proxy), move));
    if (!extraConfig) row(label, 'append + delete', await measure(imapStore(server, proxy), copyAndDelete));
  } finally {
    await proxy.stop();
    await server.stop();
  }
}
row('Maildir (fsync on)', 'moveMessages', await measure(maildirStore(), move));
row('Maildir (fsync on)', 'append + delete', await measure(maildirStore(), copyAndDelete));

console.log(
  `${COUNT} corpus messages (${fmtBytes(bodyBytes)} of bodies) from INBOX into ${FILED.join('/')}, median of ${RUNS} runs\n`,
);
console.log('| store | way | wall time | bytes sent | bytes received | new ids known |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
for (const r of rows) console.log(r);
