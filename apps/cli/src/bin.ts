#!/usr/bin/env node
import module from 'node:module';
import { setFlagsFromString } from 'node:v8';

// The young generation of every V8 heap in this process, fixed at its starting size rather than grown
// up to V8's 64 MB by a busy thread and kept: set before anything is loaded, so that every run compiles
// under the same flags (V8's code cache is only reused under the flags it was made with). The main
// thread's stays at V8's first 1-2 MB: in a first sync it only passes listings and bodies between the threads
// (its 64 MB of mostly empty young space was a fifth of the peak RSS at 60,000 messages, and a small
// one cost no CPU we could measure). Worker threads start at theirs, which their `resourceLimits`
// caps (24 MB for a side, less for the state: @twinbox/config's limits), so they need no growth. Only
// flags read as they are used can work here: the sizes a heap is made with are fixed at start for the
// main thread (`--max-semi-space-size` would need the command line, and a shebang cannot pass it
// portably).
setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--min-semi-space-size=8');

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
