import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@twinbox/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { typeErrors } from '../src/typecheck.ts';
import {
  type CodeBlock,
  codeBlocks,
  type PublishedPackage,
  publishedPackages,
  root,
} from '../src/workspace.ts';

const run = promisify(execFile);
const here = new URL('..', import.meta.url).pathname;

/**
 * How each published package's opening example is kept from rotting:
 * - `example`: the block is a file of `examples/`, verbatim; that example's own tests run it (against
 *   Dovecot) and check the README (its `readme.test.ts`);
 * - `run`: the block compiles against the shipped types and runs here, with Node, in a throwaway home
 *   (`setUp` puts there what the example expects to find, `check` looks at what it did);
 * - `compile`: it compiles against the shipped types (it needs a real server to run);
 * - `sh`: the block's `npx <package>` lines run the package's bin and must succeed.
 * A published package missing from this table fails the first test.
 */
const MECHANISMS: Record<string, Mechanism> = {
  '@twinbox/cli': { kind: 'sh' },
  '@twinbox/config': {
    kind: 'run',
    // Two Maildirs paired as `work`: the example syncs the message of one into the other.
    setUp: async (home) => {
      await mkdir(join(home, '.config', 'twinbox'), { recursive: true });
      await writeFile(
        join(home, '.config', 'twinbox', 'config.toml'),
        '[accounts.a]\ntype = "maildir"\npath = "~/A"\n\n[accounts.b]\ntype = "maildir"\npath = "~/B"\n\n' +
          '[pairs.work]\nleft = "a"\nright = "b"\n',
      );
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(home, 'A', sub), { recursive: true });
      await writeFile(join(home, 'A', 'cur', '1.M1P1.test:2,S'), 'Subject: hello\n\nhello\n');
    },
    check: async (home, stdout) => {
      expect(stdout).toMatch(/copied: 1\b/);
      expect(await readdir(join(home, 'B', 'cur'))).toHaveLength(1);
    },
  },
  '@twinbox/controller': { kind: 'example' },
  '@twinbox/core': { kind: 'example' },
  '@twinbox/daemon': { kind: 'sh' },
  '@twinbox/driver-imap': { kind: 'compile' },
  '@twinbox/importers': {
    kind: 'run',
    // An mbsync config of one channel: the example writes its translation, which must load.
    setUp: async (home) => {
      await writeFile(
        join(home, '.mbsyncrc'),
        'IMAPAccount work\nHost imap.example.com\nUser me\nPassCmd "pass show mail"\nSSLType IMAPS\n\n' +
          'IMAPStore work-remote\nAccount work\n\nMaildirStore work-local\nPath ~/Mail/\nInbox ~/Mail/INBOX\n\n' +
          'Channel work\nFar :work-remote:\nNear :work-local:\nPatterns *\nSync All\nCreate Both\nExpunge Both\n',
      );
    },
    check: async (home) => {
      const { config } = await loadConfig(join(home, 'twinbox.toml'));
      expect(config.pairs.work).toMatchObject({ left: 'work-remote', right: 'work-local', folders: ['*'] });
    },
  },
  '@twinbox/driver-maildir': {
    kind: 'run',
    check: async (home) => {
      expect(await readdir(join(home, 'Mail'))).toContain('.Archive.2024');
    },
  },
  '@twinbox/state-memory': { kind: 'run' },
  '@twinbox/state-sqlite': {
    kind: 'run',
    check: async (home) => {
      expect(await readdir(join(home, '.local', 'state', 'twinbox'))).toContain('work.sqlite');
    },
  },
  '@twinbox/worker-runtime': { kind: 'example' },
};

type Mechanism =
  | { kind: 'example' | 'compile' | 'sh' }
  | {
      kind: 'run';
      setUp?: (home: string) => Promise<void>;
      check?: (home: string, stdout: string) => Promise<void>;
    };

const packages = publishedPackages();

/** The README's first code block, which must come before its first section (where a reader starts). */
async function opening(pkg: PublishedPackage): Promise<CodeBlock> {
  const readme = await readFile(join(pkg.dir, 'README.md'), 'utf8');
  const first = codeBlocks(readme)[0];
  if (!first) throw new Error(`${pkg.name}'s README has no code block.`);
  const section = readme.search(/^## /m);
  if (section !== -1 && section < first.index) throw new Error(`${pkg.name}'s README has a section first.`);
  return first;
}

// The blocks are written into this package (so their imports resolve through its dependencies, to the
// packages' built exports) and compiled in one program, once.
let scratch: string;
const files = new Map<string, string>();
let errors: string[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(join(here, '.readme-'));
  for (const pkg of packages) {
    const kind = MECHANISMS[pkg.name]?.kind;
    if (kind !== 'run' && kind !== 'compile') continue;
    const file = join(scratch, `${pkg.name.replace('@twinbox/', '')}.ts`);
    await writeFile(file, (await opening(pkg)).code);
    files.set(pkg.name, file);
  }
  errors = typeErrors(join(here, 'tsconfig.json'), [...files.values()]);
}, 60_000);
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('every published package', () => {
  it('has a way its README example is kept running', () => {
    expect(packages.map((p) => p.name)).toEqual(Object.keys(MECHANISMS).sort());
  });
});

describe.each(packages.map((p) => [p.name, p] as const))('the README of %s', (name, pkg) => {
  const mechanism = MECHANISMS[name];
  if (!mechanism) return;

  if (mechanism.kind === 'example') {
    it('opens with a file of examples/, verbatim', async () => {
      const { code } = await opening(pkg);
      const sources: string[] = [];
      for (const example of await readdir(join(root, 'examples'))) {
        const src = join(root, 'examples', example, 'src');
        for (const file of await readdir(src).catch(() => []))
          sources.push(await readFile(join(src, file), 'utf8'));
      }
      expect(sources).toContain(code);
    });
  }

  if (mechanism.kind === 'run' || mechanism.kind === 'compile') {
    it('opens with TypeScript that compiles against the shipped types', async () => {
      expect((await opening(pkg)).lang).toBe('ts');
      const file = files.get(name) ?? '';
      expect(errors.filter((e) => e.startsWith(file))).toEqual([]);
    });
  }

  if (mechanism.kind === 'run') {
    it('opens with an example that runs', async () => {
      const home = await mkdtemp(join(tmpdir(), 'twinbox-readme-'));
      try {
        await mechanism.setUp?.(home);
        const env = { PATH: process.env.PATH, HOME: home };
        const { stdout } = await run(process.execPath, [files.get(name) ?? ''], {
          cwd: home,
          env,
          timeout: 20_000,
        });
        await mechanism.check?.(home, stdout);
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    }, 30_000);
  }

  if (mechanism.kind === 'sh') {
    it('opens with npx commands that succeed', async () => {
      const { lang, code } = await opening(pkg);
      expect(lang).toBe('sh');
      const commands = code
        .split('\n')
        .filter((line) => line.startsWith(`npx ${name} `))
        .map((line) => line.slice(`npx ${name} `.length).split('#')[0]?.trim().split(/\s+/) ?? []);
      expect(commands.length).toBeGreaterThan(0);
      const bin = Object.values(pkg.manifest.bin ?? {})[0];
      expect(bin).toBeDefined();
      for (const args of commands) {
        const { stdout } = await run(process.execPath, [join(pkg.dir, bin ?? ''), ...args], {
          timeout: 20_000,
        });
        expect(stdout.trim()).not.toBe('');
      }
    }, 60_000);
  }
});
