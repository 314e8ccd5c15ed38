// The client's CPU for reading the corpus's bodies in UID FETCH batches of 100: imapflow's fetch()
// (each row through its formatMessageResponse and its async iterator) against the driver's reader of
// the parsed rows (packages/driver-imap/src/fetch-bodies.ts). One session, plain IMAP on loopback; the
// two alternate, repeated; and the driver's reader with one FETCH of a whole folder, for what batches of
// 100 cost the server. Usage: node bench/fetch-bodies.mjs [--multiplier 1] [--repeat 5]
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFixture } from './lib/fixture.mjs';
import { dovecotGroup, groupCpu } from './lib/measure.mjs';

const { ImapFlow } = createRequire(new URL('../packages/driver-imap/package.json', import.meta.url))(
  'imapflow',
);
const { fetchBodies } = await import('../packages/driver-imap/dist/fetch-bodies.js').catch(() => ({}));

const { values } = parseArgs({
  options: { multiplier: { type: 'string', default: '1' }, repeat: { type: 'string', default: '5' } },
});
const dir = mkdtempSync(join(tmpdir(), 'twinbox-fetch-bodies-'));
const fx = await startFixture({
  corpus: { multiplier: Number(values.multiplier) },
  dir,
  log: (l) => console.error(l),
});
try {
  const group = dovecotGroup(fx.configFile);
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: fx.info.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: fx.seed.user, pass: fx.seed.password },
    logger: false,
  });
  await client.connect();
  const boxes = (await client.list()).map((b) => b.path);
  const ways = {
    imapflow: async (set) => {
      let n = 0;
      for await (const m of client.fetch(
        set,
        { uid: true, source: true, flags: true, internalDate: true },
        { uid: true },
      ))
        n += m.source.length;
      return n;
    },
  };
  if (fetchBodies) {
    ways['driver, one FETCH per folder'] = 'whole';
    ways.driver = async (set) => {
      let n = 0;
      await fetchBodies(client, set, true, (row) => {
        n += row.source.length;
      });
      return n;
    };
  }
  const results = new Map();
  for (let rep = 0; rep < Number(values.repeat); rep++) {
    for (const [name, read] of rep % 2 ? Object.entries(ways).reverse() : Object.entries(ways)) {
      const server0 = groupCpu(group);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let bytes = 0;
      for (const box of boxes) {
        const lock = await client.getMailboxLock(box);
        try {
          const uids = (await client.search({ all: true }, { uid: true })) || [];
          if (read === 'whole') {
            if (uids.length)
              await fetchBodies(client, '1:*', true, (row) => {
                bytes += row.source.length;
              });
          } else
            for (let i = 0; i < uids.length; i += 100) bytes += await read(uids.slice(i, i + 100).join(','));
        } finally {
          lock.release();
        }
      }
      const cpu = process.cpuUsage(cpu0);
      const wall = (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 100));
      const server = groupCpu(group) - server0;
      const r = results.get(name) ?? [];
      r.push({ cpu: (cpu.user + cpu.system) / 1e6, wall, bytes, server });
      results.set(name, r);
    }
  }
  await client.logout();
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log('| reader | client CPU s, median [min–max] | server CPU s, median | wall s, median | MiB |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, r] of results) {
    const cpu = r.map((x) => x.cpu);
    console.log(
      `| ${name} | ${med(cpu).toFixed(2)} [${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}] | ${med(r.map((x) => x.server)).toFixed(2)} | ${med(r.map((x) => x.wall)).toFixed(2)} | ${(r[0].bytes / 2 ** 20).toFixed(1)} |`,
    );
  }
} finally {
  await fx.server.stop();
  rmSync(dir, { recursive: true, force: true });
}
