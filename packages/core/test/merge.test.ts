import { describe, expect, it } from 'vitest';
import {
  contentPairingNeeds,
  DEFAULT_POLICY,
  type FolderMergeInput,
  keptOnConflict,
  mergeFolder,
  type PairRef,
  planFolders,
  resolvePolicy,
  type SideChanges,
} from '../src/index.js';

const marker = { epoch: '1', value: '1' };
function changes(side: 'left' | 'right', over: Partial<SideChanges> = {}): SideChanges {
  return { side, added: [], removed: [], flagged: [], reset: false, orphaned: [], marker, ...over };
}
function merge(over: Partial<FolderMergeInput>) {
  return mergeFolder({
    key: 'INBOX',
    left: ['INBOX'],
    right: ['INBOX'],
    leftChanges: changes('left'),
    rightChanges: changes('right'),
    policy: DEFAULT_POLICY,
    ...over,
  });
}
const pair = (left: string, right: string, base: string[] = []): PairRef => ({ left, right, base });

describe('mergeFolder: known pairs', () => {
  it('drops the same flag change made on both sides, keeping only the new base', () => {
    const p = pair('1', 'a');
    const plan = merge({
      leftChanges: changes('left', { flagged: [{ pair: p, flags: ['\\Seen'] }] }),
      rightChanges: changes('right', { flagged: [{ pair: p, flags: ['\\Seen'] }] }),
    });
    expect(plan.toLeft.flags).toEqual([]);
    expect(plan.toRight.flags).toEqual([]);
    expect(plan.record).toEqual([{ left: '1', right: 'a', flags: ['\\Seen'] }]);
  });

  it('carries a flag change from one side to the other, recording the base on success', () => {
    const p = pair('1', 'a', ['\\Seen']);
    const plan = merge({
      leftChanges: changes('left', { flagged: [{ pair: p, flags: ['\\Flagged', '\\Seen'] }] }),
    });
    expect(plan.toRight.flags).toEqual([
      {
        id: 'a',
        pair: { left: '1', right: 'a' },
        add: ['\\Flagged'],
        remove: [],
        flags: ['\\Flagged', '\\Seen'],
      },
    ]);
    expect(plan.toLeft.flags).toEqual([]);
    expect(plan.record).toEqual([]);
  });

  it('merges different changes flag by flag; only the right write records the base', () => {
    const p = pair('1', 'a', ['\\Seen']);
    const plan = merge({
      leftChanges: changes('left', { flagged: [{ pair: p, flags: [] }] }),
      rightChanges: changes('right', { flagged: [{ pair: p, flags: ['\\Flagged', '\\Seen'] }] }),
    });
    expect(plan.toLeft.flags).toEqual([
      { id: '1', pair: { left: '1', right: 'a' }, add: ['\\Flagged'], remove: [] },
    ]);
    expect(plan.toRight.flags).toEqual([
      { id: 'a', pair: { left: '1', right: 'a' }, add: [], remove: ['\\Seen'], flags: ['\\Flagged'] },
    ]);
  });

  it('propagates a deletion of a message both sides had', () => {
    const plan = merge({ leftChanges: changes('left', { removed: [pair('1', 'a')] }) });
    expect(plan.toRight.deletes).toEqual([{ id: 'a', pair: { left: '1', right: 'a' } }]);
  });

  it('keeps a message deleted on one side and changed on the other, by default', () => {
    const p = pair('1', 'a');
    const input = {
      leftChanges: changes('left', { removed: [p] }),
      rightChanges: changes('right', { flagged: [{ pair: p, flags: ['\\Flagged'] }] }),
    };
    const plan = merge(input);
    expect(plan.toRight.deletes).toEqual([]);
    expect(plan.toLeft.copies).toEqual([{ from: 'a', flags: ['\\Flagged'] }]);
    expect(plan.conflicts).toHaveLength(1);
    const deleting = merge({ ...input, policy: resolvePolicy({ conflicts: { deleteVsChange: 'delete' } }) });
    expect(deleting.toRight.deletes).toEqual([{ id: 'a', pair: { left: '1', right: 'a' } }]);
    expect(deleting.toLeft.copies).toEqual([]);
  });

  it('propagates a deletion when the other side only marked the message \\Deleted (a deletion under way), without a conflict', () => {
    // A sync killed between its STORE \\Deleted and its EXPUNGE leaves exactly this behind; keeping the
    // message would bring back, marked deleted, what the user deleted.
    const p = pair('1', 'a', ['\\Seen']);
    const input = {
      leftChanges: changes('left', { removed: [p] }),
      rightChanges: changes('right', { flagged: [{ pair: p, flags: ['\\Deleted', '\\Seen'] }] }),
    };
    const plan = merge(input);
    expect(plan.toRight.deletes).toEqual([{ id: 'a', pair: { left: '1', right: 'a' } }]);
    expect(plan.toLeft.copies).toEqual([]);
    expect(plan.conflicts).toEqual([]);
    expect(keptOnConflict(input.leftChanges, input.rightChanges, DEFAULT_POLICY)).toEqual({
      left: [],
      right: [],
    });
    // Any other change with it is still a change: kept.
    const flaggedToo = changes('right', {
      flagged: [{ pair: p, flags: ['\\Deleted', '\\Flagged', '\\Seen'] }],
    });
    expect(merge({ ...input, rightChanges: flaggedToo }).toLeft.copies).toHaveLength(1);
  });

  it('forgets a pair deleted on both sides, writing nothing to the stores', () => {
    const p = pair('1', 'a');
    const plan = merge({
      leftChanges: changes('left', { removed: [p] }),
      rightChanges: changes('right', { removed: [p] }),
    });
    expect(plan.forget).toEqual([{ side: 'left', ids: ['1'] }]);
    expect(plan.toLeft.deletes.length + plan.toRight.deletes.length).toBe(0);
  });

  it('does not propagate deletions when the policy says so', () => {
    const plan = merge({
      leftChanges: changes('left', { removed: [pair('1', 'a')] }),
      policy: resolvePolicy({ propagate: { deletions: false } }),
    });
    expect(plan.toRight.deletes).toEqual([]);
  });
});

