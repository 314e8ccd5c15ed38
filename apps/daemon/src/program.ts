import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { runDaemon } from './daemon.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 10) throw new InvalidArgumentError('give a number of seconds, at least 10.');
  return n;
}

/**
 * The `twinboxd` command line: keeps every pair of the config in sync, round after round. Logs are
 * JSON lines (pino) on stdout, for journald and log collectors; no secret is ever logged.
 */
export function createProgram(): Command {
  return new Command('twinboxd')
    .description('The Twinbox daemon: keeps account pairs in sync in the background.')
    .version(version, '-V, --version', 'print the version of twinboxd')
    .option('-c, --config <file>', 'config file (default $XDG_CONFIG_HOME/twinbox/config.toml)')
    .option('-i, --interval <seconds>', 'time between two rounds', seconds, 300)
    .option('--once', 'one round, then exit (exit 1 if a pair failed)')
    .option('--inline', 'run both sides and the state in this thread (for debugging)')
    .option('-q, --quiet', 'log warnings and errors only')
    .addHelpText(
      'after',
      `
SIGTERM or Ctrl-C stops it: the batch in flight gets 2 s, then the connections are cut;
what was transferred is recorded. It polls: changes are picked up at the next round.

Examples:
  twinboxd                          every 5 minutes, the default config
  twinboxd -c ~/mail.toml -i 60     every minute
  twinboxd --once                   one round, for cron or a systemd timer`,
    )
    .action(
      async (options: {
        config?: string;
        interval: number;
        once?: boolean;
        inline?: boolean;
        quiet?: boolean;
      }) => {
        const log = pino({ level: options.quiet ? 'warn' : 'info', base: { name: 'twinboxd' } });
        const controller = new AbortController();
        const stop = (signal: NodeJS.Signals) => {
          if (controller.signal.aborted) process.exit(130);
          log.info({ signal }, 'stopping: the batch in flight gets 2 s, then the connections are cut');
          controller.abort();
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        log.info({ version, interval: options.interval, once: options.once === true }, 'started');
        const failures = await runDaemon({ ...options, signal: controller.signal, log });
        log.info({ failures }, 'stopped');
        process.exitCode = options.once && failures > 0 ? 1 : 0;
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
