import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiReport, entryPoints, readApi } from '../src/api.ts';
import { publishedPackages } from '../src/workspace.ts';

const packages = publishedPackages();
// One program over every entry point's shipped declarations, as users' editors read them.
const api = readApi(packages.flatMap(entryPoints));

describe('the documentation check', () => {
  it('tells a documented export from one with no doc comment, a line comment or only tags', () => {
    const file = new URL('./fixtures/undocumented/index.d.ts', import.meta.url).pathname;
    const exports = readApi([{ specifier: 'fixture', declarations: file }]).get('fixture') ?? [];
    expect(Object.fromEntries(exports.map((e) => [e.name, e.documented]))).toEqual({
      alias: true,
      bare: false,
      documented: true,
      Plain: false,
      tagged: false,
    });
  });
});

describe.each(packages.map((p) => [p.name, p] as const))('%s', (_name, pkg) => {
  it('documents every export of every entry point', () => {
    const undocumented = entryPoints(pkg).flatMap((entry) =>
      (api.get(entry.specifier) ?? [])
        .filter((e) => !e.documented)
        .map((e) => `${entry.specifier}: ${e.name} (${e.where})`),
    );
    expect(undocumented).toEqual([]);
  });

  it('has an API report that matches its public surface (pnpm --filter @twinbox/docs-check api-report)', async () => {
    const committed = await readFile(join(pkg.dir, 'api.md'), 'utf8').catch(() => '(no api.md)');
    expect(committed).toBe(apiReport(pkg, api));
  });
});
