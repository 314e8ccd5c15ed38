import { parse, TomlError } from 'smol-toml';
import { expandPath } from './paths.js';
import type { TwinboxConfig } from './schema.js';

/** One problem in a config file: where it is and what was expected. */
export interface ConfigProblem {
  file: string;
  /** 1-based; absent when the key could not be found in the text (a missing key). */
  line?: number;
  /** The key, dotted: `accounts.work.port`. Empty for the file as a whole. */
  key: string;
  message: string;
}

/**
 * A config that cannot be used. Its message lists every problem as `file:line: key: what is wrong`;
 * `problems` has them as data. The CLI exits with its own code for it.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      problems
        .map((p) => `${p.file}${p.line ? `:${p.line}` : ''}: ${p.key ? `${p.key}: ` : ''}${p.message}`)
        .join('\n'),
    );
    this.problems = problems;
  }
}

/** Config text as TOML data, not validated yet; `file` names it in the error. */
export function parseToml(text: string, file: string): unknown {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const message = err.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
      throw new ConfigError([{ file, line: err.line, key: '', message: `not valid TOML: ${message}` }]);
    }
    throw err;
  }
}

/** Makes a validated config's paths absolute against the home directory and `base`, in place. */
export function absolutePaths(config: TwinboxConfig, base: string): TwinboxConfig {
  for (const account of Object.values(config.accounts)) {
    if (account.type === 'maildir') {
      account.path = expandPath(account.path, base);
      if (account.inbox) account.inbox = expandPath(account.inbox, base);
    } else if (account['ca-file']) {
      account['ca-file'] = expandPath(account['ca-file'], base);
    }
  }
  if (config.state.dir) config.state.dir = expandPath(config.state.dir, base);
  return config;
}
