import { diffFlags, type FlagList, flagsEqual, mergeFlags, normalizeFlags } from './flags.js';
import type { FolderPath } from './folders.js';
import type { PairRef, Side, SideChanges } from './model.js';
import { type Candidate, type HashMap, pairByContent } from './pairing.js';
import { emptySidePlan, type FolderPlan } from './plan.js';
import { flowsFrom, type SyncPolicy } from './policy.js';

/** What {@link mergeFolder} plans one folder pair from: both sides' changes since the last sync. */
export interface FolderMergeInput {
  key: string;
  left: FolderPath;
  right: FolderPath;
  leftChanges: SideChanges;
  rightChanges: SideChanges;
  /**
   * When one side changed epoch, the other side's halves of the orphaned pairs, described (size,
   * Message-ID, current flags) by that other side. Halves missing here are gone from that side too.
   */
  orphans?: { left: Candidate[]; right: Candidate[] };
  /**
   * Messages deleted on one side and changed on the other, which the policy keeps: the kept halves,
   * described by their side (see {@link keptOnConflict}). They are paired by content with what is new
   * on the deleting side before being copied back, since an earlier copy-back may have been written
   * without being recorded. Without a description, a kept message is copied back directly.
   */
  restores?: { left: Candidate[]; right: Candidate[] };
  /** Body hashes for the candidates `contentPairingNeeds` named. */
  hashes?: { left: HashMap; right: HashMap };
  policy: SyncPolicy;
}

const pairId = (p: { left: string; right: string }) => `${p.left}\u0000${p.right}`;

/**
 * The engine's merge of one folder's two change sets into a plan. Pure: the same input always gives
 * the same plan, and the plan is all that will happen.
 *
 * The rules, in order:
 * 1. Pairs orphaned by an epoch change are forgotten first; their surviving halves are paired again by
 *    content with the other side's messages (keeping their last synced flags as the merge base), and
 *    what stays unmatched is copied back. Nothing is ever deleted because of an epoch change.
 * 2. A message deleted on both sides: the pair is forgotten.
 * 3. A message deleted on one side: deleted on the other too, unless it was changed there and the
 *    policy keeps changed messages (the default), in which case it is copied back.
 * 4. Flags: merged flag by flag against the base (see `mergeFlags`); the same change on both sides
 *    plans no store write, only the new base in the state.
 * 5. Messages new on both sides are paired by content (Message-ID and size, body hash on ties), the
 *    rest copied. A one-way pair carries changes from its source only.
 */
