import { readFileSync } from 'node:fs';
import { Command } from 'commander';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The `twinbox` command line. commander parses arguments and renders help, so every command gets the
 * same `--help` and error handling for free.
 */
export function createProgram(): Command {
  return new Command('twinbox')
    .description('Keep two mail stores in sync, both ways: IMAP and Maildir, or two IMAP accounts.')
    .version(version, '-V, --version', 'print the version of twinbox')
    .addHelpText(
      'after',
      '\nExamples:\n  twinbox --version\n  twinbox --help\n\nDocumentation: the README of the twinbox repository.',
    );
}
