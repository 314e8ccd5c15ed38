import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMutf7, encodeMutf7 } from '../src/mutf7.js';

/** Cheap runs (well under a millisecond each): many by default; `TWINBOX_PROPERTY_RUNS` sets the number. */
const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 3000);
/** For a hang, not for a busy machine. */
const slow = { timeout: 60_000 + RUNS * 2 };

const wellFormed = (s: string) => !/[\uD800-\uDFFF]/u.test(s);

/** Folder names: any code points, with `&`, `-` and ASCII next to non-ASCII often. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 15 }),
  fc.string({
    unit: fc.constantFrom('&', '-', 'a', ' ', '~', 'ä', 'Ü', '日', '😀', '\u0000', '\u007f', '\uFFFF'),
    maxLength: 20,
  }),
);

/** A base64 run as an encoder would write it, of any UTF-16 code units: lone surrogates, ASCII, NUL too. */
const run = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd800, max: 0xdfff })), {
    minLength: 1,
    maxLength: 4,
  })
  .map((units) => {
    const bytes = Buffer.from(units.flatMap((u) => [u >> 8, u & 0xff]));
    return `&${bytes.toString('base64').replace(/=+$/, '').replaceAll('/', ',')}-`;
  });

/**
 * Directory names another program may have made: runs, the characters modified UTF-7 is built from,
 * its near misses (`/`, `=`, an unterminated run) and bytes it never holds (8-bit, read as Latin-1 or
 * as the U+FFFD that invalid UTF-8 becomes).
 */
const spelled = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: run },
      { weight: 4, arbitrary: fc.constantFrom('&', '-', '&-', 'A', 'G', 'E', 'Z', '0', '+', ',', 'a', ' ') },
      { weight: 2, arbitrary: fc.constantFrom('/', '=', 'ä', '\uFFFD', '\u0080', '\u00ff') },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    ),
    { maxLength: 8 },
  )
  .map((pieces) => pieces.join(''));

describe('modified UTF-7, fuzzed', slow, () => {
  it('decode(encode(name)) is the name, and the encoding is printable ASCII', () => {
    fc.assert(
      fc.property(text, (name) => {
        const encoded = encodeMutf7(name);
        expect(encoded).toMatch(/^[\x20-\x7e]*$/);
        expect(decodeMutf7(encoded)).toBe(name);
      }),
      { numRuns: RUNS },
    );
  });

  it('decodes a spelling only into a well-formed name that encodes back to that very spelling', () => {
    fc.assert(
      fc.property(spelled, (spelling) => {
        const decoded = decodeMutf7(spelling);
        if (decoded === undefined) return;
        expect(wellFormed(decoded), JSON.stringify(decoded)).toBe(true);
        expect(encodeMutf7(decoded)).toBe(spelling);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses invalid runs rather than reading them as another name', () => {
    for (const bad of [
      '&AGE-', // "a", which must stand for itself
      '&ACY-', // "&", which is spelled "&-"
      '&ZeVnLIqe', // 日本語 without the closing "-"
      '&AOQ', // unterminated at the end
      '&AOR-', // "ä" with non-zero padding bits
      '&AOQ-&AOQ-', // two runs where one is the spelling
      '&2D0-', // half of a surrogate pair: not Unicode
      '&3gA-', // the other half alone
      '&3gDYPQ-', // the halves in the wrong order
      '&AOQ=-', // base64 padding
      '&AOQ/-', // "/" instead of ","
      'Entw\u00fcrfe', // raw 8-bit, as Latin-1
      'Entw\uFFFDrfe', // raw 8-bit, as invalid UTF-8 reads
      '&-&', // "&" alone at the end
    ]) {
      expect(decodeMutf7(bad), bad).toBeUndefined();
    }
  });

  it('refuses to encode a name that is not well-formed Unicode', () => {
    expect(() => encodeMutf7('a\uD800b')).toThrow(TypeError);
    expect(() => encodeMutf7('\uDE00\uD83D')).toThrow(TypeError);
  });
});
