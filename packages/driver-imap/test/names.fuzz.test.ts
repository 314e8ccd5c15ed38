import { type FolderPath, isInbox } from '@twinbox/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { levelProblem, pathOfListedName, wireName } from '../src/names.js';

/** Cheap runs (microseconds each): many by default; `TWINBOX_PROPERTY_RUNS` sets the number. */
const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 3000);
/** For a hang, not for a busy machine. */
const slow = { timeout: 60_000 + RUNS * 2 };

/** Text with the characters names go wrong on: delimiters, `&`, `-`, controls, 8-bit, surrogates. */
const level = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom(
      'a',
      'Z',
      '&',
      '-',
      '/',
      '.',
      ' ',
      '\r',
      '\n',
      '\u0000',
      'é',
      '日',
      '😀',
      '\uD800',
      '\uFFFD',
    ),
    maxLength: 10,
  }),
);
const path = fc.array(level, { minLength: 1, maxLength: 4 });
const delimiter = fc.constantFrom('/', '.');
const utf8 = fc.boolean();

/**
 * Names as a server might list them: wire spellings of paths, and near misses of modified UTF-7
 * (runs left open, non-canonical runs, 8-bit bytes read as Latin-1 or as U+FFFD, stray delimiters).
 */
const listedName = fc.oneof(
  fc.tuple(path, delimiter).map(([p, d]) => {
    try {
      return wireName(p, d, false);
    } catch {
      return p.join(d);
    }
  }),
  fc
    .array(
      fc.constantFrom(
        '&',
        '-',
        '&-',
        '&AGE-',
        '&ACY-',
        '&ZeVnLIqe',
        '&ZeVnLIqe-',
        '&2D0-',
        'A',
        '/',
        '.',
        '..',
        '\xe9',
        '\uFFFD',
        '\r\n',
        '\u0000',
        'INBOX',
      ),
      { maxLength: 8 },
    )
    .map((parts) => parts.join('')),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

describe('IMAP folder names <-> folder paths (fuzz)', () => {
  it('a listed name is either refused or a path that is sent back as the very same name', slow, () => {
    fc.assert(
      fc.property(listedName, delimiter, utf8, (name, d, u) => {
        const result = pathOfListedName(name, d, u);
        if (typeof result === 'string') return;
        expect(wireName(result, d, u), JSON.stringify(name)).toBe(isInbox(result) ? 'INBOX' : name);
        // And every level can be sent again: nothing accepted is refused on the way back.
        if (!isInbox(result)) for (const l of result) expect(levelProblem(l, d)).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it('a path whose levels can be sent comes back from its wire name unchanged', slow, () => {
    fc.assert(
      fc.property(path, delimiter, utf8, (p: FolderPath, d, u) => {
        if (isInbox(p) || p.some((l) => levelProblem(l, d) !== undefined)) return;
        if (p.length === 1 && p[0]!.toUpperCase() === 'INBOX') return;
        expect(pathOfListedName(wireName(p, d, u), d, u)).toEqual(p);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses the names of the report, each for what it is', () => {
    for (const name of [
      '/etc/passwd',
      'a&AGE-b',
      'x&ACY-',
      '&ZeVnLIqe',
      'caf\xe9',
      'caf\uFFFD',
      'a\r\nb',
      'a\u0000b',
      'a//b',
      'b/',
    ]) {
      expect(typeof pathOfListedName(name, '/', false), JSON.stringify(name)).toBe('string');
    }
    expect(pathOfListedName('caf\uFFFD', '/', true)).toMatch(/not UTF-8/);
    expect(pathOfListedName('café/日本語', '/', true)).toEqual(['café', '日本語']);
    expect(pathOfListedName('caf&AOk-/&ZeVnLIqe-', '/', false)).toEqual(['café', '日本語']);
  });
});
