#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import { ImapFlow } from 'imapflow';
import { corpusSize } from './corpus.js';
import { loadIntoImap } from './imap.js';
import { formatReport, progressPrinter } from './summary.js';

/**
 * Try-it demo: a private Dovecot, one account, the whole corpus over verified IMAPS, then the folders
 * as any IMAP client sees them. The server is gone afterwards, whichever way the demo ends.
 */
async function main(server: DovecotServer, corpus: { multiplier: number; limit?: number }) {
  const { info } = server;
  const { user, password } = await server.addUser('demo');
  const total = await corpusSize(corpus);
  console.log(
    `Dovecot fixture: IMAPS on ${info.host}:${info.tlsPort}, user ${user}; loading ${total} messages`,
  );
  const target = { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password };
  const report = await loadIntoImap(target, { ...corpus, onProgress: progressPrinter(total) });

  const client = new ImapFlow({
    host: info.host,
    port: info.tlsPort,
    secure: true,
    tls: { ca: [info.ca], rejectUnauthorized: true },
    auth: { user, pass: password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    const folders = await client.list({ statusQuery: { messages: true, unseen: true } });
    folders.sort((a, b) => a.path.localeCompare(b.path));
    const width = Math.max(...folders.map((f) => f.path.length));
    console.log(`\n${'folder (as the server lists it)'.padEnd(width)}  messages  unseen`);
    for (const f of folders) {
      const messages = String(f.status?.messages ?? '-').padStart(8);
      const unseen = String(f.status?.unseen ?? '-').padStart(6);
      console.log(`${f.path.padEnd(width)}  ${messages}  ${unseen}`);
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
  console.log(`\n${formatReport(report)}`);
  return report.failed.length ? 1 : 0;
}

const { values } = parseArgs({
  options: { limit: { type: 'string' }, multiplier: { type: 'string' } },
});
const corpus = {
  multiplier: values.multiplier ? Number(values.multiplier) : 1,
  ...(values.limit ? { limit: Number(values.limit) } : {}),
};
for (const [name, value] of Object.entries(corpus)) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}

const server = await startDovecot();
// Ctrl-C or a kill would otherwise leave Dovecot running on its ports with its temporary directory.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the Dovecot fixture`);
    void server.stop().finally(() => process.exit(130));
  });
}
try {
  process.exitCode = await main(server, corpus);
} catch (err) {
  if (!interrupted) {
    console.error(err);
    process.exitCode = 1;
  }
} finally {
  await server.stop();
}
