import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { registerCheck } from './commands/check.js';
import { registerFolders } from './commands/folders.js';
import { registerImport } from './commands/import.js';
import { registerInit } from './commands/init.js';
import { registerStatus } from './commands/status.js';
import { registerSync } from './commands/sync.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { reportError } from './quick.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The `twinbox` command line. commander parses arguments and renders help, so every command gets the
 * same `--help` and error handling.
 */
export function createProgram(): Command {
  const program = new Command('twinbox')
    .description('Keep two mail stores in sync, both ways: IMAP and Maildir, or two IMAP accounts.')
    .version(version, '-V, --version', 'print the version of twinbox')
    .option('-c, --config <file>', 'config file (default $XDG_CONFIG_HOME/twinbox/config.toml)')
    .option('--json', 'machine-readable output: JSON on stdout')
    .addOption(new Option('-v, --verbose', 'say more').conflicts('quiet'))
    .option('-q, --quiet', 'only errors and the summary')
    .option(
      '--inline',
      'run both sides and the state in this thread, a first sync too (workers = "auto" does after it; never through a daemon)',
    )
    .option(
      '--no-daemon',
      'do not go through a running twinboxd: sync and read status here (also TWINBOX_NO_DAEMON=1); for a daemon that is stuck',
    )
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  twinbox init                      write a starter config
  twinbox import mbsync ~/.mbsyncrc  start from an mbsync config
  twinbox sync                      sync every pair
  twinbox sync work --dry-run       show what a sync of "work" would do
  twinbox status                    last sync and pending changes
  twinbox check                     compare both sides message by message

sync and status go through twinboxd when it runs for the same config (see sync --help).
${EXIT_CODES_HELP}`,
    );
  registerSync(program);
  registerStatus(program);
  registerCheck(program);
  registerFolders(program);
  registerInit(program);
  registerImport(program);
  // Every subcommand: usage errors exit with EXIT.USAGE rather than commander's 1.
  for (const command of [program, ...program.commands]) command.exitOverride();
  return program;
}

/** Runs the program and returns the exit code, reporting an uncaught error in one line. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here too, with code 0.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return reportError(err, argv.includes('--json'));
  }
}
