import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { ImapFlow } from 'imapflow';

export const bin = new URL('../dist/bin.js', import.meta.url).pathname;

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** A twinboxd process under test: its JSON log lines as they come, and ways to wait on them. */
export interface DaemonProcess {
  child: ChildProcess;
  lines: LogLine[];
  /** The first line (from the start) that passes, waiting up to `ms` for it. */
  waitFor(check: (line: LogLine) => boolean, ms?: number): Promise<LogLine>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<DaemonProcess>();

/** Starts the built daemon; every daemon still running when a test ends is killed by {@link cleanup}. */
export function startDaemon(args: string[], env: Record<string, string> = {}): DaemonProcess {
  const child = spawn(process.execPath, [bin, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...(process.env.XDG_RUNTIME_DIR ? { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const part of parts) {
      if (!part.trim()) continue;
      lines.push(JSON.parse(part) as LogLine);
    }
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve(signal ? null : code);
    }),
  );
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const process_: DaemonProcess = {
    child,
    lines,
    exited,
    waitFor(check, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(look);
          reject(
            new Error(
              `twinboxd did not log the expected line within ${ms} ms. Log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`,
            ),
          );
        }, ms);
        const look = () => {
          const found = lines.find(check);
          if (found) {
            clearTimeout(timer);
            waiters.delete(look);
            resolve(found);
          } else if (ended) {
            clearTimeout(timer);
            waiters.delete(look);
            reject(
              new Error(
                `twinboxd exited first. Log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`,
              ),
            );
          }
        };
        waiters.add(look);
        look();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (!ended) child.kill(signal);
      running.delete(process_);
      return exited;
    },
  };
  running.add(process_);
  return process_;
}

const dirs = new Set<string>();

/** Kills every daemon a test left running and removes its directories. */
export async function cleanup(): Promise<void> {
  await Promise.all([...running].map((d) => d.stop('SIGKILL')));
  await Promise.all([...dirs].map((dir) => rm(dir, { recursive: true, force: true })));
  dirs.clear();
}

/**
 * A temporary directory for one test's config, Maildirs and state, with the fixture's CA in it
 * (`ca-file = "ca.pem"`); {@link cleanup} removes it.
 */
export async function workDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'twinboxd-'));
  dirs.add(dir);
  await writeFile(join(dir, 'ca.pem'), dovecot().ca);
  return dir;
}

/** A fresh Dovecot user, with a logged-in client for the test's own reads and writes. */
export async function serverUser(): Promise<{
  user: string;
  password: string;
  client: ImapFlow;
  account(name: string, extra?: string): string;
}> {
  const info = dovecot();
  const { user, password } = await newUser();
  const client = await imapClient(info, user, password);
  return {
    user,
    password,
    client,
    account: (name, extra = '') =>
      `[accounts.${name}]\ntype = "imap"\nhost = "${info.host}"\nport = ${info.tlsPort}\nuser = "${user}"\npassword-env = "PW_${name.toUpperCase()}"\nca-file = "ca.pem"\n${extra}`,
  };
}

/** A logged-in client of the test's own on a fixture server, for its reads and writes. */
export async function imapClient(
  info: { host: string; tlsPort: number; ca: string },
  user: string,
  password: string,
): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: info.host,
    port: info.tlsPort,
    secure: true,
    tls: { ca: [info.ca] },
    auth: { user, pass: password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * A daemon config with `accounts` (TOML tables, e.g. from `serverUser().account()`) and one Maildir
 * account per name of `maildirs` (path = the name upper-cased), then `rest` (pairs and the like).
 */
export function daemonConfig(
  mode: 'threads' | 'inline',
  accounts: string[],
  maildirs: string[],
  rest: string,
): string {
  const local = maildirs.map((m) => `[accounts.${m}]\ntype = "maildir"\npath = "${m.toUpperCase()}"\n`);
  return `workers = "${mode}"\n[state]\ndir = "state"\n${accounts.join('\n')}\n${local.join('')}${rest}`;
}

/** The config of the tests' usual pair `p`: the server account `srv` on the left, Maildir `m` (at `M`). */
export function serverMaildirConfig(mode: 'threads' | 'inline', server: { account(name: string): string }) {
  return daemonConfig(mode, [server.account('srv')], ['m'], '[pairs.p]\nleft = "srv"\nright = "m"\n');
}

export const message = (id: string, extra = '') =>
  Buffer.from(`Message-ID: <${id}@twinbox.test>\r\nSubject: ${id}\r\n\r\nbody of ${id}\r\n${extra}`);

/** Each message file of a Maildir folder (`new/` and `cur/`): its name and its Message-ID, if any. */
async function maildirFiles(folder: string): Promise<{ name: string; id: string | undefined }[]> {
  const files: { name: string; id: string | undefined }[] = [];
  for (const sub of ['new', 'cur']) {
    let names: string[] = [];
    try {
      names = await readdir(join(folder, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      const text = await readFile(join(folder, sub, name), 'latin1');
      files.push({ name, id: /^Message-ID: <([^>]+)>/im.exec(text)?.[1] });
    }
  }
  return files;
}

/** The Message-IDs of every message file of a Maildir folder (both `new/` and `cur/`). */
export async function maildirIds(folder: string): Promise<string[]> {
  return (await maildirFiles(folder)).map((f) => f.id ?? `(none: ${f.name})`).sort();
}

/** Maildir file names of a folder with their flags (the `:2,` info), by Message-ID. */
export async function maildirFlags(folder: string): Promise<Record<string, string>> {
  const flags: Record<string, string> = {};
  for (const f of await maildirFiles(folder)) if (f.id) flags[f.id] = f.name.split(':2,')[1] ?? '';
  return flags;
}

/** Polls `check` until it holds, for up to `ms`; returns how long it took. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  ms = 10_000,
  what = 'condition',
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one Prometheus sample, or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{ ]+)(?:\{([^}]*)\})? (.+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      (match[2] ?? '')
        .split(',')
        .filter(Boolean)
        .map((kv) => {
          const [k, v] = kv.split('=');
          return [k, JSON.parse(v!)];
        }),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}
