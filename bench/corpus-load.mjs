#!/usr/bin/env node
// Loads the SpamAssassin corpus into a fresh private Dovecot over IMAPS and reports the throughput.
//   node bench/corpus-load.mjs [--multiplier 5|10] [--connections N] [--limit N]
// Needs the built packages: pnpm turbo run build --filter @twinbox/test-corpus...
import { parseArgs } from 'node:util';
import { loadIntoImap } from '../tooling/corpus/dist/index.js';
import { startDovecot } from '../tooling/dovecot/dist/index.js';

const { values } = parseArgs({
  options: {
    multiplier: { type: 'string', default: '1' },
    connections: { type: 'string', default: '4' },
    limit: { type: 'string' },
  },
});
const multiplier = Number(values.multiplier);
const connections = Number(values.connections);
const limit = values.limit === undefined ? undefined : Number(values.limit);
for (const [name, value] of Object.entries({ multiplier, connections, limit })) {
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

const server = await startDovecot();
// An interrupted bench must not leave Dovecot behind on its ports.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => void server.stop().finally(() => process.exit(130)));
}
try {
  const { user, password } = await server.addUser('bench');
  const { info } = server;
  const report = await loadIntoImap(
    { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password },
    { multiplier, connections, ...(limit ? { limit } : {}) },
  );
  const total = report.appended + report.failed.length;
  // maxRSS is this process only (the loader), in KiB; Dovecot's own memory is not included.
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(`messages      ${report.appended} appended of ${total} (multiplier ${multiplier})`);
  console.log(`failed        ${report.failed.length}`);
  for (const f of report.failed) console.log(`  ${f.key}: ${f.error}`);
  console.log(`connections   ${connections} (IMAPS, certificate verified)`);
  console.log(`seconds       ${report.seconds.toFixed(2)}`);
  console.log(`messages/s    ${(report.appended / report.seconds).toFixed(0)}`);
  console.log(`peak RSS      ${peakRssMiB.toFixed(0)} MiB (loader process)`);
  const perFolder = Object.entries(report.folders).map(([f, n]) => `${f}=${n}`);
  console.log(`per folder    ${perFolder.join(', ')}`);
  process.exitCode = report.failed.length ? 1 : 0;
} finally {
  await server.stop();
}
