/** The kinds of version bump a changeset can ask for, least first. */
export type Bump = 'patch' | 'minor' | 'major';
const ORDER: Bump[] = ['patch', 'minor', 'major'];

/** The packages a changeset's front matter names, with the bump each gets. */
export function parseChangeset(text: string): Map<string, Bump> {
  const front = /^---\n([\s\S]*?)\n---/.exec(text)?.[1] ?? '';
  const out = new Map<string, Bump>();
  for (const m of front.matchAll(/^\s*["']?([^"':\s]+)["']?\s*:\s*(patch|minor|major)\s*$/gm)) {
    out.set(m[1] ?? '', m[2] as Bump);
  }
  return out;
}

/**
 * The packages whose public surface changed (their API report differs from the base's) with no pending
 * changeset asking for a minor or major bump: a change of surface is never a patch (before 1.0 a minor
 * is how a breaking change is announced, after it a major).
 */
export function unannouncedSurfaceChanges(
  changed: readonly string[],
  changesets: readonly Map<string, Bump>[],
): string[] {
  return changed.filter((name) => {
    const strongest = Math.max(-1, ...changesets.map((c) => ORDER.indexOf(c.get(name) ?? ('' as Bump))));
    return strongest < ORDER.indexOf('minor');
  });
}
