import { isEmptyChangeSet } from '@twinbox/core';
import { describe, expect, it } from 'vitest';
import { twoWayMerge } from '../src/index.js';

describe('twoWayMerge (listing against the recorded state)', () => {
  it('reports new messages, messages gone and flag changes, and nothing else', () => {
    const changes = twoWayMerge(
      [
        { id: '1', flags: ['\\Seen'] },
        { id: '2', flags: ['\\Seen', '\\Flagged'] },
        { id: '4', flags: [], messageId: '<new@example.org>', size: 120 },
      ],
      [
        { id: '1', flags: ['\\Seen'] },
        { id: '2', flags: ['\\Seen'] },
        { id: '3', flags: [] },
      ],
    );
    expect(changes).toEqual({
      added: [{ id: '4', flags: [], messageId: '<new@example.org>', size: 120 }],
      removed: ['3'],
      flagged: [{ id: '2', delta: { added: ['\\Flagged'], removed: [] }, flags: ['\\Flagged', '\\Seen'] }],
    });
  });

  it('finds no change when the store is as recorded, whatever the order and flag spelling', () => {
    const changes = twoWayMerge(
      [
        { id: 'b', flags: ['$label1', '\\SEEN'] },
        { id: 'a', flags: [] },
      ],
      [
        { id: 'a', flags: [] },
        { id: 'b', flags: ['\\Seen', '$label1'] },
      ],
    );
    expect(isEmptyChangeSet(changes)).toBe(true);
  });

  it('refuses a listing with a duplicate id rather than guessing which one is real', () => {
    expect(() =>
      twoWayMerge(
        [
          { id: '7', flags: [] },
          { id: '7', flags: ['\\Seen'] },
        ],
        [],
      ),
    ).toThrow(/listed message id "7" twice/);
  });
});
