import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MaildirDriver } from '../src/index.js';

/**
 * Runs the writer, SIGKILLs it `delay` ms after it opened the Maildir, and returns how many messages it
 * reported written.
 */
function runAndKill(root: string, delay: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'crash-writer.mjs'), root, '400'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let reported = 0;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') timer = setTimeout(() => child.kill('SIGKILL'), delay);
        else reported += Number(line);
      }
    });
    let timer: NodeJS.Timeout | undefined;
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(reported);
    });
  });
}

describe('MaildirDriver under SIGKILL', () => {
  for (const delay of [20, 300, 800]) {
    it(`leaves every message whole or absent, and every reported one present, when killed after ${delay} ms`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'twinbox-crash-'));
      try {
        const reported = await runAndKill(root, delay);
        const names = [
          ...(await readdir(join(root, 'new'))).map((n) => join(root, 'new', n)),
          ...(await readdir(join(root, 'cur'))).map((n) => join(root, 'cur', n)),
        ];
        const found = new Set<number>();
        for (const file of names) {
          const text = await readFile(file, 'utf8');
          const n = /^Message-ID: <(\d+)@crash>/.exec(text)?.[1];
          expect(n, `${file} starts with its header`).toBeDefined();
          expect(text.endsWith(`end ${n}\n`), `${file} is whole`).toBe(true);
          found.add(Number(n));
        }
        // Batches are written in order and every message was reported written: 0 .. reported-1 are there.
        const missing = Array.from({ length: reported }, (_, n) => n).filter((n) => !found.has(n));
        expect(missing, 'messages reported written but missing').toEqual([]);
        // Leftovers in tmp/ are never listed as mail.
        const driver = await MaildirDriver.open({ root });
        const listing = await driver.listMessages(['INBOX'], {});
        expect(listing.kind === 'full' && listing.messages.length).toBe(names.length);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  }
});
