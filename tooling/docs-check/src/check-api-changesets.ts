// Fails when a published package's API report (api.md) differs from the one at a base revision and no
// pending changeset gives that package a minor or major bump. For branches, as `changeset status`:
//   node tooling/docs-check/src/check-api-changesets.ts [base, default main]
// A package with no report at the base (a new one) is not compared; only the changesets added since
// the base count.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseChangeset, unannouncedSurfaceChanges } from './api-changesets.ts';
import { publishedPackages, root } from './workspace.ts';

const base = process.argv[2] ?? 'main';
const changed: string[] = [];
for (const pkg of publishedPackages()) {
  const path = relative(root, join(pkg.dir, 'api.md'));
  let before: string;
  try {
    before = execFileSync('git', ['show', `${base}:${path}`], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch {
    continue;
  }
  if (before !== readFileSync(join(root, path), 'utf8')) changed.push(pkg.name);
}
const dir = join(root, '.changeset');
/** Whether `path` exists at the base revision. */
const atBase = (path: string) => {
  try {
    execFileSync('git', ['cat-file', '-e', `${base}:${path}`], { cwd: root, stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
};
// Only the changesets this change adds: an older pending one announced an older change.
const changesets = readdirSync(dir)
  .filter((f) => f.endsWith('.md') && f !== 'README.md' && !atBase(`.changeset/${f}`))
  .map((f) => parseChangeset(readFileSync(join(dir, f), 'utf8')));
const missing = unannouncedSurfaceChanges(changed, changesets);
for (const name of missing) {
  console.error(
    `${name}: its public surface (api.md) changed since ${base}; add a changeset with a minor or major bump.`,
  );
}
console.log(
  `${changed.length} public surface(s) changed since ${base}, ${missing.length} without a minor or major changeset.`,
);
process.exitCode = missing.length > 0 ? 1 : 0;
