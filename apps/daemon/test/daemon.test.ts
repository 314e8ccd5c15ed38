import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { afterEach, describe, expect, it } from 'vitest';
import { imapClient } from './helpers.js';

const bin = new URL('../dist/bin.js', import.meta.url).pathname;
let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function run(
  args: string[],
  env: Record<string, string>,
  onLine?: (line: Record<string, unknown>, kill: () => void) => void,
) {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) {
      const line = JSON.parse(p) as Record<string, unknown>;
      lines.push(line);
      onLine?.(line, () => child.kill('SIGTERM'));
    }
  });
  return new Promise<{ code: number | null; lines: typeof lines }>((resolve) =>
    child.on('exit', (code) => resolve({ code, lines })),
  );
}

async function setup(mode: 'threads' | 'inline') {
  const info = dovecot();
  const { user, password } = await newUser();
  dir = await mkdtemp(join(tmpdir(), 'twinboxd-'));
  await writeFile(join(dir, 'ca.pem'), info.ca);
  const client = await imapClient(info, user, password);
  for (let i = 0; i < 3; i++)
    await client.append('INBOX', Buffer.from(`Message-ID: <d${i}@x>\r\nSubject: ${i}\r\n\r\nhi\r\n`), [
      '\\Seen',
    ]);
  await client.logout();
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `workers = "${mode}"\n[state]\ndir = "state"\n[accounts.r]\ntype = "imap"\nhost = "${info.host}"\nport = ${info.tlsPort}\nuser = "${user}"\npassword-env = "PW"\nca-file = "ca.pem"\n[accounts.l]\ntype = "maildir"\npath = "Mail"\n[pairs.p]\nleft = "r"\nright = "l"\n`,
  );
  return { config, env: { PW: password } };
}

describe.each(['threads', 'inline'] as const)('twinboxd, workers = %s', (mode) => {
  it('syncs every pair in a round and logs JSON lines without the password; --once exits 0', async () => {
    const s = await setup(mode);
    const { code, lines } = await run(['-c', s.config, '--once'], s.env);
    expect(code).toBe(0);
    const synced = lines.find((l) => l.msg === 'synced');
    expect(synced).toMatchObject({ pair: 'p', totals: { copied: 3, errors: 0 } });
    expect(JSON.stringify(lines)).not.toContain(s.env.PW);
    expect(await readdir(join(dir, 'Mail', 'cur'))).toHaveLength(3);
    // Recorded beside the state for `twinbox status`, as a sync by the CLI records it.
    const state = (await readdir(join(dir, 'state'))).find((n) => n.endsWith('.last.json'));
    expect(state).toBeDefined();
    const last = JSON.parse(await readFile(join(dir, 'state', state!), 'utf8'));
    expect(last).toMatchObject({ aborted: false, totals: { copied: 3, errors: 0 } });
    expect(Date.now() - Date.parse(last.finishedAt)).toBeLessThan(60_000);
  });

  it('resident: syncs at start, stops on SIGTERM while it waits, and exits 0', async () => {
    const s = await setup(mode);
    const started = Date.now();
    const { code, lines } = await run(['-c', s.config, '-i', '600'], s.env, (line, kill) => {
      if (line.msg === 'synced') kill();
    });
    expect(code).toBe(0);
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped' });
    expect(lines.find((l) => l.msg === 'synced')).toMatchObject({ pair: 'p', totals: { copied: 3 } });
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('a broken config is logged with its line and the round fails: --once exits 1', async () => {
    const s = await setup(mode);
    await writeFile(s.config, 'workers = "sometimes"\n');
    const { code, lines } = await run(['-c', s.config, '--once'], s.env);
    expect(code).toBe(1);
    expect(lines.find((l) => l.level === 50)?.msg).toMatch(/config\.toml:1: workers/);
  });
});
