#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { corpusSize } from './corpus.js';
import { loadIntoImap } from './imap.js';
import { writeMaildir } from './maildir.js';
import { formatReport, progressPrinter } from './summary.js';

const USAGE = `Usage:
  node tooling/corpus/dist/cli.js imap --host HOST --port PORT --user USER --password PASSWORD
                                      [--tls] [--ca FILE] [--connections N] [--multiplier K] [--limit N]
  node tooling/corpus/dist/cli.js maildir DIR [--multiplier K] [--limit N]

Loads the SpamAssassin public corpus (6,046 messages; K times as many with --multiplier K) into an
IMAP account or writes it as a Maildir++ tree, with deterministic folders, flags and dates.
  --tls      implicit TLS (IMAPS); without it, plain IMAP, upgraded with STARTTLS when --ca is given
  --ca FILE  PEM certificate to trust (e.g. a test server's self-signed one)`;

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, got ${value}`);
  return n;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      tls: { type: 'boolean', default: false },
      ca: { type: 'string' },
      connections: { type: 'string' },
      multiplier: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  const corpus = {
    multiplier: positiveInt('multiplier', values.multiplier) ?? 1,
    ...(values.limit !== undefined ? { limit: positiveInt('limit', values.limit) } : {}),
  };
  const total = await corpusSize(corpus);
  const onProgress = progressPrinter(total);

  if (command === 'imap' && rest.length === 0) {
    const { host, port, user, password } = values;
    if (!host || !port || !user || password === undefined) {
      throw new UsageError('imap needs --host, --port, --user and --password');
    }
    console.log(`Loading ${total} messages into ${user}@${host}:${port}${values.tls ? ' (TLS)' : ''}`);
    const report = await loadIntoImap(
      {
        host,
        port: positiveInt('port', port)!,
        secure: values.tls,
        ca: values.ca ? readFileSync(values.ca, 'utf8') : undefined,
        user,
        password,
      },
      { ...corpus, connections: positiveInt('connections', values.connections) ?? 4, onProgress },
    );
    console.log(formatReport(report));
    return report.failed.length ? 1 : 0;
  }
  if (command === 'maildir' && rest.length === 1) {
    console.log(`Writing ${total} messages into the Maildir ${rest[0]}`);
    const report = await writeMaildir(rest[0]!, { ...corpus, onProgress });
    console.log(formatReport(report, 'written'));
    return 0;
  }
  throw new UsageError(
    command ? `Unknown command or arguments: ${positionals.join(' ')}` : 'No command given',
  );
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(err as Error).message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
