import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { entryPoints } from '../src/api.ts';
import { referenceCommand, referenceDir, writeReference } from '../src/reference.ts';
import { publishedPackages } from '../src/workspace.ts';

const temp = await mkdtemp(join(tmpdir(), 'twinbox-reference-'));
afterAll(() => rm(temp, { recursive: true, force: true }));

/** Every file under `dir`, relative to it, sorted; none when it does not exist. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

// TypeDoc takes a few seconds over every package; on a busy CI machine, more.
describe('the API reference (docs/api)', { timeout: 120_000 }, () => {
  it('fails, writing nothing, when an export or a member has no documentation', async () => {
    const fixture = new URL('./fixtures/undocumented/index.d.ts', import.meta.url).pathname;
    const out = join(temp, 'undocumented');
    const failure = await writeReference([{ specifier: 'fixture', declarations: fixture }], out).then(
      () => undefined,
      (error: Error) => error.message,
    );
    const undocumented = [...(failure ?? '').matchAll(/^(\S+) \(\w+\), defined in/gm)].map((m) => m[1]);
    // Members too, which api.test.ts does not check; a comment of tags alone (`tagged`) passes
    // TypeDoc, and api.test.ts is the check that refuses it.
    expect(undocumented.sort()).toEqual(['Plain', 'Plain.x', 'bare']);
    expect(await files(out)).toEqual([]);
  });

  it(`is what the current build generates (${referenceCommand})`, async () => {
    const out = join(temp, 'current');
    await writeReference(publishedPackages().flatMap(entryPoints), out);
    const expected = await files(out);
    const stale = `docs/api is out of date with the packages' declarations: run \`${referenceCommand}\` and commit docs/api`;
    expect(await files(referenceDir), stale).toEqual(expected);
    for (const file of expected) {
      const committed = await readFile(join(referenceDir, file), 'utf8');
      expect(committed, `${stale} (${file} differs)`).toBe(await readFile(join(out, file), 'utf8'));
    }
  });
});

describe.each(publishedPackages().map((p) => [p.name, p] as const))('the README of %s', (_name, pkg) => {
  it('links the reference page of each entry point', async () => {
    const readme = await readFile(join(pkg.dir, 'README.md'), 'utf8');
    const pages = entryPoints(pkg).map((e) => relative(pkg.dir, join(referenceDir, `${e.specifier}.md`)));
    expect(pages.filter((page) => !readme.includes(`](${page})`))).toEqual([]);
  });
});
