import { type FlagList, isValidKeyword, normalizeFlags } from './flags.js';
import type { PairRef, Side, SideChanges } from './model.js';
import { flowsFrom, type SyncPolicy } from './policy.js';

/**
 * One folder pair as move detection sees it: its key and both sides' changes, listed before any
 * folder was applied. Only folders whose both sides were listed, and whose ids did not change epoch
 * on either side, can be the source or the target of a move.
 */
export interface MoveFolder {
  key: string;
  left: SideChanges;
  right: SideChanges;
}

/**
 * A known pair whose half on the moving side left its folder while the other side still holds its
 * half: where a move may have come from. `size` and `messageId` are the other side's description of
 * its half; `hash` the hash of that half's body, once asked for.
 */
export interface MoveSource {
  /** The folder pair the message left. */
  key: string;
  pair: PairRef;
  size?: number | undefined;
  messageId?: string | null | undefined;
  hash?: string | undefined;
}

/**
 * A message new on the moving side in another folder: where a move may have gone. `flags` as that side
 * listed them; `size`, `messageId` and `hash` that side's description of it.
 */
export interface MoveTarget {
  /** The folder pair the message is new in. */
  key: string;
  id: string;
  flags: FlagList;
  size?: number | undefined;
  messageId?: string | null | undefined;
  hash?: string | undefined;
}

/** A move the user made on one side, proven: the pair it left `from`, and its new id in `to` on that side. */
export interface DetectedMove {
  from: string;
  to: string;
  pair: PairRef;
  /** The moved message's id in `to`, on the side that moved it. */
  id: string;
  /** Its flags there, as that side listed them. */
  flags: FlagList;
}

const pairId = (p: { left: string; right: string }) => `${p.left}\u0000${p.right}`;

/**
 * Where moves made on `mover` may have come from and gone to, before anything is described: the pairs
 * that side removed while the other side still holds them, and the messages new on that side. Empty
 * when the policy would not carry both a deletion and a new message from `mover` to the other side,
 * since a move stands for exactly those two.
 */
export function moveCandidates(
  folders: readonly MoveFolder[],
  mover: Side,
  policy: SyncPolicy,
): { sources: MoveSource[]; targets: MoveTarget[] } {
  const out = { sources: [] as MoveSource[], targets: [] as MoveTarget[] };
  if (!flowsFrom(policy, mover) || !policy.propagate.deletions || !policy.propagate.new) return out;
  const other: Side = mover === 'left' ? 'right' : 'left';
  for (const f of folders) {
    const moving = f[mover];
    const staying = f[other];
    if (moving.reset || staying.reset) continue;
    const removedThere = new Set(staying.removed.map(pairId));
    for (const pair of moving.removed) {
      if (!removedThere.has(pairId(pair))) out.sources.push({ key: f.key, pair });
    }
    for (const m of moving.added) out.targets.push({ key: f.key, id: m.id, flags: m.flags });
  }
  // A move needs somewhere to come from and somewhere else to go.
  const from = new Set(out.sources.map((s) => s.key));
  const to = new Set(out.targets.map((t) => t.key));
  const crosses = [...from].some((k) => [...to].some((j) => j !== k));
  return crosses ? out : { sources: [], targets: [] };
}

/** The cheap fingerprint, as content pairing has it: Message-ID and size, or the size alone without one. */
function groupKey(c: {
  size?: number | undefined;
  messageId?: string | null | undefined;
}): string | undefined {
  if (c.size === undefined) return undefined;
  return c.messageId == null ? `\u0001${c.size}` : `${c.messageId}\u0000${c.size}`;
}

interface Group {
  sources: MoveSource[];
  targets: MoveTarget[];
}

function groups(sources: readonly MoveSource[], targets: readonly MoveTarget[]): Map<string, Group> {
  const out = new Map<string, Group>();
  const bucket = (key: string) => {
    let g = out.get(key);
    if (!g) {
      g = { sources: [], targets: [] };
      out.set(key, g);
    }
    return g;
  };
  for (const s of sources) {
    const key = groupKey(s);
    if (key !== undefined) bucket(key).sources.push(s);
  }
  for (const t of targets) {
    const key = groupKey(t);
    if (key !== undefined) bucket(key).targets.push(t);
  }
  return out;
}

