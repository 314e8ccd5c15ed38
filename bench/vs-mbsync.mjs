// Twinbox against mbsync (isync), the same work on the same machine in one run: the corpus is loaded
// into an account of the Dovecot fixture; then each tool syncs it into an empty Maildir++ (first sync),
// and once more with nothing changed (no-op sync). Both fsync (their defaults), both over IMAPS with the
// certificate verified. Afterwards both Maildirs are compared: same folders, same messages.
//
// Both are repeated, alternating the two tools, and shown as the median with the range: the first sync
// --first times (each into a new empty Maildir, with no state), the no-op sync --repeat times. One run
// says little here: on this kind of machine, creating a few thousand files takes from one to four seconds
// from one minute to the next, for either tool. --bin runs another build of
// twinbox (say, an older checkout's apps/cli/dist/bin.js) against the same server and corpus. --dir puts
// both Maildirs (and Twinbox's state) elsewhere: `--dir /dev/shm` (tmpfs) leaves the disk out, and shows
// what each tool itself costs.
//
//   node bench/vs-mbsync.mjs [--multiplier 1] [--limit N] [--workers inline|threads] [--first 3] [--repeat 5] [--bin path] [--dir /dev/shm]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MaildirDriver } from '../packages/driver-maildir/dist/index.js';
import { corpusSize, loadIntoImap } from '../tooling/corpus/dist/index.js';
import { startDovecot } from '../tooling/dovecot/dist/index.js';
import { mbsyncConfig } from './lib/tools.mjs';

const { values } = parseArgs({
  options: {
    multiplier: { type: 'string', default: '1' },
    limit: { type: 'string' },
    workers: { type: 'string', default: 'threads' },
    first: { type: 'string', default: '3' },
    repeat: { type: 'string', default: '5' },
    bin: { type: 'string' },
    dir: { type: 'string' },
  },
});
const corpus = {
  multiplier: Number(values.multiplier),
  ...(values.limit ? { limit: Number(values.limit) } : {}),
};
const bin = values.bin ?? new URL('../apps/cli/dist/bin.js', import.meta.url).pathname;
const repeat = Math.max(1, Number(values.repeat));
const firsts = Math.max(1, Number(values.first));
try {
  execFileSync('mbsync', ['--version']);
} catch {
  console.error('mbsync is not installed: apt-get install isync');
  process.exit(2);
}

/** Runs a command under GNU time; returns wall, user and system seconds and peak RSS. */
function timed(command, args, env = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', command, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const last = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    throw new Error(`${command} exited ${r.status}`);
  }
  return { wall: last[0], user: last[1], sys: last[2], rssMb: last[3] / 1024 };
}

async function summarize(root, folderNames) {
  const driver = await MaildirDriver.open({ root, create: false, folderNames });
  const folders = {};
  for (const f of await driver.listFolders()) {
    if (!f.selectable) continue;
    const listing = await driver.listMessages(f.path, {});
    folders[f.path.join('/')] = listing.kind === 'full' ? listing.messages.length : -1;
  }
  return folders;
}

const server = await startDovecot();
const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'twinbox-vs-mbsync-'));
try {
  const { user, password } = await server.addUser('bench');
  const { info } = server;
  const total = await corpusSize(corpus);
  process.stdout.write(`loading ${total} corpus messages into Dovecot… `);
  const loaded = await loadIntoImap(
    { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password },
    corpus,
  );
  console.log(`${loaded.appended} in ${loaded.seconds.toFixed(1)} s`);
  writeFileSync(join(dir, 'ca.pem'), info.ca);

  const mbsyncMaildir = join(dir, 'mbsync-mail');
  // The same mbsync config as compare.mjs uses: Maildir++, everything created and expunged, state in
  // the Maildir.
  writeFileSync(
    join(dir, 'mbsyncrc'),
    mbsyncConfig({
      port: info.tlsPort,
      caFile: join(dir, 'ca.pem'),
      far: { user, password },
      maildir: mbsyncMaildir,
    }),
  );
  const twinboxMaildir = join(dir, 'twinbox-mail');
  writeFileSync(
    join(dir, 'twinbox.toml'),
    `workers = "${values.workers}"
[state]
dir = "${join(dir, 'state')}"
[accounts.remote]
type = "imap"
host = "localhost"
port = ${info.tlsPort}
user = "${user}"
password = "${password}"
ca-file = "${join(dir, 'ca.pem')}"
[accounts.local]
type = "maildir"
path = "${twinboxMaildir}"
[pairs.mail]
left = "remote"
right = "local"
`,
  );

  const mbsync = () => timed('mbsync', ['-q', '-c', join(dir, 'mbsyncrc'), '-a']);
  const twinbox = () => timed(process.execPath, [bin, '-q', '-c', join(dir, 'twinbox.toml'), 'sync']);
  const rows = [];
  const m1 = [];
  const t1 = [];
  for (let i = 0; i < firsts; i++) {
    // Each first sync starts from nothing: mbsync keeps its state in the Maildir (SyncState *).
    rmSync(mbsyncMaildir, { recursive: true, force: true });
    m1.push(mbsync());
    rmSync(twinboxMaildir, { recursive: true, force: true });
    rmSync(join(dir, 'state'), { recursive: true, force: true });
    t1.push(twinbox());
  }
  const m2 = [];
  const t2 = [];
  for (let i = 0; i < repeat; i++) {
    m2.push(mbsync());
    t2.push(twinbox());
  }
  rows.push(
    [`first sync, empty Maildir (median of ${firsts})`, m1, t1],
    [`no-op sync (median of ${repeat})`, m2, t2],
  );

  const median = (runs) => {
    const sorted = [...runs].sort((a, b) => a.wall - b.wall);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  };
  const fmt = (runs) => {
    const x = median(runs);
    const range =
      runs.length > 1
        ? ` [${Math.min(...runs.map((r) => r.wall)).toFixed(2)}–${Math.max(...runs.map((r) => r.wall)).toFixed(2)}]`
        : '';
    return `${x.wall.toFixed(2)} s${range} (user ${x.user.toFixed(2)}, sys ${x.sys.toFixed(2)}, ${x.rssMb.toFixed(0)} MB)`;
  };
  console.log(
    `\n${total} messages, Dovecot on loopback over IMAPS, fsync on in both, Maildirs in ${values.dir ?? tmpdir()}, ` +
      `twinbox workers = ${values.workers}; ` +
      'seconds, median [range]; last column: mbsync time ÷ twinbox time (above 1: twinbox is faster)',
  );
  console.log(`${'work'.padEnd(38)} ${'mbsync 1.4.4'.padEnd(56)} twinbox`);
  for (const [what, m, t] of rows)
    console.log(
      `${what.padEnd(38)} ${fmt(m).padEnd(56)} ${fmt(t)}  (${(median(m).wall / median(t).wall).toFixed(2)}x)`,
    );

  // mbsync writes IMAP's modified UTF-7 names to disk; Twinbox writes UTF-8 (folder-names option).
  const [ms, ts] = await Promise.all([summarize(mbsyncMaildir, 'modified-utf-7'), summarize(twinboxMaildir)]);
  const same = JSON.stringify(Object.entries(ms).sort()) === JSON.stringify(Object.entries(ts).sort());
  console.log(`\nsame folders and message counts in both Maildirs: ${same ? 'yes' : 'NO'}`);
  if (!same) {
    console.log('mbsync:', ms);
    console.log('twinbox:', ts);
    process.exitCode = 1;
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
