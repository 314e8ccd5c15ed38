/**
 * Folder names across stores. Each store spells a hierarchy its own way (`Archiv/Übersicht` on one IMAP
 * server, `Archiv.Übersicht` on another, `.Archiv.Übersicht` in a Maildir++), so the model names a
 * folder by its path: the list of its levels, in UTF-8. Drivers translate to and from their own syntax.
 */
export type FolderPath = readonly string[];

/** The inbox is special on every store (case-insensitive on IMAP, the root of a Maildir++). */
export const INBOX: FolderPath = ['INBOX'];

/** Whether `path` is the inbox: one level named INBOX, in any case. */
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

/** The folder path a {@link folderKey} was made from. */
export function parseFolderKey(key: string): FolderPath {
  return key.split('/').map((level) => level.replaceAll('%2F', '/').replaceAll('%25', '%'));
}

/** For messages to people: levels joined by `/`. */
export function displayFolder(path: FolderPath): string {
  return path.join('/');
}

/** One folder as a driver lists it, under a name the driver maps to its path and back exactly. */
export interface FolderInfo {
  path: FolderPath;
  /** RFC 6154 special use (`\Sent`, `\Trash`, …) where the store knows it. */
  specialUse?: string;
  /** False for a folder that only holds other folders (IMAP `\Noselect`); it has no messages. */
  selectable: boolean;
  /**
   * The store's identity of the folder, where it has one that survives a rename and is never given to
   * another folder: IMAP `MAILBOXID` (RFC 8474, OBJECTID), a Maildir directory's device, inode and
   * birth time. Opaque. The engine records it with the folder pair, and a known folder missing under
   * its name whose id is listed under another name was renamed there, whatever it holds now. Absent
   * where the store has none; never a value that a later folder could be given.
   */
  id?: string;
  /**
   * How many messages the folder holds, where the store's folder listing says so at no extra cost
   * (IMAP LIST-STATUS). A hint for scheduling only (the engine starts the largest folders first): it
   * may be stale by the time the folder is listed, and is absent where unknown.
   */
  messages?: number;
}

/**
 * A name a store lists that its driver cannot map to a {@link FolderPath} and back to the very same
 * name: an IMAP name that is not canonical modified UTF-7 (`&AGE-`, an unterminated run, 8-bit bytes),
 * that has an empty level (`/etc/passwd`, `a//b`) or a control character; a Maildir directory whose
 * name this layout would never write. Reading it some other way would be another folder, so it is
 * listed as refused instead, never left out: left out, a folder synced before would read as deleted.
 *
 * Contract: the engine reports each refused name as an error of its own (scope `folder`), writes
 * nothing for it on either side, and, as long as a side lists one, deletes or recreates no folder
 * because it is missing from that side (the refused name may be that folder in another spelling).
 */
export interface RefusedFolder {
  /**
   * The name exactly as the store listed it: an IMAP name as on the wire (modified UTF-7 undecoded,
   * delimiters and all), a Maildir directory name as relative to the root. Never a path to act on.
   */
  refused: string;
  /** `FOLDER_NAME_REFUSED`, or a more precise code of the driver. */
  code: string;
  /** Why, for people: names the account and the folder by {@link RefusedFolder.refused}, quoted. */
  message: string;
}

/** What {@link Driver.listFolders} gives: folders, and names it refused. */
export type ListedFolder = FolderInfo | RefusedFolder;

/** Whether a listed folder is a name the driver refused rather than a folder. */
export function isRefusedFolder(folder: ListedFolder): folder is RefusedFolder {
  return 'refused' in folder;
}

/**
 * A name from a store, quoted for a message or a terminal: as a JSON string (so CR, LF, NUL, ESC,
 * quotes and lone surrogates show as escapes), with DEL, the C1 controls and the bidirectional
 * controls escaped too, since terminals act on the first and the last reorder what is shown.
 */
export function quoteName(name: string): string {
  return JSON.stringify(name).replace(
    /[\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