/** Whether some source and some target of a group lie in different folders: only then can one have moved. */
function crossesFolders(g: Group): boolean {
  return g.sources.some((s) => g.targets.some((t) => t.key !== s.key));
}

/**
 * Whether a group is proven by its fingerprint alone, as content pairing takes it: one source and one
 * target, in different folders, sharing a Message-ID and a size that nothing else in the sync shares.
 * Hashing them would read both bodies, and over IMAP download the one the move exists not to transfer.
 */
function uniqueByMessageId(key: string, g: Group): boolean {
  return (
    !key.startsWith('\u0001') &&
    g.sources.length === 1 &&
    g.targets.length === 1 &&
    g.sources[0]!.key !== g.targets[0]!.key
  );
}

/**
 * Which described candidates need a body hash: every one whose fingerprint (Message-ID and size, or the
 * size alone) it shares with a candidate of the other kind in another folder, unless that fingerprint
 * is a Message-ID and size held by exactly one source and one target (see {@link matchMoves}).
 */
export function moveHashNeeds(
  sources: readonly MoveSource[],
  targets: readonly MoveTarget[],
): { sources: MoveSource[]; targets: MoveTarget[] } {
  const need = { sources: [] as MoveSource[], targets: [] as MoveTarget[] };
  for (const [key, g] of groups(sources, targets)) {
    if (!crossesFolders(g) || uniqueByMessageId(key, g)) continue;
    need.sources.push(...g.sources);
    need.targets.push(...g.targets);
  }
  return need;
}

/**
 * The moves proven, by the identity content pairing uses: a target and a source in another folder
 * that alone share a Message-ID and a size are the same message; otherwise each target is paired with
 * a source of the same fingerprint and the same body hash in another folder, one to one (among
 * identical bodies any pairing is right, as in content pairing). A candidate without a hash where one
 * is needed, or without its twin, is no move: it stays a deletion and a new message.
 *
 * `rivals` lists, by folder key, the sizes of what is new on the other side of that folder (`undefined`
 * for a size it did not list). A target that could pair by content with one of those is left alone:
 * the folder's own content pairing takes it, and moving a copy in beside it would duplicate it.
 */
export function matchMoves(
  sources: readonly MoveSource[],
  targets: readonly MoveTarget[],
  rivals: ReadonlyMap<string, readonly (number | undefined)[]> = new Map(),
): DetectedMove[] {
  const moves: DetectedMove[] = [];
  const contested = (t: MoveTarget) => {
    return rivals.get(t.key)?.some((s) => s === undefined || s === t.size) === true;
  };
  for (const [key, g] of groups(sources, targets)) {
    if (!crossesFolders(g)) continue;
    if (uniqueByMessageId(key, g)) {
      const [s, t] = [g.sources[0]!, g.targets[0]!];
      if (!contested(t))
        moves.push({ from: s.key, to: t.key, pair: s.pair, id: t.id, flags: normalizeFlags(t.flags) });
      continue;
    }
    const free = g.sources.filter((s) => s.hash !== undefined);
    for (const t of g.targets) {
      if (t.hash === undefined || contested(t)) continue;
      const i = free.findIndex((s) => s.hash === t.hash && s.key !== t.key);
      if (i < 0) continue;
      const [s] = free.splice(i, 1);
      moves.push({ from: s!.key, to: t.key, pair: s!.pair, id: t.id, flags: normalizeFlags(t.flags) });
    }
  }
  return moves;
}

/**
 * The moved message's flags on the side that moved it, as a flag merge must see them: a store without
 * keywords never shows any, which must not read as the user removing the pair's keywords (the same
 * rule the controller applies to its listings).
 */
export function movedFlags(listed: FlagList, base: FlagList, keepsKeywords: boolean): string[] {
  if (keepsKeywords) return normalizeFlags(listed);
  return normalizeFlags([
    ...listed.filter((f) => f.startsWith('\\')),
    ...base.filter((f) => isValidKeyword(f)),
  ]);
}
