// The "plain client" baseline of compare.mjs (`--tools plain`): the least a first sync IMAP→Maildir
// must do, and nothing else. One imapflow session; per folder one streamed `UID FETCH 1:* (FLAGS
// BODY.PEEK[])`; each body written to its own file in the folder's tmp/, fsynced, renamed into cur/
// with its system flags (Maildir++ layout, folder names as the server spells them); each folder's cur/
// fsynced once at the end. No state, no pairing, no line-ending conversion, no worker threads: what
// the sync engine adds on top of this is what the ratio Twinbox / plain measures.
//
//   node bench/plain-client.mjs --host localhost --port 993 --ca ca.pem --user u --password p --maildir DIR
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../tooling/corpus/package.json', import.meta.url));
const { ImapFlow } = require('imapflow');

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: 'localhost' },
    port: { type: 'string' },
    ca: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    maildir: { type: 'string' },
  },
});

const LETTERS = { '\\Draft': 'D', '\\Flagged': 'F', '\\Answered': 'R', '\\Seen': 'S', '\\Deleted': 'T' };

function syncDir(dir) {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function makeMaildir(dir) {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
}

const client = new ImapFlow({
  host: values.host,
  port: Number(values.port),
  secure: true,
  tls: { ca: readFileSync(values.ca) },
  auth: { user: values.user, pass: values.password },
  logger: false,
});
await client.connect();
const root = values.maildir;
makeMaildir(root);
let serial = 0;
const host = hostname();
for (const box of await client.list()) {
  if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) continue;
  // Maildir++: INBOX at the root, every other folder `.A.B` (the server's `/` becomes `.`).
  const dir = box.path === 'INBOX' ? root : join(root, `.${box.path.split(box.delimiter).join('.')}`);
  makeMaildir(dir);
  const lock = await client.getMailboxLock(box.path, { readOnly: true });
  try {
    if (client.mailbox.exists === 0) continue;
    for await (const msg of client.fetch('1:*', { uid: true, flags: true, source: true }, { uid: true })) {
      const unique = `${Date.now()}.P${process.pid}Q${serial++}.${host}`;
      const letters = [...(msg.flags ?? [])]
        .map((f) => LETTERS[f])
        .filter(Boolean)
        .sort()
        .join('');
      const temp = join(dir, 'tmp', unique);
      const fd = openSync(temp, 'wx', 0o600);
      try {
        for (let at = 0; at < msg.source.length; ) at += writeSync(fd, msg.source, at);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, join(dir, 'cur', `${unique}:2,${letters}`));
    }
  } finally {
    lock.release();
  }
  syncDir(join(dir, 'cur'));
}
await client.logout();
