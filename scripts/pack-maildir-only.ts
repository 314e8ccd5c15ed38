// Run by scripts/pack-examples.sh inside a fresh project that installed only @twinbox/config,
// @twinbox/driver-maildir and @twinbox/state-sqlite from their tarballs (no driver-imap, no imapflow):
// a Maildir-only embedder. Syncs one Maildir into another through syncPair (threads) and openPair
// (inline), then checks that a config with an IMAP account fails with the error that names the package
// to install, both from openPair and from openDriver.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, openDriver, openPair, syncPair } from '@twinbox/config';
import { sync } from '@twinbox/core';

// Inside the project, which the script removes with everything else.
const dir = join(process.cwd(), 'data');
for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, 'A', sub), { recursive: true });
await writeFile(
  join(dir, 'A', 'cur', '1.M1P1.pack:2,S'),
  'Subject: one\r\nMessage-ID: <one@pack.test>\r\n\r\none\r\n',
);
await writeFile(
  join(dir, 'A', 'cur', '2.M2P2.pack:2,'),
  'Subject: two\r\nMessage-ID: <two@pack.test>\r\n\r\ntwo\r\n',
);
const maildirs = `[state]\ndir = "${join(dir, 'state')}"\n\n[accounts.a]\ntype = "maildir"\npath = "${join(dir, 'A')}"\n\n[accounts.b]\ntype = "maildir"\npath = "${join(dir, 'B')}"\n\n[pairs.ab]\nleft = "a"\nright = "b"\n`;
await writeFile(join(dir, 'maildirs.toml'), maildirs);
await writeFile(
  join(dir, 'imap.toml'),
  `${maildirs}\n[accounts.work]\ntype = "imap"\nhost = "localhost"\nuser = "me"\npassword = "x"\n\n[pairs.work]\nleft = "work"\nright = "b"\n`,
);

let failed = false;
const fail = (why: string) => {
  console.error(`FAIL: maildir-only: ${why}`);
  failed = true;
};

const loaded = await loadConfig(join(dir, 'maildirs.toml'));
const first = await syncPair(loaded, 'ab', { mode: 'threads' });
const files = (await readdir(join(dir, 'B', 'cur'))).length + (await readdir(join(dir, 'B', 'new'))).length;
const pair = await openPair(loaded, 'ab', { mode: 'inline' });
const second = await sync(pair.left, pair.right, pair.syncOptions).finally(() => pair.close());
console.log('maildir-only', JSON.stringify({ first: first.report.totals, second: second.totals, files }));
const wrote = second.totals.copied + second.totals.flagged + second.totals.deleted;
if (first.report.totals.copied !== 2 || files !== 2 || wrote !== 0)
  fail('expected 2 messages copied by syncPair, then nothing written through openPair');

const withImap = await loadConfig(join(dir, 'imap.toml'));
const expected = /accounts\.work: this config uses an IMAP account: install @twinbox\/driver-imap/;
const opened = await openPair(withImap, 'work').then(
  () => undefined,
  (err: { code?: string; message: string }) => err,
);
console.log('imap config, openPair:', opened?.code, opened?.message);
if (opened?.code !== 'PACKAGE_MISSING' || !expected.test(opened.message))
  fail('openPair of an IMAP pair did not say to install @twinbox/driver-imap');
const driver = await openDriver(withImap.config.accounts.work!).then(
  () => undefined,
  (err: { code?: string; message: string }) => err,
);
console.log('imap config, openDriver:', driver?.code, driver?.message);
if (driver?.code !== 'PACKAGE_MISSING' || !/install @twinbox\/driver-imap/.test(driver.message))
  fail('openDriver of an IMAP account did not say to install @twinbox/driver-imap');
process.exit(failed ? 1 : 0);
