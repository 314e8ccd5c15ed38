import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../cli-error.js';
import { contextOf } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'Turn an mbsync or OfflineIMAP config into a Twinbox config that syncs the same folders the same way.',
    )
    .argument('<format>', '"mbsync" or "offlineimap"')
    .argument('<file>', 'the config to read, e.g. ~/.mbsyncrc or ~/.offlineimaprc')
    .option('-o, --output <file>', 'write the config there (default: print it)')
    .option('--force', 'overwrite the output file')
    .addHelpText(
      'after',
      `
What cannot be translated (Python lambdas, Flatten, MaxMessages, …) is listed by name on stderr and at the
top of the config; nothing is dropped silently.

Examples:
  twinbox import mbsync ~/.mbsyncrc > ~/.config/twinbox/config.toml
  twinbox import offlineimap ~/.offlineimaprc -o ~/.config/twinbox/config.toml
  twinbox import mbsync ~/.mbsyncrc --json    (the config and the notes as JSON)`,
    )
    .action(
      async (
        format: string,
        file: string,
        options: { output?: string; force?: boolean },
        command: Command,
      ) => {
        const ctx = await contextOf(command);
        const { importMbsync, importOfflineImap } = await import('@twinbox/importers');
        const { parseConfig } = await import('@twinbox/config/schema');
        const convert =
          format === 'mbsync' ? importMbsync : format === 'offlineimap' ? importOfflineImap : undefined;
        if (!convert)
          throw new CliError(
            `Unknown format ${JSON.stringify(format)}: use "mbsync" or "offlineimap".`,
            EXIT.USAGE,
          );
        const path = resolve(file);
        let text: string;
        try {
          text = await readFile(path, 'utf8');
        } catch (err) {
          throw new CliError(`Cannot read ${path}: ${(err as Error).message}`, EXIT.CONFIG);
        }
        const result = convert(text, { file: path });
        // What we write must load: a converter bug is caught here, not at the user's first sync.
        parseConfig(result.config, options.output ? resolve(options.output) : `${path}.twinbox.toml`);
        if (ctx.options.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          for (const note of result.notes)
            process.stderr.write(`${note.level}: ${note.key}: ${note.message}\n`);
          if (options.output) {
            await writeFile(options.output, result.config, {
              mode: 0o600,
              flag: options.force ? 'w' : 'wx',
            }).catch((err) => {
              if ((err as NodeJS.ErrnoException).code === 'EEXIST')
                throw new CliError(
                  `${options.output} exists already; use --force to overwrite it.`,
                  EXIT.USAGE,
                );
              throw err;
            });
            process.stderr.write(`Wrote ${options.output}. Check it with \`twinbox sync --dry-run\`.\n`);
          } else {
            process.stdout.write(result.config);
          }
        }
      },
    );
}
