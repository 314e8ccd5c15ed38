import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileReader } from '../src/read-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-read-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileReader', () => {
  for (const [how, options] of [
    ['from the page cache (synchronously)', {}],
    ['after a slow read (through the pool)', { slowReadMs: -1 }],
  ] as const) {
    it(`reads a whole file with its mtime, and a head, ${how}`, async () => {
      const file = join(dir, 'm');
      const big = Buffer.alloc(100 * 1024, 'x');
      await writeFile(file, big);
      const reader = new FileReader(options);
      // The first read decides: with every read slow, the ones after it go through the pool.
      await reader.read(file);
      expect(reader.parallel).toBe('slowReadMs' in options);
      const { data, mtimeMs } = await reader.read(file);
      expect(data.equals(big)).toBe(true);
      expect(mtimeMs).toBe((await stat(file)).mtimeMs);
      const head = await reader.head(file);
      expect(head.length).toBe(64 * 1024);
      expect(head.equals(big.subarray(0, 64 * 1024))).toBe(true);
      await writeFile(file, 'short');
      expect((await reader.head(file)).toString()).toBe('short');
      expect((await reader.read(file)).data.toString()).toBe('short');
    });
  }

  it('rejects with ENOENT for a file that is gone, either way', async () => {
    for (const reader of [new FileReader(), new FileReader({ slowReadMs: -1 })]) {
      await reader.read(join(dir, 'gone')).catch(() => {});
      await expect(reader.read(join(dir, 'gone'))).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(reader.head(join(dir, 'gone'))).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});
