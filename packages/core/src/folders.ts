/**
 * Folder names across stores. Each store spells a hierarchy its own way (`Archiv/Übersicht` on one IMAP
 * server, `Archiv.Übersicht` on another, `.Archiv.Übersicht` in a Maildir++), so the model names a
 * folder by its path: the list of its levels, in UTF-8. Drivers translate to and from their own syntax.
 */
export type FolderPath = readonly string[];

/** The inbox is special on every store (case-insensitive on IMAP, the root of a Maildir++). */
export const INBOX: FolderPath = ['INBOX'];

export function isInbox(path: FolderPath): boolean {
  return path.length === 1 && path[0]!.toUpperCase() === 'INBOX';
}

/**
 * A stable, unambiguous string for a path, used as the folder pair's key in the state: levels are
 * joined by `/`, and `%` and `/` inside a level are escaped so that two paths never share a key.
 */
export function folderKey(path: FolderPath): string {
  return path.map((level) => level.replaceAll('%', '%25').replaceAll('/', '%2F')).join('/');
}

export function parseFolderKey(key: string): FolderPath {
  return key.split('/').map((level) => level.replaceAll('%2F', '/').replaceAll('%25', '%'));
}

/** For messages to people: levels joined by `/`. */
export function displayFolder(path: FolderPath): string {
  return path.join('/');
}

/** One folder as a driver lists it. */
export interface FolderInfo {
  path: FolderPath;
  /** RFC 6154 special use (`\Sent`, `\Trash`, …) where the store knows it. */
  specialUse?: string;
  /** False for a folder that only holds other folders (IMAP `\Noselect`); it has no messages. */
  selectable: boolean;
}
