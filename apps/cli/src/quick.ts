// `twinbox sync` and `twinbox status` through a running twinboxd, before the program is loaded. bin.js
// tries this first: loading the whole CLI (commander, every command, the reporters' progress bars) is
// about a third of a no-op sync through the daemon, and a command line such as `twinbox -q sync` needs
// none of it. It reads only the command lines it can read exactly as commander would (below); for any
// other, and when no daemon serves the config, it answers undefined and the program runs as before,
// so what a command does and prints never depends on which path ran it.
//
// The build makes this module and what it imports one file (scripts/bundle.mjs), so the control
// socket's client is imported here statically: bin.js loads this file only for a command line naming
// `sync` or `status`, which nearly always comes here. Only the progress bars and the exit-code mapping
// (which loads the config package) stay apart, imported when needed.
import { defaultConfigPath } from '@twinbox/config/control';
import { CliError } from './cli-error.js';
import type { Context, GlobalOptions } from './context.js';
import { findDaemon, statusThroughDaemon, syncThroughDaemon } from './daemon-client.js';
import { reporterFor } from './output.js';

/** The variable that keeps the CLI from going through a daemon (daemon-client.ts's NO_DAEMON_ENV). */
const NO_DAEMON_ENV = 'TWINBOX_NO_DAEMON';

/** What {@link parse} understood: a command, its pairs, and the options it knows. */
interface QuickCommand {
  command: 'sync' | 'status';
  pairs: string[];
  options: GlobalOptions;
  dryRun: boolean;
}

/**
 * `argv` (without node and the script) when it holds `sync` or `status`, pair names and only these
 * options: `-c`/`--config` (with its value), `-q`/`--quiet` or `-v`/`--verbose`, `--json`, and after
 * `sync` `-n`/`--dry-run`, after `status` `--offline` (which the daemon's status ignores, as the program
 * does). Anything else (`--folder`, whose values commander reads up to the next option; grouped short
 * options; `--help`; `--no-daemon`; an unknown option; both `-q` and `-v`) is left to the program.
 */
function parse(argv: readonly string[]): QuickCommand | undefined {
  let command: QuickCommand['command'] | undefined;
  const pairs: string[] = [];
  const options: GlobalOptions = {};
  let dryRun = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-c' || arg === '--config') {
      // commander takes the next argument as the value, whatever it looks like.
      const value = argv[++i];
      if (value === undefined || value === '') return undefined;
      options.config = value;
    } else if (arg.startsWith('--config=')) {
      const value = arg.slice('--config='.length);
      if (value === '') return undefined;
      options.config = value;
    } else if (arg === '-q' || arg === '--quiet') options.quiet = true;
    else if (arg === '-v' || arg === '--verbose') options.verbose = true;
    else if (arg === '--json') options.json = true;
    else if (command === 'sync' && (arg === '-n' || arg === '--dry-run')) dryRun = true;
    else if (command === 'status' && arg === '--offline') {
      // The daemon's live status is shown whatever --offline says.
    } else if (arg.startsWith('-')) return undefined;
    else if (command === undefined) {
      if (arg !== 'sync' && arg !== 'status') return undefined;
      command = arg;
    } else pairs.push(arg);
  }
  if (command === undefined || (options.quiet && options.verbose)) return undefined;
  return { command, pairs, options, dryRun };
}

/**
 * Runs `argv`'s `sync` or `status` through the daemon that serves its config and returns the exit code,
 * or returns undefined when it did nothing: a command line it does not read (see {@link parse}), no
 * daemon, or `TWINBOX_NO_DAEMON`. An error is reported as the program reports it.
 */
export async function throughDaemon(argv: readonly string[]): Promise<number | undefined> {
  const parsed = parse(argv.slice(2));
  if (!parsed) return undefined;
  const env = process.env[NO_DAEMON_ENV];
  if (env && env !== '0') return undefined;
  const { options } = parsed;
  try {
    const ctx: Context = {
      options,
      configPath: options.config ?? defaultConfigPath(),
      reporter: await reporterFor(options),
      load: () => Promise.reject(new Error('a command through the daemon reads no config')),
    };
    const daemon = await findDaemon(ctx);
    if (!daemon) return undefined;
    return parsed.command === 'sync'
      ? await syncThroughDaemon(ctx, daemon, parsed.pairs, { dryRun: parsed.dryRun })
      : await statusThroughDaemon(ctx, daemon, parsed.pairs);
  } catch (err) {
    return reportError(err, options.json === true);
  }
}

/**
 * Says what ended a command, in one line (a JSON line with `--json`), and returns its exit code: what
 * the program's `main` does with an error, so both paths end a command alike.
 */
export async function reportError(err: unknown, json: boolean): Promise<number> {
  const message = (err as Error).message;
  if (json)
    process.stdout.write(
      `${JSON.stringify({ type: 'error', message, code: (err as { code?: string }).code })}\n`,
    );
  else process.stderr.write(`twinbox: ${message}\n`);
  if (err instanceof CliError) return err.exitCode;
  // Imported here: the mapping loads the config package, which a sync through the daemon never needs.
  return (await import('./failure.js')).exitCodeOf(err);
}
