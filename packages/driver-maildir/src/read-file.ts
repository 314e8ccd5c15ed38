import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** A sync read slower than this came from the disk, not the page cache. */
const SLOW_READ_MS = 2;
/** How long reads go through libuv's pool, several at once, after a slow one. */
const PARALLEL_FOR_MS = 30_000;
/** How much of a file a head read takes: more than any header a listing needs. */
const HEAD_BYTES = 64 * 1024;

/**
 * Reads message files whole or their first bytes. Synchronously while they come from the page cache,
 * as they mostly do: fs/promises costs each file an open, a stat, a read and a close on libuv's pool
 * (2,000 cached files of 1.5-40 KB: 125 ms of CPU and 89 ms against 21 and 20 read one after the
 * other; `node bench/maildir-reads.mjs`). Through the pool, 16 files at once, for a while after a
 * read took long, since a slow disk serves reads in parallel faster. (On this machine's SSD even
 * files just dropped from the cache read in under 0.1 ms each: 180 ms one after the other against
 * 148 through the pool, at half the CPU.)
 */
export class FileReader {
  #parallelUntil = 0;
  readonly #slowReadMs: number;

  /** `slowReadMs`: from how long a read counts as slow (tests set -1: every read is). */
  constructor(options: { slowReadMs?: number } = {}) {
    this.#slowReadMs = options.slowReadMs ?? SLOW_READ_MS;
  }

  /** The whole file and its mtime. */
  async read(file: string): Promise<{ data: Buffer; mtimeMs: number }> {
    if (this.#parallel()) {
      const handle = await open(file, 'r');
      try {
        const info = await handle.stat();
        return { data: await handle.readFile(), mtimeMs: info.mtimeMs };
      } finally {
        await handle.close();
      }
    }
    return this.#timed(() => {
      const fd = openSync(file, 'r');
      try {
        const info = fstatSync(fd);
        return { data: readFileSync(fd), mtimeMs: info.mtimeMs };
      } finally {
        closeSync(fd);
      }
    });
  }

  /** The file's first {@link HEAD_BYTES} bytes. */
  async head(file: string): Promise<Buffer> {
    const chunk = Buffer.allocUnsafe(HEAD_BYTES);
    if (this.#parallel()) {
      const handle = await open(file, 'r');
      try {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, 0);
        return chunk.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    }
    return this.#timed(() => {
      const fd = openSync(file, 'r');
      try {
        return chunk.subarray(0, readSync(fd, chunk, 0, chunk.length, 0));
      } finally {
        closeSync(fd);
      }
    });
  }

  /** Whether reads go through the pool now (a slow read was seen lately). For tests. */
  get parallel(): boolean {
    return this.#parallel();
  }

  #parallel(): boolean {
    return Date.now() < this.#parallelUntil;
  }

  #timed<T>(read: () => T): T {
    const start = performance.now();
    try {
      return read();
    } finally {
      if (performance.now() - start > this.#slowReadMs) this.#parallelUntil = Date.now() + PARALLEL_FOR_MS;
    }
  }
}
