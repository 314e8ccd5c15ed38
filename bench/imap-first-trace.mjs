// One IMAP→IMAP first sync (the corpus into an empty second user), traced: Twinbox talks plain IMAP
// on loopback through a proxy that counts each command verb per connection and the bytes each way,
// and the Dovecot processes' CPU is sampled every 250 ms, so what the server spends can be put next
// to what was asked of it. Usage: node bench/imap-first-trace.mjs [--bin apps/cli/dist/bin.js]
// [--multiplier 1] [--limit N] [--runs 1] [--tool twinbox|interimap] [--connections N (per account)] [--log FILE (the command lines,
// literals left out, and the server's short answers, by connection)]
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { emptyUser, homeOf, newUser, resetFromSeed, startFixture } from './lib/fixture.mjs';
import { dovecotGroup, groupCpu } from './lib/measure.mjs';

const { values } = parseArgs({
  options: {
    bin: { type: 'string', default: 'apps/cli/dist/bin.js' },
    multiplier: { type: 'string', default: '1' },
    limit: { type: 'string' },
    runs: { type: 'string', default: '1' },
    workers: { type: 'string', default: 'threads' },
    tool: { type: 'string', default: 'twinbox' },
    'cpu-prof': { type: 'string' },
    log: { type: 'string' },
    connections: { type: 'string' },
  },
});
const bin = resolve(values.bin);

/**
 * CPU seconds of each live process of the group, by the user it works for (an imap process's working
 * directory is its user's home; the other processes count as "dovecot").
 */
function cpuByUser(pgid, seen) {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== pgid) continue;
      let user = seen.get(name)?.user;
      if (user === undefined) {
        // An imap process works in its user's home.
        let cwd = '';
        try {
          cwd = readlinkSync(`/proc/${name}/cwd`);
        } catch {}
        user = /\/imap$/.test(readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0')[0])
          ? basename(cwd)
          : 'dovecot';
      }
      seen.set(name, { user, cpu: (Number(f[11]) + Number(f[12])) / 100 });
    } catch {
      // gone
    }
  }
}

const log = values.log ? resolve(values.log) : undefined;
if (log) writeFileSync(log, '');

