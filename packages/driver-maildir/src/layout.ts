import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  decodeMutf7,
  displayFolder,
  encodeMutf7,
  FolderError,
  type FolderPath,
  isInbox,
} from '@twinbox/core';

/**
 * How folders map to directories.
 * - `maildir++` (Dovecot's default, Courier): the inbox is the root Maildir itself, and every other
 *   folder is a directory directly under the root, named `.` + its levels joined by the separator
 *   (`.Archive.2024`).
 * - `fs`: one directory per level (`Archive/2024`), the inbox at `INBOX` under the root (mbsync's
 *   `SubFolders Verbatim`, Dovecot's `LAYOUT=fs`).
 */
export type MaildirLayoutName = 'maildir++' | 'fs';

export interface LayoutOptions {
  root: string;
  layout: MaildirLayoutName;
  /** `maildir++` only: what joins levels in a directory name. Default `.`. */
  separator: string;
  /** Directory of the inbox Maildir. Default: the root (`maildir++`) or `<root>/INBOX` (`fs`). */
  inbox?: string | undefined;
  /**
   * How folder names are spelled on disk: `utf-8` (default), or `modified-utf-7` as IMAP sends them,
   * which is what Dovecot (without `:UTF-8`), mbsync and OfflineIMAP write.
   */
  names?: FolderNameEncoding | undefined;
}

/** How folder names are spelled on disk: as they are (UTF-8), or in IMAP's modified UTF-7. */
export type FolderNameEncoding = 'utf-8' | 'modified-utf-7';

/** Most file systems cap one directory entry at 255 bytes. */
export const MAX_NAME_BYTES = 255;
/** The three directories of a Maildir: a folder level with one of these names would collide with them. */
const MAILDIR_SUBDIRS = new Set(['cur', 'new', 'tmp']);

/**
 * Why a level cannot be a directory name, or undefined when it can. Everything here is about names from
 * the other side (an IMAP server can send any string): none may make us leave the root.
 */
function levelProblem(level: string, layout: LayoutOptions): string | undefined {
  if (level === '') return 'a level is empty';
  if (level === '.' || level === '..') return `a level is ${JSON.stringify(level)}`;
  if (level.includes('/')) return 'a level holds "/"';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(level)) return 'a level holds a control character (NUL, newline, …)';
  if (/[\uD800-\uDFFF]/u.test(level)) return 'a level is not well-formed Unicode';
  if (layout.layout === 'maildir++' && level.includes(layout.separator))
    return `a level holds the Maildir++ separator ${JSON.stringify(layout.separator)}`;
  if (layout.layout === 'fs') {
    if (level.startsWith('.')) return 'a level starts with "." (a hidden directory, never listed)';
    if (MAILDIR_SUBDIRS.has(level)) return `a level is ${JSON.stringify(level)}, a Maildir directory`;
  }
  return undefined;
}

export class FolderLayout {
  readonly root: string;
  readonly inboxDir: string;
  readonly options: LayoutOptions;

  constructor(options: LayoutOptions) {
    if (options.layout === 'maildir++' && (options.separator.length !== 1 || options.separator === '/'))
      throw new TypeError(
        `The Maildir++ separator must be one character other than "/", not ${JSON.stringify(options.separator)}.`,
      );
    this.options = options;
    this.root = resolve(options.root);
    this.inboxDir = resolve(
      options.inbox ?? (options.layout === 'fs' ? join(this.root, 'INBOX') : this.root),
    );
  }

  /**
   * The directory of a folder. Refuses, with a `FOLDER_NAME_UNSAFE` folder error naming the folder, any
   * path that cannot be written as a directory under the root without changing its meaning.
   */
  dirOf(path: FolderPath): string {
    if (isInbox(path)) return this.inboxDir;
    const unsafe = (why: string) =>
      new FolderError(
        `The folder ${JSON.stringify(displayFolder(path))} cannot be stored in the Maildir at ${this.root}: ${why}. Rename it on the other side, or exclude it from the pair.`,
        { code: 'FOLDER_NAME_UNSAFE' },
      );
    if (path.length === 0) throw unsafe('it has no name');
    for (const level of path) {
      const problem = levelProblem(level, this.options);
      if (problem) throw unsafe(problem);
    }
    const levels = path.map((level) => this.#encode(level));
    const names = this.options.layout === 'fs' ? levels : [`.${levels.join(this.options.separator)}`];
    for (const name of names) {
      if (Buffer.byteLength(name) > MAX_NAME_BYTES)
        throw unsafe(`its directory name would be longer than ${MAX_NAME_BYTES} bytes`);
    }
    const dir = resolve(this.root, ...names);
    const rel = relative(this.root, dir);
    // Belt and braces: the checks above already rule this out.
    // `..` as a whole segment only: `...a` (the Maildir++ directory of `..a` with another separator)
    // is a name inside the root, and refusing it would list a folder no call could reach.
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
      throw unsafe('it resolves outside the root');
    return dir;
  }

  /**
   * The folder a Maildir++ directory name (an entry of the root) stands for, or undefined when the
   * entry is not one: not starting with `.`, or a name this layout would never write.
   */
  pathOfDotDir(name: string): FolderPath | undefined {
    if (!name.startsWith('.') || name === '.' || name === '..') return undefined;
    const path = name
      .slice(1)
      .split(this.options.separator)
      .map((level) => this.#decode(level));
    return path.every((level) => level !== undefined && levelProblem(level, this.options) === undefined)
      ? (path as string[])
      : undefined;
  }

  /** The folder level an `fs` layout directory name stands for, or undefined when it cannot be one. */
  fsLevel(name: string): string | undefined {
    const level = this.#decode(name);
    return level !== undefined && levelProblem(level, this.options) === undefined ? level : undefined;
  }

  #encode(level: string): string {
    return this.options.names === 'modified-utf-7' ? encodeMutf7(level) : level;
  }

  #decode(name: string): string | undefined {
    return this.options.names === 'modified-utf-7' ? decodeMutf7(name) : name;
  }
}
