import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MaildirDriver } from '@twinbox/driver-maildir';
import { afterAll, describe, expect, it } from 'vitest';
import { syncWithProgress } from '../src/sync-with-progress.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const mail = (n: number) => ({
  body: new TextEncoder().encode(`Subject: m${n}\r\nMessage-ID: <m${n}@twinbox.test>\r\n\r\nbody ${n}\r\n`),
  flags: [],
});

describe('example: progress from onEvent', () => {
  it('prints each folder’s copies as batches land, then its outcome', async () => {
    const work = await mkdtemp(join(tmpdir(), 'twinbox-progress-'));
    dirs.push(work);
    const source = await MaildirDriver.open({ root: join(work, 'a') });
    await source.appendMessages(
      ['INBOX'],
      Array.from({ length: 10 }, (_, i) => mail(i)),
    );
    await source.createFolder(['Archive']);
    await source.appendMessages(['Archive'], [mail(100), mail(101)]);
    await source.close();

    const lines: string[] = [];
    const report = await syncWithProgress(join(work, 'a'), join(work, 'b'), (line) => lines.push(line));
    expect(report.totals).toMatchObject({ copied: 12, errors: 0 });

    const inbox = lines.filter((l) => l.startsWith('INBOX:'));
    // Batches of at most four: 4, 8, 10, in order, before the outcome.
    expect(inbox).toEqual([
      'INBOX: 10 to copy',
      expect.stringMatching(/^INBOX: 4\/10 copied \(\d+ bytes\)$/),
      expect.stringMatching(/^INBOX: 8\/10 copied \(\d+ bytes\)$/),
      expect.stringMatching(/^INBOX: 10\/10 copied \(\d+ bytes\)$/),
      'INBOX: synced, 10 copied, 0 errors',
    ]);
    const bytes = Number(/\((\d+) bytes\)/.exec(inbox[3]!)![1]);
    expect(bytes).toBe(Array.from({ length: 10 }, (_, i) => mail(i).body.length).reduce((a, b) => a + b));
    expect(lines.filter((l) => l.startsWith('Archive:')).at(-1)).toMatch(
      /^Archive: \w+, 2 copied, 0 errors$/,
    );

    // Nothing left to do: no copies announced, every folder still reported done.
    const again: string[] = [];
    await syncWithProgress(join(work, 'a'), join(work, 'b'), (line) => again.push(line));
    expect(again.sort()).toEqual([
      'Archive: synced, 0 copied, 0 errors',
      'INBOX: synced, 0 copied, 0 errors',
    ]);
  });
});
