import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

/*
 * The drivers and the state are optional peer dependencies, loaded through loadOptional. Here Node
 * itself fails to find them: the modules below live in a temporary directory, outside the workspace,
 * where no @twinbox package resolves (the built module is used, as a third party's Node loads it).
 * scripts/pack-examples.sh checks the same through openPair in a project installed from the tarballs.
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-optional-'));
  await writeFile(join(dir, 'needs-imap.mjs'), "export * from '@twinbox/driver-imap';\n");
  await writeFile(join(dir, 'needs-other.mjs'), "export * from 'twinbox-no-such-dependency';\n");
  await writeFile(
    join(dir, 'main.mjs'),
    `import { loadOptional } from ${JSON.stringify(new URL('../dist/optional.js', import.meta.url).href)};
const out = {};
for (const file of ['./needs-imap.mjs', './needs-other.mjs']) {
  try {
    await loadOptional('@twinbox/driver-imap', () => import(file));
    out[file] = 'loaded';
  } catch (err) {
    out[file] = { code: err.code, message: err.message };
  }
}
console.log(JSON.stringify(out));
`,
  );
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('an optional package', () => {
  it('that is missing is named with what to install; a missing module it imports is left as it is', async () => {
    const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: dir });
    const out = JSON.parse(stdout);
    expect(out['./needs-imap.mjs']).toEqual({
      code: 'PACKAGE_MISSING',
      message:
        'this config uses an IMAP account: install @twinbox/driver-imap (npm install @twinbox/driver-imap); ' +
        '@twinbox/config loads it only for the configs that need it.',
    });
    expect(out['./needs-other.mjs'].code).toBe('ERR_MODULE_NOT_FOUND');
    expect(out['./needs-other.mjs'].message).toContain("Cannot find package 'twinbox-no-such-dependency'");
  });
});
