import { spawn } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import { DovecotMissingError, startDovecot } from '../src/index.js';
import { dovecot, newUser } from '../src/inject.js';

async function processesInGroup(pgid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has ended; it only waits for its parent (or init) to collect its exit status.
    if (Number(rest[2]) === pgid && rest[0] !== 'Z') found.push(Number(entry));
  }
  return found;
}

async function groupOfMaster(dir: string): Promise<number> {
  const pid = (await readFile(join(dir, 'run', 'master.pid'), 'utf8')).trim();
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

describe('the Dovecot fixture', () => {
  it('serves IMAPS with a certificate the client verifies, and the extensions Twinbox relies on', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const client = new ImapFlow({
      host: 'localhost',
      port: info.tlsPort,
      secure: true,
      tls: { ca: [info.ca], rejectUnauthorized: true },
      auth: { user, pass: password },
      logger: false,
    });
    await client.connect();
    try {
      for (const cap of ['CONDSTORE', 'QRESYNC', 'IDLE', 'UIDPLUS', 'MOVE']) {
        expect(client.capabilities.has(cap), cap).toBe(true);
      }
      const appended = await client.append('INBOX', 'Subject: hi\r\n\r\nhello\r\n', ['\\Seen']);
      expect(appended).toBeTruthy();
      const mailbox = await client.mailboxOpen('INBOX');
      expect(mailbox.exists).toBe(1);
      const msg = await client.fetchOne('*', { flags: true, uid: true }, { uid: false });
      // \Recent is the server's session flag, not one the client set.
      if (!msg || !appended) throw new Error('FETCH or APPEND returned nothing');
      expect([...(msg.flags ?? [])].filter((f) => f !== '\\Recent')).toEqual(['\\Seen']);
      expect(msg.uid).toBe(appended.uid);
    } finally {
      await client.logout();
    }
  });

  it('rejects a client that does not trust its self-signed certificate', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: info.tlsPort,
      secure: true,
      auth: { user, pass: password },
      logger: false,
    });
    client.on('error', () => {});
    await expect(client.connect()).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('gives each new user an empty mailbox and a nested folder with a non-ASCII name', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const client = new ImapFlow({
      host: info.host,
      port: info.port,
      secure: false,
      doSTARTTLS: false,
      auth: { user, pass: password },
      logger: false,
    });
    await client.connect();
    try {
      await client.mailboxCreate(['Archiv', 'Übersicht']);
      const names = (await client.list()).map((m) => m.path);
      expect(names).toContain('Archiv/Übersicht');
      expect(names).toContain('INBOX');
      const status = await client.status('INBOX', { messages: true });
      expect(status).toMatchObject({ messages: 0 });
    } finally {
      await client.logout();
    }
  });

  it('stops cleanly and leaves no process behind', async () => {
    const server = await startDovecot();
    try {
      const { user, password } = await server.addUser();
      const client = new ImapFlow({
        host: server.info.host,
        port: server.info.port,
        secure: false,
        doSTARTTLS: false,
        auth: { user, pass: password },
        logger: false,
      });
      client.on('error', () => {});
      await client.connect();
      // A logged-in session means an imap child process exists when we stop.
      const pgid = await groupOfMaster(server.info.dir);
      expect((await processesInGroup(pgid)).length).toBeGreaterThan(3);
      await server.stop();
      expect(await processesInGroup(pgid)).toEqual([]);
      await expect(readdir(server.info.dir)).rejects.toThrow(/ENOENT/);
    } finally {
      await server.stop();
    }
  });

  it('takes Dovecot down when the process that started it is killed with SIGKILL', async () => {
    const serverModule = new URL('../dist/index.js', import.meta.url).href;
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { startDovecot } = await import(${JSON.stringify(serverModule)});
         const server = await startDovecot({ keep: true });
         console.log(server.info.dir);
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const dir = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => resolve(String(d).trim()));
      child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    const pgid = await groupOfMaster(dir);
    expect((await processesInGroup(pgid)).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while ((await processesInGroup(pgid)).length > 0 && Date.now() < deadline) await sleep(100);
    expect(await processesInGroup(pgid)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('fails loudly, saying what to install, when Dovecot is missing', async () => {
    await expect(startDovecot({ binary: '/nonexistent/dovecot' })).rejects.toThrow(DovecotMissingError);
    await expect(startDovecot({ binary: '/nonexistent/dovecot' })).rejects.toThrow(
      /apt-get install dovecot-imapd/,
    );
  });
});
