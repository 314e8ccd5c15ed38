#!/usr/bin/env node
import module from 'node:module';

// V8's code cache on disk: a run after the first skips compiling the modules it loads, which is most
// of a no-op sync's start-up. Enabled before anything else is imported, hence the dynamic import.
module.enableCompileCache?.();
const { main } = await import('./program.js');
process.exitCode = await main(process.argv);
