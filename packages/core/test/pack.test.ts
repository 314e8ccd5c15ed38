import { execFile } from 'node:child_process';
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const repoRoot = join(packageDir, '..', '..');

/**
 * A third party installs @twinbox/core alone, from the tarball `pnpm pack` makes, into a project of its
 * own that has no workspace around it, and imports it from JavaScript and from TypeScript.
 */
describe('the packed @twinbox/core tarball', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('installs alone and works from JavaScript and TypeScript', async () => {
    const packDir = await mkdtemp(join(tmpdir(), 'twinbox-pack-'));
    const consumer = await mkdtemp(join(tmpdir(), 'twinbox-consumer-'));
    dirs.push(packDir, consumer);
    await run('pnpm', ['pack', '--pack-destination', packDir], { cwd: packageDir });
    const [tarball] = (await readdir(packDir)).filter((f) => f.endsWith('.tgz'));
    expect(tarball).toMatch(/^twinbox-core-.*\.tgz$/);

    const { stdout: listing } = await run('tar', ['tzf', join(packDir, tarball!)]);
    const files = listing.trim().split('\n');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/README.md');
    expect(files).toContain('package/LICENSE');
    // The sources ship so that the source maps (.js.map and .d.ts.map) resolve; the tests do not.
    expect(files).toContain('package/src/engine.ts');
    expect(files.some((f) => f.startsWith('package/test/'))).toBe(false);

    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(packDir, tarball!)],
      {
        cwd: consumer,
      },
    );

    // Every source map names files that are in the package, so a stack trace or "go to definition"
    // reaches the TypeScript rather than a missing file.
    const installed = join(consumer, 'node_modules', '@twinbox', 'core');
    const maps = (await readdir(join(installed, 'dist'), { recursive: true })).filter((f) =>
      f.endsWith('.map'),
    );
    expect(maps.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const map of maps) {
      const file = join(installed, 'dist', map);
      const { sources, sourceRoot = '' } = JSON.parse(await readFile(file, 'utf8')) as {
        sources: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const target = join(dirname(file), sourceRoot, source);
        if (
          !(await access(target).then(
            () => true,
            () => false,
          ))
        )
          missing.push(`${map} -> ${source}`);
      }
    }
    expect(missing).toEqual([]);

    await writeFile(
      join(consumer, 'main.js'),
      "import { mergeFlags } from '@twinbox/core';\nconsole.log(JSON.stringify(mergeFlags(['\\\\Seen'], [], ['\\\\Seen'])));\n",
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: consumer });
    expect(JSON.parse(stdout)).toEqual({
      flags: [],
      left: { added: [], removed: [] },
      right: { added: [], removed: ['\\Seen'] },
    });

    // The declarations are enough for a strict TypeScript consumer: a wrong call must not compile.
    await writeFile(
      join(consumer, 'ok.ts'),
      "import { mergeFlags, type FlagMerge } from '@twinbox/core';\nexport const m: FlagMerge = mergeFlags(undefined, ['a'], ['b']);\n",
    );
    await writeFile(
      join(consumer, 'bad.ts'),
      "import { mergeFlags } from '@twinbox/core';\nexport const m: number = mergeFlags(undefined, ['a'], ['b']);\n",
    );
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const tscArgs = [
      '--strict',
      '--noEmit',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--skipLibCheck',
    ];
    await run(process.execPath, [tsc, ...tscArgs, 'ok.ts'], { cwd: consumer });
    await expect(run(process.execPath, [tsc, ...tscArgs, 'bad.ts'], { cwd: consumer })).rejects.toMatchObject(
      {
        stdout: expect.stringMatching(/FlagMerge.*not assignable to type 'number'/),
      },
    );
  }, 60_000);
});
