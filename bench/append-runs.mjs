// Dovecot's CPU for storing the corpus by MULTIAPPEND in runs of various sizes, with or without the
// NOOP + STATUS Twinbox sent before each batch of 100: what the server spends per command, so the
// driver's run bounds can be chosen from numbers. Each configuration empties the target user, selects
// each folder (as the driver has it selected after listing it) and appends the folder's messages in
// runs; configurations alternate, repeated. Plain IMAP on loopback, one session.
// Usage: node bench/append-runs.mjs [--multiplier 1] [--repeat 3] [--runs 100:1,128:1,100:4,1000:4]
//   (a run is messages:MiB), [--status] (also each run with NOOP + STATUS before every 100 messages),
//   [--unselected] (also each with the folder not selected while appending)
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { appendChunks, multiAppend } from '../packages/driver-imap/dist/multiappend.js';
import { emptyUser, newUser, startFixture } from './lib/fixture.mjs';
import { dovecotGroup, groupCpu } from './lib/measure.mjs';

const { ImapFlow } = createRequire(new URL('../packages/driver-imap/package.json', import.meta.url))(
  'imapflow',
);

const { values } = parseArgs({
  options: {
    multiplier: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '3' },
    runs: { type: 'string', default: '50:1,100:1,128:1,100:4,250:4,1000:4,1000:16' },
    status: { type: 'boolean', default: false },
    unselected: { type: 'boolean', default: false },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'twinbox-append-runs-'));
const fx = await startFixture({
  corpus: { multiplier: Number(values.multiplier) },
  dir,
  log: (l) => console.error(l),
});
const client = (u) =>
  new ImapFlow({
    host: '127.0.0.1',
    port: fx.info.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: u.user, pass: u.password },
    logger: false,
  });
try {
  const group = dovecotGroup(fx.configFile);
  const src = client(fx.seed);
  await src.connect();
  const folders = [];
  for (const box of await src.list()) {
    const lock = await src.getMailboxLock(box.path);
    const items = [];
    try {
      for await (const m of src.fetch('1:*', { source: true, flags: true, internalDate: true }))
        items.push({
          body: m.source,
          flags: [...m.flags].filter((f) => f.startsWith('\\') && f !== '\\Recent'),
          internalDate: m.internalDate.getTime(),
        });
    } finally {
      lock.release();
    }
    // Twinbox's names need not be Dovecot's; plain ones keep mUTF-7 out of this.
    folders.push({ path: box.path === 'INBOX' ? 'INBOX' : `F${folders.length}`, items });
  }
  await src.logout();
  const configs = values.runs.split(',').map((r) => {
    const [n, mib] = r.split(':').map(Number);
    return { n, mib, status: false };
  });
  if (values.status) for (const c of [...configs]) configs.push({ ...c, status: true });
  if (values.unselected) for (const c of [...configs]) configs.push({ ...c, unselected: true });
  const results = new Map();
  const target = await newUser(fx.info, 'runs-target');
  for (let rep = 0; rep < Number(values.repeat); rep++) {
    for (const c of rep % 2 ? [...configs].reverse() : configs) {
      emptyUser(fx.info, target.user);
      const cli = client(target);
      await cli.connect();
      const cpu0 = groupCpu(group);
      const t0 = performance.now();
      let commands = 0;
      for (const f of folders) {
        if (f.path !== 'INBOX') await cli.mailboxCreate(f.path);
        if (c.unselected) {
          if (cli.mailbox) await cli.mailboxClose();
        } else await cli.mailboxOpen(f.path);
        // The driver's unit: the engine's batches of 100, each split into runs.
        const batch = c.status ? 100 : f.items.length;
        for (let b = 0; b < f.items.length; b += batch) {
          const slice = f.items.slice(b, b + batch);
          if (c.status) {
            await cli.noop();
            await cli.status(f.path, {
              uidValidity: true,
              uidNext: true,
              messages: true,
              highestModseq: true,
            });
          }
          for (const run of appendChunks(
            slice.map((m) => m.body.length),
            () => false,
            { maxMessages: c.n, maxBytes: c.mib * 2 ** 20 },
          )) {
            await multiAppend(
              cli,
              f.path,
              run.map((i) => slice[i]),
            );
            commands++;
          }
        }
      }
      const wall = (performance.now() - t0) / 1000;
      await cli.logout();
      await new Promise((r) => setTimeout(r, 200));
      const cpu = groupCpu(group) - cpu0;
      const key = `${c.n} msgs / ${c.mib} MiB${c.status ? ' + NOOP,STATUS per 100' : ''}${c.unselected ? ', folder not selected' : ''}`;
      const r = results.get(key) ?? { cpu: [], wall: [], commands };
      r.cpu.push(cpu);
      r.wall.push(wall);
      results.set(key, r);
      console.error(`${key}: ${commands} APPENDs, server CPU ${cpu.toFixed(2)} s, wall ${wall.toFixed(2)} s`);
    }
  }
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log('| runs | APPEND commands | server CPU s, median [min–max] | wall s, median |');
  console.log('| --- | --- | --- | --- |');
  for (const [k, r] of results)
    console.log(
      `| ${k} | ${r.commands} | ${med(r.cpu).toFixed(2)} [${Math.min(...r.cpu).toFixed(2)}–${Math.max(...r.cpu).toFixed(2)}] | ${med(r.wall).toFixed(2)} |`,
    );
} finally {
  await fx.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
