import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { bin, message, type Setup, setup, twinbox } from './helpers.js';

let current: Setup | undefined;
afterEach(async () => {
  if (current) await rm(current.dir, { recursive: true, force: true });
  current = undefined;
});

describe('Ctrl-C during twinbox sync', () => {
  it('stops after the batch in flight with exit 130, records it, and the next sync finishes without duplicates', async () => {
    const s = await setup();
    current = s;
    const client = await s.imap();
    const padding = 'x'.repeat(20_000);
    try {
      for (let i = 0; i < 400; i++)
        await client.append('INBOX', message(`m${i}`, `X-Padding: ${padding}\r\n`), []);
    } finally {
      await client.logout();
    }
    const child = spawn(process.execPath, [bin, '-c', s.config, '--json', 'sync'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...s.env },
    });
    let out = '';
    let interrupted = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // The first batch is written: now the user presses Ctrl-C.
      if (!interrupted && out.includes('"type":"copied"')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(interrupted).toBe(true);
    expect(code).toBe(130);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; aborted?: boolean; totals?: { copied: number } });
    const done = events.find((e) => e.type === 'pair-done');
    expect(done?.aborted).toBe(true);
    const copiedFirst = done?.totals?.copied ?? -1;
    expect(copiedFirst).toBeGreaterThan(0);
    expect(copiedFirst).toBeLessThan(400);

    const again = await twinbox(['-c', s.config, '--json', 'sync'], s.env);
    expect(again.code).toBe(0);
    const second = again.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; totals?: { copied: number } });
    expect(second.find((e) => e.type === 'pair-done')?.totals?.copied).toBe(400 - copiedFirst);
    const check = await twinbox(['-c', s.config, 'check'], s.env);
    expect(check.code, check.stdout).toBe(0);
  });
});
