import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const source = (path: string) => readFile(new URL(path, import.meta.url), 'utf8');

/** A README's TypeScript blocks, in order. */
async function blocks(readme: string): Promise<string[]> {
  return [...(await source(readme)).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

// worker-runtime's README opens with a component module and the program that starts it: the two files
// count.test.ts runs, verbatim, so the README cannot drift into a fragment that does not run.
describe('the README of @twinbox/worker-runtime', () => {
  it('starts with src/counter.ts then src/count.ts, verbatim', async () => {
    const [first, second] = await blocks('../../../packages/worker-runtime/README.md');
    expect(first).toBe(await source('../src/counter.ts'));
    expect(second).toBe(await source('../src/count.ts'));
  });
});
