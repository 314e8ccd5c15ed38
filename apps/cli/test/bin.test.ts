import { execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = new URL('../dist/bin.js', import.meta.url).pathname;

describe('the built twinbox binary', () => {
  it('prints its version from package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const { stdout } = await run(process.execPath, [bin, '--version']);
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('prints help with examples', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    expect(stdout).toMatch(/^Usage: twinbox/);
    expect(stdout).toMatch(/Examples:/);
  });

  it('ends quietly when the reader of its output goes away first (twinbox --help | head -1)', async () => {
    const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before the program writes: its writes find no reader (EPIPE).
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('exits non-zero on an unknown option, saying which', async () => {
    const failure = await run(process.execPath, [bin, '--no-such-option']).catch((e: unknown) => e);
    expect(failure).toMatchObject({
      code: 64,
      stderr: expect.stringMatching(/unknown option '--no-such-option'/),
    });
  });

  it('with TWINBOX_HEAP_TRACE, every thread of a threaded sync appends samples of its memory to the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-heap-trace-'));
    try {
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, 'a', sub), { recursive: true });
      await writeFile(join(dir, 'a', 'cur', '1.host:2,S'), 'Subject: one\n\nbody\n');
      const config = join(dir, 'config.toml');
      await writeFile(
        config,
        `workers = "threads"\n[state]\ndir = "${join(dir, 'state')}"\n` +
          `[accounts.a]\ntype = "maildir"\npath = "${join(dir, 'a')}"\n` +
          `[accounts.b]\ntype = "maildir"\npath = "${join(dir, 'b')}"\n` +
          '[pairs.p]\nleft = "a"\nright = "b"\n',
      );
      const trace = join(dir, 'heap.jsonl');
      await run(process.execPath, [bin, '-q', '-c', config, 'sync'], {
        env: { ...process.env, TWINBOX_HEAP_TRACE: trace },
      });
      const samples = (await readFile(trace, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(new Set(samples.map((s) => s.name))).toEqual(
        new Set(['main', 'left side (a)', 'right side (b)', 'state of p']),
      );
      for (const s of samples) {
        for (const field of ['rss', 'heapTotal', 'heapUsed', 'youngSize', 'external', 'arrayBuffers']) {
          expect(s[field]).toBeGreaterThanOrEqual(0);
        }
      }
      // The copy went through: the trace watched a real sync.
      expect(await readFile(join(dir, 'b', 'cur', readdirSync(join(dir, 'b', 'cur'))[0]!), 'utf8')).toContain(
        'Subject: one',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
