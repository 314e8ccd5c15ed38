// Run by scripts/pack-examples.sh inside the fresh project, where ./src/imap-to-maildir.ts is the
// example and every @twinbox package comes from its tarball: seeds the account, syncs it into a
// Maildir twice, and fails unless the first run copied the messages and the second wrote nothing.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapDriver, type ImapDriverOptions } from '@twinbox/driver-imap';
import { imapToMaildir } from './src/imap-to-maildir.ts';

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

const dir = await mkdtemp(join(tmpdir(), 'twinbox-pack-run-'));
const maildir = join(dir, 'Mail');
const first = await imapToMaildir(account, maildir, join(dir, 'state.sqlite'));
const second = await imapToMaildir(account, maildir, join(dir, 'state.sqlite'));
const files = (await readdir(join(maildir, 'new'))).length + (await readdir(join(maildir, 'cur'))).length;
console.log(JSON.stringify({ first: first.totals, second: second.totals, files }));
const wrote = second.totals.copied + second.totals.flagged + second.totals.deleted;
if (
  first.totals.copied !== 3 ||
  files !== 3 ||
  wrote !== 0 ||
  first.totals.errors + second.totals.errors > 0
) {
  console.error('FAIL: expected 3 messages copied, then nothing written');
  process.exit(1);
}
