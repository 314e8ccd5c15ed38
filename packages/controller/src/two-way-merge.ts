import {
  type FlagList,
  FolderError,
  flagsEqual,
  isValidKeyword,
  type ListedMessage,
  type Listing,
  type MessagePair,
  normalizeFlags,
  type PairRef,
  type Side,
} from '@twinbox/core';

export interface TwoWayResult {
  added: ListedMessage[];
  removed: PairRef[];
  flagged: { pair: PairRef; flags: FlagList }[];
}

const ref = (p: MessagePair): PairRef => ({ left: p.left, right: p.right, base: p.flags });

/**
 * A store that cannot hold keywords never shows them, which must not read as "the user removed them":
 * such a side reports the keywords of the base as if it still had them.
 */
function visibleFlags(listed: FlagList, base: FlagList, keepsKeywords: boolean): string[] {
  if (keepsKeywords) return normalizeFlags(listed);
  return normalizeFlags([
    ...listed.filter((f) => f.startsWith('\\')),
    ...base.filter((f) => isValidKeyword(f)),
  ]);
}

/**
 * The controller's 2-way merge: one side's listing (full or delta) against the pairs the state
 * recorded, for that side's ids. Only changes come out. Linear in the listing and the pairs.
 */
export function twoWayMerge(
  listing: Exclude<Listing, { kind: 'unchanged' }>,
  pairs: readonly MessagePair[],
  side: Side,
  options: { keywords: boolean; folder: string },
): TwoWayResult {
  const known = new Map<string, MessagePair>();
  for (const p of pairs) known.set(p[side], p);
  const result: TwoWayResult = { added: [], removed: [], flagged: [] };
  const messages = listing.kind === 'full' ? listing.messages : listing.changed;
  const seen = new Set<string>();
  for (const msg of messages) {
    if (seen.has(msg.id)) {
      throw new FolderError(
        `The ${side} store listed message ${JSON.stringify(msg.id)} twice in folder ${options.folder}; ` +
          'its ids must be unique. The folder is skipped; check the store for corruption.',
        { code: 'LISTING_DUPLICATE_ID' },
      );
    }
    seen.add(msg.id);
    const pair = known.get(msg.id);
    if (!pair) {
      result.added.push({ ...msg, flags: normalizeFlags(msg.flags) });
      continue;
    }
    const flags = visibleFlags(msg.flags, pair.flags, options.keywords);
    if (!flagsEqual(flags, pair.flags)) result.flagged.push({ pair: ref(pair), flags });
  }
  if (listing.kind === 'full') {
    for (const [id, pair] of known) if (!seen.has(id)) result.removed.push(ref(pair));
  } else {
    for (const id of listing.vanished) {
      const pair = known.get(id);
      if (pair && !seen.has(id)) result.removed.push(ref(pair));
    }
  }
  return result;
}
