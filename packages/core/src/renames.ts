import type { FolderDecision } from './folder-merge.js';
import { type FolderInfo, type FolderPath, isInbox } from './folders.js';
import { type ListedMessage, otherSide, type Side } from './model.js';
import { flowsFrom, type SyncPolicy } from './policy.js';
import type { FolderPairRecord, FolderPairRename } from './state.js';

/**
 * A folder the user may have renamed on one side since the last sync: a folder pair the state knows
 * that side `on` no longer lists (while the other side still does), and a folder new on `on` that the
 * other side does not list at all. Whether it is a rename is for the content to prove
 * ({@link renameProof}).
 */
export interface RenameCandidate {
  /** The side on which the user renamed the folder; the rename is repeated on the other side. */
  on: Side;
  /** The known folder pair, under its old name. */
  from: FolderPairRecord;
  /** The new folder: its key, and its path (the same on both sides, as for any new folder). */
  to: { key: string; path: FolderPath };
  /**
   * Set when the store proves it by the folder's identity ({@link FolderInfo.id}): the new folder has
   * the id the state recorded for the old one on `on`. No content need be compared.
   */
  byId?: true;
}

/**
 * The candidate renames among a pass's folder decisions: each folder the state knows and one side no
 * longer lists (`deleted`), with each folder new on that same side and missing on the other (`create`,
 * with a key the state does not know and no name at all on the other side). None where the policy
 * would not carry both a folder creation and a folder deletion from that side, since a rename stands
 * for exactly those two; none for the inbox, which is never renamed, nor for a folder that only holds
 * others.
 *
 * `listed` holds the keys each side lists (refused names aside), to tell a folder missing on the other
 * side from one that is there only as a name holding other folders; `ids`, each side's folder ids by
 * key, where its store gives them ({@link FolderInfo.id}): a candidate whose new folder has the id
 * recorded for the old one is marked `byId`.
 */
export function renameCandidates(
  decisions: readonly FolderDecision[],
  known: ReadonlyMap<string, FolderPairRecord>,
  listed: Record<Side, ReadonlySet<string>>,
  policy: SyncPolicy,
  ids?: Record<Side, ReadonlyMap<string, string>>,
): RenameCandidate[] {
  const may = (side: Side) =>
    flowsFrom(policy, side) && policy.propagate.folderCreation && policy.propagate.folderDeletion;
  const vanished = decisions.flatMap((d) => {
    if (d.kind !== 'deleted' || !d.selectable || isInbox(d.left) || isInbox(d.right)) return [];
    const record = known.get(d.key);
    return record ? [{ on: d.missingOn, record }] : [];
  });
  const appeared = decisions.flatMap((d) => {
    if (d.kind !== 'create' || !d.selectable || isInbox(d.left) || known.has(d.key)) return [];
    if (listed[d.on].has(d.key)) return [];
    return [{ on: otherSide(d.on), key: d.key, path: d.left }];
  });
  const out: RenameCandidate[] = [];
  for (const v of vanished) {
    if (!may(v.on)) continue;
    for (const a of appeared) {
      if (a.on !== v.on || below(a.key, v.record.key) || below(v.record.key, a.key)) continue;
      const recorded = v.record.ids?.[v.on];
      const byId = recorded !== undefined && ids?.[v.on].get(a.key) === recorded;
      out.push({ on: v.on, from: v.record, to: { key: a.key, path: a.path }, ...(byId ? { byId } : {}) });
    }
  }
  return out;
}

/** Whether folder key `key` is `top` or a folder below it. */
function below(key: string, top: string): boolean {
  return key === top || key.startsWith(`${top}/`);
}

