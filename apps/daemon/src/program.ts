import { readFileSync } from 'node:fs';
import { Command } from 'commander';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The `twinboxd` command line. commander parses arguments and renders help, so every command gets the
 * same `--help` and error handling for free.
 */
export function createProgram(): Command {
  return new Command('twinboxd')
    .description('The Twinbox daemon: keeps account pairs in sync in the background.')
    .version(version, '-V, --version', 'print the version of twinboxd')
    .addHelpText(
      'after',
      '\nExamples:\n  twinboxd --version\n  twinboxd --help\n\nDocumentation: the README of the twinbox repository.',
    );
}
