// Writes the API reference (`docs/api/`, Markdown, one page per entry point) from the built
// declarations:
//   pnpm build && pnpm docs:api      (or: pnpm --filter @twinbox/docs-check api-docs)
// test/reference.test.ts fails while the checked-in reference differs from what this would write.
import { rm } from 'node:fs/promises';
import { relative } from 'node:path';
import { entryPoints } from './api.ts';
import { referenceDir, writeReference } from './reference.ts';
import { publishedPackages, root } from './workspace.ts';

const started = performance.now();
// Removed first, so that a page of an entry point that is gone does not stay behind.
await rm(referenceDir, { recursive: true, force: true });
await writeReference(publishedPackages().flatMap(entryPoints), referenceDir);
console.log(
  `${relative(root, referenceDir)}: written in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
