import { type FlagList, normalizeFlags } from '@twinbox/core';

/**
 * Maildir info letters (the "2," experimental semantics of the Maildir spec, as Dovecot, mutt, mbsync
 * and OfflineIMAP use them). Letters are kept in ASCII order in a file name, as the spec asks.
 */
const LETTER_TO_FLAG: Readonly<Record<string, string>> = {
  D: '\\Draft',
  F: '\\Flagged',
  P: '$Forwarded',
  R: '\\Answered',
  S: '\\Seen',
  T: '\\Deleted',
};
const FLAG_TO_LETTER = new Map(
  Object.entries(LETTER_TO_FLAG).map(([letter, flag]) => [flag.toLowerCase(), letter]),
);

/** The parts of a Maildir file name: `unique[:2,info]`. */
export interface MaildirName {
  /** The unique part, which names the message for its whole life, whatever its flags or directory. */
  unique: string;
  /** Flags from the standard info letters (lower-case keyword letters are returned apart). */
  flags: string[];
  /** Lower-case letters `a`..`z`: Dovecot's keyword slots, resolved through `dovecot-keywords`. */
  keywordLetters: string[];
  /** False when the name has no `:2,` info (a message another program delivered to `new/`). */
  hasInfo: boolean;
}

/**
 * Where a name's info (`:2,` or `!2,`) starts, or -1 when it has none. The same rule as
 * {@link parseMaildirName}, without allocating: listing a large folder calls this for every file.
 */
export function infoStart(name: string): number {
  // Info is what follows the last `:` or `!`, when that is `2,`; the spec has no other separator.
  const i = Math.max(name.lastIndexOf(':'), name.lastIndexOf('!'));
  return i >= 0 && name.startsWith('2,', i + 1) ? i : -1;
}

/** The unique part of a file name: the message's id. */
export function uniqueOf(name: string): string {
  const i = infoStart(name);
  return i < 0 ? name : name.slice(0, i);
}

/**
 * Splits a Maildir file name. The separator is `:` (or `!` as some Windows-friendly tools write it);
 * unknown info letters are ignored rather than failing, since other programs add their own.
 */
export function parseMaildirName(name: string): MaildirName {
  // Through infoStart, not a regex of its own: a regex `.` stops at a line break, which a file name may
  // hold, and then the id a listing gives and the one a read finds would differ.
  const at = infoStart(name);
  if (at < 0) return { unique: name, flags: [], keywordLetters: [], hasInfo: false };
  const flags: string[] = [];
  const keywordLetters: string[] = [];
  for (const letter of name.slice(at + 3)) {
    const flag = LETTER_TO_FLAG[letter];
    if (flag) flags.push(flag);
    else if (letter >= 'a' && letter <= 'z') keywordLetters.push(letter);
  }
  return {
    unique: name.slice(0, at),
    flags: normalizeFlags(flags),
    keywordLetters: [...new Set(keywordLetters)].sort(),
    hasInfo: true,
  };
}

/**
 * Builds `unique:2,LETTERS`. Flags with no standard letter (keywords) go through `keywordLetter`, which
 * returns the Dovecot keyword letter for a keyword, or undefined when it has none (the keyword is then
 * not written into the name).
 */
export function formatMaildirName(
  unique: string,
  flags: FlagList,
  keywordLetter: (keyword: string) => string | undefined = () => undefined,
): string {
  const letters = new Set<string>();
  for (const flag of flags) {
    const letter =
      FLAG_TO_LETTER.get(flag.toLowerCase()) ?? (flag.startsWith('\\') ? undefined : keywordLetter(flag));
    if (letter) letters.add(letter);
  }
  return `${unique}:2,${[...letters].sort().join('')}`;
}

/**
 * The file name after a flag delta, changed letter by letter: letters this driver does not know
 * (another program's) are kept, and so is the `:` or `!` the name uses. `keywordLetter` as for
 * {@link formatMaildirName}.
 */
export function renamedForFlags(
  name: string,
  update: { readonly add: FlagList; readonly remove: FlagList },
  keywordLetter: (keyword: string) => string | undefined = () => undefined,
): string {
  const letterOf = (flag: string) =>
    FLAG_TO_LETTER.get(flag.toLowerCase()) ?? (flag.startsWith('\\') ? undefined : keywordLetter(flag));
  const at = infoStart(name);
  const unique = at < 0 ? name : name.slice(0, at);
  const separator = at < 0 ? ':' : name.charAt(at);
  const letters = new Set(at < 0 ? '' : name.slice(at + 3));
  const old = new Set(letters);
  for (const flag of update.remove) {
    const letter = letterOf(flag);
    if (letter) letters.delete(letter);
  }
  for (const flag of update.add) {
    const letter = letterOf(flag);
    if (letter) letters.add(letter);
  }
  // No letter comes or goes: the name stays as the other program spelled it (no rename, no new mtime).
  if (letters.size === old.size && [...letters].every((l) => old.has(l))) return name;
  const info = [...letters].sort().join('');
  return `${unique}${separator}2,${info}`;
}

/**
 * Sizes Dovecot (and this driver) put in the unique part: `,S=` the file's size on disk, `,W=` the
 * size with CRLF line endings (RFC822.SIZE). Other programs keep them when they rename a message.
 */
export function sizesFromName(unique: string): { disk?: number; crlf?: number } {
  const disk = sizeField(unique, ',S=');
  const crlf = sizeField(unique, ',W=');
  return {
    ...(disk !== undefined ? { disk } : {}),
    ...(crlf !== undefined ? { crlf } : {}),
  };
}

/**
 * The number after the first `field` (`,W=`) in a unique part, without a regex: it runs once per listed
 * file. As Dovecot reads it: the digits must run up to the next field, the info or the end (`,W=12x`
 * has no size), since `W` decides how a file is read and two readers of one Maildir must agree.
 */
export function sizeField(unique: string, field: string): number | undefined {
  const at = unique.indexOf(field);
  if (at < 0) return undefined;
  let value = 0;
  let k = at + field.length;
  const start = k;
  for (; k < unique.length; k++) {
    const c = unique.charCodeAt(k) - 48;
    if (c < 0 || c > 9) break;
    value = value * 10 + c;
  }
  if (k === start || !Number.isSafeInteger(value)) return undefined;
  const next = unique.charAt(k);
  return next === '' || next === ',' || next === ':' || next === '!' ? value : undefined;
}

/**
 * The delivery time a unique name starts with (`1700000000.…`, seconds), in ms; undefined when the name
 * does not start that way, as other programs' names need not.
 */
export function dateFromUnique(unique: string): number | undefined {
  const match = /^(\d{9,11})\./.exec(unique);
  return match ? Number(match[1]) * 1000 : undefined;
}
