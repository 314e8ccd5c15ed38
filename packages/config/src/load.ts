import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { absolutePaths, ConfigError, parseToml } from './config-text.js';
import { cachedDefaults, keepDefaults, withDefaults } from './defaults-cache.js';
import type { TwinboxConfig } from './schema.js';

/** A validated config, with paths made absolute, and where it came from. */
export interface LoadedConfig {
  file: string;
  config: TwinboxConfig;
}

/**
 * Reads and validates the config at `file`: paths made absolute against the home directory and the
 * file's directory. Rejects with a `ConfigError` listing every problem (`file:line: key: …`), or saying
 * the file is missing. Text validated before under the same schema is not validated again: the
 * defaults validation added to it are kept in the user's cache directory (defaults-cache.ts) and zod
 * is not loaded.
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
  const data = parseToml(text, path);
  const defaults = await cachedDefaults(text);
  let config = defaults && (withDefaults(data, defaults) as TwinboxConfig | undefined);
  if (!config) {
    // Loaded only here: zod and the schema are most of what loading this package costs.
    const { validateConfig } = await import('./validate.js');
    config = validateConfig(data, text, path);
    await keepDefaults(text, data, config);
  }
  return { file: path, config: absolutePaths(config, dirname(path)) };
}
