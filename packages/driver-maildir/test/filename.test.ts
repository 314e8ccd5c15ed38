import { describe, expect, it } from 'vitest';
import { infoStart, sizeField, uniqueOf } from '../src/filename.js';
import { formatMaildirName, parseMaildirName } from '../src/index.js';

describe('Maildir file names', () => {
  it('reads the standard info letters as IMAP flags', () => {
    expect(parseMaildirName('1700000000.M1P2.host,S=1234:2,FRS')).toEqual({
      unique: '1700000000.M1P2.host,S=1234',
      flags: ['\\Answered', '\\Flagged', '\\Seen'],
      keywordLetters: [],
      hasInfo: true,
    });
    expect(parseMaildirName('x:2,DPT').flags).toEqual(['\\Deleted', '\\Draft', '$Forwarded']);
  });

  it('keeps the unique part of a name without info (a fresh delivery in new/)', () => {
    expect(parseMaildirName('1700000000.M1P2.host')).toEqual({
      unique: '1700000000.M1P2.host',
      flags: [],
      keywordLetters: [],
      hasInfo: false,
    });
  });

  it("returns Dovecot's keyword letters apart and ignores unknown letters", () => {
    const parsed = parseMaildirName('u:2,SacZ');
    expect(parsed.flags).toEqual(['\\Seen']);
    expect(parsed.keywordLetters).toEqual(['a', 'c']);
  });

  it('accepts the `!` separator some tools write instead of `:`', () => {
    expect(parseMaildirName('u!2,S').flags).toEqual(['\\Seen']);
  });

  it('writes letters in ASCII order, keywords through their letter, and round-trips', () => {
    const name = formatMaildirName(
      'u',
      ['\\Seen', '\\Answered', '$label1', '\\Flagged', 'nolettered'],
      (k) => (k === '$label1' ? 'a' : undefined),
    );
    expect(name).toBe('u:2,FRSa');
    expect(parseMaildirName(name)).toMatchObject({
      unique: 'u',
      flags: ['\\Answered', '\\Flagged', '\\Seen'],
      keywordLetters: ['a'],
    });
  });
});

describe('fast name helpers agree with parseMaildirName', () => {
  const names = [
    'a',
    'a:2,S',
    'a!2,RS',
    'a:2,S:2,F',
    'a:1,x',
    'a:2,S!',
    'x,S=12,W=14:2,',
    'host:2,b:2,S',
    ':2,',
  ];
  for (const name of names) {
    it(`${JSON.stringify(name)}`, () => {
      expect(uniqueOf(name)).toBe(parseMaildirName(name).unique);
      expect(infoStart(name) >= 0).toBe(parseMaildirName(name).hasInfo);
    });
  }
  it('reads size fields', () => {
    expect(sizeField('x,S=12,W=140', ',W=')).toBe(140);
    expect(sizeField('x,S=12', ',W=')).toBeUndefined();
    expect(sizeField('x,W=', ',W=')).toBeUndefined();
    // As Dovecot reads them (found by the fuzzer): digits up to the next field or the end, or nothing.
    expect(sizeField('x,W=12x', ',W=')).toBeUndefined();
    expect(sizeField('x,W=12,S=3', ',W=')).toBe(12);
    expect(sizeField('x,W=99999999999999999999', ',W=')).toBeUndefined();
  });
  it('finds the info after a line break in the unique part (found by the fuzzer)', () => {
    expect(parseMaildirName('17.a\nb:2,S')).toMatchObject({
      unique: '17.a\nb',
      flags: ['\\Seen'],
      hasInfo: true,
    });
    expect(uniqueOf('17.a\nb:2,S')).toBe('17.a\nb');
  });
});
