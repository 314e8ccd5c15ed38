// Long-running processes of a benchmark (twinboxd, interimap --watch): each started in a process group
// of its own, so that stopping it stops whatever it started and its CPU time can be read from /proc
// (lib/measure.mjs's groupCpu); every one still running is killed when the benchmark exits, however it
// exits. For twinboxd, its JSON log lines as they come, and its pairs' live state over the control
// socket.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const running = new Set();

/** Kills every resident process still running: for an exit handler, so synchronous. */
export function killResidents() {
  for (const r of running) {
    try {
      process.kill(-r.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

/**
 * Starts `command` detached (a process group of its own), its output read line by line: lines that
 * parse as JSON are kept as objects (twinboxd logs JSON lines), the rest as text. `waitFor` resolves
 * with the first line that passes a check, from the start; `stop` sends SIGTERM to the group, then
 * SIGKILL after `graceMs`.
 */
export function startResident(command, args, { env = {}, name = command } = {}) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = new Set();
  let ended = false;
  const collect = (stream) => {
    let buffered = '';
    stream.on('data', (chunk) => {
      buffered += chunk;
      const parts = buffered.split('\n');
      buffered = parts.pop();
      for (const part of parts) {
        if (!part.trim()) continue;
        try {
          lines.push(JSON.parse(part));
        } catch {
          lines.push(part);
        }
      }
      for (const w of waiters) w();
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      ended = true;
      running.delete(resident);
      for (const w of waiters) w();
      resolve(code ?? signal);
    }),
  );
  const tail = () =>
    lines
      .slice(-15)
      .map((l) => (typeof l === 'string' ? l : JSON.stringify(l)))
      .join('\n');
  const resident = {
    pid: child.pid,
    lines,
    exited,
    waitFor(check, ms = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(look);
          reject(
            new Error(`${name} did not log the line waited for within ${ms} ms. Its last lines:\n${tail()}`),
          );
        }, ms);
        const look = () => {
          const found = lines.find(check);
          if (found || ended) {
            clearTimeout(timer);
            waiters.delete(look);
            if (found) resolve(found);
            else reject(new Error(`${name} exited. Its last lines:\n${tail()}`));
          }
        };
        waiters.add(look);
        look();
      });
    },
    async stop(graceMs = 5000) {
      if (ended) return exited;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // gone meanwhile
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  running.add(resident);
  return resident;
}

/** Resident memory of one process (a Node process with its worker threads), in MB. */
export function rssMb(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const { connectControl, controlSocketPath } = await import(`${root}packages/config/dist/control/index.js`);

/** The daemon's live pairs (as `twinbox status --json` shows them), through its control socket. */
export async function pairStatus(config) {
  const client = await connectControl(controlSocketPath(config));
  if (!client) throw new Error(`no twinboxd answers for ${config}`);
  try {
    return await client.status();
  } finally {
    client.close();
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every pair of the daemon serving `config` has synced at least once and has been idle
 * (watching or polling, not syncing) for `quietMs`: a change it makes itself (a file written into a
 * watched Maildir, an APPEND the server then reports) comes back as a notice and a short sync, which
 * must be over before the next measurement starts.
 */
export async function waitIdle(config, { quietMs = 300, timeoutMs = 120_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let quietSince;
  for (;;) {
    let pairs = [];
    try {
      pairs = await pairStatus(config);
    } catch {
      // not listening yet
    }
    const idle =
      pairs.length > 0 && pairs.every((p) => p.lastSync && (p.state === 'watching' || p.state === 'polling'));
    if (!idle) quietSince = undefined;
    else quietSince ??= Date.now();
    if (quietSince !== undefined && Date.now() - quietSince >= quietMs) return pairs;
    if (Date.now() > deadline)
      throw new Error(
        `twinboxd for ${config} did not settle within ${timeoutMs} ms: ${JSON.stringify(pairs)}`,
      );
    await sleep(50);
  }
}

/**
 * One `sync` of every pair asked of the daemon from this process, as `twinbox sync` asks it but
 * without starting a process: the connection, the daemon's hello, the request and its replies. Returns
 * the round trip and the daemon's own account of the sync (the `seconds` of its pair-done replies), in
 * ms.
 */
export async function requestSync(config) {
  const started = performance.now();
  const client = await connectControl(controlSocketPath(config));
  if (!client) throw new Error(`no twinboxd answers for ${config}`);
  let syncMs = 0;
  const errors = [];
  try {
    await client.sync({ pairs: [] }, (reply) => {
      if (reply.type === 'pair-done') syncMs += reply.seconds * 1000;
      if (reply.type === 'pair-error') errors.push(`${reply.pair}: ${reply.message}`);
    });
  } finally {
    client.close();
  }
  if (errors.length) throw new Error(`twinboxd for ${config}: ${errors.join('; ')}`);
  return { ms: performance.now() - started, syncMs };
}
