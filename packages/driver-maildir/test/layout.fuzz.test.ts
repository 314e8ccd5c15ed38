import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { type FolderPath, isInbox } from '@twinbox/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FolderLayout } from '../src/layout.js';

/** Cheap runs (microseconds each): many by default; `TWINBOX_PROPERTY_RUNS` sets the number. */
const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 3000);
/** For a hang, not for a busy machine. */
const slow = { timeout: 60_000 + RUNS * 2 };

const ROOT = '/maildir-root/Mail';

/** Levels as another store may name them: dots, slashes, controls, `&` runs, 8-bit, long, surrogates. */
const level = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom(
      'a',
      '.',
      '..',
      '/',
      '&',
      '-',
      '&AGE-',
      ' ',
      '\n',
      '\u0000',
      'é',
      '日',
      '\uD800',
      'cur',
    ),
    maxLength: 8,
  }),
  fc.constantFrom('..', '.', '', 'cur', 'INBOX', '/etc/passwd', 'x'.repeat(300)),
);
const path = fc.array(level, { minLength: 1, maxLength: 4 });
const layouts = fc.record({
  layout: fc.constantFrom('maildir++' as const, 'fs' as const),
  names: fc.constantFrom('utf-8' as const, 'modified-utf-7' as const),
  separator: fc.constantFrom('.', '_'),
});

function inside(dir: string): boolean {
  const rel = relative(ROOT, dir);
  return rel !== '' && rel.split(sep)[0] !== '..' && !isAbsolute(rel) && dir.startsWith(`${ROOT}${sep}`);
}

/** The path a directory under the root stands for, read back the way the driver's listing reads it. */
function readBack(layout: FolderLayout, dir: string): FolderPath | undefined {
  if (layout.options.layout === 'maildir++') {
    return dirname(dir) === ROOT ? layout.pathOfDotDir(basename(dir)) : undefined;
  }
  const levels = relative(ROOT, dir)
    .split(sep)
    .map((name) => layout.fsLevel(name));
  return levels.every((l) => l !== undefined) ? (levels as string[]) : undefined;
}

describe('folder paths <-> Maildir directories (fuzz)', () => {
  it(
    'a path is either refused, or a directory strictly inside the root that reads back as that path',
    slow,
    () => {
      fc.assert(
        fc.property(layouts, path, (options, p) => {
          const layout = new FolderLayout({ root: ROOT, ...options });
          if (isInbox(p)) return;
          let dir: string;
          try {
            dir = layout.dirOf(p);
          } catch (err) {
            expect((err as { code?: string }).code).toBe('FOLDER_NAME_UNSAFE');
            return;
          }
          expect(inside(dir), dir).toBe(true);
          expect(readBack(layout, dir)).toEqual(p);
        }),
        { numRuns: RUNS },
      );
    },
  );

  it('a directory name is either refused or a path whose directory is that very name', slow, () => {
    const dirName = fc.oneof(
      level.map((l) => `.${l}`),
      fc.array(level, { minLength: 1, maxLength: 3 }).map((ls) => `.${ls.join('.')}`),
      level,
    );
    fc.assert(
      fc.property(layouts, dirName, (options, name) => {
        const layout = new FolderLayout({ root: ROOT, ...options });
        // No file system holds such an entry.
        if (name === '' || name.includes('/') || name === '.' || name === '..') return;
        if (Buffer.byteLength(name) > 255 || name.includes('\u0000')) return;
        if (options.layout === 'maildir++') {
          const p = layout.pathOfDotDir(name);
          if (p === undefined || isInbox(p)) return;
          expect(layout.dirOf(p)).toBe(join(ROOT, name));
        } else {
          const l = layout.fsLevel(name);
          if (l === undefined || isInbox([l])) return;
          expect(layout.dirOf([l])).toBe(join(ROOT, name));
        }
      }),
      { numRuns: RUNS },
    );
  });
});