export function mergeFolder(input: FolderMergeInput): FolderPlan {
  const { leftChanges: L, rightChanges: R, policy } = input;
  const plan: FolderPlan = {
    key: input.key,
    left: input.left,
    right: input.right,
    toLeft: emptySidePlan(),
    toRight: emptySidePlan(),
    forget: [],
    record: [],
    conflicts: [],
    hold: [],
  };
  const flags = new FlagResolver(policy);
  const hold = new Set<Side>();

  // 1. Orphans. Forget by the surviving side's ids, which are still valid.
  const orphaned = new Set<string>();
  if (L.reset || R.reset) {
    const survivor: Side = L.reset && !R.reset ? 'right' : 'left';
    const pairs = [...L.orphaned, ...R.orphaned];
    for (const p of pairs) orphaned.add(pairId(p));
    if (pairs.length > 0)
      plan.forget.push({ side: survivor, ids: [...new Set(pairs.map((p) => p[survivor]))] });
  }

  // 2-4. Known pairs that changed on either side.
  const removed = { left: new Map<string, PairRef>(), right: new Map<string, PairRef>() };
  const flagged = { left: new Map<string, FlagList>(), right: new Map<string, FlagList>() };
  const pairs = new Map<string, PairRef>();
  for (const [side, changes] of [
    ['left', L],
    ['right', R],
  ] as const) {
    for (const p of changes.removed) {
      const id = pairId(p);
      if (orphaned.has(id)) continue;
      removed[side].set(id, p);
      pairs.set(id, p);
    }
    for (const f of changes.flagged) {
      const id = pairId(f.pair);
      if (orphaned.has(id)) continue;
      flagged[side].set(id, normalizeFlags(f.flags));
      pairs.set(id, f.pair);
    }
  }
  const restoreIds = {
    left: new Set((input.restores?.left ?? []).map((c) => c.id)),
    right: new Set((input.restores?.right ?? []).map((c) => c.id)),
  };
  const forgetLeft: string[] = [];
  for (const [id, p] of pairs) {
    const lRemoved = removed.left.has(id);
    const rRemoved = removed.right.has(id);
    if (lRemoved && rRemoved) {
      forgetLeft.push(p.left);
      continue;
    }
    if (lRemoved || rRemoved) {
      const gone: Side = lRemoved ? 'left' : 'right';
      const kept: Side = lRemoved ? 'right' : 'left';
      const changedFlags = flagged[kept].get(id);
      if (
        changedFlags &&
        policy.conflicts.deleteVsChange === 'keep' &&
        !onlyMarkedDeleted(p.base, changedFlags)
      ) {
        if (!flowsFrom(policy, kept)) {
          // Kept, but nothing flows back to the side that deleted it (a one-way pair): it stays where it
          // is, unpaired, like any message there that the pair does not carry. The pair is forgotten, so
          // that no later sync takes the old deletion up again: held open instead, it deleted the
          // message once its flags happened to match the old ones again.
          forgetLeft.push(p.left);
          plan.conflicts.push({
            kind: 'delete-vs-change',
            [gone]: p[gone],
            [kept]: p[kept],
            resolution: `deleted on the ${gone} but changed on the ${kept}: kept on the ${kept} only (nothing flows to the ${gone} in this pair)`,
          });
        } else {
          const described = restoreIds[kept].has(p[kept]);
          if (!described) target(plan, gone).copies.push({ from: p[kept], flags: changedFlags });
          plan.conflicts.push({
            kind: 'delete-vs-change',
            [gone]: p[gone],
            [kept]: p[kept],
            resolution: `deleted on the ${gone} but changed on the ${kept}: kept, copied back to the ${gone}`,
          });
        }
      } else if (flowsFrom(policy, gone) && policy.propagate.deletions) {
        target(plan, kept).deletes.push({ id: p[kept], pair: { left: p.left, right: p.right } });
      } else {
        hold.add(gone);
      }
      continue;
    }
    const lf = flagged.left.get(id) ?? p.base;
    const rf = flagged.right.get(id) ?? p.base;
    flags.plan(plan, { left: p.left, right: p.right }, p.base, lf, rf);
  }
  if (forgetLeft.length > 0) plan.forget.push({ side: 'left', ids: forgetLeft });

  // 5. New messages, and the surviving halves of orphaned pairs.
  const leftCands: Candidate[] = [
    ...L.added,
    ...(input.orphans?.left ?? []),
    ...(input.restores?.left ?? []),
  ];
  const rightCands: Candidate[] = [
    ...R.added,
    ...(input.orphans?.right ?? []),
    ...(input.restores?.right ?? []),
  ];
  const pairing = pairByContent(leftCands, rightCands, input.hashes);
  for (const [l, r] of pairing.matched) {
    flags.plan(
      plan,
      { left: l.id, right: r.id },
      l.base ?? r.base,
      normalizeFlags(l.flags),
      normalizeFlags(r.flags),
      true,
    );
  }
  for (const [side, list] of [
    ['left', pairing.unmatchedLeft],
    ['right', pairing.unmatchedRight],
  ] as const) {
    const restoring = (c: Candidate) => c.base !== undefined;
    for (const c of list) {
      if (!flowsFrom(policy, side)) continue;
      if (!restoring(c) && !policy.propagate.new) continue;
      target(plan, side === 'left' ? 'right' : 'left').copies.push({
        from: c.id,
        flags: normalizeFlags(c.flags),
      });
    }
  }
  plan.hold = [...hold].sort();
  return plan;
}

function target(plan: FolderPlan, side: Side) {
  return side === 'left' ? plan.toLeft : plan.toRight;
}

/** Decides a pair's flags on both sides and what to write and record for them. */
class FlagResolver {
  constructor(private readonly policy: SyncPolicy) {}

