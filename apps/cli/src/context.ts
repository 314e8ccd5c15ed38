import type { LoadedConfig } from '@twinbox/config';
import { defaultConfigPath } from '@twinbox/config/control';
import type { Command } from 'commander';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { type Reporter, reporterFor } from './output.js';

/** The options every command takes (declared once on the program). */
export interface GlobalOptions {
  config?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  inline?: boolean;
  /** false with `--no-daemon`: never go through a running twinboxd. */
  daemon?: boolean;
}

export interface Context {
  options: GlobalOptions;
  configPath: string;
  reporter: Reporter;
  load(): Promise<LoadedConfig>;
}

/** A command's context: its options, where its config is, and its reporter. */
export async function contextOf(command: Command): Promise<Context> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const configPath = options.config ?? defaultConfigPath();
  return {
    options,
    configPath,
    reporter: await reporterFor(options),
    // Loaded when a command needs the config, not before: the schema (zod) and the drivers are most of
    // what the CLI loads, and `twinbox sync` through a daemon needs none of them.
    load: async () => (await import('@twinbox/config')).loadConfig(configPath),
  };
}

/** The pairs a command works on: those named, or every pair of the config. */
export function selectPairs(loaded: LoadedConfig, names: readonly string[]): string[] {
  const all = Object.keys(loaded.config.pairs);
  if (all.length === 0)
    throw new CliError(
      `${loaded.file}: no [pairs.…] section: nothing to sync. See \`twinbox init\`.`,
      EXIT.CONFIG,
    );
  for (const name of names) {
    if (!all.includes(name))
      throw new CliError(
        `${loaded.file}: no pair named ${JSON.stringify(name)} (pairs: ${all.join(', ')}).`,
        EXIT.CONFIG,
      );
  }
  return names.length ? [...names] : all;
}
