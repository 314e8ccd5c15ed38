import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderDovecotConfig } from './config.js';

const execFileAsync = promisify(execFile);

/** What a test needs to reach the server: plain data, so it can cross from vitest's global setup to workers. */
export interface DovecotInfo {
  host: '127.0.0.1';
  /** Plain IMAP port (STARTTLS offered). */
  port: number;
  /** Implicit-TLS IMAPS port. */
  tlsPort: number;
  /** PEM of the self-signed certificate made at start: pass it as the CA to verify TLS. */
  ca: string;
  /** The fixture's private directory. */
  dir: string;
  /**
   * One passwd-file per user (`${usersDir}/${user}`). A file per user, rather than one shared file,
   * because Dovecot notices a changed passwd-file by its mtime, which two users added within the same
   * second would not change.
   */
  usersDir: string;
  /** Each user's home is `${homeRoot}/${user}`, their mail `${homeRoot}/${user}/Maildir`. */
  homeRoot: string;
  /** Owner of the mail files (the current user, or `nobody` when running as root). */
  mailUid: number;
  mailGid: number;
  logFile: string;
}

export interface TestUser {
  user: string;
  password: string;
  /** The user's Maildir on the server's disk (Dovecot creates it at first login). */
  maildir: string;
}

export interface DovecotOptions {
  /** Extra dovecot.conf text appended at the end, e.g. `imap_capability = ...` to hide extensions. */
  extraConfig?: string;
  /** Path of the dovecot binary; default `/usr/sbin/dovecot`, then `dovecot` on PATH. */
  binary?: string;
  /** How long to wait for the server to greet; default 20 s. */
  readyTimeoutMs?: number;
  /** Keep the directory after stop (for debugging a failed test). Also `TWINBOX_KEEP_DOVECOT=1`. */
  keep?: boolean;
}

export interface DovecotServer {
  info: DovecotInfo;
  /** Creates a fresh user with an empty mailbox. */
  addUser(name?: string): Promise<TestUser>;
  /** Stops the server and every child process; removes the directory unless kept. Idempotent. */
  stop(): Promise<void>;
}

export class DovecotMissingError extends Error {
  override name = 'DovecotMissingError';
}

async function findDovecot(binary?: string): Promise<string> {
  const candidates = binary ? [binary] : ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'];
  for (const c of candidates) if (existsSync(c)) return c;
  if (!binary) {
    try {
      const { stdout } = await execFileAsync('sh', ['-c', 'command -v dovecot']);
      if (stdout.trim()) return stdout.trim();
    } catch {
      // fall through to the error below
    }
  }
  throw new DovecotMissingError(
    `Dovecot is not installed (looked for ${candidates.join(', ')}${binary ? '' : ' and dovecot on PATH'}). ` +
      'The integration tests need a real IMAP server: install the Debian package dovecot-imapd ' +
      '(apt-get install dovecot-imapd) or run `bash .ci/run`, which installs it.',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once the server sends its real greeting (Dovecot first says "Waiting for authentication"). */
function waitForGreeting(port: number, deadline: number, proc: ChildProcess, log: () => Promise<string>) {
  return new Promise<void>((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        void log().then((text) =>
          reject(new Error(`Dovecot exited during start (code ${proc.exitCode}). Its log:\n${text}`)),
        );
        return;
      }
      if (Date.now() > deadline) {
        void log().then((text) =>
          reject(new Error(`Dovecot did not greet on port ${port} in time. Its log:\n${text}`)),
        );
        return;
      }
      const sock = netConnect(port, '127.0.0.1');
      let buf = '';
      const retry = () => {
        sock.destroy();
        setTimeout(attempt, 50);
      };
      sock.setTimeout(2000, retry);
      sock.on('error', retry);
      sock.on('data', (chunk) => {
        buf += chunk.toString('latin1');
        if (/^\* OK \[CAPABILITY [^\r\n]*\r\n/m.test(buf)) {
          sock.end('z LOGOUT\r\n');
          sock.removeAllListeners('error');
          sock.on('error', () => {});
          resolve();
        }
      });
    };
    attempt();
  });
}

async function makeCertificate(dir: string): Promise<{ certFile: string; keyFile: string; ca: string }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    await execFileAsync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '7',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
  } catch (err) {
    throw new Error(
      `Could not make the fixture's TLS certificate with openssl (${(err as Error).message}). Install the Debian package openssl.`,
    );
  }
  return { certFile, keyFile, ca: await readFile(certFile, 'utf8') };
}

async function idOf(kind: 'u' | 'g', name: string): Promise<number> {
  const { stdout } = await execFileAsync('id', [`-${kind}`, name]);
  return Number(stdout.trim());
}

/**
 * Runs Dovecot ($0 is the binary, $1 the config) and stops it when our end of its stdin pipe closes.
 * That pipe closes however the test process ends, SIGKILL included, which no exit hook can catch, so a
 * crashed or killed test run never leaves a Dovecot behind.
 */
const WATCHDOG = `exec 3<&0 </dev/null
"$0" -F -c "$1" 3<&- &
pid=$!
( while read -r _ <&3; do :; done; kill -TERM "$pid" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"`;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: if the test process dies without calling stop(), take the servers down with it. */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const proc of live) killGroup(proc, 'SIGKILL');
  });
}

