import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const source = (path: string) => readFile(new URL(path, import.meta.url), 'utf8');

/** The first TypeScript block of a README, which is where a reader starts. */
async function firstBlock(readme: string): Promise<string> {
  const block = /```ts\n([\s\S]*?)```/.exec(await source(readme))?.[1];
  if (block === undefined) throw new Error(`${readme} has no TypeScript block.`);
  return block;
}

// The READMEs of core and controller open with this example: the block is the file the other test
// runs against Dovecot, so the README cannot drift into a fragment that no longer compiles or works.
describe('the READMEs that open with this example', () => {
  it.each(['../../../packages/core/README.md', '../../../packages/controller/README.md'])(
    '%s starts with src/imap-to-maildir.ts, verbatim',
    async (readme) => {
      expect(await firstBlock(readme)).toBe(await source('../src/imap-to-maildir.ts'));
    },
  );
});
