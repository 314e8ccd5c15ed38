import { describe, expect, it } from 'vitest';
import { applyFlagDelta, diffFlags, flagsEqual, mergeFlags, normalizeFlags } from '../src/index.js';

describe('normalizeFlags', () => {
  it('spells system flags canonically, drops \\Recent and unknown system flags, sorts system flags first', () => {
    expect(normalizeFlags(['$label1', '\\SEEN', '\\flagged', '\\Recent', '\\Bogus', 'Work'])).toEqual([
      '\\Flagged',
      '\\Seen',
      '$label1',
      'Work',
    ]);
  });

  it('treats keywords case-insensitively, keeping the first spelling', () => {
    expect(normalizeFlags(['Work', 'WORK', 'work'])).toEqual(['Work']);
  });

  it('drops keywords that are not IMAP atoms', () => {
    expect(normalizeFlags(['two words', 'a(b', 'ok', '', 'quo"te'])).toEqual(['ok']);
  });
});

describe('diffFlags and applyFlagDelta', () => {
  it('round-trip: applying the diff from a to b gives b', () => {
    const a = normalizeFlags(['\\Seen', 'x', 'y']);
    const b = normalizeFlags(['\\Flagged', 'y', 'z']);
    const delta = diffFlags(a, b);
    expect(delta).toEqual({ added: ['\\Flagged', 'z'], removed: ['\\Seen', 'x'] });
    expect(applyFlagDelta(a, delta)).toEqual(b);
  });
});

describe('mergeFlags (three-way, per flag)', () => {
  it('takes the side that changed a flag when the sides disagree', () => {
    const base = ['\\Seen'];
    // Left removed \Seen, right added \Flagged: both changes survive.
    const m = mergeFlags(base, [], ['\\Flagged', '\\Seen']);
    expect(m.flags).toEqual(['\\Flagged']);
    expect(m.left).toEqual({ added: ['\\Flagged'], removed: [] });
    expect(m.right).toEqual({ added: [], removed: ['\\Seen'] });
  });

  it('plans nothing when both sides made the same change', () => {
    const m = mergeFlags([], ['\\Seen'], ['\\Seen']);
    expect(m.left).toEqual({ added: [], removed: [] });
    expect(m.right).toEqual({ added: [], removed: [] });
  });

  it('without a base (paired new messages) keeps the union', () => {
    const m = mergeFlags(undefined, ['\\Seen'], ['\\Flagged']);
    expect(m.flags).toEqual(['\\Flagged', '\\Seen']);
  });

  it('is symmetric: swapping the sides swaps the deltas and keeps the result', () => {
    const cases: [string[] | undefined, string[], string[]][] = [
      [
        ['\\Seen', 'a'],
        ['a', 'b'],
        ['\\Seen', '\\Draft'],
      ],
      [undefined, ['x'], ['\\Seen']],
      [[], [], ['\\Answered']],
    ];
    for (const [base, left, right] of cases) {
      const lr = mergeFlags(base, left, right);
      const rl = mergeFlags(base, right, left);
      expect(flagsEqual(lr.flags, rl.flags)).toBe(true);
      expect(lr.left).toEqual(rl.right);
      expect(applyFlagDelta(left, lr.left)).toEqual(lr.flags);
      expect(applyFlagDelta(right, lr.right)).toEqual(lr.flags);
    }
  });
});