/** A proxy that parses the client's command lines (skipping literals) and counts verbs. */
async function tracingProxy(port) {
  const stats = { up: 0, down: 0, verbs: new Map(), connections: 0, busy: new Map() };
  const server = createServer((client) => {
    stats.connections++;
    const conn = stats.connections;
    const pending = new Map();
    let down = '';
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      s.on('error', () => {});
      s.setNoDelay(true);
    }
    let buf = Buffer.alloc(0);
    let literal = 0;
    client.on('data', (chunk) => {
      stats.up += chunk.length;
      upstream.write(chunk);
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (literal > 0) {
          const n = Math.min(literal, buf.length);
          literal -= n;
          buf = buf.subarray(n);
          if (literal > 0) return;
        }
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const line = buf.subarray(0, eol).toString('latin1');
        buf = buf.subarray(eol + 2);
        const m = /\{(\d+)\+?\}$/.exec(line);
        if (m) literal = Number(m[1]);
        if (log) appendFileSync(log, `${conn} C: ${line.slice(0, 200)}\n`);
        const words = line.split(' ');
        if (words.length < 2 || /^\{/.test(words[0])) continue;
        let verb = words[1].toUpperCase();
        if (verb === 'UID') verb += ` ${words[2]?.toUpperCase()}`;
        if (!/^[A-Z]/.test(words[0]) && !/^[A-Za-z0-9.]+$/.test(words[0])) continue;
        stats.verbs.set(verb, (stats.verbs.get(verb) ?? 0) + 1);
        pending.set(words[0], { verb, t: performance.now() });
      }
    });
    upstream.on('data', (chunk) => {
      stats.down += chunk.length;
      client.write(chunk);
      down += chunk.toString('latin1');
      const cut = down.lastIndexOf('\r\n');
      if (cut < 0) return;
      for (const line of down.slice(0, cut).split('\r\n')) {
        if (log && !/^\* \d+ FETCH/.test(line) && line.length < 300 && /^[*A-Za-z0-9.+]+ /.test(line))
          appendFileSync(log, `${conn} S: ${line}\n`);
        const tag = line.slice(0, line.indexOf(' '));
        const p = pending.get(tag);
        if (!p || !/^\S+ (OK|NO|BAD)/.test(line)) continue;
        pending.delete(tag);
        const key = `conn ${conn} ${p.verb}`;
        const b = stats.busy.get(key) ?? { n: 0, ms: 0 };
        b.n++;
        b.ms += performance.now() - p.t;
        stats.busy.set(key, b);
      }
      down = down.slice(cut + 2);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, stats, stop: () => new Promise((r) => server.close(r)) };
}

const dir = mkdtempSync(join(tmpdir(), 'twinbox-trace-'));
const corpus = {
  multiplier: Number(values.multiplier),
  ...(values.limit ? { limit: Number(values.limit) } : {}),
};
const fx = await startFixture({ corpus, dir, log: (l) => console.error(l) });
try {
  const group = dovecotGroup(fx.configFile);
  const far = await newUser(fx.info, 'trace-s');
  const near = await newUser(fx.info, 'trace-d');
  for (let run = 0; run < Number(values.runs); run++) {
    resetFromSeed(fx.info, far.user);
    emptyUser(fx.info, near.user);
    const proxy = await tracingProxy(fx.info.port);
    const account = (name, u) =>
      `[accounts.${name}]\ntype = "imap"\nhost = "127.0.0.1"\nport = ${proxy.port}\ntls = "none"\nuser = "${u.user}"\npassword = "${u.password}"\n${values.connections ? `connections = ${values.connections}\n` : ''}`;
    const d = join(dir, `run${run}`);
    mkdirSync(d);
    let command;
    let env = process.env;
    if (values.tool === 'interimap') {
      // interimap over plain IMAP, for its command pattern and server cost next to Twinbox's.
      const cfg = join(d, 'interimap.conf');
      const side = (name, u) =>
        `[${name}]\ntype = imap\nhost = 127.0.0.1\nport = ${proxy.port}\nSTARTTLS = NO\nusername = ${u.user}\npassword = ${u.password}\n`;
      writeFileSync(
        cfg,
        `database = ${join(d, 'interimap.db')}\n\n${side('local', near)}\n${side('remote', far)}`,
        {
          mode: 0o600,
        },
      );
      command = ['interimap', [`--config=${cfg}`]];
      env = { ...env, XDG_CONFIG_HOME: d, XDG_DATA_HOME: d };
    } else {
      const cfg = join(d, 'twinbox.toml');
      writeFileSync(
        cfg,
        `workers = "${values.workers}"\n[state]\ndir = "${join(d, 'state')}"\n${account('far', far)}${account('near', near)}[pairs.mail]\nleft = "far"\nright = "near"\n`,
      );
      const prof = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [];
      command = [process.execPath, [...prof, bin, '-q', '-c', cfg, 'sync']];
    }
    const cpu0 = groupCpu(group);
    const t0 = performance.now();
    const samples = [];
    const perPid = new Map();
    cpuByUser(group, perPid);
    const base = new Map([...perPid].map(([pid, v]) => [pid, v.cpu]));
    const timer = setInterval(() => {
      samples.push([(performance.now() - t0) / 1000, groupCpu(group) - cpu0]);
      cpuByUser(group, perPid);
    }, 250);
    const child = spawn(command[0], command[1], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    const code = await new Promise((r) => child.on('exit', r));
    clearInterval(timer);
    const wall = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 300));
    const server = groupCpu(group) - cpu0;
    console.log(
      `run ${run + 1}: exit ${code}, wall ${wall.toFixed(2)} s, server CPU ${server.toFixed(2)} s, ` +
        `${proxy.stats.connections} connections, up ${(proxy.stats.up / 2 ** 20).toFixed(1)} MiB, down ${(proxy.stats.down / 2 ** 20).toFixed(1)} MiB`,
    );
    console.log(
      [...proxy.stats.verbs]
        .sort((a, b) => b[1] - a[1])
        .map(([v, n]) => `  ${v}: ${n}`)
        .join('\n'),
    );
    console.log(
      [...proxy.stats.busy]
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([v, b]) => `  ${v}: ${b.n} commands, ${(b.ms / 1000).toFixed(2)} s waiting`)
        .join('\n'),
    );
    const byUser = new Map();
    for (const [pid, { user, cpu }] of perPid)
      byUser.set(user, (byUser.get(user) ?? 0) + cpu - (base.get(pid) ?? 0));
    console.log(
      `  server CPU by user (live imap processes, sampled every 250 ms): ${[...byUser].map(([u, c]) => `${u === far.user ? 'source' : u === near.user ? 'target' : u} ${c.toFixed(2)} s`).join(', ')}`,
    );
    console.log(
      `  server CPU over time (s: cpu): ${samples
        .filter((_, i) => i % 2 === 1)
        .map(([t, c]) => `${t.toFixed(1)}:${c.toFixed(2)}`)
        .join(' ')}`,
    );
    await proxy.stop();
    void homeOf;
  }
} finally {
  await fx.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
