import { type FolderInfo, isRefusedFolder, type ListedFolder } from '@twinbox/core';

/** The folders of a listing, without the names the driver refused. */
export function foldersOf(listed: readonly ListedFolder[]): FolderInfo[] {
  return listed.filter((f): f is FolderInfo => !isRefusedFolder(f));
}

/** The names a listing refused, as listed. */
export function refusedOf(listed: readonly ListedFolder[]): string[] {
  return listed.flatMap((f) => (isRefusedFolder(f) ? [f.refused] : [])).sort();
}
