import { type FolderInfo, isRefusedFolder, quoteName } from '@twinbox/core';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { contextOf } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function registerFolders(program: Command): void {
  program
    .command('folders')
    .description("List an account's folders, as Twinbox names them (levels joined by /).")
    .argument('<account>', 'an account of the config')
    .addHelpText('after', '\nExamples:\n  twinbox folders work\n  twinbox folders local --json')
    .action(async (account: string, _options: unknown, command: Command) => {
      const ctx = await contextOf(command);
      const { config, file } = await ctx.load();
      const settings = config.accounts[account];
      if (!settings)
        throw new CliError(
          `${file}: no account named ${JSON.stringify(account)} (accounts: ${Object.keys(config.accounts).join(', ')}).`,
          EXIT.CONFIG,
        );
      // Read-only: listing an account must not create a missing Maildir root or inbox, nor SELECT.
      const { openDriver } = await import('@twinbox/config');
      const driver = await openDriver(settings, { readOnly: true });
      try {
        const listed = await driver.listFolders();
        const folders = listed
          .filter((f): f is FolderInfo => !isRefusedFolder(f))
          .sort((a, b) => a.path.join('/').localeCompare(b.path.join('/')));
        const refused = listed.filter(isRefusedFolder);
        if (ctx.options.json) {
          process.stdout.write(`${JSON.stringify([...folders, ...refused])}\n`);
          return;
        }
        // Names the account lists but Twinbox cannot map exactly, quoted: they may hold CR, LF or ESC.
        for (const f of refused) process.stdout.write(`${quoteName(f.refused)}  (refused: ${f.code})\n`);
        for (const f of folders) {
          const notes = [f.specialUse, f.selectable ? undefined : 'holds folders only'].filter(Boolean);
          process.stdout.write(`${f.path.join('/')}${notes.length ? `  (${notes.join(', ')})` : ''}\n`);
        }
      } finally {
        await driver.close();
      }
    });
}
