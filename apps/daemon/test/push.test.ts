import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectControl, controlSocketPath, type PairStatus } from '@twinbox/config/control';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  cleanup,
  eventually,
  imapClient,
  maildirFlags,
  maildirIds,
  message,
  sample,
  serverMaildirConfig,
  serverUser,
  startDaemon,
  workDir,
} from './helpers.js';

// The issue allows 2 s for a change to cross on a loaded CI machine; Dovecot itself waits 0.5 s
// before it tells a watching client about a change.
const PUSH_MS = 2000;

afterEach(cleanup);

async function statusOf(config: string): Promise<PairStatus[]> {
  const client = await connectControl(controlSocketPath(config));
  if (!client) throw new Error('no daemon answers on the control socket');
  try {
    return await client.status();
  } finally {
    client.close();
  }
}

async function serverIds(client: Awaited<ReturnType<typeof serverUser>>['client'], folder = 'INBOX') {
  const lock = await client.getMailboxLock(folder);
  try {
    const ids: string[] = [];
    for await (const m of client.fetch('1:*', { envelope: true }, { uid: true }))
      ids.push(m.envelope?.messageId?.replace(/[<>]/g, '') ?? '');
    return ids.sort();
  } catch {
    return [];
  } finally {
    lock.release();
  }
}

describe.each(['threads', 'inline'] as const)('push, workers = %s', (mode) => {
  it('IMAP ⇄ Maildir: a change on either side crosses within 2 s, and status and metrics show it', async () => {
    const dir = await workDir();
    const server = await serverUser();
    await server.client.append('INBOX', message('before'));
    const config = join(dir, 'config.toml');
    await writeFile(config, serverMaildirConfig(mode, server));
    const daemon = startDaemon(['-c', config, '--metrics', '127.0.0.1:0'], { PW_SRV: server.password });
    const { url } = (await daemon.waitFor((l) => l.msg === 'serving metrics')) as unknown as { url: string };
    await daemon.waitFor((l) => l.msg === 'synced' && l.pair === 'p');
    await daemon.waitFor((l) => l.msg === 'watching' && l.side === 'left');
    await daemon.waitFor((l) => l.msg === 'watching' && l.side === 'right');
    // Once the syncs that the watches' start and the daemon's own writes cause are over.
    await eventually(async () => (await statusOf(config))[0]?.state === 'watching', 5000, 'watching');
    const [status] = await statusOf(config);
    expect(status!.watch?.left).toMatchObject({ method: 'notify', connections: 1 });
    expect(status!.watch?.right).toMatchObject({ method: 'fs' });

    // Server → Maildir.
    await server.client.append('INBOX', message('from-server'));
    const down = await eventually(
      async () => (await maildirIds(join(dir, 'M'))).includes('from-server@twinbox.test'),
      PUSH_MS,
      'the server message in the Maildir',
    );

    // Maildir → server: a delivery the way an MDA makes it (tmp/, then a rename into new/).
    const file = `${Date.now()}.P1Q1.test`;
    await writeFile(join(dir, 'M', 'tmp', file), message('from-maildir'));
    await rename(join(dir, 'M', 'tmp', file), join(dir, 'M', 'new', file));
    const up = await eventually(
      async () => (await serverIds(server.client)).includes('from-maildir@twinbox.test'),
      PUSH_MS,
      'the Maildir message on the server',
    );

    // A flag set in the Maildir (a mail client renames the file) reaches the server.
    const flags = await maildirFlags(join(dir, 'M'));
    expect(flags['before@twinbox.test']).toBe('');
    // "before" was unseen: its file is in new/, without an info part; a client moves it to cur/.
    const name = (await readdir(join(dir, 'M', 'new'))).sort()[0]!;
    await rename(join(dir, 'M', 'new', name), join(dir, 'M', 'cur', `${name}:2,F`));
    const flagged = await eventually(
      async () => {
        const lock = await server.client.getMailboxLock('INBOX');
        try {
          const found = await server.client.search({ flagged: true }, { uid: true });
          return Array.isArray(found) && found.length === 1;
        } finally {
          lock.release();
        }
      },
      PUSH_MS,
      'the flag on the server',
    );
    expect({ down, up, flagged }).toEqual({
      down: expect.any(Number),
      up: expect.any(Number),
      flagged: expect.any(Number),
    });

    const text = await (await fetch(new URL('metrics', url))).text();
    expect(sample(text, 'twinbox_messages_copied_total', { pair: 'p', direction: 'left-to-right' })).toBe(2);
    expect(sample(text, 'twinbox_messages_copied_total', { pair: 'p', direction: 'right-to-left' })).toBe(1);
    expect(sample(text, 'twinbox_flag_changes_total', { pair: 'p', direction: 'right-to-left' })).toBe(1);
    expect(sample(text, 'twinbox_watched_folders', { pair: 'p', side: 'left' })).toBeGreaterThanOrEqual(1);
    // The pair's IMAP session plus its NOTIFY connection.
    expect(sample(text, 'twinbox_server_connections')).toBe(2);
    expect(JSON.stringify(daemon.lines)).not.toContain(server.password);
    expect(await daemon.stop()).toBe(0);
    await server.client.logout();
  });

  it('IMAP ⇄ IMAP: a message and a flag cross between two accounts within 2 s', async () => {
    const dir = await workDir();
    const a = await serverUser();
    const b = await serverUser();
    await a.client.append('INBOX', message('seed'));
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      `workers = "${mode}"\n[state]\ndir = "state"\n${a.account('a')}\n${b.account('b')}\n[pairs.ab]\nleft = "a"\nright = "b"\n`,
    );
    const daemon = startDaemon(['-c', config], { PW_A: a.password, PW_B: b.password });
    await daemon.waitFor((l) => l.msg === 'synced' && l.pair === 'ab');
    await daemon.waitFor((l) => l.msg === 'watching' && l.side === 'left');
    await daemon.waitFor((l) => l.msg === 'watching' && l.side === 'right');

    await a.client.append('INBOX', message('a-to-b'));
    await eventually(
      async () => (await serverIds(b.client)).includes('a-to-b@twinbox.test'),
      PUSH_MS,
      'a → b',
    );
    await b.client.append('INBOX', message('b-to-a'), ['\\Flagged']);
    await eventually(
      async () => (await serverIds(a.client)).includes('b-to-a@twinbox.test'),
      PUSH_MS,
      'b → a',
    );
    expect((await serverIds(a.client)).length).toBe(3);
    // Its \Flagged came with it.
    const lock = await a.client.getMailboxLock('INBOX');
    try {
      const flagged = await a.client.search(
        { flagged: true, header: { 'message-id': 'b-to-a' } },
        { uid: true },
      );
      expect(flagged).toHaveLength(1);
    } finally {
      lock.release();
    }
    expect((await serverIds(b.client)).length).toBe(3);
    expect(await daemon.stop()).toBe(0);
    await a.client.logout();
    await b.client.logout();
  });
});

