import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

/**
 * `TWINBOX_TRACE_CALLS=<file>`: every call made through a component handle, in every thread, appends
 * a line to that file when it settles, its fields separated by tabs (component names hold spaces):
 * its start and end (ms since the epoch, from the same clock in every thread), its length, the calling
 * thread, `component.method`, its first argument when that is a string (a folder, for a Twinbox
 * side) or else nothing, and the process id (several processes may trace into one file: a daemon
 * and the CLI runs beside it). For finding where a sync's time goes across threads;
 * a profiler sees one thread at a time. Read once, when this module loads, so a call pays nothing
 * when it is unset. Lines are appended synchronously (the trace is for measuring, not for production).
 */
const traceFile = process.env.TWINBOX_TRACE_CALLS || undefined;

const now = () => performance.timeOrigin + performance.now();

/** Wraps a call's promise so its span is traced, when tracing is on; otherwise returns it as is. */
export function traced<T>(
  component: string,
  method: string,
  args: readonly unknown[],
  call: () => Promise<T>,
): Promise<T> {
  if (!traceFile) return call();
  const start = now();
  const promise = call();
  const subject = typeof args[0] === 'string' ? args[0].replace(/[\t\n]/g, ' ') : '';
  const done = () => {
    const end = now();
    appendFileSync(
      traceFile,
      `${start.toFixed(1)}\t${end.toFixed(1)}\t${(end - start).toFixed(1)}\tt${threadId}\t${component}.${method}\t${subject}\t${process.pid}\n`,
    );
  };
  promise.then(done, done);
  return promise;
}
