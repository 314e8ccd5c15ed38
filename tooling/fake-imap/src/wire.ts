/**
 * The client half of the IMAP wire format, as far as the fake server needs it: splitting the byte
 * stream into commands (lines with literals), and the tokens of a command's arguments. Written here
 * rather than taken from a library because the server must accept exactly what a client sends and
 * nothing in npm parses the client side of IMAP; it is test tooling, not a general parser.
 */

/** A quoted string, an atom (brackets and their content included: `BODY.PEEK[HEADER.FIELDS (X)]`), or a list. */
export type Token = { kind: 'atom'; text: string } | { kind: 'string'; bytes: Buffer } | Token[];

/** A command as it came in: its whole text (literals inlined) and the literals, in order. */
export interface RawCommand {
  /** The command's bytes, latin1, with each literal replaced by `\u0000<index>\u0000`. */
  text: string;
  literals: Buffer[];
}

/**
 * Splits incoming bytes into commands. A line that ends in `{n}` or `{n+}` is followed by n bytes of
 * literal and then the rest of the command; for a synchronising literal (`{n}`) `onContinue` is called
 * so the server can send its `+`.
 */
export class CommandReader {
  #buffer: Buffer = Buffer.alloc(0);
  #text = '';
  #literals: Buffer[] = [];
  #literalLeft = -1;

  constructor(
    private readonly onCommand: (command: RawCommand) => void,
    private readonly onContinue: () => void,
  ) {}

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#literalLeft >= 0) {
        if (this.#buffer.length < this.#literalLeft) return;
        this.#literals.push(this.#buffer.subarray(0, this.#literalLeft));
        this.#text += `\u0000${this.#literals.length - 1}\u0000`;
        this.#buffer = this.#buffer.subarray(this.#literalLeft);
        this.#literalLeft = -1;
        continue;
      }
      const eol = this.#buffer.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.#buffer.subarray(0, eol).toString('latin1');
      this.#buffer = this.#buffer.subarray(eol + 2);
      const literal = /\{(\d+)(\+?)\}$/.exec(line);
      if (literal) {
        this.#text += line.slice(0, literal.index);
        this.#literalLeft = Number(literal[1]);
        if (literal[2] !== '+') this.onContinue();
        continue;
      }
      this.#text += line;
      const command = { text: this.#text, literals: this.#literals };
      this.#text = '';
      this.#literals = [];
      this.onCommand(command);
    }
  }
}

/** Tokens of a command's argument text (see {@link RawCommand.text} for how literals appear). */
export function tokenize(text: string, literals: readonly Buffer[]): Token[] {
  let i = 0;
  const list = (close: string | undefined): Token[] => {
    const out: Token[] = [];
    while (i < text.length) {
      const c = text[i]!;
      if (c === ' ') {
        i++;
      } else if (close !== undefined && c === close) {
        i++;
        return out;
      } else if (c === '(') {
        i++;
        out.push(list(')'));
      } else if (c === '"') {
        i++;
        let s = '';
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\') i++;
          s += text[i++] ?? '';
        }
        i++;
        out.push({ kind: 'string', bytes: Buffer.from(s, 'latin1') });
      } else if (c === '\u0000') {
        const end = text.indexOf('\u0000', i + 1);
        out.push({ kind: 'string', bytes: literals[Number(text.slice(i + 1, end))]! });
        i = end + 1;
      } else {
        let s = '';
        let depth = 0;
        while (i < text.length) {
          const d = text[i]!;
          if (depth === 0 && (d === ' ' || d === '(' || d === ')')) {
            // `BODY.PEEK[...]` holds spaces and parentheses inside its brackets.
            if (d !== '(' || s === '' || !s.endsWith('[')) break;
          }
          if (d === '[') depth++;
          if (d === ']') depth--;
          s += d;
          i++;
        }
        out.push({ kind: 'atom', text: s });
      }
    }
    return out;
  };
  return list(undefined);
}

/** The text of an atom or string token (latin1 for strings: names travel as bytes). */
export function textOf(token: Token | undefined): string {
  if (token === undefined || Array.isArray(token)) return '';
  return token.kind === 'atom' ? token.text : token.bytes.toString('latin1');
}

/**
 * A mailbox name as the server writes it: a quoted string when it can be one, else a literal (CR, LF,
 * NUL and 8-bit bytes cannot be quoted).
 */
export function astring(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these bytes force a literal
  if (/[\x00\r\n\x80-\xff]/.test(name)) return `{${Buffer.byteLength(name, 'latin1')}}\r\n${name}`;
  return `"${name.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
}

/** A set of numbers (`1:*,4,7:9`) against the highest one that exists. */
export function inSet(set: string, highest: number): (n: number) => boolean {
  const ranges = set.split(',').map((part) => {
    const [a, b] = part.split(':');
    const lo = a === '*' ? highest : Number(a);
    const hi = b === undefined ? lo : b === '*' ? highest : Number(b);
    return [Math.min(lo, hi), Math.max(lo, hi)] as const;
  });
  return (n) => ranges.some(([lo, hi]) => n >= lo && n <= hi);
}
