import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapDriver } from '@twinbox/driver-imap';
import { SqliteState } from '@twinbox/state-sqlite';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { imapToMaildirInThreads } from '../src/worker-threads.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The worker threads and message ports this process holds open. */
function threadsAndPorts(): { Worker: number; MessagePort: number } {
  const info = process.getActiveResourcesInfo();
  return {
    Worker: info.filter((r) => r === 'Worker').length,
    MessagePort: info.filter((r) => r === 'MessagePort').length,
  };
}

/**
 * Waits until the threads and ports are back to `before`. A port closed by `close()` still counts as
 * active until the event loop's next close phase, which the awaits of a finished call may not reach
 * yet; a port that was really left open never goes away, and this fails after a second.
 */
async function backTo(before: { Worker: number; MessagePort: number }): Promise<void> {
  await vi.waitFor(() => expect(threadsAndPorts()).toEqual(before), { timeout: 1000, interval: 10 });
}

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

describe('example: an IMAP account into a Maildir, each side in a worker thread', () => {
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

    const work = await mkdtemp(join(tmpdir(), 'twinbox-example-threads-'));
    dirs.push(work);
    const maildir = join(work, 'Mail');
    const statePath = join(work, 'state', 'pair.sqlite');

    const before = threadsAndPorts();
    const first = await imapToMaildirInThreads(account, maildir, statePath);
    expect(first.totals).toMatchObject({ copied: 3, errors: 0 });
    const after = await inbox(maildir);
    expect([...after.values()].map((m) => /^Subject: (\w+)/m.exec(m.text)?.[1]).sort()).toEqual(
      [...subjects].sort(),
    );

    // A second run finds nothing to do and touches no file; that it can open the state at all shows
    // the first run released its lock.
    const second = await imapToMaildirInThreads(account, maildir, statePath);
    expect(second.totals).toMatchObject({ copied: 0, flagged: 0, deleted: 0, paired: 0, errors: 0 });
    expect(await inbox(maildir)).toEqual(after);
    // Every thread ended and every port closed: nothing keeps an embedding program from exiting.
    await backTo(before);
  });

  it('closes the state and the side already started when a side cannot open its store', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const work = await mkdtemp(join(tmpdir(), 'twinbox-example-threads-'));
    dirs.push(work);
    const statePath = join(work, 'pair.sqlite');
    const account = {
      host: 'localhost',
      port: info.tlsPort,
      tls: 'implicit' as const,
      ca: info.ca,
      user,
      password,
    };
    // A file where the Maildir should be: the left side logs in, then the right one fails in its thread.
    const notADirectory = join(work, 'Mail');
    await writeFile(notADirectory, 'not a Maildir');
    const before = threadsAndPorts();
    await expect(imapToMaildirInThreads(account, notADirectory, statePath)).rejects.toMatchObject({
      name: 'StoreError',
    });
    await backTo(before);
    // The state's lock was released: the same pair can be opened again at once.
    const state = await SqliteState.open({ path: statePath });
    await state.close();
  });
});
