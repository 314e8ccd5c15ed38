#!/usr/bin/env node
import module from 'node:module';

// V8's code cache on disk: a run after the first skips compiling the modules it loads, which is most
// of a no-op sync's start-up. Enabled before anything else is imported, hence the dynamic import.
module.enableCompileCache?.();
// The program bundled with its dependencies (scripts/bundle.mjs, part of the build): one file to read
// rather than a few hundred modules to resolve. A variable, so tsc leaves the build's output alone.
const bundle = './twinbox.mjs';
const { main } = (await import(bundle)) as typeof import('./program.js');
const code = await main(process.argv);
process.exitCode = code;
// Interrupted: what was done is recorded; a server still being connected to in a worker thread must
// not keep the process alive until its timeout.
if (code === 130) process.exit(code);
