import { posix } from 'node:path';
import type { Notes } from './notes.js';

/**
 * A local path from mbsync or OfflineIMAP as a Twinbox config path. Both expand `~`; a relative path is
 * relative to where the program ran, which the config cannot know, so it is resolved against `home`
 * (or written as `~/…`). A trailing slash is dropped.
 */
export function localPath(raw: string, home: string | undefined, notes: Notes, key: string): string {
  let path = raw;
  if (/^~[^/]/.test(path))
    notes.warn(
      key,
      `${JSON.stringify(raw)}: "~user" is not expanded by Twinbox; write the home directory out.`,
    );
  else if (!path.startsWith('~') && !posix.isAbsolute(path)) {
    path = home ? posix.join(home, path) : `~/${path}`;
    notes.info(
      key,
      `${JSON.stringify(raw)} is relative to the directory the program ran in; written as ${JSON.stringify(path)}.`,
    );
  }
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** `word` quoted for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./~-]+$/.test(word) && !word.startsWith('~')
    ? word
    : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Whether a folder name would be read as a pattern (`*`, `%`, or a leading `!`). */
export function isWildcard(name: string): boolean {
  return /[*%]/.test(name) || name.startsWith('!');
}
