// What the one-sync benchmarks (moves-sync.mjs, renames-sync.mjs) share: a `twinbox` build run as a
// child process, an IMAP ⇄ Maildir pair whose server user is a copy of a seed user (cp -a on the
// server's disk, much faster than APPENDing the corpus again) and whose IMAP side goes through a
// counting proxy on Dovecot's plain port, and the formatting of their tables.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ImapDriver } from '../../packages/driver-imap/dist/index.js';
import { newUser, resetFromSeed } from './fixture.mjs';

/** Runs `twinbox ...args` from the build `bin`; resolves with its wall time and stdout. */
export const twinboxRunner = (bin) => (args) =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(process.execPath, [bin, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`twinbox ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve({ ms: performance.now() - started, stdout });
    });
  });

/** The build's commit (a checkout's short hash), or its path when it is not in a git checkout. */
export function buildVersion(bin) {
  try {
    return execFileSync('git', ['-C', dirname(bin), 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return bin;
  }
}

/** A plain-IMAP account for {@link ImapDriver.connect}. */
export const plainAccount = (u, port) => ({
  host: '127.0.0.1',
  port,
  tls: 'none',
  user: u.user,
  password: u.password,
});

/** Connects to `u`'s mail directly (not through the proxy), runs `work`, and closes. */
export async function withImap(u, port, work) {
  const client = await ImapDriver.connect(plainAccount(u, port));
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/**
 * A fresh pair: a new server user `${prefix}${n}` whose mail is a copy of the seed's, a new Maildir and
 * state in a temporary directory, the pair's IMAP side through the proxy on `proxyPort`; then a first
 * sync (not timed), so that the state knows every message. `pair.dir` is for the caller to remove.
 */
export async function freshPair({ server, proxyPort, run, name, prefix }) {
  const { info } = server;
  const u = await newUser(info, name);
  resetFromSeed(info, u.user);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const maildir = join(dir, 'Mail');
  const config = join(dir, 'twinbox.toml');
  writeFileSync(
    config,
    `[state]\ndir = "${join(dir, 'state')}"\n[accounts.far]\ntype = "imap"\nhost = "127.0.0.1"\nport = ${proxyPort}\ntls = "none"\nuser = "${u.user}"\npassword = "${u.password}"\n[accounts.near]\ntype = "maildir"\npath = "${maildir}"\n[pairs.mail]\nleft = "far"\nright = "near"\n`,
  );
  await run(['-q', '-c', config, 'sync']);
  return { u, dir, maildir, config };
}

/** Bytes in KiB or MiB, for a table. */
export const fmtBytes = (n) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;

/** The median (the upper one of an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * One timed `twinbox sync` of the pair (`run` from {@link twinboxRunner}): its wall time, the bytes
 * through the proxy each way, and the sync's summary line without its time.
 */
export async function timedSync(run, proxy, pair) {
  proxy.reset();
  const { ms, stdout } = await run(['-c', pair.config, 'sync']);
  const summary = /mail: (copied .*) in [\d.]+ s/.exec(stdout)?.[1] ?? stdout.trim();
  return { ms, up: proxy.counts.up, down: proxy.counts.down, summary };
}

/** Runs `work(pair, r)` `runs` times, each on a pair from `freshPair`, removed afterwards; the results. */
export async function onFreshPairs(runs, freshPair, work) {
  const results = [];
  for (let r = 0; r < runs; r++) {
    const pair = await freshPair();
    try {
      results.push(await work(pair, r));
    } finally {
      rmSync(pair.dir, { recursive: true, force: true });
    }
  }
  return results;
}
