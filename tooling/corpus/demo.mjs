// The README's first command ends here: Twinbox on an embedded default, with no account of yours.
// A private Dovecot is started on loopback, the SpamAssassin corpus (about 6,000 real messages) is
// loaded into one account over IMAPS, and the `twinbox` command syncs it both ways with a local
// Maildir: a first sync, changes on both sides, a second sync, `twinbox check`, and a no-op sync.
// Everything lives in a temporary directory, removed at the end.
//
//   node scripts/demo.mjs [--limit N] [--multiplier K] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDovecot } from '@twinbox/test-dovecot';
import { ImapFlow } from 'imapflow';
import { corpusSize, loadIntoImap, progressPrinter } from './dist/index.js';

const { values } = parseArgs({
  options: {
    limit: { type: 'string' },
    multiplier: { type: 'string', default: '1' },
    keep: { type: 'boolean' },
  },
});
const corpus = {
  multiplier: Number(values.multiplier),
  ...(values.limit ? { limit: Number(values.limit) } : {}),
};
const bin = new URL('../../apps/cli/dist/bin.js', import.meta.url).pathname;

const server = await startDovecot();
const dir = mkdtempSync(join(tmpdir(), 'twinbox-demo-'));
let exit = 0;
const stop = async () => {
  await server.stop();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => void stop().finally(() => process.exit(130)));

try {
  const { info } = server;
  const { user, password } = await server.addUser('demo');
  const total = await corpusSize(corpus);
  console.log(
    `Dovecot fixture on ${info.host}:${info.tlsPort} (IMAPS), user ${user}: loading ${total} messages`,
  );
  const loaded = await loadIntoImap(
    { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password },
    { ...corpus, onProgress: progressPrinter(total) },
  );
  console.log(
    `\nloaded ${loaded.appended} messages in ${loaded.seconds.toFixed(1)} s (${loaded.failed.length} failed)`,
  );

  writeFileSync(join(dir, 'ca.pem'), info.ca);
  const maildir = join(dir, 'Mail');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    `# Written by scripts/demo.mjs: the Dovecot fixture's account "demo" and a Maildir, kept in sync.
[state]
dir = "state"

[accounts.dovecot]
type = "imap"
host = "localhost"
port = ${info.tlsPort}
user = "${user}"
password-env = "TWINBOX_DEMO_PASSWORD"
ca-file = "ca.pem"

[accounts.maildir]
type = "maildir"
path = "Mail"

[pairs.demo]
left = "dovecot"
right = "maildir"
`,
    { mode: 0o600 },
  );
  const twinbox = (title, ...args) => {
    console.log(`\n$ twinbox ${args.join(' ')}    # ${title}`);
    const t = performance.now();
    const r = spawnSync(process.execPath, [bin, '-c', config, ...args], {
      stdio: 'inherit',
      env: { ...process.env, TWINBOX_DEMO_PASSWORD: password },
    });
    console.log(`(exit ${r.status}, ${((performance.now() - t) / 1000).toFixed(2)} s)`);
    if (r.status !== 0 && r.status !== 6) exit = r.status ?? 1;
    return r.status;
  };

  twinbox('first sync: the account into an empty Maildir', 'sync');

  // Changes on both sides, as mail programs make them: on the server, flag 10 messages of INBOX and
  // read 5; in the Maildir (as mutt would), read 5 messages of Junk and delete 3 of Archiv.
  const client = new ImapFlow({
    host: 'localhost',
    port: info.tlsPort,
    secure: true,
    tls: { ca: [info.ca] },
    auth: { user, pass: password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  const lock = await client.getMailboxLock('INBOX');
  try {
    await client.messageFlagsAdd('1:10', ['\\Flagged']);
    await client.messageFlagsAdd('11:15', ['\\Seen']);
  } finally {
    lock.release();
    await client.logout();
  }
  const junk = join(maildir, '.Junk');
  for (const name of readdirSync(join(junk, 'new')).slice(0, 5))
    renameSync(join(junk, 'new', name), join(junk, 'cur', `${name}:2,S`));
  const archiv = join(maildir, '.Archiv', 'cur');
  for (const name of readdirSync(archiv).slice(0, 3)) unlinkSync(join(archiv, name));
  console.log(
    '\nchanged: on the server 10 flagged and 5 read in INBOX; in the Maildir 5 read in Junk, 3 deleted in Archiv',
  );

  twinbox('second sync: both sides’ changes cross over', 'sync');
  twinbox('compare both sides message by message', 'check');
  twinbox('nothing changed: nothing is written', 'sync');
  twinbox('what the state says', 'status', '--offline');
  if (values.keep)
    console.log(`\nKept: ${dir} (config.toml, Mail/, state/); the Dovecot fixture is stopped.`);
} catch (err) {
  console.error(err);
  exit = 1;
} finally {
  await stop();
}
process.exit(exit);
