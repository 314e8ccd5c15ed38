// Measuring one command the way a user would feel it: wall time, user and system CPU of the command and
// everything it starts, the peak resident memory of that whole process tree, and what the IMAP server
// burnt meanwhile.
//
// CPU comes from GNU time (wait4's rusage covers every descendant that was waited for). Peak RSS does
// not: rusage's maxrss is the largest single process, never the sum, so a tool that forks helpers (or a
// tunnel) would look smaller than it is. The tree's RSS is therefore sampled from /proc every
// `sampleMs`, summed over the command's process group (it is started detached, so every descendant
// shares the group unless it calls setsid, which none of the measured tools does). Sampling can miss a
// short spike between two samples, so the larger of the sampled sum and rusage's maxrss is reported.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PAGE = 4096;
// USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux this runs on.
const HZ = 100;

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone between readdir and read
  }
}

/** Every live process as [pid, fields]; fields[2] is the process group, fields[11..14] CPU ticks. */
function processes() {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(name);
    if (fields) out.push([Number(name), fields]);
  }
  return out;
}

/** Sum of RSS (bytes) over a process group, leaving out `exclude` (GNU time itself). */
function groupRss(pgid, exclude) {
  let sum = 0;
  for (const [pid, f] of processes())
    if (Number(f[2]) === pgid && pid !== exclude) sum += Number(f[21]) * PAGE;
  return sum;
}

/**
 * CPU seconds (user + system) a process group has used, its reaped children included: a process's
 * cutime/cstime already hold its waited-for children, and live children are counted on their own, so
 * nothing is counted twice. Dovecot's master reaps each finished imap process, so the total grows by
 * exactly what the server spent on a sync.
 */
export function groupCpu(pgid) {
  let ticks = 0;
  for (const [, f] of processes())
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return ticks / HZ;
}

/** CPU seconds (user + system) one process has used so far, all its threads included. */
export function processCpu(pid) {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / HZ : Number.NaN;
}

/**
 * CPU seconds (user + system) each kind of thread of one process has used so far, by its name
 * (/proc/<pid>/task/<tid>/comm): Node's `MainThread`, worker threads (`WorkerThread` unless named),
 * V8's background threads (`V8Worker`: concurrent compiling and GC), libuv's pool (`libuv-worker`).
 * Numbered names are summed under one. Threads gone since are not counted: compare two readings of
 * threads that live through both.
 */
export function threadCpu(pid) {
  const out = {};
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '');
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / HZ;
    } catch {
      // gone
    }
  }
  return out;
}

/** The process group of the Dovecot fixture started with `configFile` (its master's group). */
export function dovecotGroup(configFile) {
  for (const [pid] of processes()) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      if (cmd.includes(configFile) && cmd.some((a) => a.endsWith('dovecot')))
        return Number(statFields(pid)[2]);
    } catch {
      // gone
    }
  }
  throw new Error(`no Dovecot running with ${configFile}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a command under GNU time, sampling its process tree's RSS; with `serverGroup`, the server's CPU
 * before and after. `wall` is GNU time's (10 ms steps); `elapsed` is this process's clock from the
 * spawn to the close of the command's output, to the microsecond, GNU time's own start (~1 ms)
 * included: for commands of a few tens of ms, where 10 ms steps say little. Never throws for the command's own failure: the result carries `exitCode` and the
 * tail of its output, and the caller decides.
 */
export async function measure(
  command,
  args,
  { env = {}, cwd, serverGroup, sampleMs = 50, timeoutMs = 3600_000 } = {},
) {
  const timeFile = join(tmpdir(), `twinbox-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const serverBefore = serverGroup === undefined ? undefined : groupCpu(serverGroup);
  const startedAt = performance.now();
  const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', command, ...args], {
    env: { ...process.env, ...env },
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d) => {
    output = (output + d).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, groupRss(child.pid, child.pid));
  }, sampleMs);
  const killer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, timeoutMs);
  const exitCode = await new Promise((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? signal)),
  );
  const elapsed = (performance.now() - startedAt) / 1000;
  clearInterval(sampler);
  clearTimeout(killer);
  let wall = Number.NaN;
  let user = Number.NaN;
  let sys = Number.NaN;
  let maxrss = 0;
  try {
    const last = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
    [wall, user, sys, maxrss] = last;
  } catch {
    // killed before time could write
  }
  rmSync(timeFile, { force: true });
  let server;
  if (serverGroup !== undefined) {
    // Give Dovecot's master a moment to reap the imap processes that served this run.
    await sleep(150);
    server = groupCpu(serverGroup) - serverBefore;
  }
  return {
    exitCode,
    wall,
    elapsed,
    user,
    sys,
    rssMb: Math.max(peak, maxrss * 1024) / 1024 / 1024,
    server,
    output: exitCode === 0 ? '' : output,
  };
}
