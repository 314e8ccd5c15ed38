#!/usr/bin/env node
import module from 'node:module';

module.enableCompileCache?.();
const { main } = await import('./program.js');
process.exitCode = await main(process.argv);
