import { type FolderPath, folderKey, isRefusedFolder, type ListedFolder, parseFolderKey } from './folders.js';

/**
 * The order in which folders are started when only `concurrency` run at once: the largest first
 * (longest processing time first), so that a first sync does not end with one big folder copying
 * alone because it happened to sort late; each folder after those of its ancestors that are in the
 * list, so a parent is still reached before its children; otherwise as given (sizes unknown keep the
 * given order, after the known ones, but still after their ancestors).
 */
export function largestFirst<T extends { key: string }>(
  items: readonly T[],
  sizeOf: (item: T) => number | undefined,
): T[] {
  const sizes = new Map(items.map((item) => [item.key, sizeOf(item)]));
  const byKey = new Map(items.map((item) => [item.key, item]));
  // Array.prototype.sort is stable: equal sizes keep the given order.
  const order = [...items].sort((a, b) => (sizes.get(b.key) ?? -1) - (sizes.get(a.key) ?? -1));
  const out: T[] = [];
  const placed = new Set<string>();
  const place = (item: T) => {
    if (placed.has(item.key)) return;
    placed.add(item.key);
    const path = parseFolderKey(item.key);
    for (let depth = 1; depth < path.length; depth++) {
      const ancestor = byKey.get(folderKey(path.slice(0, depth)));
      if (ancestor) place(ancestor);
    }
    out.push(item);
  };
  for (const item of order) place(item);
  return out;
}

/** Each listed folder's message count where its store gave one ({@link FolderInfo.messages}), by key. */
export function messageCounts(folders: readonly ListedFolder[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of folders) {
    if (!isRefusedFolder(f) && f.messages !== undefined) counts.set(folderKey(f.path), f.messages);
  }
  return counts;
}

/** The larger of a folder pair's two counts, where either side gave one. */
export function pairCount(
  counts: { left: Map<string, number>; right: Map<string, number> },
  paths: { left?: FolderPath; right?: FolderPath },
): number | undefined {
  const l = paths.left && counts.left.get(folderKey(paths.left));
  const r = paths.right && counts.right.get(folderKey(paths.right));
  if (l === undefined && r === undefined) return undefined;
  return Math.max(l ?? 0, r ?? 0);
}