describe('mergeFolder: new messages', () => {
  it('copies what is new on one side', () => {
    const plan = merge({
      leftChanges: changes('left', { added: [{ id: '7', flags: ['\\Seen'], size: 10, messageId: '<x@y>' }] }),
    });
    expect(plan.toRight.copies).toEqual([{ from: '7', flags: ['\\Seen'] }]);
  });

  it('pairs a message new on both sides by Message-ID and size instead of copying it twice', () => {
    const plan = merge({
      leftChanges: changes('left', { added: [{ id: '7', flags: ['\\Seen'], size: 10, messageId: '<x@y>' }] }),
      rightChanges: changes('right', {
        added: [{ id: 'q', flags: ['\\Flagged'], size: 10, messageId: '<x@y>' }],
      }),
    });
    expect(plan.toLeft.copies).toEqual([]);
    expect(plan.toRight.copies).toEqual([]);
    // No common base: the union, written to both sides; the pair is recorded by the last write.
    expect(plan.toLeft.flags).toEqual([
      { id: '7', pair: { left: '7', right: 'q' }, add: ['\\Flagged'], remove: [] },
    ]);
    expect(plan.toRight.flags[0]).toMatchObject({ id: 'q', add: ['\\Seen'], flags: ['\\Flagged', '\\Seen'] });
  });

  it('asks for body hashes only on ties and missing Message-IDs, then pairs by hash', () => {
    const left = [
      { id: '1', flags: [], size: 10, messageId: '<dup@y>' },
      { id: '2', flags: [], size: 10, messageId: '<dup@y>' },
      { id: '3', flags: [], size: 20, messageId: null },
      { id: '4', flags: [], size: 30, messageId: '<unique@y>' },
    ];
    const right = [
      { id: 'a', flags: [], size: 10, messageId: '<dup@y>' },
      { id: 'b', flags: [], size: 20, messageId: null },
      { id: 'c', flags: [], size: 30, messageId: '<unique@y>' },
    ];
    expect(contentPairingNeeds(left, right)).toEqual({ left: ['1', '2', '3'], right: ['a', 'b'] });
    const plan = merge({
      leftChanges: changes('left', { added: left }),
      rightChanges: changes('right', { added: right }),
      hashes: { left: { '1': 'h1', '2': 'h2', '3': 'h3' }, right: { a: 'h2', b: 'h3' } },
    });
    expect([...plan.record].sort((x, y) => x.left.localeCompare(y.left))).toEqual([
      { left: '2', right: 'a', flags: [] },
      { left: '3', right: 'b', flags: [] },
      { left: '4', right: 'c', flags: [] },
    ]);
    expect(plan.toRight.copies).toEqual([{ from: '1', flags: [] }]);
    expect(plan.toLeft.copies).toEqual([]);
  });

  it('one way (left-to-right): the right side’s new messages and deletions stay there', () => {
    const policy = resolvePolicy({ direction: 'left-to-right' });
    const plan = merge({
      leftChanges: changes('left', { added: [{ id: '1', flags: [], size: 1, messageId: '<1@x>' }] }),
      rightChanges: changes('right', {
        added: [{ id: 'z', flags: [], size: 2, messageId: '<2@x>' }],
        removed: [pair('5', 'e')],
      }),
      policy,
    });
    expect(plan.toRight.copies).toEqual([{ from: '1', flags: [] }]);
    expect(plan.toLeft.copies).toEqual([]);
    expect(plan.toLeft.deletes).toEqual([]);
  });
});