/** Message-ID and size: the identity pairing by content uses, for messages that have a Message-ID. */
function fingerprints(messages: readonly ListedMessage[]): Set<string> {
  const counts = new Map<string, number>();
  for (const m of messages) {
    if (!m.messageId || m.size === undefined) continue;
    const f = `${m.messageId}\u0000${m.size}`;
    counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  // A fingerprint two messages of one folder share proves nothing about which is which.
  return new Set([...counts].filter(([, n]) => n === 1).map(([f]) => f));
}

/**
 * Whether a folder new on one side is a known folder renamed: `before` is the old folder as the
 * other side still holds it, `after` the new folder on the side that renamed it, both described (size
 * and Message-ID). Proven when at least one message is in both, by a Message-ID and size that no other
 * message of either folder has, and those shared messages make at least half of each folder. Two
 * folders that hold mostly different mail are never taken for one; a folder with no such message (an
 * empty one, one of messages without Message-ID) is never proven, and stays a deletion and a creation.
 *
 * Whatever else changed in the folder since the last sync (messages added or removed on either side)
 * is then synced as in any folder, under the new name.
 */
export function renameProof(
  before: readonly ListedMessage[],
  after: readonly ListedMessage[],
): { shared: number; proven: boolean } {
  const a = fingerprints(before);
  const b = fingerprints(after);
  let shared = 0;
  for (const f of a) if (b.has(f)) shared++;
  return { shared, proven: shared > 0 && 2 * shared >= before.length && 2 * shared >= after.length };
}

/**
 * Whether a folder new on one side is a known folder renamed, told by the ids its messages kept (a
 * store that keeps ids and epoch across a rename, as IMAP servers and Maildirs do): the new folder
 * listed against the old one's pairs in the same epoch, `listed` messages of which `added` belong to no
 * pair, and `missing` pairs with no message there; and `sample`, some of the pairs found, each
 * described on the renaming side (in the new folder) and on the other (in the old one).
 *
 * `true` when the pairs found make at least half of each folder and every sampled pair whose two
 * messages both have a Message-ID has the same Message-ID and size on both sides (at least one such
 * pair): the same ids in the same epoch naming the same messages. `false` when the pairs found are too
 * few, or a sampled pair differs (another folder whose ids happen to coincide). `undefined` when no
 * sampled pair can be compared: the caller proves it by content instead.
 */
export function idRenameProof(
  counts: { listed: number; added: number; missing: number },
  sample: readonly (readonly [ListedMessage | undefined, ListedMessage | undefined])[],
): boolean | undefined {
  const found = counts.listed - counts.added;
  if (found <= 0 || 2 * found < counts.listed || 2 * found < found + counts.missing) return false;
  let compared = 0;
  for (const [renamed, kept] of sample) {
    if (!renamed?.messageId || !kept?.messageId) continue;
    if (renamed.messageId !== kept.messageId || renamed.size !== kept.size) return false;
    compared++;
  }
  return compared > 0 ? true : undefined;
}

/**
 * Of the proven candidates, those that name one folder each way: a known folder that more than one
 * new folder could be (a copy of it made before it was deleted), or a new folder that could be more
 * than one known folder, is renamed to none of them, nor are the folders below it, and all are synced
 * as they would be without renames. Then,
 * from the top down, each rename covers the folders below both names: a rename takes its subfolders
 * along on the store, so the folders below are renamed with it and not on their own.
 */
export function chooseRenames(proven: readonly RenameCandidate[]): RenameCandidate[] {
  const count = (key: (c: RenameCandidate) => string) => {
    const n = new Map<string, number>();
    for (const c of proven) n.set(key(c), (n.get(key(c)) ?? 0) + 1);
    return n;
  };
  const fromCount = count((c) => `${c.on}\u0000${c.from.key}`);
  const toCount = count((c) => `${c.on}\u0000${c.to.key}`);
  const ambiguous = proven.filter(
    (c) => fromCount.get(`${c.on}\u0000${c.from.key}`) !== 1 || toCount.get(`${c.on}\u0000${c.to.key}`) !== 1,
  );
  // Nor is a folder below an ambiguous one renamed on its own: that would make the choice for it.
  const unique = proven.filter(
    (c) =>
      !ambiguous.some((a) => a.on === c.on && (below(c.from.key, a.from.key) || below(c.to.key, a.to.key))),
  );
  const depth = (key: string) => key.split('/').length;
  unique.sort((x, y) => depth(x.from.key) - depth(y.from.key) || (x.from.key < y.from.key ? -1 : 1));
  const chosen: RenameCandidate[] = [];
  for (const c of unique) {
    const covered = chosen.some(
      (p) =>
        below(c.from.key, p.from.key) ||
        below(c.to.key, p.to.key) ||
        below(c.from.key, p.to.key) ||
        below(c.to.key, p.from.key),
    );
    if (!covered) chosen.push(c);
  }
  return chosen;
}

/**
 * The state's side of a rename: the renamed folder pair under its new key and paths, and each known
 * folder pair below it under the new name (the store renames subfolders along). A pair below whose
 * paths do not start with the renamed folder's on both sides (a name mapping of the config sent it
 * elsewhere) stays where it is; the next pass finds it missing and deals with it as any other.
 */
export function renamedPairs(
  candidate: RenameCandidate,
  known: Iterable<FolderPairRecord>,
): FolderPairRename[] {
  const { from, to } = candidate;
  const renames: FolderPairRename[] = [
    { from: from.key, to: { ...from, key: to.key, left: to.path, right: to.path } },
  ];
  for (const record of known) {
    if (!record.key.startsWith(`${from.key}/`)) continue;
    if (!startsWith(record.left, from.left) || !startsWith(record.right, from.right)) continue;
    renames.push({
      from: record.key,
      to: {
        ...record,
        key: `${to.key}${record.key.slice(from.key.length)}`,
        left: [...to.path, ...record.left.slice(from.left.length)],
        right: [...to.path, ...record.right.slice(from.right.length)],
      },
    });
  }
  return renames;
}

function startsWith(path: FolderPath, prefix: FolderPath): boolean {
  return path.length > prefix.length && prefix.every((level, i) => path[i] === level);
}
