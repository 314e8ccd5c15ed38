import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  type MoveFolder,
  type MoveSource,
  type MoveTarget,
  matchMoves,
  moveCandidates,
  movedFlags,
  moveHashNeeds,
  type PairRef,
  resolvePolicy,
  type SideChanges,
} from '../src/index.js';

const marker = { epoch: '1', value: '1' };
function changes(side: 'left' | 'right', over: Partial<SideChanges> = {}): SideChanges {
  return { side, added: [], removed: [], flagged: [], reset: false, orphaned: [], marker, ...over };
}
const pair = (left: string, right: string, base: string[] = []): PairRef => ({ left, right, base });
const folder = (key: string, left: Partial<SideChanges>, right: Partial<SideChanges> = {}): MoveFolder => ({
  key,
  left: changes('left', left),
  right: changes('right', right),
});

describe('moveCandidates', () => {
  const p = pair('1', 'a', ['\\Seen']);
  const inbox = folder('INBOX', { removed: [p] });
  const archive = folder('Archive', { added: [{ id: '7', flags: ['\\Seen'] }] });

  it('takes the pairs one side removed while the other still holds them, and that side’s new messages', () => {
    expect(moveCandidates([inbox, archive], 'left', DEFAULT_POLICY)).toEqual({
      sources: [{ key: 'INBOX', pair: p }],
      targets: [{ key: 'Archive', id: '7', flags: ['\\Seen'] }],
    });
    expect(moveCandidates([inbox, archive], 'right', DEFAULT_POLICY)).toEqual({ sources: [], targets: [] });
  });

  it('leaves out a pair removed on both sides: the other side holds nothing to move', () => {
    const both = folder('INBOX', { removed: [p] }, { removed: [p] });
    expect(moveCandidates([both, archive], 'left', DEFAULT_POLICY).sources).toEqual([]);
  });

  it('finds nothing when the only new messages are in the folder the pair left', () => {
    const same = folder('INBOX', { removed: [p], added: [{ id: '7', flags: [] }] });
    expect(moveCandidates([same], 'left', DEFAULT_POLICY)).toEqual({ sources: [], targets: [] });
  });

  it('leaves out folders whose ids changed epoch on either side', () => {
    const reset = folder('Archive', { added: [{ id: '7', flags: [] }] }, { reset: true });
    expect(moveCandidates([inbox, reset], 'left', DEFAULT_POLICY)).toEqual({ sources: [], targets: [] });
  });

  it('finds nothing where the policy would not carry both a deletion and a new message from that side', () => {
    for (const policy of [
      resolvePolicy({ direction: 'right-to-left' }),
      resolvePolicy({ propagate: { deletions: false } }),
      resolvePolicy({ propagate: { new: false } }),
    ]) {
      expect(moveCandidates([inbox, archive], 'left', policy)).toEqual({ sources: [], targets: [] });
    }
  });
});

