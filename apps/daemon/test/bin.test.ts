import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = new URL('../dist/bin.js', import.meta.url).pathname;

describe('the built twinboxd binary', () => {
  it('prints its version from package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const { stdout } = await run(process.execPath, [bin, '--version']);
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('prints help with examples', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/^Usage: twinboxd/);
    expect(stdout).toMatch(/Examples:/);
  });

  it('exits non-zero on an unknown option, saying which', async () => {
    const failure = await run(process.execPath, [bin, '--no-such-option']).catch((e: unknown) => e);
    expect(failure).toMatchObject({
      code: 64,
      stderr: expect.stringMatching(/unknown option '--no-such-option'/),
    });
  });
});
