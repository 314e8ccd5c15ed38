import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { lineOfKey } from './locate.js';
import { expandPath } from './paths.js';
import { configSchema, type TwinboxConfig } from './schema.js';

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

/** A validated config, with paths made absolute, and where it came from. */
export interface LoadedConfig {
  file: string;
  config: TwinboxConfig;
}

/**
 * Reads and validates the config at `file`: paths made absolute against the home directory and the
 * file's directory. Rejects with a `ConfigError` listing every problem (`file:line: key: …`), or saying
 * the file is missing.
 */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([
      {
        file: path,
        key: '',
        message:
          code === 'ENOENT'
            ? 'no such file. Write a starter config with `twinbox init`, or name one with --config.'
            : `cannot be read: ${(err as Error).message}`,
      },
    ]);
  }
  return { file: path, config: parseConfig(text, path) };
}

/** Parses and validates config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string): TwinboxConfig {
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const message = err.message.split('\n')[0]!.replace(/^Invalid TOML document:\s*/, '');
      throw new ConfigError([{ file, line: err.line, key: '', message: `not valid TOML: ${message}` }]);
    }
    throw err;
  }
  // A config is validated once per process (and per reload of a daemon's): zod's compiled fast path, a
  // `new Function` per object schema, costs more to build than it saves on one parse (~4 ms of a no-op
  // `twinbox sync`, median of 30 runs side by side). Per parse, not zod's global setting, which would
  // reach an embedder's own schemas.
  const result = configSchema.safeParse(data, { jitless: true });
  if (!result.success)
    throw new ConfigError(result.error.issues.map((issue) => problemOf(issue, text, file)));
  return absolutePaths(result.data, dirname(file));
}

function problemOf(issue: z.core.$ZodIssue, text: string, file: string): ConfigProblem {
  let path = issue.path.map((p) => (typeof p === 'symbol' ? String(p.description) : p));
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0]!];
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}: check the spelling (keys are kebab-case)`;
  } else if (issue.code === 'invalid_key') {
    message = `${JSON.stringify(String(path.at(-1)))} is not a valid name: use ${issue.issues[0]?.message ?? 'letters and digits'}`;
  } else if (issue.code === 'invalid_type' && message.includes('received undefined')) {
    message = `missing: ${message.replace(/^Invalid input: /, '')}`;
  }
  const line = lineOfKey(text, path);
  return { file, ...(line ? { line } : {}), key: path.join('.'), message };
}

function absolutePaths(config: TwinboxConfig, base: string): TwinboxConfig {
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
