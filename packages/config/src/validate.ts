import { dirname } from 'node:path';
import type { z } from 'zod';
import { absolutePaths, ConfigError, type ConfigProblem, parseToml } from './config-text.js';
import { lineOfKey } from './locate.js';
import { configSchema, type TwinboxConfig } from './schema.js';

/** Parses and validates config text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string): TwinboxConfig {
  return absolutePaths(validateConfig(parseToml(text, file), text, file), dirname(file));
}

/**
 * TOML data of config text validated against the schema, defaults filled in, paths as written.
 * Throws a `ConfigError` listing every problem, located in `text`.
 */
export function validateConfig(data: unknown, text: string, file: string): TwinboxConfig {
  // A config is validated once per process (and per reload of a daemon's): zod's compiled fast path, a
  // `new Function` per object schema, costs more to build than it saves on one parse (~4 ms of a no-op
  // `twinbox sync`, median of 30 runs side by side). Per parse, not zod's global setting, which would
  // reach an embedder's own schemas.
  const result = configSchema.safeParse(data, { jitless: true });
  if (!result.success)
    throw new ConfigError(result.error.issues.map((issue) => problemOf(issue, text, file)));
  return result.data;
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
