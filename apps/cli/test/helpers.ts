import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { ImapFlow } from 'imapflow';

export const bin = new URL('../dist/bin.js', import.meta.url).pathname;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `twinbox` as a user would, with its own XDG directories. */
export function twinbox(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface Setup {
  dir: string;
  config: string;
  maildir: string;
  env: Record<string, string>;
  user: string;
  password: string;
  imap(): Promise<ImapFlow>;
}

/** The totals of a sync that wrote nothing, as `--json` reports them. */
export const nothingWritten = {
  copied: 0,
  flagged: 0,
  deleted: 0,
  foldersCreated: 0,
  foldersDeleted: 0,
  foldersRenamed: 0,
  errors: 0,
};

/**
 * A config section for an account of the Dovecot fixture: its password from the variable `env`, its
 * CA from `ca.pem` next to the config.
 */
export function imapAccount(name: string, user: string, env: string): string {
  const info = dovecot();
  return `[accounts.${name}]
type = "imap"
host = "${info.host}"
port = ${info.tlsPort}
user = "${user}"
password-env = "${env}"
ca-file = "ca.pem"
`;
}

/** A fresh IMAP user on the Dovecot fixture, an empty Maildir, and a config pairing them. */
export async function setup(extraPair = '', mode: 'threads' | 'inline' = 'threads'): Promise<Setup> {
  const info = dovecot();
  const { user, password } = await newUser();
  const dir = await mkdtemp(join(tmpdir(), 'twinbox-e2e-'));
  const maildir = join(dir, 'Mail');
  await writeFile(join(dir, 'ca.pem'), info.ca);
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `workers = "${mode}"

[state]
dir = "${join(dir, 'state')}"

${imapAccount('remote', user, 'TWINBOX_TEST_PASSWORD')}
[accounts.local]
type = "maildir"
path = "Mail"

[pairs.mail]
left = "remote"
right = "local"
${extraPair}
`,
  );
  const env = {
    TWINBOX_TEST_PASSWORD: password,
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    XDG_STATE_HOME: join(dir, 'xdg-state'),
  };
  const imap = () => imapClient({ user, password });
  return { dir, config, maildir, env, user, password, imap };
}

export const message = (id: string, extra = '') =>
  Buffer.from(
    `Message-ID: <${id}@e2e>\r\nSubject: ${id}\r\nFrom: a@example.org\r\n${extra}\r\nBody of ${id}.\r\n`,
  );

/** A temporary directory with a config pairing a scripted fake IMAP server's account with a Maildir. */
export interface FakeServerPair {
  dir: string;
  config: string;
  maildir: string;
  env: Record<string, string>;
}

/**
 * Writes, in a new temporary directory, a config whose pair `mail` syncs the fake server's account
 * (`remote`, plaintext on loopback; `accountExtra` is appended to its section) with the Maildir
 * `Mail` next to the config (`local`).
 */
export async function fakeServerPair(
  account: { host: string; port: number; user: string; password: string },
  accountExtra = '',
): Promise<FakeServerPair> {
  const dir = await mkdtemp(join(tmpdir(), 'twinbox-fake-'));
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    `[state]
dir = "${join(dir, 'state')}"

[accounts.remote]
type = "imap"
host = "${account.host}"
port = ${account.port}
tls = "none"
user = "${account.user}"
password-env = "FAKE_PASSWORD"
${accountExtra}
[accounts.local]
type = "maildir"
path = "Mail"

[pairs.mail]
left = "remote"
right = "local"
`,
  );
  return {
    dir,
    config,
    maildir: join(dir, 'Mail'),
    env: { FAKE_PASSWORD: account.password, XDG_STATE_HOME: join(dir, 'xdg-state') },
  };
}

/** The totals of the `pair-done` event in the JSON lines of `twinbox --json sync` (empty if none). */
export function pairTotals(stdout: string): Record<string, number> {
  const done = stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { type: string; totals?: Record<string, number> })
    .find((e) => e.type === 'pair-done');
  return done?.totals ?? {};
}

/** A logged-in IMAPS client of a fixture user, the fixture's certificate verified. */
export async function imapClient(u: { user: string; password: string }): Promise<ImapFlow> {
  const info = dovecot();
  const client = new ImapFlow({
    host: info.host,
    port: info.tlsPort,
    secure: true,
    tls: { ca: [info.ca] },
    auth: { user: u.user, pass: u.password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}
