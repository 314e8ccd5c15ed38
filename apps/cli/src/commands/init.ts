import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { contextOf } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('Write a commented starter config (to --config, or the default path).')
    .option('--force', 'overwrite an existing file')
    .addHelpText(
      'after',
      '\nExamples:\n  twinbox init\n  twinbox --config ./twinbox.toml init\n  twinbox import mbsync ~/.mbsyncrc   (start from an existing mbsync config instead)',
    )
    .action(async (options: { force?: boolean }, command: Command) => {
      const ctx = await contextOf(command);
      await mkdir(dirname(ctx.configPath), { recursive: true, mode: 0o700 });
      try {
        // 0600: the file may come to hold a password.
        const { starterConfig } = await import('@twinbox/config');
        await writeFile(ctx.configPath, starterConfig(), { mode: 0o600, flag: options.force ? 'w' : 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new CliError(`${ctx.configPath} exists already; use --force to overwrite it.`, EXIT.USAGE);
        throw err;
      }
      ctx.reporter.info(
        `Wrote ${ctx.configPath}. Edit the accounts, then run \`twinbox check\` and \`twinbox sync --dry-run\`.`,
        {
          file: ctx.configPath,
        },
      );
    });
}
