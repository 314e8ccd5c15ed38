// What move detection's descriptions cost a store, with and without the sizes a moved message could
// have (core's DescribeRequest): a folder of --messages messages written through the driver, --ids of
// them described (as the halves of pairs that left a folder on the other side), once with no request
// (every message's Message-ID read) and once with sizes none of them has (sizes only).
// --store maildir (the default): the request spares reading each file's head (names only). Warm: the
// files read once before; cold: dropped from the page cache before each round (needs root:
// /proc/sys/vm/drop_caches; left out otherwise). --store imap: a user of the Dovecot fixture
// (dovecot-imapd), over IMAPS on loopback; the request spares the header in the FETCH (warm only: the
// server's own caches are not ours to drop). Wall and CPU time of this process, median of --rounds.
//
//   node bench/describe-sizes.mjs [--store maildir|imap] [--messages 20000] [--ids 300] [--rounds 7] [--dir /tmp]
import { execSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    ids: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '7' },
    dir: { type: 'string' },
    store: { type: 'string', default: 'maildir' },
  },
});
if (!['maildir', 'imap'].includes(values.store)) throw new Error('--store is maildir or imap');

const root = mkdtempSync(join(values.dir ?? tmpdir(), 'twinbox-describe-sizes-'));
// Opens a driver on the folder: a new Maildir driver each time, or a new IMAP session.
let open;
let server;
if (values.store === 'imap') {
  const { startDovecot } = await import('../tooling/dovecot/dist/index.js');
  const { ImapDriver } = await import('../packages/driver-imap/dist/index.js');
  server = await startDovecot();
  const { user, password } = await server.addUser('bench');
  const account = {
    host: 'localhost',
    port: server.info.tlsPort,
    tls: 'implicit',
    ca: server.info.ca,
    user,
    password,
  };
  open = () => ImapDriver.connect(account);
} else {
  const { MaildirDriver } = await import('../packages/driver-maildir/dist/index.js');
  open = () => MaildirDriver.open({ root, fsync: false });
}
const enc = new TextEncoder();
let seed = 1;
const random = () => {
  seed = (seed * 48271) % 2147483647;
  return seed / 2147483647;
};
try {
  const writer = await open();
  const ids = [];
  for (let start = 0; start < Number(values.messages); start += 500) {
    const batch = [];
    for (let i = start; i < Math.min(Number(values.messages), start + 500); i++) {
      // Sizes like the SpamAssassin corpus's: most a few KB, some tens.
      const pad = 'x'.repeat(Math.floor(1500 + random() ** 3 * 40_000));
      batch.push({
        body: enc.encode(`Message-ID: <m${i}@bench>\r\nSubject: ${i}\r\n\r\n${pad}\r\n`),
        flags: ['\\Seen'],
      });
    }
    for (const o of await writer.appendMessages(['INBOX'], batch)) if (o.ok) ids.push(o.id);
  }
  await writer.close();
  const picked = new Set();
  while (picked.size < Math.min(Number(values.ids), ids.length))
    picked.add(ids[Math.floor(random() * ids.length)]);
  const asked = [...picked];

  // Only a Maildir's files can be dropped from the page cache (the server's caches are not ours).
  let canDrop = values.store === 'maildir';
  try {
    accessSync('/proc/sys/vm/drop_caches', constants.W_OK);
  } catch {
    canDrop = false;
  }
  const ways = { 'no request (Message-IDs read)': undefined, 'sizes none has (sizes only)': { sizes: [1] } };
  const results = {};
  for (const cache of canDrop ? ['warm', 'cold'] : ['warm']) {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const [way, request] of Object.entries(ways)) {
        // A driver as a sync has one: the folder listed (its names read), then the descriptions.
        const driver = await open();
        await driver.listMessages(['INBOX'], {});
        if (cache === 'cold') execSync('sync; echo 1 > /proc/sys/vm/drop_caches');
        else await driver.describeMessages(['INBOX'], asked);
        const cpu = process.cpuUsage();
        const t0 = performance.now();
        const out = await driver.describeMessages(['INBOX'], asked, request);
        const wall = performance.now() - t0;
        const used = process.cpuUsage(cpu);
        if (out.length !== asked.length) throw new Error(`described ${out.length} of ${asked.length}`);
        await driver.close();
        const key = `${cache}\t${way}`;
        if (!results[key]) results[key] = [];
        results[key].push({ wall, cpu: (used.user + used.system) / 1000 });
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `${values.store}: ${values.ids} of ${values.messages} messages described, median of ${values.rounds} rounds:\n`,
  );
  console.log('| cache | way | wall ms | CPU ms |\n| ----- | --- | ------- | ------ |');
  for (const [key, runs] of Object.entries(results)) {
    const [cache, way] = key.split('\t');
    console.log(
      `| ${cache} | ${way} | ${median(runs.map((r) => r.wall)).toFixed(1)} | ${median(runs.map((r) => r.cpu)).toFixed(1)} |`,
    );
  }
} finally {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
}
