import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A package that is published: under packages/ or apps/, and not private. */
export interface PublishedPackage {
  name: string;
  dir: string;
  manifest: {
    name: string;
    bin?: Record<string, string>;
    exports?: Record<string, string | { types?: string; import?: string }>;
  };
}

/** Every published package of the workspace, read from disk so that a new one is never left out. */
export function publishedPackages(): PublishedPackage[] {
  const out: PublishedPackage[] = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(root, group, entry.name);
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (manifest.private !== true) out.push({ name: manifest.name, dir, manifest });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A fenced code block of a README. */
export interface CodeBlock {
  lang: string;
  code: string;
  /** Where it starts in the README, to compare with the first heading's place. */
  index: number;
}

/** The fenced code blocks of a Markdown text, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] ?? '',
    code: m[2] ?? '',
    index: m.index,
  }));
}