describe('push over IDLE, on a server without NOTIFY', () => {
  let server: DovecotServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("watches the pair's watch folders up to watch-connections, and a reload that raises the cap reopens only that pair", async () => {
    server = await startDovecot({
      extraConfig:
        'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE',
    });
    const { info } = server;
    const { user, password } = await server.addUser();
    const client = await imapClient(info, user, password);
    await client.mailboxCreate('Lists');
    await client.append('Lists', message('list-0'));
    const dir = await workDir();
    await writeFile(join(dir, 'ca-idle.pem'), info.ca);
    const config = join(dir, 'config.toml');
    const write = (connections: number) =>
      writeFile(
        config,
        `[state]\ndir = "state"\n[accounts.srv]\ntype = "imap"\nhost = "${info.host}"\nport = ${info.tlsPort}\nuser = "${user}"\npassword-env = "PW"\nca-file = "ca-idle.pem"\nwatch-connections = ${connections}\n` +
          `[accounts.m]\ntype = "maildir"\npath = "M"\n[accounts.n]\ntype = "maildir"\npath = "N"\n` +
          `[pairs.p]\nleft = "srv"\nright = "m"\nwatch = ["INBOX", "Lists"]\n[pairs.other]\nleft = "m"\nright = "n"\n`,
      );
    await write(1);
    const daemon = startDaemon(['-c', config], { PW: password });
    await daemon.waitFor((l) => l.msg === 'watching' && l.pair === 'p' && l.side === 'left');
    let [status] = await statusOf(config);
    expect(status!.watch?.left).toEqual({
      method: 'idle',
      watched: [['INBOX']],
      unwatched: [['Lists']],
      connections: 1,
    });

    await client.append('INBOX', message('idle-inbox'));
    await eventually(
      async () => (await maildirIds(join(dir, 'M'))).includes('idle-inbox@twinbox.test'),
      PUSH_MS,
      'INBOX over IDLE',
    );

    await write(2);
    const reloaded = await daemon.waitFor((l) => l.msg === 'config reloaded');
    expect(reloaded).toMatchObject({ added: [], changed: ['p'], removed: [] });
    const pairP = async () => (await statusOf(config)).find((p) => p.name === 'p');
    await eventually(
      async () => (await pairP())?.watch?.left?.connections === 2,
      10_000,
      'two IDLE connections',
    );
    status = await pairP();
    expect(status!.watch?.left).toMatchObject({ method: 'idle', unwatched: [], connections: 2 });
    await client.append('Lists', message('idle-lists'));
    await eventually(
      async () => (await maildirIds(join(dir, 'M', '.Lists'))).includes('idle-lists@twinbox.test'),
      PUSH_MS,
      'Lists over IDLE',
    );
    // The other pair was not reopened.
    expect(
      daemon.lines.filter((l) => l.msg === 'watching' && l.pair === 'other' && l.side === 'left'),
    ).toHaveLength(1);
    expect(await daemon.stop()).toBe(0);
    await client.logout();
  });
});
