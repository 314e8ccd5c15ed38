import { decodeMutf7, encodeMutf7, type FolderPath, quoteName } from '@twinbox/core';

/**
 * How IMAP folder names map to folder paths and back: pure, so it can be fuzzed without a server.
 * Names are modified UTF-7 on the wire, or UTF-8 once the server accepted UTF8=ACCEPT or IMAP4rev2
 * (`utf8`), when imapflow neither encodes nor decodes them.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\x00-\x1f\x7f]/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** A surrogate without its other half (with the `u` flag a whole pair is one code point, never a match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Why a path level cannot be sent to the server as part of a name, or undefined when it can. A control
 * character is refused because imapflow sends CR, LF and TAB unencoded, which no server reads back as
 * the same name (and CR LF would end the command).
 */
export function levelProblem(level: string, delimiter: string): string | undefined {
  if (level === '') return 'a level is empty';
  if (delimiter !== '' && level.includes(delimiter))
    return `a level holds its hierarchy delimiter ${JSON.stringify(delimiter)}`;
  if (CONTROL.test(level)) return 'a level holds a control character, which imapflow would send unencoded';
  if (LONE_SURROGATE.test(level)) return 'a level is not well-formed Unicode';
  // Listed back over UTF-8, it could not be told from bytes imapflow failed to decode.
  if (level.includes('\uFFFD')) return 'a level holds U+FFFD, the replacement character';
  return undefined;
}

/** The name a path is sent as (what imapflow puts on the wire for it): the inverse of {@link pathOfListedName}. */
export function wireName(path: FolderPath, delimiter: string, utf8: boolean): string {
  if (path.length === 1 && path[0]!.toUpperCase() === 'INBOX') return 'INBOX';
  const joined = path.join(delimiter);
  return utf8 ? joined : encodeMutf7(joined);
}

/**
 * The path of a name as the server listed it (imapflow's `pathAsListed`: its own `path` is decoded
 * leniently and loses a leading delimiter), or, as a string, why it has none. Accepted only if
 * {@link wireName} gives the very same name back, since that is the name every later command uses:
 * what does not round-trip would be another folder (`/etc/passwd` read as `etc/passwd`, `&AGE-` as
 * `a`), or none at all.
 */
export function pathOfListedName(
  name: string,
  delimiter: string | null | undefined,
  utf8: boolean,
): FolderPath | string {
  if (name.toUpperCase() === 'INBOX') return ['INBOX'];
  if (CONTROL.test(name)) return 'it holds a control character (CR, LF, NUL, …)';
  // imapflow hands a name over decoded as UTF-8: bytes that are not become U+FFFD.
  if (name.includes('\uFFFD'))
    return utf8
      ? 'it holds bytes that are not UTF-8'
      : 'it holds 8-bit bytes, which a modified UTF-7 name never does';
  if (!utf8 && !PRINTABLE_ASCII.test(name))
    return 'it holds characters outside ASCII, which a modified UTF-7 name never does';
  const levels = delimiter ? name.split(delimiter) : [name];
  if (levels.some((level) => level === ''))
    return `it has an empty level (it starts or ends with the hierarchy delimiter ${JSON.stringify(delimiter)}, or holds two in a row)`;
  const path: string[] = [];
  for (const level of levels) {
    const decoded = utf8 ? level : decodeMutf7(level);
    if (decoded === undefined)
      return `${quoteName(level)} is not valid modified UTF-7 (a run not closed by "-", not base64 of whole UTF-16 units, or not the one spelling of its text)`;
    // What would be refused on the way back out is refused now: an encoded control character, …
    const problem = levelProblem(decoded, delimiter ?? '');
    if (problem) return `${problem} once decoded`;
    path.push(decoded);
  }
  if (path.length === 1 && path[0]!.toUpperCase() === 'INBOX')
    return 'it is the inbox spelled in modified UTF-7';
  if (wireName(path, delimiter ?? '', utf8) !== name) return 'it does not map back to the same name';
  return path;
}