describe('mergeFolder: an epoch change (UIDVALIDITY) on one side', () => {
  it('forgets the old pairs, pairs the messages again by content with their old base, and deletes nothing', () => {
    const orphaned = [pair('1', 'a', ['\\Seen']), pair('2', 'b', ['\\Seen'])];
    const plan = merge({
      leftChanges: changes('left', {
        reset: true,
        orphaned,
        // The left's messages under their new ids; message '2' was lost from the left in the reset.
        added: [{ id: '101', flags: [], size: 10, messageId: '<a@x>' }],
      }),
      orphans: {
        left: [],
        right: [
          { id: 'a', flags: ['\\Seen'], size: 10, messageId: '<a@x>', base: ['\\Seen'] },
          { id: 'b', flags: ['\\Seen'], size: 20, messageId: '<b@x>', base: ['\\Seen'] },
        ],
      },
    });
    expect(plan.forget).toEqual([{ side: 'right', ids: ['a', 'b'] }]);
    // The reset side lost \Seen relative to the base: a change there, carried over as a 3-way merge.
    expect(plan.toRight.flags).toEqual([
      { id: 'a', pair: { left: '101', right: 'a' }, add: [], remove: ['\\Seen'], flags: [] },
    ]);
    expect(plan.toLeft.copies).toEqual([{ from: 'b', flags: ['\\Seen'] }]);
    expect(plan.toLeft.deletes.length + plan.toRight.deletes.length).toBe(0);
  });
});

describe('planFolders', () => {
  const f = (...path: string[]) => ({ path, selectable: true });
  it('syncs, creates, treats a known folder missing on one side as deleted there, forgets one gone from both', () => {
    const decisions = planFolders({
      left: [f('INBOX'), f('Both'), f('OnlyLeft'), f('Known')],
      right: [f('INBOX'), f('Both'), f('OnlyRight')],
      known: [
        { key: 'INBOX', left: ['INBOX'], right: ['INBOX'] },
        { key: 'Known', left: ['Known'], right: ['Known'] },
        { key: 'Gone', left: ['Gone'], right: ['Gone'] },
      ],
      policy: DEFAULT_POLICY,
    });
    expect(
      decisions.map((d) => [d.key, d.kind, 'on' in d ? d.on : 'missingOn' in d ? d.missingOn : '']),
    ).toEqual([
      ['Both', 'sync', ''],
      ['Gone', 'forget', ''],
      ['INBOX', 'sync', ''],
      ['Known', 'deleted', 'right'],
      ['OnlyLeft', 'create', 'right'],
      ['OnlyRight', 'create', 'left'],
    ]);
  });

  it('does not create folders against the direction or when folder creation is off', () => {
    const decisions = planFolders({
      left: [f('INBOX')],
      right: [f('INBOX'), f('New')],
      known: [],
      policy: resolvePolicy({ direction: 'left-to-right' }),
    });
    expect(decisions.find((d) => d.key === 'New')?.kind).toBe('skip');
  });

  // A name that only holds other folders (IMAP \Noselect, a Maildir++ `.A.B` without `.A`) cannot hold
  // messages: where the other side has a folder of that name, messages there would never be synced.
  const nameOnly = (...path: string[]) => ({ path, selectable: false });

  it('creates a folder where one side has it only as a name holding others, then syncs it', () => {
    const decisions = planFolders({
      left: [f('INBOX'), f('Archive'), f('Archive', '2024'), nameOnly('Both'), f('Both', 'x')],
      right: [f('INBOX'), nameOnly('Archive'), f('Archive', '2024'), nameOnly('Both'), f('Both', 'x')],
      known: [{ key: 'Archive', left: ['Archive'], right: ['Archive'] }],
      policy: DEFAULT_POLICY,
    });
    expect(decisions.find((d) => d.key === 'Archive')).toEqual({
      kind: 'create',
      key: 'Archive',
      left: ['Archive'],
      right: ['Archive'],
      on: 'right',
      selectable: true,
    });
    expect(decisions.find((d) => d.key === 'Both')).toMatchObject({ kind: 'sync', selectable: false });
  });

  it('leaves a name holding folders as it is when folder creation may not flow that way', () => {
    for (const policy of [
      resolvePolicy({ direction: 'right-to-left' }),
      resolvePolicy({ propagate: { folderCreation: false } }),
    ]) {
      const decisions = planFolders({
        left: [f('INBOX'), f('Archive'), f('Archive', '2024')],
        right: [f('INBOX'), nameOnly('Archive'), f('Archive', '2024')],
        known: [],
        policy,
      });
      expect(decisions.find((d) => d.key === 'Archive')).toMatchObject({ kind: 'sync', selectable: false });
    }
  });
});

describe('describePlan', () => {
  it('puts each action of a plan in words', async () => {
    const { describePlan } = await import('../src/index.js');
    const plan = merge({
      leftChanges: changes('left', {
        added: [{ id: '7', flags: ['\\Seen'], size: 1, messageId: '<7@x>' }],
        removed: [pair('1', 'a')],
      }),
    });
    expect(describePlan(plan)).toEqual([
      'INBOX <-> INBOX',
      '  copy 7 to the right with \\Seen',
      '  delete a on the right',
    ]);
  });
});
