import { describe, expect, it } from 'vitest';
import { MemoryState } from '../src/index.js';

const sortPairs = <T extends { left: string }>(pairs: T[]) =>
  pairs.sort((a, b) => a.left.localeCompare(b.left));

describe('MemoryState', () => {
  it('returns what was recorded, per folder pair', async () => {
    const state = new MemoryState();
    await state.recordPairs('INBOX', [
      { left: '1', right: 'a', flags: ['\\Seen'] },
      { left: '2', right: 'b', flags: [] },
    ]);
    await state.recordPairs('Archiv', [{ left: '1', right: 'z', flags: [] }]);
    expect(sortPairs(await state.loadPairs('INBOX'))).toEqual([
      { left: '1', right: 'a', flags: ['\\Seen'] },
      { left: '2', right: 'b', flags: [] },
    ]);
    expect(await state.loadPairs('Archiv')).toEqual([{ left: '1', right: 'z', flags: [] }]);
    expect(await state.loadPairs('Unknown')).toEqual([]);
  });

  it('keeps each id in at most one pair: recording a pair replaces any pair sharing an id', async () => {
    const state = new MemoryState();
    await state.recordPairs('f', [
      { left: '1', right: 'a', flags: [] },
      { left: '2', right: 'b', flags: [] },
    ]);
    await state.recordPairs('f', [{ left: '1', right: 'b', flags: ['\\Flagged'] }]);
    expect(await state.loadPairs('f')).toEqual([{ left: '1', right: 'b', flags: ['\\Flagged'] }]);
  });

  it('forgets pairs by the id of either side', async () => {
    const state = new MemoryState();
    await state.recordPairs('f', [
      { left: '1', right: 'a', flags: [] },
      { left: '2', right: 'b', flags: [] },
      { left: '3', right: 'c', flags: [] },
    ]);
    await state.forgetPairs('f', 'left', ['1', 'nope']);
    await state.forgetPairs('f', 'right', ['c']);
    expect(await state.loadPairs('f')).toEqual([{ left: '2', right: 'b', flags: [] }]);
  });

  it('cannot be changed through the arrays it was given or returned', async () => {
    const state = new MemoryState();
    const flags = ['\\Seen'];
    await state.recordPairs('f', [{ left: '1', right: 'a', flags }]);
    flags.push('\\Flagged');
    const [loaded] = await state.loadPairs('f');
    (loaded!.flags as string[]).push('x');
    expect(await state.loadPairs('f')).toEqual([{ left: '1', right: 'a', flags: ['\\Seen'] }]);
  });

  it('rejects calls after close with a message saying what to do', async () => {
    const state = new MemoryState();
    await state.close();
    await expect(state.loadPairs('f')).rejects.toThrow(/closed: open a new one/);
  });
});
