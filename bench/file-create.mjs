// What creating a file costs on this machine's disk, and whether deleting many files just before
// changes it: every message a Maildir receives (ours, mbsync's, the server's own when it is a Maildir
// like the fixture's Dovecot) is one file created, so this bounds every batch and first sync on that
// disk. Run it where the benchmarks' Maildirs and the fixture go (the temporary directory by default),
// next to any timing of deliveries: on the 2-core VM of bench/README.md the cost per file has moved
// between ~0.03 and ~0.9 ms from one quarter of an hour to the next (session 21).
//
//   node bench/file-create.mjs [--dir /tmp] [--files 2000] [--delete 30000]
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    files: { type: 'string', default: '2000' },
    delete: { type: 'string', default: '30000' },
  },
});
const files = Number(values.files);
const deleted = Number(values.delete);
const root = mkdtempSync(join(values.dir, 'twinbox-file-create-'));

/** Creates `n` empty files in a new directory `name`, as a Maildir delivery does (O_CREAT|O_EXCL). */
function createFiles(name, n) {
  const dir = join(root, name);
  mkdirSync(dir);
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < n; i++) closeSync(openSync(join(dir, `m${i}`), 'wx', 0o600));
  return { wall: ((performance.now() - t) * 1000) / n, system: process.cpuUsage(cpu).system / n };
}

function report(what, { wall, system }) {
  console.log(
    `${what.padEnd(40)} ${wall.toFixed(0).padStart(5)} µs wall, ${system.toFixed(0).padStart(5)} µs system`,
  );
}

try {
  let journal = 'unknown';
  try {
    journal = readdirSync('/proc/fs/jbd2').join(', ') || 'none';
  } catch {
    // Not Linux, or no ext4 loaded.
  }
  console.log(`${files} files per row, in ${values.dir}; ext4 journals (jbd2): ${journal}`);
  report('fresh directory, per file', createFiles('fresh', files));
  createFiles('many', deleted);
  rmSync(join(root, 'many'), { recursive: true });
  report(`right after deleting ${deleted} files`, createFiles('after', files));
  report('once more', createFiles('again', files));
} finally {
  rmSync(root, { recursive: true, force: true });
}