describe('moveHashNeeds and matchMoves', () => {
  const src = (key: string, p: PairRef, over: Partial<MoveSource> = {}): MoveSource => ({
    key,
    pair: p,
    size: 100,
    messageId: '<m@x>',
    ...over,
  });
  const tgt = (key: string, id: string, over: Partial<MoveTarget> = {}): MoveTarget => ({
    key,
    id,
    flags: [],
    size: 100,
    messageId: '<m@x>',
    ...over,
  });

  it('asks hashes only where a fingerprint ties across folders, not for a unique Message-ID and size', () => {
    const sources = [
      src('INBOX', pair('1', 'a')),
      src('INBOX', pair('2', 'b'), { messageId: '<other@x>' }),
      src('INBOX', pair('3', 'c'), { messageId: '<twice@x>' }),
    ];
    const targets = [
      tgt('Archive', '7'),
      tgt('INBOX', '8', { messageId: '<other@x>' }),
      tgt('Archive', '9', { messageId: '<twice@x>' }),
      tgt('Later', '10', { messageId: '<twice@x>' }),
    ];
    const needs = moveHashNeeds(sources, targets);
    // <m@x>: one source, one target in another folder: proven by the fingerprint, as content pairing
    // takes it. <other@x>: only within one folder, no move. <twice@x>: two targets, hashes decide.
    expect(needs.sources.map((s) => s.pair.left)).toEqual(['3']);
    expect(needs.targets.map((t) => t.id)).toEqual(['9', '10']);
  });

  it('groups messages without Message-ID by size alone', () => {
    const needs = moveHashNeeds(
      [src('INBOX', pair('1', 'a'), { messageId: null })],
      [tgt('Archive', '7', { messageId: null }), tgt('Archive', '8', { messageId: null, size: 99 })],
    );
    expect(needs.targets.map((t) => t.id)).toEqual(['7']);
  });

  it('moves a unique Message-ID and size without hashes, and anything else only on equal hashes', () => {
    const p = pair('1', 'a', ['\\Seen']);
    expect(matchMoves([src('INBOX', p)], [tgt('Archive', '7', { flags: ['\\Seen'] })])).toEqual([
      { from: 'INBOX', to: 'Archive', pair: p, id: '7', flags: ['\\Seen'] },
    ]);
    // Without a Message-ID, a size is no proof; nor are two targets sharing one fingerprint.
    const bare = { messageId: null };
    expect(matchMoves([src('INBOX', p, bare)], [tgt('Archive', '7', bare)])).toEqual([]);
    const twins = [tgt('Archive', '7'), tgt('Later', '8')];
    expect(matchMoves([src('INBOX', p)], twins)).toEqual([]);
    const different = matchMoves(
      [src('INBOX', p, { hash: 'h1', ...bare })],
      [tgt('Archive', '7', { hash: 'h2', ...bare })],
    );
    expect(different).toEqual([]);
    const proven = matchMoves(
      [src('INBOX', p, { hash: 'h1' })],
      [
        tgt('Archive', '7', { hash: 'h1', flags: ['\\Seen', '\\Flagged'] }),
        tgt('Later', '8', { hash: 'h2' }),
      ],
    );
    expect(proven).toEqual([
      { from: 'INBOX', to: 'Archive', pair: p, id: '7', flags: ['\\Flagged', '\\Seen'] },
    ]);
  });

  it('pairs identical bodies one to one, and never within one folder', () => {
    const sources = [
      src('INBOX', pair('1', 'a'), { hash: 'h' }),
      src('INBOX', pair('2', 'b'), { hash: 'h' }),
    ];
    const targets = [
      tgt('INBOX', '5', { hash: 'h' }),
      tgt('Archive', '7', { hash: 'h' }),
      tgt('Later', '9', { hash: 'h' }),
      tgt('Later', '10', { hash: 'h' }),
    ];
    const moves = matchMoves(sources, targets);
    expect(moves.map((m) => [m.pair.left, m.to, m.id])).toEqual([
      ['1', 'Archive', '7'],
      ['2', 'Later', '9'],
    ]);
  });

  it('leaves a target alone where the other side has something new of its size: content pairing takes it', () => {
    const sources = [src('INBOX', pair('1', 'a'), { hash: 'h' })];
    const targets = [tgt('Archive', '7', { hash: 'h' })];
    expect(matchMoves(sources, targets, new Map([['Archive', [100]]]))).toEqual([]);
    expect(matchMoves(sources, targets, new Map([['Archive', [undefined]]]))).toEqual([]);
    expect(matchMoves(sources, targets, new Map([['Archive', [55]]]))).toHaveLength(1);
  });
});

describe('movedFlags', () => {
  it('keeps the base’s keywords for a side that cannot show them', () => {
    expect(movedFlags(['\\Seen'], ['$label1'], false)).toEqual(['\\Seen', '$label1']);
    expect(movedFlags(['\\Seen'], ['$label1'], true)).toEqual(['\\Seen']);
  });
});
