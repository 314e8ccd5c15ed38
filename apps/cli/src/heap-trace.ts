import { appendFileSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { isMainThread, threadId, workerData } from 'node:worker_threads';

/**
 * The environment variable that turns the heap trace on: the file each thread appends its samples to.
 * A debugging aid for memory work (bench/README.md, "Memory of a first sync"), not a user setting.
 */
export const HEAP_TRACE_ENV = 'TWINBOX_HEAP_TRACE';

/**
 * Where the memory of a run goes, per thread: with `TWINBOX_HEAP_TRACE=<file>` set, every thread that
 * calls this (the main one from bin.js, each worker from its host) appends one JSON line every
 * `everyMs` (and one as it exits) with its isolate's heap, its young generation and its external and
 * ArrayBuffer memory, plus the process's RSS. Peak RSS alone says how much, not which isolate holds it
 * nor whether it is heap, young space or bodies in flight. Synchronous appends of a few hundred bytes:
 * lines from several threads do not interleave, and the cost (~0.1 ms per sample) is only paid when
 * the variable is set. Does nothing otherwise.
 */
export function traceHeap(everyMs = 100): void {
  const file = process.env[HEAP_TRACE_ENV];
  if (!file) return;
  const name = isMainThread
    ? 'main'
    : String((workerData as { name?: unknown } | undefined)?.name ?? threadId);
  const sample = () => {
    const heap = getHeapStatistics();
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    const usage = process.memoryUsage();
    const line = {
      pid: process.pid,
      thread: threadId,
      name,
      // Wall-clock ms: each thread's own performance clock starts with the thread.
      t: Date.now(),
      rss: usage.rss,
      heapTotal: heap.total_heap_size,
      heapUsed: heap.used_heap_size,
      heapPhysical: heap.total_physical_size,
      malloced: heap.malloced_memory,
      youngSize: young?.space_size ?? 0,
      youngUsed: young?.space_used_size ?? 0,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
    };
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {
      // A trace that cannot be written must not fail the sync it watches.
    }
  };
  sample();
  setInterval(sample, everyMs).unref();
  process.on('exit', sample);
}
