import { describe, expect, it } from 'vitest';
import {
  assignMessage,
  CORPUS_FOLDERS,
  CORPUS_KEYWORD,
  type CorpusMessage,
  corpusFiles,
  parseMailDate,
  readCorpus,
  toCrlf,
} from '../src/index.js';

/** Offset of the first CR not followed by LF or LF not preceded by CR, or -1. */
function bareLineEnding(raw: Buffer): number {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0d && raw[i + 1] !== 0x0a) return i;
    if (raw[i] === 0x0a && raw[i - 1] !== 0x0d) return i;
  }
  return -1;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function headerOf(m: CorpusMessage): string {
  const end = m.raw.indexOf('\r\n\r\n');
  return m.raw.subarray(0, end < 0 ? m.raw.length : end).toString('latin1');
}

describe('readCorpus', () => {
  it('yields all 6,046 messages, without mbox From lines and with CRLF line endings only', async () => {
    expect(await corpusFiles()).toHaveLength(6046);
    let count = 0;
    let eightBit = 0;
    const keys = new Set<string>();
    const groups: Record<string, number> = {};
    for await (const m of readCorpus()) {
      count++;
      keys.add(m.key);
      groups[m.group] = (groups[m.group] ?? 0) + 1;
      expect(m.raw.subarray(0, 5).toString('latin1'), m.key).not.toBe('From ');
      expect(bareLineEnding(m.raw), m.key).toBe(-1);
      if (m.raw.some((b) => b >= 0x80)) eightBit++;
    }
    expect(count).toBe(6046);
    expect(keys.size).toBe(6046);
    expect(groups).toEqual({
      'easy-ham-1': 2500,
      'easy-ham-2': 1400,
      'hard-ham-1': 250,
      'spam-1': 500,
      'spam-2': 1396,
    });
    // Read from the raw files, not the package's JSON, which lost these bytes.
    expect(eightBit).toBeGreaterThan(500);
  });

  it('keeps the bytes of a message apart from the From line and line endings', async () => {
    const [first] = await collect(readCorpus({ limit: 1 }));
    expect(first!.key).toBe('easy-ham-1/00001.7c53336b37003a9286aba55d2945844c#0');
    expect(first!.raw.toString('latin1')).toMatch(
      /^Return-Path: <exmh-workers-admin@spamassassin\.taint\.org>\r\n/,
    );
    expect(first!.messageId).toBe('<13258.1030015585@munnari.OZ.AU>');
    expect(first!.date?.toISOString()).toBe('2002-08-22T11:26:25.000Z');
  });

  // Reads the whole corpus (twice, for the first): seconds alone, much longer on a loaded CI machine.
  it('with multiplier 2 yields twice as many messages, every copy with its own Message-ID', {
    timeout: 180_000,
  }, async () => {
    let count = 0;
    const ids = new Set<string>();
    let withoutId = 0;
    for await (const m of readCorpus({ multiplier: 2 })) {
      count++;
      const copy = Number(m.key.slice(m.key.indexOf('#') + 1));
      const header = headerOf(m);
      if (copy > 0) {
        expect(header.startsWith(`X-Twinbox-Corpus-Copy: ${copy}\r\n`), m.key).toBe(true);
        expect(header.match(/^Message-ID:/gim), m.key).toHaveLength(1);
        expect(m.messageId, m.key).toMatch(new RegExp(`^<${copy}\\.`));
      } else {
        expect(header).not.toMatch(/^X-Twinbox-Corpus-Copy:/im);
      }
      if (!m.messageId) {
        withoutId++;
        continue;
      }
      expect(ids.has(m.messageId), `${m.key} repeats ${m.messageId}`).toBe(false);
      ids.add(m.messageId);
    }
    expect(count).toBe(2 * 6046);
    // One corpus message has no Message-ID; only its copy gets a synthetic one.
    expect(withoutId).toBe(1);
  });

  it('spreads a limited sample over the whole corpus', async () => {
    const sample = await collect(readCorpus({ limit: 50 }));
    expect(sample).toHaveLength(50);
    expect(new Set(sample.map((m) => m.group))).toEqual(
      new Set(['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2']),
    );
  });
});

describe('the assignment of folders and flags', () => {
  // Reads the whole corpus (twice, for the first): seconds alone, much longer on a loaded CI machine.
  it('is a function of the message alone, covers every folder and has a realistic mix of flags', {
    timeout: 180_000,
  }, async () => {
    const folders: Record<string, number> = {};
    const flags: Record<string, number> = {};
    let count = 0;
    let spamInJunk = 0;
    let spam = 0;
    for await (const m of readCorpus()) {
      count++;
      folders[m.folder] = (folders[m.folder] ?? 0) + 1;
      for (const f of m.flags) flags[f] = (flags[f] ?? 0) + 1;
      const listId = /^List-Id:(.*)$/im.exec(headerOf(m).replace(/\r\n(?=[ \t])/g, ''))?.[1];
      expect(assignMessage({ key: m.key, group: m.group, listId: listId?.trim() })).toEqual({
        folder: m.folder,
        flags: m.flags,
      });
      if (m.group.startsWith('spam')) {
        spam++;
        if (m.folder === 'Junk') spamInJunk++;
      }
      if (m.flags.includes('\\Draft')) expect(m.folder).toBe('Drafts');
      if (m.flags.includes('\\Answered')) expect(m.flags).toContain('\\Seen');
      expect(m.flags).not.toContain('\\Deleted');
    }
    expect(Object.keys(folders).sort()).toEqual([...CORPUS_FOLDERS].sort());
    expect(spamInJunk / spam).toBeGreaterThan(0.8);
    const share = (flag: string) => (flags[flag] ?? 0) / count;
    expect(share('\\Seen')).toBeCloseTo(0.7, 1);
    expect(share('\\Answered')).toBeCloseTo(0.08, 1);
    expect(share('\\Flagged')).toBeCloseTo(0.05, 1);
    expect(share('\\Draft')).toBeLessThan(0.03);
    expect(share(CORPUS_KEYWORD)).toBeGreaterThan(0.02);
    expect(share(CORPUS_KEYWORD)).toBeLessThan(0.04);
  });

  it('gives the same answer on every call', () => {
    const input = { key: 'spam-2/00001.317e78fa8ee2f54cd4890fdc09ba8176#3', group: 'spam-2' };
    expect(assignMessage(input)).toEqual(assignMessage({ ...input }));
  });
});

describe('message transformations', () => {
  it('turns bare LF and bare CR into CRLF and keeps CRLF', () => {
    expect(toCrlf(Buffer.from('a\nb\rc\r\nd\r\r\n')).toString()).toBe('a\r\nb\r\nc\r\nd\r\n\r\n');
  });

  it('parses dates deterministically and rejects impossible years', () => {
    // No zone: read as UTC, whatever the machine's time zone.
    expect(parseMailDate('Fri, 23 Aug 2002 19:27:52')?.toISOString()).toBe('2002-08-23T19:27:52.000Z');
    expect(parseMailDate('Mon, 16 Sep 2002 03:27:38 (GMT)')?.toISOString()).toBe('2002-09-16T03:27:38.000Z');
    expect(parseMailDate('Thu, 22 Aug 2002 07:36:16 -0400 (EDT)')?.toISOString()).toBe(
      '2002-08-22T11:36:16.000Z',
    );
    expect(parseMailDate('Thu, 22 Aug 0102 12:07:35 +0800')).toBeUndefined();
    expect(parseMailDate('Fri, 30 Aug 02 21:48:08 Eastern Daylight Time')).toBeUndefined();
    expect(parseMailDate(undefined)).toBeUndefined();
  });
});
