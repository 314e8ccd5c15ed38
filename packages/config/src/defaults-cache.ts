import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { SCHEMA_ID } from './schema-id.js';

// Why a cache: validating a config needs zod and the schema, whose loading and building are ~30 ms of
// every `twinbox` command that reads a config (a one-shot no-op sync is ~250 ms). The schema has no
// transforms, so what validation gives for a valid config is the TOML data with the schema's defaults
// filled in: for config text validated before (same text, same schema), those defaults are kept here
// and added again, and zod is not loaded. Only defaults are kept, never a value of the config (a
// password), under a hash of the text and of the schema's identity.

/** A plain object (TOML tables and zod's objects alike), not an array. */
type Table = { [key: string]: unknown };
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What validation added to `input` to make `output`: the keys `output` has and `input` lacks, with
 * their values, and the same for each table both have. Undefined when `output` differs from `input`
 * in any other way (a value changed or dropped), which this cache cannot express.
 */
export function defaultsAdded(input: unknown, output: unknown): Table | undefined {
  if (!isTable(input) || !isTable(output)) return undefined;
  const added: Table = {};
  for (const key of Object.keys(input)) if (!Object.hasOwn(output, key)) return undefined;
  for (const [key, value] of Object.entries(output)) {
    if (!Object.hasOwn(input, key)) {
      added[key] = value;
      continue;
    }
    const given = input[key];
    if (isTable(value) && isTable(given)) {
      const inner = defaultsAdded(given, value);
      if (inner === undefined) return undefined;
      if (Object.keys(inner).length > 0) added[key] = inner;
    } else if (!sameData(given, value)) return undefined;
  }
  return added;
}

/**
 * `input` with `defaults` ({@link defaultsAdded}) added, as a new value: each table that gains a
 * default is a new one, so `input` is left as it is, and the values that gain none are `input`'s and
 * `defaults`' own (both fresh from parsing, used once). Undefined when a default would replace a value
 * of `input` rather than add to it: defaults that do not belong to this text (a kept file edited by
 * hand), which must not be used.
 */
export function withDefaults(input: unknown, defaults: Table): unknown {
  if (!isTable(input)) return undefined;
  const out: Table = { ...input };
  for (const [key, value] of Object.entries(defaults)) {
    if (!Object.hasOwn(input, key)) {
      out[key] = value;
      continue;
    }
    const inner = isTable(value) ? withDefaults(input[key], value) : undefined;
    if (inner === undefined) return undefined;
    out[key] = inner;
  }
  return out;
}

function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameData(v, b[i]));
  }
  if (isTable(a) && isTable(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && sameData(a[k], b[k]));
  }
  return false;
}

/**
 * Where the defaults of config text are kept: `$XDG_CACHE_HOME/twinbox/config` (else `~/.cache/…`),
 * or nowhere when `TWINBOX_CONFIG_CACHE` is `0` or no home directory is known.
 */
export function defaultsFile(text: string): string | undefined {
  const off = process.env.TWINBOX_CONFIG_CACHE;
  if (off === '0') return undefined;
  // A relative XDG_CACHE_HOME is to be ignored (the XDG base directory spec).
  let base = process.env.XDG_CACHE_HOME;
  if (!base || !isAbsolute(base)) {
    let home: string;
    try {
      home = homedir();
    } catch {
      return undefined;
    }
    if (!home) return undefined;
    base = join(home, '.cache');
  }
  const key = createHash('sha256').update(`${SCHEMA_ID}\0${text}`).digest('hex');
  return join(base, 'twinbox', 'config', `${key}.json`);
}

/** The defaults kept for `text`, or undefined (none kept, or unreadable: validate it again). */
export async function cachedDefaults(text: string): Promise<Table | undefined> {
  const file = defaultsFile(text);
  if (!file) return undefined;
  try {
    const kept = JSON.parse(await readFile(file, 'utf8')) as unknown;
    return isTable(kept) && kept.schema === SCHEMA_ID && isTable(kept.defaults) ? kept.defaults : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps the defaults validation added to `data` to make `validated`, for the next load of `text`.
 * Best effort: a cache that cannot be written only means validating again next time.
 */
export async function keepDefaults(text: string, data: unknown, validated: unknown): Promise<void> {
  const file = defaultsFile(text);
  const added = file ? defaultsAdded(data, validated) : undefined;
  if (!file || !added) return;
  // What is read back must give exactly what zod gave (JSON drops a key whose value is undefined), or
  // it is not kept.
  const json = JSON.stringify({ schema: SCHEMA_ID, defaults: added });
  const { defaults } = JSON.parse(json) as { defaults: Table };
  if (!sameData(withDefaults(data, defaults), validated)) return;
  try {
    const dir = dirname(file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, json, { mode: 0o600 });
    await rename(tmp, file);
    await prune(dir);
  } catch {
    // A read-only or full home: the next load validates again.
  }
}

/** How many texts' defaults are kept: each edit of a config makes a new one. */
const KEEP = 32;

/** Removes all but the {@link KEEP} newest files of `dir`. */
async function prune(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  if (names.length <= KEEP) return;
  const dated = await Promise.all(
    names.map(async (name) => {
      try {
        return { name, at: (await stat(join(dir, name))).mtimeMs };
      } catch {
        return { name, at: 0 };
      }
    }),
  );
  dated.sort((a, b) => b.at - a.at);
  for (const { name } of dated.slice(KEEP)) await unlink(join(dir, name)).catch(() => {});
}