/** Waits until no process is left in `proc`'s group (or the deadline passes). */
async function groupGone(proc: ChildProcess, deadline: number): Promise<void> {
  if (proc.pid === undefined) return;
  while (Date.now() < deadline) {
    try {
      process.kill(-proc.pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals) {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts a private Dovecot on free loopback ports, from a config in a new temporary directory.
 * Works as root (Dovecot's internal users `dovecot`/`dovenull` run the helpers, mail belongs to
 * `nobody`) and as a normal user (everything runs as that user).
 */
export async function startDovecot(options: DovecotOptions = {}): Promise<DovecotServer> {
  const binary = await findDovecot(options.binary);
  const isRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'twinbox-dovecot-'));
  // Dovecot's unprivileged auth process must traverse the directory and read the users file.
  await chmod(dir, 0o755);
  const homeRoot = join(dir, 'home');
  const logFile = join(dir, 'dovecot.log');
  const usersDir = join(dir, 'users');
  await mkdir(homeRoot);
  await mkdir(usersDir, { mode: 0o755 });
  await mkdir(join(dir, 'run'));
  await mkdir(join(dir, 'state'));
  await writeFile(logFile, '', { mode: 0o644 });

  const me = userInfo();
  let mailUid = me.uid;
  let mailGid = me.gid;
  let internalUser = me.username;
  let internalGroup = (await execFileAsync('id', ['-gn'])).stdout.trim();
  let loginUser = me.username;
  if (isRoot) {
    mailUid = await idOf('u', 'nobody');
    mailGid = await idOf('g', 'nobody');
    internalUser = 'dovecot';
    internalGroup = 'dovecot';
    loginUser = 'dovenull';
    await chown(homeRoot, mailUid, mailGid);
  }
  const { certFile, keyFile, ca } = await makeCertificate(dir);
  await chmod(keyFile, 0o600);

  const readLog = () => readFile(logFile, 'utf8').catch(() => '(no log)');
  let lastError: unknown;
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const tlsPort = await freePort();
    const configFile = join(dir, 'dovecot.conf');
    await writeFile(
      configFile,
      renderDovecotConfig({
        dir,
        instanceName: `twinbox-${process.pid}-${randomBytes(3).toString('hex')}`,
        port,
        tlsPort,
        usersDir,
        homeRoot,
        certFile,
        keyFile,
        logFile,
        internalUser,
        internalGroup,
        loginUser,
        mailUid,
        mailGid,
        extraConfig: options.extraConfig,
      }),
      { mode: 0o644 },
    );
    // detached: the watchdog leads a process group holding Dovecot and all its children, so stop()
    // can take the whole group down at once.
    const proc = spawn('sh', ['-c', WATCHDOG, binary, configFile], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout?.on('data', (d) => {
      output += d;
    });
    proc.stderr?.on('data', (d) => {
      output += d;
    });
    // A test process that forgets stop() must still be able to exit (and so close the watchdog's pipe).
    proc.unref();
    for (const stream of [proc.stdin, proc.stdout, proc.stderr])
      (stream as { unref?: () => void } | null)?.unref?.();
    live.add(proc);
    installExitHook();
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    try {
      await waitForGreeting(port, Date.now() + (options.readyTimeoutMs ?? 20_000), proc, async () =>
        [output, await readLog()].join('\n'),
      );
    } catch (err) {
      lastError = err;
      killGroup(proc, 'SIGKILL');
      await exited;
      live.delete(proc);
      await rm(join(dir, 'run', 'master.pid'), { force: true });
      continue;
    }
    const info: DovecotInfo = {
      host: '127.0.0.1',
      port,
      tlsPort,
      ca,
      dir,
      usersDir,
      homeRoot,
      mailUid,
      mailGid,
      logFile,
    };
    let stopped: Promise<void> | undefined;
    const keep = options.keep ?? process.env.TWINBOX_KEEP_DOVECOT === '1';
    return {
      info,
      addUser: (name) => addUser(info, name),
      stop: () => {
        stopped ??= (async () => {
          // Closing the pipe makes the watchdog stop Dovecot gracefully; SIGKILL is the backstop.
          proc.stdin?.end();
          const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
          // Children that outlived the master (none should) go with the group, and stop() resolves only
          // once the group is empty: a loaded machine can take a moment to reap them.
          killGroup(proc, 'SIGKILL');
          await groupGone(proc, Date.now() + 5000);
          live.delete(proc);
          if (!keep) await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

let userCounter = 0;

/** Adds a user to a running fixture, from any process (each user is a file of its own). */
export async function addUser(info: DovecotInfo, name?: string): Promise<TestUser> {
  const user = name ?? `u${process.pid}x${++userCounter}x${randomBytes(3).toString('hex')}`;
  if (!/^[A-Za-z0-9._-]+$/.test(user))
    throw new Error(`Test user name ${JSON.stringify(user)} must be [A-Za-z0-9._-]+`);
  const password = randomBytes(9).toString('base64url');
  await writeFile(join(info.usersDir, user), `${user}:{PLAIN}${password}:::\n`, { mode: 0o644, flag: 'wx' });
  return { user, password, maildir: join(info.homeRoot, user, 'Maildir') };
}
