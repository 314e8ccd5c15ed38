import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { folderKey } from '../src/folders.js';
import { largestFirst } from '../src/schedule.js';

const item = (key: string, size?: number) => ({ key, size });
const keys = (items: { key: string }[]) => items.map((i) => i.key);

describe('largestFirst', () => {
  it('starts the largest folders first and keeps the given order among equals and unknowns', () => {
    const items = [
      item('Archiv', 990),
      item('Drafts', 67),
      item('INBOX', 2147),
      item('Junk', 1709),
      item('Lists'),
      item('Sent', 67),
    ];
    expect(keys(largestFirst(items, (i) => i.size))).toEqual([
      'INBOX',
      'Junk',
      'Archiv',
      'Drafts',
      'Sent',
      'Lists',
    ]);
  });

  it('puts a folder after its ancestors that are in the list, however small they are', () => {
    const items = [item('A', 1), item('A/B', 5), item('A/B/C', 100), item('D', 50)];
    expect(keys(largestFirst(items, (i) => i.size))).toEqual(['A', 'A/B', 'A/B/C', 'D']);
  });

  it('keeps the given order when no size is known', () => {
    const items = [item('b'), item('a'), item('c')];
    expect(keys(largestFirst(items, (i) => i.size))).toEqual(['b', 'a', 'c']);
  });

  it('puts a folder after its ancestors even when no size is known', () => {
    const items = [item('a/a'), item('a')];
    expect(keys(largestFirst(items, (i) => i.size))).toEqual(['a', 'a/a']);
  });

  it('returns each folder once, every ancestor before its descendants', () => {
    const level = fc.constantFrom('a', 'b', 'c/d', 'e%');
    const entry = fc.record({
      path: fc.array(level, { minLength: 1, maxLength: 3 }),
      size: fc.option(fc.nat(5000), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => folderKey(e.path) }), (entries) => {
        const items = entries.map((e) => item(folderKey(e.path), e.size));
        const out = largestFirst(items, (i) => i.size);
        expect([...keys(out)].sort()).toEqual([...keys(items)].sort());
        const at = new Map(out.map((o, i) => [o.key, i]));
        for (const e of entries) {
          for (let depth = 1; depth < e.path.length; depth++) {
            const ancestor = at.get(folderKey(e.path.slice(0, depth)));
            if (ancestor !== undefined) expect(ancestor).toBeLessThan(at.get(folderKey(e.path))!);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
