/**
 * The flag model shared by every side. A message's flags are IMAP's: the system flags below and
 * keywords (atoms such as `$Forwarded` or `$label1`). Every driver maps its store's representation onto
 * this model (a Maildir info letter, an IMAP flag), so the engine merges one kind of thing.
 */

/** System flags that are synchronised. `\Recent` is per-session on IMAP and never stored or synced. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen'] as const;
/** One of {@link SYSTEM_FLAGS}. */
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];

/**
 * A message's flags as plain data: system flags in their canonical spelling plus keywords, without
 * duplicates, sorted. Always build one with {@link normalizeFlags} so two equal sets compare equal.
 */
export type FlagList = readonly string[];

const systemByLower = new Map<string, SystemFlag>(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f]));

/**
 * RFC 3501 `flag-keyword` is an atom: 7-bit printable characters but space and `(){%*"\]`. A keyword
 * outside that grammar cannot be stored on an IMAP server, so it is not a flag we can carry. 8-bit
 * bytes are outside it too: a client decodes them as it guesses, and would store another keyword.
 */
export function isValidKeyword(keyword: string): boolean {
  return keyword.length > 0 && keyword.length <= 255 && !/[^\x21-\x7e]|[(){%*"\\\]]/.test(keyword);
}

/**
 * The flags of a store's list that {@link normalizeFlags} would drop although they are not `\Recent`
 * nor another system flag of the store's own (`\*`, `\NonJunk`…): keywords no store can hold, which
 * the user must hear about rather than lose unseen.
 */
export function unstorableKeywords(flags: Iterable<string>): string[] {
  const out: string[] = [];
  for (const raw of flags) if (!raw.startsWith('\\') && !isValidKeyword(raw)) out.push(raw);
  return out;
}

/**
 * Canonical form of a flag set. IMAP flags compare case-insensitively, so `\SEEN` and `\Seen` are one
 * flag and keyword case variants collapse to their first spelling. `\Recent` and anything that is not a
 * system flag or a valid keyword are dropped: they cannot round-trip through every store.
 */
export function normalizeFlags(flags: Iterable<string>): string[] {
  const seen = new Map<string, string>();
  for (const raw of flags) {
    const lower = raw.toLowerCase();
    if (seen.has(lower)) continue;
    if (raw.startsWith('\\')) {
      const system = systemByLower.get(lower);
      if (system) seen.set(lower, system);
    } else if (isValidKeyword(raw)) {
      seen.set(lower, raw);
    }
  }
  return [...seen.values()].sort(compareFlags);
}

/** System flags first, then keywords, each group in code-unit order: a stable order for storage and tests. */
export function compareFlags(a: string, b: string): number {
  const sa = a.startsWith('\\');
  const sb = b.startsWith('\\');
  if (sa !== sb) return sa ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether two normalised flag lists hold the same flags, whatever their order (compared without case, as IMAP does). */
export function flagsEqual(a: FlagList, b: FlagList): boolean {
  if (a.length !== b.length) return false;
  const lower = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => lower.has(f.toLowerCase()));
}

/** What changed from one flag set to another. Both lists are normalised. */
export interface FlagDelta {
  added: string[];
  removed: string[];
}

/** What to add to `from` and remove from it to reach `to`, compared without case, as IMAP does. */
export function diffFlags(from: FlagList, to: FlagList): FlagDelta {
  const fromSet = new Set(from.map((f) => f.toLowerCase()));
  const toSet = new Set(to.map((f) => f.toLowerCase()));
  return {
    added: normalizeFlags(to.filter((f) => !fromSet.has(f.toLowerCase()))),
    removed: normalizeFlags(from.filter((f) => !toSet.has(f.toLowerCase()))),
  };
}

/** Whether a delta changes nothing. */
export function isEmptyDelta(delta: FlagDelta): boolean {
  return delta.added.length === 0 && delta.removed.length === 0;
}

/** Applies a delta to a flag set; removals win over additions of the same flag. */
export function applyFlagDelta(flags: FlagList, delta: FlagDelta): string[] {
  const removed = new Set(delta.removed.map((f) => f.toLowerCase()));
  return normalizeFlags([...flags, ...delta.added].filter((f) => !removed.has(f.toLowerCase())));
}

/** The flags a message pair ends with after a sync, and what each side must change to get there. */
export interface FlagMerge {
  /** The flags both sides should hold after the sync. */
  flags: string[];
  /** What the left side must change to reach `flags`. */
  left: FlagDelta;
  /** What the right side must change to reach `flags`. */
  right: FlagDelta;
}

/**
 * Three-way merge of one message's flags, flag by flag, against the value both sides agreed on at the
 * last sync (`base`).
 *
 * With a base there is no real conflict: for each flag, if the sides disagree, exactly one of them
 * differs from the base, and that side's change is taken (a flag removed on the left while the right
 * left it alone is removed on both). Without a base (a message new on both sides, paired by its
 * fingerprint), the sides never agreed, so the union is taken: a flag someone set is information we
 * keep, and losing `\Seen` or `\Flagged` is worse than gaining it.
 */
export function mergeFlags(base: FlagList | undefined, left: FlagList, right: FlagList): FlagMerge {
  const l = new Set(left.map((f) => f.toLowerCase()));
  const r = new Set(right.map((f) => f.toLowerCase()));
  const b = base ? new Set(base.map((f) => f.toLowerCase())) : undefined;
  const result: string[] = [];
  for (const flag of normalizeFlags([...left, ...right])) {
    const key = flag.toLowerCase();
    const inL = l.has(key);
    const inR = r.has(key);
    if (inL === inR || b === undefined) {
      result.push(flag);
      continue;
    }
    // The sides disagree: keep the value of the side that moved away from the base.
    const changedSideHasIt = inL !== b.has(key) ? inL : inR;
    if (changedSideHasIt) result.push(flag);
  }
  const flags = normalizeFlags(result);
  return { flags, left: diffFlags(left, flags), right: diffFlags(right, flags) };
}
