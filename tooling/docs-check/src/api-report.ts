// Writes each published package's API report (`<package>/api.md`) from its built declarations:
//   pnpm build && pnpm --filter @twinbox/docs-check api-report
// test/api.test.ts fails while a report differs from what this would write.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiReport, entryPoints, readApi } from './api.ts';
import { publishedPackages } from './workspace.ts';

const packages = publishedPackages();
const api = readApi(packages.flatMap(entryPoints));
for (const pkg of packages) {
  writeFileSync(join(pkg.dir, 'api.md'), apiReport(pkg, api));
  console.log(`${pkg.name}: ${join(pkg.dir, 'api.md')}`);
}
