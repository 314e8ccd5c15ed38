import type { FlagList } from './flags.js';

/**
 * A message that is not (or no longer) paired, with what is known of its content. `base` is set for
 * the surviving half of a pair whose other side changed epoch: it was in sync once, at those flags.
 */
export interface Candidate {
  id: string;
  flags: FlagList;
  size?: number | undefined;
  messageId?: string | null | undefined;
  base?: FlagList | undefined;
}

/** Body hashes by message id, for the candidates that {@link contentPairingNeeds} named. */
export type HashMap = Readonly<Record<string, string>>;

/** What pairing by content made of two sides' candidates: the pairs found, and the rest of each side. */
export interface ContentPairing {
  matched: [left: Candidate, right: Candidate][];
  unmatchedLeft: Candidate[];
  unmatchedRight: Candidate[];
}

/**
 * The cheap fingerprint: Message-ID and size (CRLF). Without a Message-ID there is none, and only a
 * body hash can tell two messages apart.
 */
function cheapKey(c: Candidate): string | undefined {
  if (c.messageId == null || c.size === undefined) return undefined;
  return `${c.messageId}\u0000${c.size}`;
}

interface Groups {
  keyed: Map<string, { left: Candidate[]; right: Candidate[] }>;
  /** Candidates without a Message-ID, by size: only those of equal size can be the same message. */
  unkeyed: Map<number, { left: Candidate[]; right: Candidate[] }>;
  loose: { left: Candidate[]; right: Candidate[] };
}

function bucket<K>(map: Map<K, { left: Candidate[]; right: Candidate[] }>, key: K) {
  let g = map.get(key);
  if (!g) {
    g = { left: [], right: [] };
    map.set(key, g);
  }
  return g;
}

function group(left: readonly Candidate[], right: readonly Candidate[]): Groups {
  const groups: Groups = { keyed: new Map(), unkeyed: new Map(), loose: { left: [], right: [] } };
  const add = (c: Candidate, side: 'left' | 'right') => {
    const key = cheapKey(c);
    if (key !== undefined) {
      bucket(groups.keyed, key)[side].push(c);
    } else if (c.size !== undefined) {
      bucket(groups.unkeyed, c.size)[side].push(c);
    } else {
      groups.loose[side].push(c);
    }
  };
  for (const c of left) add(c, 'left');
  for (const c of right) add(c, 'right');
  return groups;
}

/**
 * The messages whose body must be hashed before {@link pairByContent} can decide: those whose cheap
 * fingerprint ties with another on the same side, and those without a Message-ID that could match a
 * message of equal size on the other side. Usually none, so bodies are rarely read just to pair.
 */
export function contentPairingNeeds(
  left: readonly Candidate[],
  right: readonly Candidate[],
): { left: string[]; right: string[] } {
  const need = { left: [] as string[], right: [] as string[] };
  if (left.length === 0 || right.length === 0) return need;
  const groups = group(left, right);
  const collect = (g: { left: Candidate[]; right: Candidate[] }) => {
    for (const c of g.left) need.left.push(c.id);
    for (const c of g.right) need.right.push(c.id);
  };
  for (const g of groups.keyed.values()) {
    if (g.left.length > 0 && g.right.length > 0 && (g.left.length > 1 || g.right.length > 1)) collect(g);
  }
  for (const g of groups.unkeyed.values()) if (g.left.length > 0 && g.right.length > 0) collect(g);
  return need;
}

/**
 * Pairs messages that are new on both sides (or orphaned by an epoch change) by content, so a message
 * both stores already hold is not copied twice: first by Message-ID and size when that is unique on
 * both sides, then by body hash. Equal hashes mean equal bytes, so among several identical messages any
 * one-to-one pairing is right, and the surplus on one side is copied, keeping the counts.
 * Candidates lacking a needed hash stay unmatched: copying is always safe, a wrong pairing is not.
 */
export function pairByContent(
  left: readonly Candidate[],
  right: readonly Candidate[],
  hashes: { left: HashMap; right: HashMap } = { left: {}, right: {} },
): ContentPairing {
  const result: ContentPairing = { matched: [], unmatchedLeft: [], unmatchedRight: [] };
  const groups = group(left, right);
  const byHash = (g: { left: Candidate[]; right: Candidate[] }) => {
    const rightByHash = new Map<string, Candidate[]>();
    for (const r of g.right) {
      const h = hashes.right[r.id];
      if (h === undefined) {
        result.unmatchedRight.push(r);
        continue;
      }
      const list = rightByHash.get(h);
      if (list) list.push(r);
      else rightByHash.set(h, [r]);
    }
    for (const l of g.left) {
      const h = hashes.left[l.id];
      const r = h === undefined ? undefined : rightByHash.get(h)?.shift();
      if (r) result.matched.push([l, r]);
      else result.unmatchedLeft.push(l);
    }
    for (const rest of rightByHash.values()) result.unmatchedRight.push(...rest);
  };
  for (const g of groups.keyed.values()) {
    if (g.left.length === 1 && g.right.length === 1) result.matched.push([g.left[0]!, g.right[0]!]);
    else if (g.left.length === 0 || g.right.length === 0) {
      result.unmatchedLeft.push(...g.left);
      result.unmatchedRight.push(...g.right);
    } else byHash(g);
  }
  for (const g of groups.unkeyed.values()) {
    if (g.left.length === 0 || g.right.length === 0) {
      result.unmatchedLeft.push(...g.left);
      result.unmatchedRight.push(...g.right);
    } else byHash(g);
  }
  result.unmatchedLeft.push(...groups.loose.left);
  result.unmatchedRight.push(...groups.loose.right);
  return result;
}
