// Delivers messages as a mail delivery agent does, from a process of its own: each file is written
// to `tmp/`, then renamed into `new/`, `gap` ms apart.
// Usage: node mda.mjs <maildir folder dir> [count] [tag] [gap]
import { renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const [dir, count = '1', tag = 'mda', gap = '0'] = process.argv.slice(2);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < Number(count); i++) {
  const name = `${Math.floor(Date.now() / 1000)}.M${i}P${process.pid}.${hostname()}`;
  writeFileSync(join(dir, 'tmp', name), `Message-ID: <${tag}-${i}@mda>\nSubject: ${tag} ${i}\n\nbody\n`);
  renameSync(join(dir, 'tmp', name), join(dir, 'new', name));
  if (Number(gap) > 0) Atomics.wait(pause, 0, 0, Number(gap));
}
