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

/** One side's changes since the last sync, from comparing its listing with the recorded pairs. */
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

/** True when two flag lists hold the same flags in the same order: the common case, allocation-free. */
function sameOrder(a: FlagList, b: FlagList): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The controller's 2-way merge: one side's listing (full or delta) against the pairs the state
 * recorded, for that side's ids. Only changes come out. Linear in the listing and the pairs, and it
 * allocates nothing for a message that did not change, since that is nearly every message.
 */
export function twoWayMerge(
  listing: Exclude<Listing, { kind: 'unchanged' }>,
  pairs: readonly MessagePair[],
  side: Side,
  options: { keywords: boolean; folder: string },
): TwoWayResult {
  const index = new Map<string, number>();
  for (let i = 0; i < pairs.length; i++) index.set(pairs[i]![side], i);
  const seenPair = new Uint8Array(pairs.length);
  const seenNew = new Set<string>();
  const result: TwoWayResult = { added: [], removed: [], flagged: [] };
  const messages = listing.kind === 'full' ? listing.messages : listing.changed;
  const duplicate = (id: string) =>
    new FolderError(
      `The ${side} store listed message ${JSON.stringify(id)} twice in folder ${options.folder}; ` +
        'its ids must be unique. The folder is skipped; check the store for corruption.',
      { code: 'LISTING_DUPLICATE_ID' },
    );
  for (const msg of messages) {
    const i = index.get(msg.id);
    if (i === undefined) {
      if (seenNew.has(msg.id)) throw duplicate(msg.id);
      seenNew.add(msg.id);
      result.added.push({ ...msg, flags: normalizeFlags(msg.flags) });
      continue;
    }
    if (seenPair[i]) throw duplicate(msg.id);
    seenPair[i] = 1;
    const pair = pairs[i]!;
    if (options.keywords && sameOrder(msg.flags, pair.flags)) continue;
    const flags = visibleFlags(msg.flags, pair.flags, options.keywords);
    if (!flagsEqual(flags, pair.flags)) result.flagged.push({ pair: ref(pair), flags });
  }
  if (listing.kind === 'full') {
    for (let i = 0; i < pairs.length; i++) if (!seenPair[i]) result.removed.push(ref(pairs[i]!));
  } else {
    for (const id of listing.vanished) {
      const i = index.get(id);
      if (i !== undefined && !seenPair[i]) result.removed.push(ref(pairs[i]!));
    }
  }
  return result;
}
