import { Writable } from 'node:stream';
import type { FolderPlan } from '@twinbox/core';
import { describe, expect, it } from 'vitest';
import { fitName, progressLayout, TtyReporter } from '../src/output.js';

/** A terminal `columns` wide that keeps what was drawn on it, escape sequences removed. */
function terminal(columns: number) {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY: boolean; columns: number };
  stream.isTTY = true;
  stream.columns = columns;
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    lines: () =>
      text
        // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences
        .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '\n')
        .split(/[\r\n]/)
        .filter((l) => l.includes('msg/s')),
  };
}

function plan(key: string, copies: number): FolderPlan {
  const copy = { from: 'x', flags: [] };
  return {
    key,
    toLeft: { copies: [], flags: [], deletes: [] },
    toRight: { copies: Array.from({ length: copies }, () => copy), flags: [], deletes: [] },
  } as unknown as FolderPlan;
}

describe('progress bars on a terminal', () => {
  it('fit the folder name and the bar to the width, keeping the name’s start and leaf', () => {
    expect(progressLayout(80)).toEqual({ folder: 10, bar: 14 });
    const wide = progressLayout(200);
    expect(wide.folder + wide.bar).toBeLessThanOrEqual(60);
    expect(fitName('INBOX', 8)).toBe('INBOX   ');
    expect(fitName('Reisen 2002/Überblick & Notizen', 12)).toBe('Reisen…tizen');
    expect(fitName('Übersicht', 9)).toBe('Übersicht');
  });

  for (const columns of [80, 100, 160]) {
    it(`show every folder’s counts, rate and ETA whole on a ${columns}-column terminal`, async () => {
      const term = terminal(columns);
      const out = new Writable({ write: (_c, _e, done) => done() });
      const reporter = new TtyReporter('normal', out, term.stream);
      const folders = ['INBOX', 'Reisen 2002/Überblick & Notizen', 'Lists/Spam-Talk'];
      for (const key of folders)
        reporter.event('mail', { type: 'folder-planned', key, plan: plan(key, 2147) });
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 120));
        for (const key of folders)
          reporter.event('mail', { type: 'copied', key, to: 'right', count: 50, bytes: 1_234_567 });
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
      reporter.close();
      const lines = term.lines();
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect([...line].length, line).toBeLessThanOrEqual(columns);
        expect(line, 'the ETA is not cut off').toMatch(/ETA +\S+$/);
      }
      const last = lines.slice(-folders.length);
      expect(last.some((l) => l.includes('150/2147'))).toBe(true);
      expect(last.some((l) => /Reis[^|]*…[^|]*en |Reisen 2002\/Überblick & Notizen/.test(l))).toBe(true);
      expect(last.every((l) => / \d+(\.\d)? MiB \d+(\.\d)? MiB\/s /.test(l))).toBe(true);
    });
  }
});
