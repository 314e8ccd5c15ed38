import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, starterConfig } from '../src/index.js';
import { parseConfig } from '../src/schema-entry.js';

/**
 * Fuzz tests of the parser of a file the user wrote: whatever the text, the result
 * is a config or a ConfigError that says where and what; never another exception, never a crash.
 * `TWINBOX_PROPERTY_RUNS` sets the number of runs (each is well under a millisecond).
 */
const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 1000);
const FILE = '/home/u/.config/twinbox/config.toml';

const VALID = `workers = "inline"

[state]
dir = "~/state"

[accounts.work]
type = "imap"
host = "imap.example.com"
user = "me@example.com"
password-command = "pass show mail/work"
timeout = 30

[accounts.gmail]
type = "imap"
host = "imap.gmail.com"
user = "me@gmail.com"

[accounts.gmail.oauth2]
token-url = "https://oauth2.googleapis.com/token"
client-id = "abc"
refresh-token-env = "GMAIL_REFRESH"

[accounts.local]
type = "maildir"
path = "~/Mail/work"
layout = "fs"

[pairs.work]
left = "work"
right = "local"
folders = ["*", "!Trash"]
rename = { "Sent Items" = "Sent" }
max-size = "10M"
max-age = "30d"
`;

/** Parses, and checks the contract: a config, or a ConfigError whose every problem says where and what. */
function parseOrExplain(text: string): void {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) {
      expect(p.file).toBe(FILE);
      expect(p.message.length).toBeGreaterThan(0);
      if (p.line !== undefined) expect(p.line).toBeGreaterThanOrEqual(1);
    }
  }
}

/** TOML-ish values, valid and not, for keys that expect something else. */
const tomlValue = fc.oneof(
  fc.string().map((s) => JSON.stringify(s)),
  fc.integer().map(String),
  fc.double().map((d) => (Number.isFinite(d) ? String(d) : 'nan')),
  fc.boolean().map(String),
  fc.constantFrom('[]', '{}', '[1, "a"]', '{ a = 1 }', '1979-05-27T07:32:00Z', '"""x"""', "'lit'", ''),
  fc.string(),
);

describe('the config parser under fuzzing', () => {
  it('the fixture config and the starter config parse', () => {
    expect(parseConfig(VALID, FILE).accounts.work).toMatchObject({ type: 'imap', timeout: 30 });
    parseOrExplain(starterConfig());
  });

  it('hostile shapes: deep nesting, a huge string, a deep table name', () => {
    for (const text of [
      `a = ${'['.repeat(100_000)}`,
      `a = ${'{b='.repeat(50_000)}`,
      `x = "${'a'.repeat(1_000_000)}"`,
      `[${'a.'.repeat(100_000)}b]`,
    ]) {
      expect(() => parseConfig(text, FILE)).toThrow(ConfigError);
    }
  });

  it('any text gives a config or a ConfigError that says where and what', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })),
        (text) => parseOrExplain(text),
      ),
      { numRuns: RUNS },
    );
  });

  it('a valid config with lines dropped, doubled, swapped or given other values still gives one of the two', () => {
    const lines = VALID.split('\n');
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('drop' as const), at: fc.nat(lines.length - 1) }),
      fc.record({ kind: fc.constant('double' as const), at: fc.nat(lines.length - 1) }),
      fc.record({
        kind: fc.constant('swap' as const),
        at: fc.nat(lines.length - 1),
        to: fc.nat(lines.length - 1),
      }),
      fc.record({ kind: fc.constant('value' as const), at: fc.nat(lines.length - 1), value: tomlValue }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(lines.length - 1),
        key: fc.stringMatching(/^[a-z-]{1,12}$/),
        value: tomlValue,
      }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        const text = [...lines];
        for (const e of edits) {
          if (e.kind === 'drop') text.splice(e.at, 1);
          else if (e.kind === 'double') text.splice(e.at, 0, text[e.at] ?? '');
          else if (e.kind === 'swap') [text[e.at], text[e.to]] = [text[e.to] ?? '', text[e.at] ?? ''];
          else if (e.kind === 'value') text[e.at] = (text[e.at] ?? '').replace(/=.*$/, `= ${e.value}`);
          else text.splice(e.at, 0, `${e.key} = ${e.value}`);
        }
        parseOrExplain(text.join('\n'));
      }),
      { numRuns: RUNS },
    );
  });
});
