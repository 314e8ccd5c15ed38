import { describe, expect, it } from 'vitest';
import type { ListedMessage } from '../src/index.js';
import { idRenameProof, renameProof } from '../src/renames.js';

const m = (id: string, messageId: string | null, size = 100): ListedMessage => ({
  id,
  flags: [],
  messageId,
  size,
});

describe('renameProof (by content)', () => {
  it('needs a shared message that makes, with the others shared, half of each folder', () => {
    const a = [m('1', '<a>'), m('2', '<b>'), m('3', '<c>')];
    expect(renameProof(a, [m('7', '<a>'), m('8', '<b>')])).toEqual({ shared: 2, proven: true });
    expect(renameProof(a, [m('7', '<a>'), m('8', '<x>'), m('9', '<y>')])).toEqual({
      shared: 1,
      proven: false,
    });
    expect(renameProof([], []).proven).toBe(false);
  });

  it('ignores messages without a Message-ID and fingerprints two messages of one folder share', () => {
    expect(renameProof([m('1', null)], [m('2', null)]).proven).toBe(false);
    expect(renameProof([m('1', '<a>'), m('2', '<a>')], [m('3', '<a>')]).proven).toBe(false);
    expect(renameProof([m('1', '<a>', 10)], [m('3', '<a>', 11)]).proven).toBe(false);
  });
});

describe('idRenameProof (by the ids a rename kept, and a sample)', () => {
  const same = [m('1', '<a>'), m('x', '<a>')] as const;
  it('proves when the pairs found make half of each folder and the sample agrees', () => {
    expect(idRenameProof({ listed: 10, added: 0, missing: 0 }, [same])).toBe(true);
    expect(idRenameProof({ listed: 10, added: 5, missing: 5 }, [same])).toBe(true);
  });

  it('refutes too few pairs found, or a sampled pair whose messages differ', () => {
    expect(idRenameProof({ listed: 10, added: 6, missing: 0 }, [same])).toBe(false);
    expect(idRenameProof({ listed: 10, added: 0, missing: 11 }, [same])).toBe(false);
    expect(idRenameProof({ listed: 10, added: 10, missing: 0 }, [same])).toBe(false);
    expect(idRenameProof({ listed: 10, added: 0, missing: 0 }, [same, [m('2', '<b>'), m('y', '<c>')]])).toBe(
      false,
    );
    expect(
      idRenameProof({ listed: 10, added: 0, missing: 0 }, [[m('2', '<b>', 10), m('y', '<b>', 12)]]),
    ).toBe(false);
  });

  it('cannot tell when no sampled pair has a Message-ID on both sides', () => {
    expect(
      idRenameProof({ listed: 10, added: 0, missing: 0 }, [[m('1', null), m('x', null)]]),
    ).toBeUndefined();
    expect(idRenameProof({ listed: 10, added: 0, missing: 0 }, [[undefined, m('x', '<a>')]])).toBeUndefined();
    expect(idRenameProof({ listed: 10, added: 0, missing: 0 }, [])).toBeUndefined();
  });
});
