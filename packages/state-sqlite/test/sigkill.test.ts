import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteState } from '../src/index.js';

const BATCH = 50_000;
const dist = new URL('../dist/index.js', import.meta.url).href;

// The writer: records batch after batch, each one call (one transaction), until it is killed.
const WRITER = `
const { SqliteState } = await import(${JSON.stringify(dist)});
const state = new SqliteState({ path: process.argv[1] });
for (let n = 0; ; n++) {
  const pairs = Array.from({ length: ${BATCH} }, (_, i) => ({ left: 'b' + n + '-' + i, right: 'r' + n + '-' + i, flags: ['\\\\Seen'] }));
  await state.recordPairs('INBOX', pairs);
  process.stdout.write(n + '\\n');
}
`;

describe('SqliteState killed with SIGKILL in the middle of a large write batch', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('reopens to a consistent state: every batch is there whole or not at all', async () => {
    for (const delay of [150, 400, 900]) {
      const dir = await mkdtemp(join(tmpdir(), 'twinbox-sigkill-'));
      dirs.push(dir);
      const path = join(dir, 'state.sqlite');
      const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, path], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let committed = -1;
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        for (const line of String(d).trim().split('\n')) committed = Math.max(committed, Number(line));
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
      });
      // Wait until at least one batch is in, then let the next one get under way, and kill.
      const deadline = Date.now() + 20_000;
      while (committed < 0 && Date.now() < deadline) await sleep(10);
      expect(stderr).toBe('');
      expect(committed, 'the writer never committed a batch').toBeGreaterThanOrEqual(0);
      await sleep(delay);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;

      const check = new Database(path);
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      check.close();
      const state = new SqliteState({ path });
      const counts = new Map<string, number>();
      for (const p of await state.loadPairs('INBOX')) {
        const batch = p.left.slice(1, p.left.indexOf('-'));
        counts.set(batch, (counts.get(batch) ?? 0) + 1);
      }
      await state.close();
      // Each batch whole or absent, and every batch the writer reported committed is there.
      for (const [batch, count] of counts) expect(count, `batch ${batch}`).toBe(BATCH);
      for (let n = 0; n <= committed; n++) expect(counts.has(String(n)), `reported batch ${n}`).toBe(true);
      // The kill landed mid-batch or between batches: at most one more batch than reported.
      expect(counts.size - (committed + 1)).toBeLessThanOrEqual(1);
    }
  }, 120_000);
});
