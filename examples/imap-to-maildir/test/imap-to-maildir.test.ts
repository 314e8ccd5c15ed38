import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapDriver } from '@twinbox/driver-imap';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { afterAll, describe, expect, it } from 'vitest';
import { imapToMaildir } from '../src/imap-to-maildir.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The Maildir's inbox messages: file name (its unique part) and content. */
async function inbox(root: string): Promise<Map<string, { text: string; mtimeMs: number }>> {
  const out = new Map<string, { text: string; mtimeMs: number }>();
  for (const sub of ['new', 'cur']) {
    for (const name of await readdir(join(root, sub))) {
      const file = join(root, sub, name);
      out.set(name, { text: await readFile(file, 'utf8'), mtimeMs: (await stat(file)).mtimeMs });
    }
  }
  return out;
}

describe('example: an IMAP account into a Maildir', () => {
  it('copies the account into the Maildir, and a second run writes nothing', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const account = {
      host: 'localhost',
      port: info.tlsPort,
      tls: 'implicit' as const,
      ca: info.ca,
      user,
      password,
    };
    const seeding = await ImapDriver.connect(account);
    const subjects = ['one', 'two', 'three'];
    const outcomes = await seeding.appendMessages(
      ['INBOX'],
      subjects.map((s, i) => ({
        body: new TextEncoder().encode(
          `From: a@twinbox.test\r\nSubject: ${s}\r\nMessage-ID: <${s}.${user}@twinbox.test>\r\n\r\nBody ${s}\r\n`,
        ),
        flags: i === 0 ? ['\\Seen'] : [],
      })),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    await seeding.close();

    const work = await mkdtemp(join(tmpdir(), 'twinbox-example-'));
    dirs.push(work);
    const maildir = join(work, 'Mail');
    const statePath = join(work, 'state', 'pair.sqlite');

    const first = await imapToMaildir(account, maildir, statePath);
    expect(first.totals).toMatchObject({ copied: 3, errors: 0 });
    const after = await inbox(maildir);
    expect([...after.values()].map((m) => /^Subject: (\w+)/m.exec(m.text)?.[1]).sort()).toEqual(
      [...subjects].sort(),
    );

    // A second run finds nothing to do and touches no file; that it can open the state at all shows
    // the first run released its lock.
    const second = await imapToMaildir(account, maildir, statePath);
    expect(second.totals).toMatchObject({ copied: 0, flagged: 0, deleted: 0, paired: 0, errors: 0 });
    expect(await inbox(maildir)).toEqual(after);
  });
});
