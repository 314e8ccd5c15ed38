// Run by scripts/pack-examples.sh inside the fresh project, where ./src holds the examples'
// sources and every @twinbox package comes from its tarball: seeds the account, then syncs it into a
// Maildir twice with each example (imap-to-maildir in this thread, worker-threads with the state and
// each side in threads of their own), and fails unless each first run copied the messages and each
// second wrote nothing. Then runs worker-runtime's README example (src/count.ts) as a reader would.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncReport } from '@twinbox/core';
import { ImapDriver, type ImapDriverOptions } from '@twinbox/driver-imap';
import { imapToMaildir } from './src/imap-to-maildir.ts';
import { imapToMaildirInThreads } from './src/worker-threads.ts';

const account = JSON.parse(process.env.TWINBOX_ACCOUNT ?? '') as ImapDriverOptions;
const seed = await ImapDriver.connect(account);
const subjects = ['one', 'two', 'three'];
await seed.appendMessages(
  ['INBOX'],
  subjects.map((s) => ({
    body: new TextEncoder().encode(`Subject: ${s}\r\nMessage-ID: <${s}@pack.test>\r\n\r\n${s}\r\n`),
    flags: [],
  })),
);
await seed.close();

const examples: Record<string, typeof imapToMaildir> = {
  'imap-to-maildir': imapToMaildir,
  'worker-threads': imapToMaildirInThreads,
};
let failed = false;
for (const [name, example] of Object.entries(examples)) {
  const dir = await mkdtemp(join(tmpdir(), 'twinbox-pack-run-'));
  const maildir = join(dir, 'Mail');
  const first: SyncReport = await example(account, maildir, join(dir, 'state.sqlite'));
  const second: SyncReport = await example(account, maildir, join(dir, 'state.sqlite'));
  const files = (await readdir(join(maildir, 'new'))).length + (await readdir(join(maildir, 'cur'))).length;
  console.log(name, JSON.stringify({ first: first.totals, second: second.totals, files }));
  const wrote = second.totals.copied + second.totals.flagged + second.totals.deleted;
  if (
    first.totals.copied !== 3 ||
    files !== 3 ||
    wrote !== 0 ||
    first.totals.errors + second.totals.errors > 0
  ) {
    console.error(`FAIL: ${name}: expected 3 messages copied, then nothing written`);
    failed = true;
  }
}

const counted = execFileSync(process.execPath, ['src/count.ts'], { encoding: 'utf8', timeout: 10_000 });
console.log('count.ts', JSON.stringify(counted));
if (counted !== '15\nAbortError\ntrue\n') {
  console.error("FAIL: worker-runtime's README example did not print 15, AbortError, true");
  failed = true;
}
process.exit(failed ? 1 : 0);
