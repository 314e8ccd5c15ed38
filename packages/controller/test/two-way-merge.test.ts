import type { MessagePair } from '@twinbox/core';
import { describe, expect, it } from 'vitest';
import { twoWayMerge } from '../src/index.js';

const marker = { epoch: '1', value: '9' };
const pairs: MessagePair[] = [
  { left: '1', right: 'a', flags: ['\\Seen'] },
  { left: '2', right: 'b', flags: ['\\Seen'] },
  { left: '3', right: 'c', flags: [] },
];
const opts = { keywords: true, folder: 'INBOX' };

describe('twoWayMerge (a listing against the recorded pairs)', () => {
  it('reports new messages, messages gone and flag changes, and nothing else', () => {
    const changes = twoWayMerge(
      {
        kind: 'full',
        marker,
        messages: [
          { id: '1', flags: ['\\Seen'] },
          { id: '2', flags: ['\\Seen', '\\Flagged'] },
          { id: '4', flags: [], messageId: '<new@example.org>', size: 120 },
        ],
      },
      pairs,
      'left',
      opts,
    );
    expect(changes).toEqual({
      added: [{ id: '4', flags: [], messageId: '<new@example.org>', size: 120 }],
      removed: [{ left: '3', right: 'c', base: [] }],
      flagged: [{ pair: { left: '2', right: 'b', base: ['\\Seen'] }, flags: ['\\Flagged', '\\Seen'] }],
    });
  });

  it('reads the pairs by the ids of its own side', () => {
    const changes = twoWayMerge(
      { kind: 'full', marker, messages: [{ id: 'a', flags: ['\\Seen'] }] },
      pairs,
      'right',
      opts,
    );
    expect(changes.removed.map((p) => p.right)).toEqual(['b', 'c']);
    expect(changes.added).toEqual([]);
  });

  it('takes a delta listing: changed messages and vanished ids only', () => {
    const changes = twoWayMerge(
      {
        kind: 'delta',
        marker,
        changed: [
          { id: '3', flags: ['\\Seen'] },
          { id: '9', flags: [] },
        ],
        vanished: ['1', '77'],
      },
      pairs,
      'left',
      opts,
    );
    expect(changes.added.map((m) => m.id)).toEqual(['9']);
    expect(changes.removed).toEqual([{ left: '1', right: 'a', base: ['\\Seen'] }]);
    expect(changes.flagged).toEqual([{ pair: { left: '3', right: 'c', base: [] }, flags: ['\\Seen'] }]);
  });

  it('finds no change when the store is as recorded, whatever the order and flag spelling', () => {
    const changes = twoWayMerge(
      {
        kind: 'full',
        marker,
        messages: [
          { id: '3', flags: [] },
          { id: '2', flags: ['\\SEEN'] },
          { id: '1', flags: ['\\seen'] },
        ],
      },
      pairs,
      'left',
      opts,
    );
    expect(changes).toEqual({ added: [], removed: [], flagged: [] });
  });

  it('on a store without keywords, does not read their absence as the user removing them', () => {
    const changes = twoWayMerge(
      { kind: 'full', marker, messages: [{ id: '1', flags: ['\\Seen'] }] },
      [{ left: '1', right: 'a', flags: ['\\Seen', '$label1'] }],
      'left',
      { keywords: false, folder: 'INBOX' },
    );
    expect(changes.flagged).toEqual([]);
  });

  it('refuses a listing with a duplicate id, as a folder error, rather than guessing', () => {
    expect(() =>
      twoWayMerge(
        {
          kind: 'full',
          marker,
          messages: [
            { id: '7', flags: [] },
            { id: '7', flags: ['\\Seen'] },
          ],
        },
        [],
        'left',
        opts,
      ),
    ).toThrow(/listed message "7" twice in folder INBOX/);
  });
});
