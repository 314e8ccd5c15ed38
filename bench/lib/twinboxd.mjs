// A resident twinboxd for the benchmarks (the built apps/daemon), and what the kernel says about it:
// resident memory and threads from /proc/PID/status, its TCP connections to a port from the socket
// inodes its descriptors point at. The daemon's JSON log goes to a file; its warnings and errors are
// counted as they come, so that a long run can report them without keeping every line.
import { spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connectControl, controlSocketPath } from '../../packages/config/dist/control/index.js';

const bin = new URL('../../apps/daemon/dist/bin.js', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// pino's levels.
const WARN = 40;
const ERROR = 50;

/**
 * Starts `twinboxd -c config` with `args`, its stdout and stderr appended to `logFile`. Returns its pid,
 * `problems` (counts of warn and error lines, the first 200 of them, and stderr's length), `waitFor`
 * (the next log line that passes a check), and `stop` (SIGTERM, then SIGKILL after 15 s).
 */
export function startTwinboxd({ config, logFile, args = [], env = {} }) {
  const child = spawn(process.execPath, [bin, '-c', config, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  const problems = { warn: 0, error: 0, stderrBytes: 0, lines: [] };
  const listeners = new Set();
  let partial = '';
  child.stdout.on('data', (chunk) => {
    log.write(chunk);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const text of parts) {
      if (!text.trim()) continue;
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        line = { level: ERROR, msg: `(not JSON) ${text}` };
      }
      if (line.level >= WARN) {
        problems[line.level >= ERROR ? 'error' : 'warn']++;
        if (problems.lines.length < 200)
          problems.lines.push({ time: line.time, level: line.level, pair: line.pair, msg: line.msg });
      }
      for (const listener of listeners) listener(line);
    }
  });
  child.stderr.on('data', (chunk) => {
    log.write(chunk);
    problems.stderrBytes += chunk.length;
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return {
    pid: child.pid,
    problems,
    exited,
    /** The next log line for which `check` holds; rejects after `ms` or when the daemon exits. */
    waitFor(check, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const done = (fn, value) => {
          clearTimeout(timer);
          listeners.delete(look);
          fn(value);
        };
        const timer = setTimeout(
          () =>
            done(reject, new Error(`twinboxd did not log the line awaited within ${ms} ms; see ${logFile}`)),
          ms,
        );
        const look = (line) => check(line) && done(resolve, line);
        listeners.add(look);
        void exited.then((code) =>
          done(reject, new Error(`twinboxd exited (${code}) before the line awaited; see ${logFile}`)),
        );
      });
    },
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(killer);
      await new Promise((resolve) => log.end(resolve));
      return code;
    },
  };
}

/** Resident memory (bytes) and thread count of a process, from /proc/PID/status. */
export function processStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1]);
  return { rssBytes: field('VmRSS') * 1024, threads: field('Threads') };
}

/**
 * Established TCP connections of a process to `port` on the other end: the socket inodes of its file
 * descriptors, looked up in its network namespace's tcp tables (ss would need parsing too, and is not
 * on every image).
 */
export function connectionsTo(pid, port) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      // f[2] is the remote address:port, f[3] the state (01: established), f[9] the inode.
      if (f.length > 9 && f[2].endsWith(`:${hexPort}`) && f[3] === '01' && inodes.has(f[9])) count++;
    }
  }
  return count;
}

/** The pairs' status as `twinbox status` gets it, over the daemon's control socket; [] if none answers. */
export async function pairStatuses(config) {
  const client = await connectControl(controlSocketPath(config));
  if (!client) return [];
  try {
    return await client.status();
  } finally {
    client.close();
  }
}

const watching = (s) => s.state === 'watching' && s.watch?.left && s.watch?.right;

/**
 * Waits until `pairs` pairs are watching both sides and stay so for `quietMs` (the syncs that the
 * first pass and the daemon's own writes set off are over). Returns the ms until they first all were.
 */
export async function waitSettled(config, pairs, { quietMs = 3000, timeoutMs = 600_000 } = {}) {
  const started = Date.now();
  let allSince;
  let firstAll;
  while (Date.now() - started < timeoutMs) {
    const statuses = await pairStatuses(config).catch(() => []);
    if (statuses.length === pairs && statuses.every(watching)) {
      allSince ??= Date.now();
      firstAll ??= Date.now() - started;
      if (Date.now() - allSince >= quietMs) return firstAll;
    } else allSince = undefined;
    await sleep(250);
  }
  const statuses = await pairStatuses(config).catch(() => []);
  const stuck = statuses.filter((s) => !watching(s)).map((s) => `${s.name}: ${s.state}`);
  throw new Error(
    `${pairs} pairs were not all watching within ${timeoutMs / 1000} s (${statuses.length} answered; not watching: ${stuck.slice(0, 10).join(', ') || 'none'})`,
  );
}

/** One sample of a Prometheus text page (the first line of that name), or undefined. */
export async function scrape(url, name) {
  const text = await (await fetch(new URL('metrics', url))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
