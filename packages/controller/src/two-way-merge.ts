import {
  type ChangeSet,
  diffFlags,
  isEmptyDelta,
  type ListedMessage,
  normalizeFlags,
  type RecordedMessage,
} from '@twinbox/core';

/**
 * The controller's 2-way merge: what the store holds now against what the state recorded at the last
 * sync, for one side of one folder. Only changes come out: a message whose flags equal the recorded ones
 * costs nothing downstream. Linear in the size of both inputs (one hash map over the recorded side).
 */
export function twoWayMerge(
  listing: Iterable<ListedMessage>,
  recorded: Iterable<RecordedMessage>,
): ChangeSet {
  const known = new Map<string, RecordedMessage>();
  for (const r of recorded) known.set(r.id, r);
  const changes: ChangeSet = { added: [], removed: [], flagged: [] };
  const listed = new Set<string>();
  for (const msg of listing) {
    if (listed.has(msg.id)) {
      throw new Error(
        `The driver listed message id ${JSON.stringify(msg.id)} twice in one folder; ids must be unique.`,
      );
    }
    listed.add(msg.id);
    const before = known.get(msg.id);
    if (!before) {
      changes.added.push(msg);
      continue;
    }
    const flags = normalizeFlags(msg.flags);
    const delta = diffFlags(normalizeFlags(before.flags), flags);
    if (!isEmptyDelta(delta)) changes.flagged.push({ id: msg.id, delta, flags });
  }
  for (const id of known.keys()) if (!listed.has(id)) changes.removed.push(id);
  return changes;
}
