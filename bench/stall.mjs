// How long `twinbox sync` takes to give up on a server that stops answering, and to stop on SIGTERM
// while a command is outstanding (issue 15, item 3). A scripted server (tooling/fake-imap) holds three
// folders of three messages and never answers the SELECT of folder B; the built CLI syncs it into a
// temporary Maildir, with the account's default timeout (20 s):
//   - stalled: how long until the sync exits by itself, with which code and message;
//   - sigterm: SIGTERM once the sync waits on B, and how long from the signal to the exit.
// Each --runs times; medians with the range. Run after `pnpm build`.
//
//   node bench/stall.mjs [--runs 3] [--bin apps/cli/dist/bin.js]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    bin: { type: 'string', default: 'apps/cli/dist/bin.js' },
  },
});
const root = resolve(import.meta.dirname, '..');
const bin = resolve(root, values.bin);
const { FakeImapServer } = await import(join(root, 'tooling/fake-imap/dist/index.js'));

const selectsB = (cmd) => cmd.name === 'SELECT' && /^"?B"?( |$)/.test(cmd.args);

async function once(mode) {
  const server = await FakeImapServer.start();
  for (const f of ['A', 'B', 'INBOX'])
    for (let i = 1; i <= 3; i++)
      server.add(f, `Message-ID: <${f}${i}@bench>\r\nSubject: ${f} ${i}\r\n\r\nbody\r\n`);
  server.script = (cmd) => (selectsB(cmd) ? { stall: true } : undefined);
  const dir = mkdtempSync(join(tmpdir(), 'twinbox-stall-'));
  const { port, user, password } = server.account;
  writeFileSync(
    join(dir, 'config.toml'),
    `[state]\ndir = "${dir}/state"\n[accounts.remote]\ntype = "imap"\nhost = "127.0.0.1"\nport = ${port}\ntls = "none"\nuser = "${user}"\npassword = "${password}"\n[accounts.local]\ntype = "maildir"\npath = "Mail"\n[pairs.mail]\nleft = "remote"\nright = "local"\n`,
  );
  const started = performance.now();
  const child = spawn(process.execPath, [bin, '-c', join(dir, 'config.toml'), 'sync'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  let signalled;
  if (mode === 'sigterm') {
    while (!server.log.some(selectsB)) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    signalled = performance.now();
    child.kill('SIGTERM');
  }
  const code = await new Promise((r) => child.on('exit', r));
  const ended = performance.now();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  return {
    seconds: ((ended - (signalled ?? started)) / 1000).toFixed(2),
    code,
    message: stderr.trim().split('\n').at(-1),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const mode of ['stalled', 'sigterm']) {
  const runs = [];
  for (let i = 0; i < Number(values.runs); i++) runs.push(await once(mode));
  const s = runs.map((r) => Number(r.seconds));
  const what =
    mode === 'stalled' ? 'stalled server, until the sync exits' : 'SIGTERM while waiting, until the exit';
  console.log(
    `${what}: median ${median(s)} s [${Math.min(...s)}–${Math.max(...s)}], exit codes ${[...new Set(runs.map((r) => r.code))].join(', ')}`,
  );
  console.log(`  last message: ${runs.at(-1).message}`);
}
