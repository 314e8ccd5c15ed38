// What a Maildir driver's reads of message files cost: @twinbox/driver-maildir's FileReader reading
// synchronously (its way while files come from the page cache) against reading through libuv's pool,
// 16 files at once (its way after a slow read, and the driver's only way before), on the same files.
// Warm: read once before. Cold: dropped from the page cache first (needs root: /proc/sys/vm/drop_caches;
// left out otherwise). Wall and CPU time of this process, median of --rounds.
//
//   node bench/maildir-reads.mjs [--files 2000] [--rounds 5] [--dir /tmp]
import { execSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    dir: { type: 'string' },
  },
});
const { FileReader } = await import('../packages/driver-maildir/dist/read-file.js');
const { mapLimit } = await import('../packages/driver-maildir/dist/limit.js');

const root = mkdtempSync(join(values.dir ?? tmpdir(), 'twinbox-maildir-reads-'));
const cur = join(root, 'cur');
mkdirSync(cur);
const files = [];
// Sizes like the SpamAssassin corpus's: most a few KB, some tens.
let seed = 1;
const random = () => {
  seed = (seed * 48271) % 2147483647;
  return seed / 2147483647;
};
for (let i = 0; i < Number(values.files); i++) {
  const file = join(cur, `1700000000.M${i}P1.bench:2,S`);
  writeFileSync(file, Buffer.alloc(Math.floor(1500 + random() ** 3 * 40_000), 'x'));
  files.push(file);
}

let canDrop = true;
try {
  accessSync('/proc/sys/vm/drop_caches', constants.W_OK);
} catch {
  canDrop = false;
}
const drop = () => {
  execSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
};

const ways = {
  'sync (page cache)': async () => {
    const reader = new FileReader({ slowReadMs: Number.POSITIVE_INFINITY });
    for (const file of files) await reader.read(file);
  },
  'pool, 16 at once': async () => {
    const reader = new FileReader({ slowReadMs: -1 });
    await reader.read(files[0]);
    await mapLimit(files, 16, (file) => reader.read(file));
  },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(`${files.length} files, ${values.rounds} rounds, medians`);
console.log('| cache | way | wall ms | CPU ms |');
console.log('| --- | --- | --- | --- |');
try {
  for (const cold of canDrop ? [false, true] : [false]) {
    for (const [name, read] of Object.entries(ways)) {
      const wall = [];
      const cpu = [];
      for (let r = 0; r < Number(values.rounds); r++) {
        if (cold) drop();
        else await read();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await read();
        wall.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      }
      console.log(
        `| ${cold ? 'cold' : 'warm'} | ${name} | ${median(wall).toFixed(0)} | ${median(cpu).toFixed(0)} |`,
      );
    }
  }
  if (!canDrop) console.log('(cold left out: dropping the page cache needs root)');
} finally {
  rmSync(root, { recursive: true, force: true });
}
