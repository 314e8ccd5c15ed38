import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultsAdded, defaultsFile, withDefaults } from '../src/defaults-cache.js';
import { ConfigError, loadConfig } from '../src/index.js';
import { parseConfig } from '../src/schema-entry.js';
import { SCHEMA_ID } from '../src/schema-id.js';

const config = `
[accounts.remote]
type = "imap"
host = "imap.example.com"
user = "me"
password = "s3cret-Pa55"

[accounts.local]
type = "maildir"
path = "folder-of-mine"

[pairs.main]
left = "remote"
right = "local"
`;

let dir: string;
let cache: string;
const saved = {
  XDG_CACHE_HOME: process.env.XDG_CACHE_HOME,
  TWINBOX_CONFIG_CACHE: process.env.TWINBOX_CONFIG_CACHE,
};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'twinbox-defaults-'));
  cache = join(dir, 'cache');
  process.env.XDG_CACHE_HOME = cache;
  delete process.env.TWINBOX_CONFIG_CACHE;
});
afterEach(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  rmSync(dir, { recursive: true, force: true });
});

function write(text: string): string {
  const file = join(dir, 'twinbox.toml');
  writeFileSync(file, text);
  return file;
}

const kept = () => {
  try {
    return readdirSync(join(cache, 'twinbox', 'config'));
  } catch {
    return [];
  }
};

describe("the defaults kept for a config's text", () => {
  it('SCHEMA_ID is the hash of schema.ts, validate.ts and the version of zod', () => {
    const hash = createHash('sha256');
    for (const f of ['schema.ts', 'validate.ts'])
      hash.update(readFileSync(new URL(`../src/${f}`, import.meta.url)));
    const zod = createRequire(import.meta.url)('zod/package.json') as { version: string };
    hash.update(`zod@${zod.version}`);
    // Changed what validation does? Set SCHEMA_ID in src/schema-id.ts to this value.
    expect(SCHEMA_ID).toBe(hash.digest('hex').slice(0, 16));
  });

  it('a second load gives what validation gave, from the kept defaults, which hold no value of the config', async () => {
    const file = write(config);
    const first = await loadConfig(file);
    expect(first.config).toEqual(parseConfig(config, file));
    const [name] = kept();
    expect(kept()).toHaveLength(1);
    const keptFile = join(cache, 'twinbox', 'config', name!);
    expect(keptFile).toBe(defaultsFile(config));
    expect(statSync(keptFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(cache, 'twinbox', 'config')).mode & 0o777).toBe(0o700);
    const text = readFileSync(keptFile, 'utf8');
    for (const value of ['s3cret-Pa55', 'imap.example.com', '"me"', 'folder-of-mine'])
      expect(text).not.toContain(value);

    // Taken from the file, not validated again: a default edited there comes back.
    const json = JSON.parse(text);
    expect(json.defaults.accounts.remote.tls).toBe('implicit');
    json.defaults.accounts.remote.tls = 'starttls';
    writeFileSync(keptFile, JSON.stringify(json));
    const second = await loadConfig(file);
    expect(second.config.accounts.remote).toMatchObject({ tls: 'starttls', password: 's3cret-Pa55' });
    json.defaults.accounts.remote.tls = 'implicit';
    writeFileSync(keptFile, JSON.stringify(json));
    expect((await loadConfig(file)).config).toEqual(first.config);
  });

  it('kept under another schema, or unreadable, they are not used: the text is validated again', async () => {
    const file = write(config);
    const expected = (await loadConfig(file)).config;
    const keptFile = defaultsFile(config)!;
    const json = JSON.parse(readFileSync(keptFile, 'utf8'));
    json.defaults.accounts.remote.tls = 'starttls';
    writeFileSync(keptFile, JSON.stringify({ ...json, schema: 'another' }));
    expect((await loadConfig(file)).config).toEqual(expected);
    writeFileSync(keptFile, '{ not json');
    expect((await loadConfig(file)).config).toEqual(expected);
    // Defaults that would replace a value of the text (a file edited by hand) are not used either.
    json.defaults.accounts.remote.tls = 'implicit';
    json.defaults.accounts.remote.user = 'someone-else';
    writeFileSync(keptFile, JSON.stringify(json));
    expect((await loadConfig(file)).config).toEqual(expected);
    json.defaults.accounts.remote = 5;
    writeFileSync(keptFile, JSON.stringify(json));
    expect((await loadConfig(file)).config).toEqual(expected);
  });

  it('nothing is kept for a config with problems, and its errors come as before', async () => {
    const file = write(config.replace('type = "imap"', 'type = "imap"\nport = "143"'));
    await expect(loadConfig(file)).rejects.toThrow(ConfigError);
    await expect(loadConfig(file)).rejects.toThrow(/twinbox\.toml:\d+: accounts\.remote\.port/);
    expect(kept()).toEqual([]);
  });

  it('TWINBOX_CONFIG_CACHE=0 keeps nothing', async () => {
    process.env.TWINBOX_CONFIG_CACHE = '0';
    const file = write(config);
    expect((await loadConfig(file)).config.accounts.remote).toMatchObject({ tls: 'implicit' });
    expect(kept()).toEqual([]);
  });

  it('paths are made absolute after the defaults, against the file that was loaded', async () => {
    const file = write(config);
    await loadConfig(file);
    const again = await loadConfig(file);
    expect(again.config.accounts.local).toMatchObject({ path: join(dir, 'folder-of-mine') });
  });
});

