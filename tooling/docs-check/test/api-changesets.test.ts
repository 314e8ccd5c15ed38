import { describe, expect, it } from 'vitest';
import { parseChangeset, unannouncedSurfaceChanges } from '../src/api-changesets.ts';

describe('a changed public surface needs a minor or major changeset', () => {
  const changeset = parseChangeset(
    '---\n"@twinbox/core": minor\n\'@twinbox/controller\': patch\n@twinbox/config: major\n---\n\nWhat changed.\n',
  );

  it('reads the bumps of a changeset, however the names are quoted', () => {
    expect(Object.fromEntries(changeset)).toEqual({
      '@twinbox/core': 'minor',
      '@twinbox/controller': 'patch',
      '@twinbox/config': 'major',
    });
  });

  it('names the changed packages that only a patch, or nothing, announces', () => {
    const other = parseChangeset('---\n"@twinbox/state-memory": patch\n---\n');
    expect(
      unannouncedSurfaceChanges(
        ['@twinbox/core', '@twinbox/controller', '@twinbox/config', '@twinbox/state-memory', '@twinbox/cli'],
        [changeset, other],
      ),
    ).toEqual(['@twinbox/controller', '@twinbox/state-memory', '@twinbox/cli']);
  });

  it('takes the strongest bump across changesets', () => {
    const patch = parseChangeset('---\n"@twinbox/controller": patch\n---\n');
    const minor = parseChangeset('---\n"@twinbox/controller": minor\n---\n');
    expect(unannouncedSurfaceChanges(['@twinbox/controller'], [patch, minor])).toEqual([]);
  });
});
