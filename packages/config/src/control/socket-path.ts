import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, isAbsolute, join, resolve } from 'node:path';
// SHA-256 in JavaScript rather than node:crypto's: loading node:crypto costs 6–10 ms of every
// `twinbox sync` through a daemon (a fifth of its client's start), for one hash of a short path.
// The same digest, so the socket names are those node:crypto gave.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/**
 * The longest socket path the kernel takes: `sun_path` holds 108 bytes on Linux, 104 on the BSDs and
 * macOS, the terminating NUL included. Node fails `listen` with a path beyond it (or, worse, cuts it).
 */
const MAX_SOCKET_PATH = process.platform === 'linux' ? 107 : 103;

/** The name part taken from the config file, at most this long: the hash tells configs apart. */
const MAX_NAME = 32;

/**
 * The control socket of the daemon serving `configFile`: one per config, so two daemons of two configs
 * never meet, and a CLI finds the daemon of the config it would read. It lies in
 * `$XDG_RUNTIME_DIR/twinbox/` (private to the user, emptied at logout), else in a directory of the
 * user's own under the OS temporary directory (`twinbox-<uid>`), and is named after the config file and
 * a short hash of its absolute real path (`config-3f2a9c1e0b7d.sock`): a symlink and its target are the
 * same config. Pure: nothing is created or checked here ({@link serveControl} and
 * {@link connectControl} do that). Throws when the directory is so long that no socket path fits in
 * the kernel's limit (108 bytes on Linux).
 */
export function controlSocketPath(configFile: string, env: NodeJS.ProcessEnv = process.env): string {
  let real = resolve(configFile);
  try {
    real = realpathSync(real);
  } catch {
    // No such file (yet): then no daemon serves it either, and its path as given names it.
  }
  const hash = bytesToHex(sha256(utf8ToBytes(real))).slice(0, 12);
  const name = basename(real, extname(real))
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, MAX_NAME);
  if (process.platform === 'win32') return `\\\\.\\pipe\\twinbox-${name}-${hash}`;
  const dir = controlDir(env);
  const full = join(dir, `${name}-${hash}.sock`);
  if (Buffer.byteLength(full) <= MAX_SOCKET_PATH) return full;
  const short = join(dir, `${hash}.sock`);
  if (Buffer.byteLength(short) <= MAX_SOCKET_PATH) return short;
  throw new Error(
    `${dir}: too long for a control socket (a Unix socket path holds at most ${MAX_SOCKET_PATH} bytes): set XDG_RUNTIME_DIR (or TMPDIR) to a shorter directory.`,
  );
}

/** The directory of the control sockets: `$XDG_RUNTIME_DIR/twinbox`, else `<tmpdir>/twinbox-<uid>`. */
function controlDir(env: NodeJS.ProcessEnv): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime)) return join(runtime, 'twinbox');
  return join(
    env.TMPDIR && isAbsolute(env.TMPDIR) ? env.TMPDIR : tmpdir(),
    `twinbox-${process.getuid?.() ?? 'user'}`,
  );
}

/**
 * Checks that the directory of a control socket is the user's own and private: anyone who can write
 * there could stand in for the daemon (and be told what to sync), or read what it answers. With
 * `create`, makes it first (0700). Returns false when it does not exist (no daemon can be there).
 */
export function checkControlDir(socketPath: string, create: boolean): boolean {
  if (process.platform === 'win32') return true;
  const dir = resolve(socketPath, '..');
  if (create) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const uid = process.getuid?.();
  if (!stat.isDirectory())
    throw new Error(
      `${dir}: not a directory (a symlink?); the control socket needs a private directory: remove it.`,
    );
  if (uid !== undefined && stat.uid !== uid)
    throw new Error(
      `${dir}: owned by uid ${stat.uid}, not by you (uid ${uid}); someone else made it, so a daemon's control socket cannot be trusted there: remove it, or set XDG_RUNTIME_DIR.`,
    );
  if ((stat.mode & 0o077) !== 0)
    throw new Error(
      `${dir}: open to others (mode ${(stat.mode & 0o777).toString(8)}); a control socket needs a private directory: chmod 700 it.`,
    );
  return true;
}
