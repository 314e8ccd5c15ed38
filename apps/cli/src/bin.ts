#!/usr/bin/env node
import module from 'node:module';
import { setFlagsFromString } from 'node:v8';

// Worker threads start their young generation at the size their `resourceLimits` caps it to (24 MB
// for a side, less for the state: @twinbox/config's limits), rather than at V8's 1-2 MB and growing.
// Set before anything is loaded, so that every run compiles under the same flags (V8's code cache is
// only reused under the flags it was made with). A threaded sync also stops the main thread's young
// generation from growing (sync.ts); sizes a heap is made with are fixed at start for the main thread,
// and a shebang cannot pass `--max-semi-space-size` portably.
setFlagsFromString('--min-semi-space-size=8');

// A reader that stops early (`twinbox --help | head -1`) closes the pipe: what is still written goes
// nowhere, as with other command-line tools, instead of ending the process with an unhandled EPIPE and
// a stack trace, possibly in the middle of a sync that is safe to finish.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

// V8's code cache on disk: a run after the first skips compiling the modules it loads, which is most
// of a no-op sync's start-up. Enabled before anything else is imported, hence the dynamic import.
module.enableCompileCache?.();
// Memory debugging only (heap-trace.ts): not loaded unless asked for.
const heapTrace = './heap-trace.js';
if (process.env.TWINBOX_HEAP_TRACE)
  ((await import(heapTrace)) as typeof import('./heap-trace.js')).traceHeap();
// `sync` and `status` through a running daemon first, from a small bundle of their own (quick.ts): most
// of a no-op sync's time would otherwise go into loading the program. Then, for every other command
// line, or with no daemon, the program bundled with its dependencies (scripts/bundle.mjs, part of the
// build): one file to read rather than a few hundred modules to resolve. Variables, so tsc leaves the
// build's output alone.
const quick = './quick.mjs';
const bundle = './twinbox.mjs';
const args = process.argv.slice(2);
const viaDaemon = args.includes('sync') || args.includes('status');
const code =
  (viaDaemon
    ? await ((await import(quick)) as typeof import('./quick.js')).throughDaemon(process.argv)
    : undefined) ?? (await ((await import(bundle)) as typeof import('./program.js')).main(process.argv));
process.exitCode = code;
// Interrupted: what was done is recorded; a server still being connected to in a worker thread must
// not keep the process alive until its timeout.
if (code === 130) process.exit(code);
