import { describeStateConformance } from '@twinbox/core/testing';
import { describe, expect, it } from 'vitest';
import { MemoryState } from '../src/index.js';

// Nothing outlives a MemoryState, so there is no reopen: the suite skips its durability tests.
describeStateConformance('MemoryState', async () => ({ state: new MemoryState() }), {
  persistent: false,
  findPairs: true,
  renameFolderPairs: true,
});

describe('MemoryState', () => {
  it('rejects calls after close with a message saying what to do', async () => {
    const state = new MemoryState();
    await state.close();
    await expect(state.loadPairs('f')).rejects.toThrow(/closed: open a new one/);
    await expect(state.recordMarker('f', 'left', null)).rejects.toThrow(/closed: open a new one/);
  });

  it('closes twice without complaint', async () => {
    const state = new MemoryState();
    await state.close();
    await expect(state.close()).resolves.toBeUndefined();
  });

  it('leaves the state as it was when a batch fails part-way', async () => {
    const state = new MemoryState();
    await state.recordPairs('f', [{ left: '1', right: 'a', flags: [] }]);
    // A caller bypassing the types: the copy of the second pair throws before anything is stored.
    const broken = { left: '2', right: 'b', flags: null } as unknown as {
      left: string;
      right: string;
      flags: [];
    };
    await expect(state.recordPairs('f', [{ left: '1', right: 'z', flags: [] }, broken])).rejects.toThrow();
    expect(await state.loadPairs('f')).toEqual([{ left: '1', right: 'a', flags: [] }]);
  });

  it('refuses renames that name a key twice, changing nothing, and says what to do', async () => {
    const state = new MemoryState();
    const inbox = { key: 'INBOX', left: ['INBOX'], right: ['INBOX'] };
    await state.recordFolderPair(inbox);
    await state.recordPairs('INBOX', [{ left: '1', right: 'a', flags: [] }]);
    await expect(
      state.renameFolderPairs([
        { from: 'INBOX', to: { ...inbox, key: 'Ablage' } },
        { from: 'Archiv', to: { ...inbox, key: 'Ablage' } },
      ]),
    ).rejects.toThrow(/"Ablage" appears twice.*split the renames/);
    expect(await state.listFolderPairs()).toEqual([inbox]);
    expect(await state.loadPairs('INBOX')).toEqual([{ left: '1', right: 'a', flags: [] }]);
  });
});
