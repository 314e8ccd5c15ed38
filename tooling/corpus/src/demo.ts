#!/usr/bin/env node
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Controller } from '@twinbox/controller';
import { sync } from '@twinbox/core';
import { ImapDriver } from '@twinbox/driver-imap';
import { SqliteState } from '@twinbox/state-sqlite';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import { ImapFlow } from 'imapflow';
import { corpusSize } from './corpus.js';
import { loadIntoImap } from './imap.js';
import { formatReport, progressPrinter } from './summary.js';

/**
 * Try-it demo: a private Dovecot, one account loaded with the whole corpus over verified IMAPS, then a
 * real two-way sync of it with a second, empty account, changes on both sides and two more syncs. The
 * server is gone afterwards, whichever way the demo ends.
 */
async function main(server: DovecotServer, corpus: { multiplier: number; limit?: number }) {
  const { info } = server;
  const { user, password } = await server.addUser('demo');
  const total = await corpusSize(corpus);
  console.log(
    `Dovecot fixture: IMAPS on ${info.host}:${info.tlsPort}, user ${user}; loading ${total} messages`,
  );
  const target = { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password };
  const report = await loadIntoImap(target, { ...corpus, onProgress: progressPrinter(total) });

  console.log(`\n${formatReport(report)}`);

  // A real sync: the loaded account (left) with an empty second account (right), through the engine,
  // a controller and an IMAP driver per side, and the SQLite state.
  const mirror = await server.addUser('mirror');
  const stateDir = await mkdtemp(join(tmpdir(), 'twinbox-demo-state-'));
  const connect = (u: string, p: string) =>
    ImapDriver.connect({
      host: 'localhost',
      port: info.tlsPort,
      tls: 'implicit',
      ca: info.ca,
      user: u,
      password: p,
    });
  const [leftDriver, rightDriver] = await Promise.all([
    connect(user, password),
    connect(mirror.user, mirror.password),
  ]);
  const state = new SqliteState({ path: join(stateDir, 'demo.sqlite') });
  const left = new Controller({ side: 'left', driver: leftDriver, state });
  const right = new Controller({ side: 'right', driver: rightDriver, state });
  const run = async (title: string) => {
    const t0 = performance.now();
    const result = await sync(left, right);
    const s = ((performance.now() - t0) / 1000).toFixed(2);
    const t = result.totals;
    console.log(
      `${title.padEnd(34)} ${s.padStart(6)} s  copied ${t.copied}, flagged ${t.flagged}, deleted ${t.deleted}, ` +
        `paired ${t.paired}, folders created ${t.foldersCreated}, conflicts ${t.conflicts}, errors ${t.errors}`,
    );
    return result;
  };
  let failures = 0;
  try {
    console.log(`\nSyncing ${user} (left) with ${mirror.user} (right), state in ${stateDir}`);
    failures += (await run('first sync (right is empty)')).totals.errors;
    // Changes on both sides, as mail clients would make them.
    await changeBothSides(info, { user, password }, mirror);
    failures += (await run('after changes on both sides')).totals.errors;
    failures += (await run('again, with nothing changed')).totals.errors;
    await printSideBySide(info, { user, password }, mirror);
  } finally {
    await Promise.all([leftDriver.close(), rightDriver.close()]);
    await state.close();
    await rm(stateDir, { recursive: true, force: true });
  }
  return report.failed.length || failures ? 1 : 0;
}

type Account = { user: string; password: string };

function imap(info: DovecotServer['info'], account: Account): ImapFlow {
  const client = new ImapFlow({
    host: info.host,
    port: info.tlsPort,
    secure: true,
    tls: { ca: [info.ca], rejectUnauthorized: true },
    auth: { user: account.user, pass: account.password },
    logger: false,
  });
  client.on('error', () => {});
  return client;
}

/** On the left: flag ten messages in INBOX and mark five read; on the right: delete three from Archiv. */
async function changeBothSides(info: DovecotServer['info'], leftAccount: Account, rightAccount: Account) {
  const l = imap(info, leftAccount);
  const r = imap(info, rightAccount);
  await Promise.all([l.connect(), r.connect()]);
  try {
    let lock = await l.getMailboxLock('INBOX');
    try {
      await l.messageFlagsAdd('1:10', ['\\Flagged']);
      await l.messageFlagsAdd('11:15', ['\\Seen']);
    } finally {
      lock.release();
    }
    lock = await r.getMailboxLock('Archiv');
    try {
      await r.messageDelete('1:3');
    } finally {
      lock.release();
    }
  } finally {
    await Promise.all([l.logout(), r.logout()]);
  }
  console.log('changes: left flagged 10 and read 5 in INBOX; right deleted 3 in Archiv');
}

/** Both accounts' folders as any IMAP client sees them, side by side. */
async function printSideBySide(info: DovecotServer['info'], leftAccount: Account, rightAccount: Account) {
  const status = async (account: Account) => {
    const client = imap(info, account);
    await client.connect();
    try {
      const folders = await client.list({ statusQuery: { messages: true, unseen: true } });
      return new Map(folders.map((f) => [f.path, f.status]));
    } finally {
      await client.logout().catch(() => client.close());
    }
  };
  const [ls, rs] = await Promise.all([status(leftAccount), status(rightAccount)]);
  const names = [...new Set([...ls.keys(), ...rs.keys()])].sort((a, b) => a.localeCompare(b));
  const width = Math.max(...names.map((n) => n.length));
  console.log(`\n${'folder'.padEnd(width)}  left msgs  unseen  right msgs  unseen`);
  for (const n of names) {
    const cell = (v: number | undefined, w: number) => String(v ?? '-').padStart(w);
    const a = ls.get(n);
    const b = rs.get(n);
    console.log(
      `${n.padEnd(width)}  ${cell(a?.messages, 9)}  ${cell(a?.unseen, 6)}  ${cell(b?.messages, 10)}  ${cell(b?.unseen, 6)}`,
    );
  }
}

const { values } = parseArgs({
  options: { limit: { type: 'string' }, multiplier: { type: 'string' } },
});
const corpus = {
  multiplier: values.multiplier ? Number(values.multiplier) : 1,
  ...(values.limit ? { limit: Number(values.limit) } : {}),
};
for (const [name, value] of Object.entries(corpus)) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

const server = await startDovecot();
// Ctrl-C or a kill would otherwise leave Dovecot running on its ports with its temporary directory.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the Dovecot fixture`);
    void server.stop().finally(() => process.exit(130));
  });
}
try {
  process.exitCode = await main(server, corpus);
} catch (err) {
  if (!interrupted) {
    console.error(err);
    process.exitCode = 1;
  }
} finally {
  await server.stop();
}
