import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dovecot } from '@twinbox/test-dovecot/inject';
import { afterEach, describe, expect, it } from 'vitest';
import { message, type Setup, setup, twinbox } from './helpers.js';

const run = promisify(execFile);
let current: Setup | undefined;
afterEach(async () => {
  if (current) await rm(current.dir, { recursive: true, force: true });
  current = undefined;
});

/** Each message of a Maildir tree: its folder directory, Message-ID and flag letters. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\/(cur|new)$/.test(entry.parentPath)) continue;
    const folder = entry.parentPath.slice(root.length).replace(/\/(cur|new)$/, '') || '/';
    const text = await readFile(join(entry.parentPath, entry.name), 'latin1');
    const letters = (entry.name.split(':2,')[1] ?? '').replace(/[a-z]/g, '');
    out.push(`${folder} ${/^Message-ID: (.*)$/m.exec(text)?.[1]} ${letters}`);
  }
  return out.sort();
}

describe('twinbox import mbsync', () => {
  it('then twinbox sync gives the same folders and messages in the Maildir as mbsync -a from the same file', async () => {
    const s = await setup();
    current = s;
    const client = await s.imap();
    try {
      await client.mailboxCreate('Archive/2024');
      await client.mailboxCreate('Entwürfe');
      await client.append('INBOX', message('in1'), ['\\Seen']);
      await client.append('INBOX', message('in2'), []);
      await client.append('Archive/2024', message('a1'), ['\\Answered', '\\Seen']);
      await client.append('Archive/2024', message('a2'), ['\\Flagged']);
      await client.append('Entwürfe', message('d1'), ['\\Draft']);
    } finally {
      await client.logout();
    }
    const info = dovecot();
    const maildir = join(s.dir, 'mail');
    const rc = join(s.dir, 'mbsyncrc');
    await writeFile(
      rc,
      `IMAPAccount remote
Host localhost
Port ${info.tlsPort}
User ${s.user}
PassCmd "printenv TWINBOX_TEST_PASSWORD"
SSLType IMAPS
CertificateFile ${join(s.dir, 'ca.pem')}

IMAPStore remote
Account remote

MaildirStore local
Path ${maildir}/
Inbox ${maildir}/INBOX
SubFolders Verbatim

Channel mail
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
`,
    );
    await mkdir(maildir);
    await run('mbsync', ['-q', '-c', rc, '-a'], { env: { ...process.env, ...s.env } });
    const byMbsync = await snapshot(maildir);
    expect(byMbsync.length).toBe(5);
    await rm(maildir, { recursive: true, force: true });
    await mkdir(maildir);

    const config = join(s.dir, 'imported.toml');
    const imported = await twinbox(['import', 'mbsync', rc, '-o', config], s.env);
    expect(imported.code, imported.stderr).toBe(0);
    const synced = await twinbox(['-c', config, 'sync'], {
      ...s.env,
      XDG_STATE_HOME: join(s.dir, 'state-home'),
    });
    expect(synced.code, synced.stderr).toBe(0);
    expect(await snapshot(maildir)).toEqual(byMbsync);
  });
});
