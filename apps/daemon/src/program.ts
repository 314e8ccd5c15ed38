import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { Daemon, runOnce } from './daemon.js';
import { serveMetrics } from './http.js';
import { DaemonMetrics, metricsHooks } from './metrics.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 10) throw new InvalidArgumentError('give a number of seconds, at least 10.');
  return n;
}

/**
 * The `twinboxd` command line: keeps every pair of the config in sync, resident. Logs are JSON lines
 * (pino) on stdout, for journald and log collectors; no secret is ever logged.
 */
export function createProgram(): Command {
  return new Command('twinboxd')
    .description(
      'The Twinbox daemon: keeps every pair of a config open and in sync, syncing a change as it happens.',
    )
    .version(version, '-V, --version', 'print the version of twinboxd')
    .option('-c, --config <file>', 'config file (default $XDG_CONFIG_HOME/twinbox/config.toml)')
    .option(
      '-i, --interval <seconds>',
      "time between two full passes of a pair (default: the config's daemon.full-pass, 300)",
      seconds,
    )
    .option('--once', 'open, sync and close each pair once, then exit (exit 1 if a pair failed)')
    .option('--inline', 'run every side and state in this thread (for debugging)')
    .option(
      '--metrics <host:port>',
      'serve Prometheus /metrics and /healthz over HTTP on a loopback address, e.g. 127.0.0.1:9464',
    )
    .option('-q, --quiet', 'log warnings and errors only')
    .addHelpText(
      'after',
      `
Each pair is opened once and kept open. A change is synced as it happens: IMAP NOTIFY where the
server offers it, else IDLE on the pair's "watch" folders (INBOX by default), and file-system
notifications on a Maildir; a full pass of every folder runs every --interval seconds besides.
A pair that fails backs off (2 s doubling to 5 min, with jitter) and says so in the log.

SIGHUP, or saving the config file, reloads it: pairs added, removed or changed are started, stopped
or reopened; the others go on untouched. SIGTERM or Ctrl-C stops it: the batch in flight gets 2 s,
then the connections are cut and what was transferred is recorded; a second signal exits at once.

Examples:
  twinboxd                          the default config, resident
  twinboxd -c ~/mail.toml -i 900    a full pass every 15 minutes besides the push
  twinboxd --once                   one round, for cron or a systemd timer`,
    )
    .action(
      async (options: {
        config?: string;
        interval?: number;
        once?: boolean;
        inline?: boolean;
        quiet?: boolean;
        metrics?: string;
      }) => {
        const log = pino({ level: options.quiet ? 'warn' : 'info', base: { name: 'twinboxd' } });
        const controller = new AbortController();
        const onSignal = (signal: NodeJS.Signals) => {
          if (controller.signal.aborted) {
            log.warn({ signal }, 'second signal: exiting at once');
            process.exit(130);
          }
          log.info({ signal }, 'stopping: the batch in flight gets 2 s, then the connections are cut');
          controller.abort();
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
        log.info({ version, once: options.once === true }, 'started');
        if (options.once) {
          const failures = await runOnce({ ...options, signal: controller.signal, log });
          log.info({ failures }, 'stopped');
          process.exitCode = failures > 0 ? 1 : 0;
          return;
        }
        const metrics = new DaemonMetrics();
        const daemon = new Daemon({
          ...(options.config ? { config: options.config } : {}),
          ...(options.inline ? { inline: true } : {}),
          ...(options.interval ? { fullPass: options.interval } : {}),
          log,
          version,
          hooks: metricsHooks(metrics),
        });
        // The listener first: a busy port fails the start before any pair is opened.
        const http = options.metrics
          ? await serveMetrics(options.metrics, { metrics, health: () => metrics.health() })
          : undefined;
        if (http) log.info({ url: http.url }, 'serving metrics');
        await daemon.start();
        const onHangup = () => {
          log.info({ signal: 'SIGHUP' }, 'reloading the config');
          void daemon.reload();
        };
        process.on('SIGHUP', onHangup);
        await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve()));
        process.off('SIGHUP', onHangup);
        await daemon.stop();
        await http?.close();
        log.info('stopped');
        process.exitCode = 0;
      },
    );
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram().exitOverride();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 64;
    process.stderr.write(`twinboxd: ${(err as Error).message}\n`);
    return 1;
  }
}