describe('defaultsAdded and withDefaults', () => {
  it('take out and put back what was added, table by table', () => {
    const input = { a: 1, t: { x: 'y' }, list: [1, 2] };
    const output = { a: 1, t: { x: 'y', d: true }, list: [1, 2], n: { deep: [3] } };
    const added = defaultsAdded(input, output)!;
    expect(added).toEqual({ t: { d: true }, n: { deep: [3] } });
    expect(withDefaults(input, added)).toEqual(output);
    expect(input).toEqual({ a: 1, t: { x: 'y' }, list: [1, 2] });
  });

  it('withDefaults refuses defaults that would replace a value', () => {
    expect(withDefaults({ a: 1 }, { a: 2 })).toBeUndefined();
    expect(withDefaults({ t: { x: 1 } }, { t: 3 })).toBeUndefined();
    expect(withDefaults({ t: { x: 1 } }, { t: { x: 2 } })).toBeUndefined();
    expect(withDefaults({ t: { x: 1 } }, { t: { y: 2 } })).toEqual({ t: { x: 1, y: 2 } });
  });

  it('give up on an output that changed or dropped a value', () => {
    expect(defaultsAdded({ a: 1 }, { a: 2 })).toBeUndefined();
    expect(defaultsAdded({ a: 1, b: 2 }, { a: 1 })).toBeUndefined();
    expect(defaultsAdded({ t: { x: 1 } }, { t: { x: '1' } })).toBeUndefined();
    expect(defaultsAdded({ l: [1] }, { l: [1, 2] })).toBeUndefined();
  });
});

describe('where the defaults are kept', () => {
  it('not under a relative XDG_CACHE_HOME, and no more than 32 texts', async () => {
    process.env.XDG_CACHE_HOME = 'relative/cache';
    expect(defaultsFile(config)).not.toContain('relative/cache');
    process.env.XDG_CACHE_HOME = cache;
    const file = write(config);
    for (let i = 0; i < 35; i++) {
      writeFileSync(file, `${config}\n# edit ${i}\n`);
      await loadConfig(file);
    }
    expect(kept()).toHaveLength(32);
    // The newest is among them: the next load of that text takes it.
    expect(kept()).toContain(defaultsFile(`${config}\n# edit 34\n`)!.split('/').pop());
  });
});
