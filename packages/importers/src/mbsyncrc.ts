/**
 * A reader for mbsync's config file (`~/.mbsyncrc`), following isync's own parser (config.c): no
 * library reads this format, and it is small. Lines are a keyword and arguments separated by
 * blanks; `"` quotes (also mid-word), `\` escapes the next character; a `#` where an argument would
 * start ends the line; keywords are case-insensitive. A section starts with IMAPAccount, IMAPStore,
 * MaildirStore, Channel or Group and ends at an empty line (a comment line does not end it); what
 * stands outside sections is global.
 */

export interface Directive {
  /** Lower case. */
  keyword: string;
  /** As written, for notes. */
  written: string;
  args: string[];
  line: number;
}

export type SectionKind = 'imapaccount' | 'imapstore' | 'maildirstore' | 'channel' | 'group';

export interface Section {
  kind: SectionKind;
  /** As written: `IMAPStore`. */
  written: string;
  name: string;
  line: number;
  /** The section line's arguments after the name (a Group's channels). */
  rest: string[];
  directives: Directive[];
}

export interface Mbsyncrc {
  globals: Directive[];
  sections: Section[];
  /** Lines that could not be read: `line N: why`. */
  problems: string[];
}

const SECTIONS = new Set<string>(['imapaccount', 'imapstore', 'maildirstore', 'channel', 'group']);

/** The arguments of one line, as isync's get_arg splits them. */
export function splitLine(text: string): { args: string[]; problem?: string } {
  const args: string[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length || text[i] === '#') return { args };
    let arg = '';
    let quoted = false;
    let escaped = false;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (escaped && c >= ' ') {
        escaped = false;
        arg += c;
      } else if (c === '\\') escaped = true;
      else if (c === '"') quoted = !quoted;
      else if (!quoted && /\s/.test(c)) break;
      else arg += c;
    }
    if (escaped) return { args, problem: 'unterminated escape at the end of the line' };
    if (quoted) return { args, problem: 'missing closing quote' };
    args.push(arg);
  }
}

export function readMbsyncrc(text: string): Mbsyncrc {
  const result: Mbsyncrc = { globals: [], sections: [], problems: [] };
  let current: Section | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '') {
      current = undefined;
      return;
    }
    if (trimmed.startsWith('#')) return;
    const { args, problem } = splitLine(raw);
    if (problem) result.problems.push(`line ${line}: ${problem}`);
    const [written, ...rest] = args;
    if (written === undefined) return;
    const keyword = written.toLowerCase();
    // Inside a Group, Channel(s) lists members rather than starting a section.
    const member = current?.kind === 'group' && (keyword === 'channel' || keyword === 'channels');
    if (SECTIONS.has(keyword) && !member) {
      const [name, ...more] = rest;
      if (name === undefined) {
        result.problems.push(`line ${line}: ${written} needs a name`);
        current = undefined;
        return;
      }
      current = { kind: keyword as SectionKind, written, name, line, rest: more, directives: [] };
      result.sections.push(current);
      return;
    }
    const directive = { keyword, written, args: rest, line };
    if (current) current.directives.push(directive);
    else result.globals.push(directive);
  });
  return result;
}

/** The last value of a keyword (mbsync keeps the last), or undefined. */
export function last(directives: readonly Directive[], ...keywords: string[]): Directive | undefined {
  for (let i = directives.length - 1; i >= 0; i--)
    if (keywords.includes(directives[i]!.keyword)) return directives[i];
  return undefined;
}

/** mbsync's yes/no (also true/false, on/off, 1/0). */
export function yes(directive: Directive | undefined): boolean | undefined {
  const value = directive?.args[0]?.toLowerCase();
  if (value === undefined) return undefined;
  if (['yes', 'true', 'on', '1'].includes(value)) return true;
  if (['no', 'false', 'off', '0'].includes(value)) return false;
  return undefined;
}