  plan(
    plan: FolderPlan,
    pair: { left: string; right: string },
    base: FlagList | undefined,
    lf: FlagList,
    rf: FlagList,
    isNewPair = false,
  ) {
    const { policy } = this;
    let merged: FlagList;
    const lChanged = base === undefined || !flagsEqual(lf, base);
    const rChanged = base === undefined || !flagsEqual(rf, base);
    if (policy.conflicts.flags === 'merge' || !(lChanged && rChanged)) {
      merged = mergeFlags(base, lf, rf).flags;
    } else {
      merged = policy.conflicts.flags === 'left' ? lf : rf;
      if (!flagsEqual(lf, rf)) {
        plan.conflicts.push({
          kind: 'flags',
          left: pair.left,
          right: pair.right,
          resolution: `flags changed on both sides: the ${policy.conflicts.flags} side's set wins`,
        });
      }
    }
    const carry = policy.propagate.flags;
    // Each side takes the merged flags only if the other side's changes may flow into it.
    const newLeft = carry && flowsFrom(policy, 'right') ? merged : lf;
    const newRight = carry && flowsFrom(policy, 'left') ? merged : rf;
    // The base is what both sides agree on. A one-way pair's base follows its source, so the
    // target's own changes are never mistaken for the source's and pushed back over it.
    let recordBase: FlagList | undefined;
    if (policy.direction === 'left-to-right') recordBase = newLeft;
    else if (policy.direction === 'right-to-left') recordBase = newRight;
    else if (flagsEqual(newLeft, newRight)) recordBase = newLeft;
    else if (isNewPair) recordBase = newLeft; // flags are not carried: any stable base will do

    const writes = (
      [
        ['left', lf, newLeft],
        ['right', rf, newRight],
      ] as const
    ).filter(([, current, wanted]) => !flagsEqual(current, wanted));
    writes.forEach(([side, current, wanted], i) => {
      const delta = diffFlags(current, wanted);
      // When both sides are written, the engine writes the left first and the right only where the
      // left succeeded; so only the last write records the base, and a failure leaves the old one.
      const last = i === writes.length - 1;
      target(plan, side).flags.push({
        id: pair[side],
        pair,
        add: delta.added,
        remove: delta.removed,
        ...(last && recordBase ? { flags: recordBase } : {}),
      });
    });
    const wrote = writes.length > 0;
    const baseChanged = recordBase !== undefined && (base === undefined || !flagsEqual(recordBase, base));
    if (!wrote && (isNewPair || baseChanged) && recordBase !== undefined) {
      plan.record.push({ left: pair.left, right: pair.right, flags: recordBase });
    }
  }
}

/**
 * The pairs a merge will keep because they were deleted on one side and changed on the other, by the
 * side that keeps them: the engine describes these before merging (see `restores`).
 */
export function keptOnConflict(
  left: SideChanges,
  right: SideChanges,
  policy: SyncPolicy,
): { left: PairRef[]; right: PairRef[] } {
  const out = { left: [] as PairRef[], right: [] as PairRef[] };
  if (policy.conflicts.deleteVsChange !== 'keep') return out;
  const orphaned = new Set([...left.orphaned, ...right.orphaned].map(pairId));
  for (const [kept, gone, keptSide] of [
    [left, right, 'left'],
    [right, left, 'right'],
  ] as const) {
    if (!flowsFrom(policy, keptSide)) continue;
    const removed = new Set(gone.removed.map(pairId));
    const keptRemoved = new Set(kept.removed.map(pairId));
    for (const f of kept.flagged) {
      const id = pairId(f.pair);
      if (onlyMarkedDeleted(f.pair.base, f.flags)) continue;
      if (removed.has(id) && !keptRemoved.has(id) && !orphaned.has(id)) out[keptSide].push(f.pair);
    }
  }
  return out;
}

/**
 * True when the only change from `base` is `\\Deleted` added: the message is on its way out on that
 * side (a mail client marked it for expunge, or our own deletion was cut between its STORE \\Deleted
 * and its EXPUNGE by a crash), not changed in a way worth keeping against a deletion on the other side.
 * Keeping it would bring back, marked deleted, a message the user deleted.
 */
function onlyMarkedDeleted(base: FlagList, now: FlagList): boolean {
  const delta = diffFlags(base, now);
  return delta.removed.length === 0 && delta.added.length === 1 && delta.added[0] === '\\Deleted';
}
