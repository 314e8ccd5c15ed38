import { Writable } from 'node:stream';
import type { FolderPlan, SyncEvent, SyncReport } from '@twinbox/core';
import { describe, expect, it } from 'vitest';
import { JsonReporter, PlainReporter, type Reporter, type Verbosity } from '../src/output.js';
import { fitName, progressLayout, TtyReporter } from '../src/tty-reporter.js';

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

/** A stream that keeps what was written to it. */
function sink(tty = false) {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  if (tty) {
    stream.isTTY = true;
    stream.columns = 100;
  }
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

function folderReport(key: string, errors = 0): SyncReport['folders'][number] {
  return {
    key,
    action: 'synced',
    copied: { toLeft: 0, toRight: errors ? 1 : 0 },
    moved: { toLeft: 0, toRight: 0 },
    flagged: { left: 0, right: 0 },
    deleted: { left: 0, right: 0 },
    paired: 0,
    conflicts: 0,
    tooLarge: 0,
    tooOld: 0,
    errors: Array.from({ length: errors }, (_, i) => ({
      scope: 'message' as const,
      code: 'READ_FAILED',
      message: `uid ${i + 7}: gone`,
    })),
  };
}

describe('what a reporter asks a daemon for', () => {
  // Two folders, one with a copy and an error, one with nothing to do: every kind of event.
  const events: SyncEvent[] = [
    { type: 'folder-start', key: 'INBOX' },
    { type: 'folder-planned', key: 'INBOX', plan: plan('INBOX', 2) },
    { type: 'copied', key: 'INBOX', to: 'right', count: 1, bytes: 900 },
    { type: 'folder-done', key: 'INBOX', report: folderReport('INBOX', 1) },
    { type: 'folder-start', key: 'Sent' },
    { type: 'folder-done', key: 'Sent', report: folderReport('Sent') },
  ];
  const report: SyncReport = {
    aborted: false,
    folders: [folderReport('INBOX', 1), folderReport('Sent')],
    plans: [],
    totals: {
      copied: 1,
      moved: 0,
      flagged: 0,
      deleted: 0,
      paired: 0,
      conflicts: 0,
      tooLarge: 0,
      tooOld: 0,
      errors: 1,
      foldersCreated: 0,
      foldersDeleted: 0,
      foldersRenamed: 0,
    },
  };
  /** Stdout and stderr of a whole pair's output, given only the events `only` lets through. */
  function output(make: (out: NodeJS.WriteStream, err: NodeJS.WriteStream) => Reporter, all: boolean) {
    const out = sink();
    const err = sink(true);
    const reporter = make(out.stream, err.stream);
    reporter.pairStart('mail', 'far ⇄ near');
    for (const e of events)
      if (all || reporter.events === 'all' || e.type === 'folder-done') reporter.event('mail', e);
    reporter.pairDone('mail', report, 0.5, false);
    reporter.close();
    // The progress bars' redraws carry a rate that depends on time: only the lines of text count.
    const lines = (t: string) =>
      t
        // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences
        .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '\n')
        .split(/[\r\n]/)
        .filter((l) => l.trim() !== '' && !l.includes('msg/s'));
    return { out: lines(out.text()), err: lines(err.text()) };
  }

  type Make = (out: NodeJS.WriteStream, err: NodeJS.WriteStream) => Reporter;
  const cases: [string, 'all' | 'folders', Make][] = [
    ...(['quiet', 'normal', 'verbose'] as Verbosity[]).map((v): [string, 'folders', Make] => [
      `plain, ${v}`,
      'folders',
      (o, e) => new PlainReporter(v, o, e),
    ]),
    ['terminal, quiet', 'folders', (o, e) => new TtyReporter('quiet', o, e)],
    ['terminal', 'all', (o, e) => new TtyReporter('normal', o, e)],
    ['JSON', 'all', (o) => new JsonReporter(o)],
  ];
  for (const [name, wanted, make] of cases) {
    it(`${name}: asks for ${wanted}, and prints the same with only those as with every event`, () => {
      expect(make(sink().stream, sink().stream).events).toBe(wanted);
      const everything = output(make, true);
      expect(output(make, false)).toEqual(everything);
      // The folder's error is shown in every mode, so a filter that dropped it would show here.
      expect([...everything.out, ...everything.err].join('\n')).toMatch(/READ_FAILED|"errors":\[\{/);
    });
  }
});

describe('moves in the plain output', () => {
  it('shows a folder’s moves by direction and their total in the summary', async () => {
    const { folderLine, summaryLine } = await import('../src/output.js');
    const report = folderReport('Archive');
    report.moved = { toLeft: 1, toRight: 3 };
    expect(folderLine(report)).toBe('Archive: moved 3 →, 1 ←');
    const sync: SyncReport = {
      aborted: false,
      folders: [report],
      plans: [],
      totals: { ...emptyTotals(), moved: 4 },
    };
    expect(summaryLine(sync, 1, false)).toMatch(/^copied 0, moved 4, flagged 0, /);
    expect(summaryLine({ ...sync, totals: emptyTotals() }, 1, false)).toMatch(/^copied 0, flagged 0, /);
  });
});

describe('renames in the plain output', () => {
  it('shows a renamed folder as old → new, the side and its subfolders, and the count in the summary', async () => {
    const { folderLine, summaryLine } = await import('../src/output.js');
    const report = { ...folderReport('Archiv/Projekte'), action: 'renamed' as const };
    report.renamed = { from: 'Projekte', on: 'right', folders: 3 };
    expect(folderLine(report)).toBe('renamed Projekte → Archiv/Projekte (on the right, with 2 subfolders)');
    report.renamed = { from: 'Projekte', on: 'left', folders: 1 };
    expect(folderLine(report)).toBe('renamed Projekte → Archiv/Projekte (on the left)');
    const sync: SyncReport = {
      aborted: false,
      folders: [report],
      plans: [],
      totals: { ...emptyTotals(), foldersRenamed: 1 },
    };
    expect(summaryLine(sync, 1, false)).toMatch(/folders created 0, deleted 0, renamed 1, conflicts 0/);
    expect(summaryLine({ ...sync, totals: emptyTotals() }, 1, false)).toMatch(/deleted 0, conflicts 0/);
  });
});

function emptyTotals(): SyncReport['totals'] {
  return {
    copied: 0,
    moved: 0,
    flagged: 0,
    deleted: 0,
    paired: 0,
    conflicts: 0,
    tooLarge: 0,
    tooOld: 0,
    errors: 0,
    foldersCreated: 0,
    foldersDeleted: 0,
    foldersRenamed: 0,
  };
}
