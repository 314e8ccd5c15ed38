import { normalizeFlags } from '@twinbox/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  dateFromUnique,
  formatMaildirName,
  infoStart,
  parseMaildirName,
  renamedForFlags,
  sizeField,
  sizesFromName,
  uniqueOf,
} from '../src/filename.js';

/** Cheap runs (well under a millisecond each): many by default; `TWINBOX_PROPERTY_RUNS` sets the number. */
const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 3000);
/** For a hang, not for a busy machine. */
const slow = { timeout: 60_000 + RUNS * 2 };

/**
 * Names as other programs may leave them: the characters the syntax turns on (`:`, `!`, `2`, `,`, `=`,
 * info letters, digits) often, line terminators (a regex `.` does not match them), NUL, a lone
 * surrogate and any other code point now and then.
 */
const nameChar = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(':', '!', '2', ',', '=', 'S', 'W', 'F', 'R', 'a', 'z', 'X', '.', '1', '0'),
  },
  { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\u2028', '\u2029', '\0', 'é', '\uD800') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
/** Whole pieces of the syntax, so that info, size fields and their near misses are common. */
const namePiece = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: nameChar, minLength: 1, maxLength: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom(':2,', '!2,', ':1,', ',S=', ',W=', '12', 'FRS', 'a') },
);
const name = fc.oneof(
  fc.array(namePiece, { maxLength: 12 }).map((pieces) => pieces.join('')),
  fc.string({ unit: nameChar, maxLength: 40 }),
  fc.string({ unit: 'binary' }),
);

const SYSTEM = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded'];
const KEYWORDS = ['$label1', 'Work', 'later', '$Junk'];
/** A keyword's Dovecot letter, as `dovecot-keywords` would give it (one of them has none). */
const letterOf = (keyword: string) => ({ $label1: 'a', work: 'c', later: 'z' })[keyword.toLowerCase()];
const flagList = fc.subarray([...SYSTEM, ...KEYWORDS, '\\Recent', '\\Unknown']);

describe('Maildir file names, fuzzed', slow, () => {
  it('no name makes a reader throw, and the fast helpers agree with parseMaildirName', () => {
    fc.assert(
      fc.property(name, (n) => {
        const parsed = parseMaildirName(n);
        const at = infoStart(n);
        expect(uniqueOf(n)).toBe(parsed.unique);
        expect(at >= 0).toBe(parsed.hasInfo);
        expect(parsed.unique).toBe(at >= 0 ? n.slice(0, at) : n);
        if (parsed.hasInfo) expect(n.slice(at + 1, at + 3)).toBe('2,');
        sizesFromName(parsed.unique);
        dateFromUnique(parsed.unique);
      }),
      { numRuns: RUNS },
    );
  });

  it('parse(format(unique, flags)) gives back the unique part, the flags with a letter and the keyword letters', () => {
    fc.assert(
      fc.property(name, flagList, (unique, flags) => {
        const written = formatMaildirName(unique, flags, letterOf);
        const parsed = parseMaildirName(written);
        expect(parsed.unique).toBe(unique);
        expect(parsed.hasInfo).toBe(true);
        expect(parsed.flags).toEqual(normalizeFlags(flags.filter((f) => SYSTEM.includes(f))));
        const letters = flags.map((f) => letterOf(f)).filter((l): l is string => l !== undefined);
        expect(parsed.keywordLetters).toEqual([...new Set(letters)].sort());
        // Letters in ASCII order, as the spec asks.
        const info = written.slice(infoStart(written) + 3);
        expect(info).toBe([...info].sort().join(''));
      }),
      { numRuns: RUNS },
    );
  });

  it('a flag change renames letter by letter: the unique part, the separator and letters it does not own stay', () => {
    const infoLetter = fc.constantFrom('D', 'F', 'P', 'R', 'S', 'T', 'a', 'c', 'x', 'Z', 'é');
    fc.assert(
      fc.property(
        name,
        fc.constantFrom(':', '!'),
        fc.option(fc.string({ unit: infoLetter, maxLength: 6 }), { nil: undefined }),
        flagList,
        flagList,
        (unique, separator, info, add, remove) => {
          fc.pre(infoStart(unique) < 0);
          const before = info === undefined ? unique : `${unique}${separator}2,${info}`;
          const after = renamedForFlags(before, { add, remove }, letterOf);
          const parsed = parseMaildirName(after);
          expect(uniqueOf(after)).toBe(unique);
          if (info !== undefined) expect(after.charAt(unique.length)).toBe(separator);
          const letter = (f: string) => formatMaildirName('', [f], letterOf).slice(3);
          const added = new Set(add.map(letter).filter(Boolean));
          const removed = new Set(remove.map(letter).filter(Boolean));
          const old = new Set(info ?? '');
          const now = parsed.hasInfo ? after.slice(infoStart(after) + 3) : '';
          for (const l of new Set([...old, ...added]))
            expect(now.includes(l), `letter ${l}`).toBe(added.has(l) || !removed.has(l));
          for (const l of now) expect(old.has(l) || added.has(l), `letter ${l}`).toBe(true);
          const same = new Set(now).size === old.size && [...now].every((l) => old.has(l));
          // A rename writes letters in ASCII order; no rename at all when no letter comes or goes.
          if (same) expect(after).toBe(before);
          else expect(now).toBe([...now].sort().join(''));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('reads a size field as Dovecot does: digits up to the next field or the end, else none', () => {
    const digits = fc.string({ unit: fc.constantFrom('0', '1', '9'), minLength: 1, maxLength: 25 });
    fc.assert(
      fc.property(name, digits, fc.constantFrom('', ',S=1', ',x', 'x', '=', ':2,S'), (prefix, d, after) => {
        fc.pre(!prefix.includes(',W='));
        const got = sizeField(`${prefix},W=${d}${after}`, ',W=');
        const terminated = after === '' || /^[,:!]/.test(after);
        const value = Number(d);
        if (!terminated || !Number.isSafeInteger(value)) expect(got).toBeUndefined();
        else expect(got).toBe(value);
      }),
      { numRuns: RUNS },
    );
  });
});
