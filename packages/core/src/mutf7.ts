/**
 * IMAP's modified UTF-7 (RFC 3501 section 5.1.3): how IMAP folder names travel on the wire, and how
 * Maildirs of Dovecot (by default), mbsync and OfflineIMAP spell their folder directories. Strict both
 * ways, and in core (pure, no Node API) so that the IMAP driver, which must check what a server lists,
 * and the Maildir driver, which must check what it finds on disk, refuse exactly the same spellings.
 * Written here rather than taken from npm because the one package for it (`utf7`) has been unmaintained
 * for a decade, imapflow's own decoder (iconv-lite) is lenient, and the codec is this short and fully
 * specified.
 */

const isDirect = (code: number) => code >= 0x20 && code <= 0x7e;
/** A surrogate without its other half (with the `u` flag a whole pair is one code point, never a match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * UTF-8 (a JS string) to modified UTF-7. Throws a TypeError for a string that is not well-formed
 * Unicode (a lone surrogate): its spelling would be a name no IMAP server or decoder accepts.
 */
export function encodeMutf7(text: string): string {
  if (LONE_SURROGATE.test(text))
    throw new TypeError(`Not well-formed Unicode, so not a folder name: ${JSON.stringify(text)}.`);
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    // btoa takes a "binary string": one character per byte, here the UTF-16BE bytes of the units.
    const bytes = pending.map((unit) => String.fromCharCode(unit >> 8, unit & 0xff)).join('');
    out += `&${btoa(bytes).replace(/=+$/, '').replaceAll('/', ',')}-`;
    pending = [];
  };
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (isDirect(unit)) {
      flush();
      out += unit === 0x26 ? '&-' : text[i];
    } else {
      pending.push(unit);
    }
  }
  flush();
  return out;
}

/**
 * Modified UTF-7 to UTF-8; undefined (refused) for text that is not valid modified UTF-7: a character
 * outside printable ASCII, a run that is not closed by `-`, is not base64 of whole UTF-16 units, holds
 * half a surrogate pair, or is not the one spelling the encoder writes (`&AGE-` for `a`, `&ACY-` for
 * `&`, padding bits, two runs side by side). Never a lenient guess: a wrong guess is another folder.
 */
export function decodeMutf7(text: string): string | undefined {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '&') {
      if (!isDirect(c.charCodeAt(0))) return undefined;
      out += c;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) return undefined;
    const run = text.slice(i + 1, end);
    i = end;
    if (run === '') {
      out += '&';
      continue;
    }
    if (!/^[A-Za-z0-9+,]+$/.test(run)) return undefined;
    let bytes: string;
    try {
      // atob refuses a length that no base64 has (4n+1); the canonical check below catches the rest.
      bytes = atob(run.replaceAll(',', '/'));
    } catch {
      return undefined;
    }
    if (bytes.length % 2 !== 0) return undefined;
    for (let k = 0; k < bytes.length; k += 2)
      out += String.fromCharCode((bytes.charCodeAt(k) << 8) | bytes.charCodeAt(k + 1));
  }
  // UTF-16 decoded, so a lone surrogate shows only now; RFC 3501 encodes Unicode, which has none.
  if (LONE_SURROGATE.test(out)) return undefined;
  // A canonical encoding only: two spellings of one name would be two folders.
  return encodeMutf7(out) === text ? out : undefined;
}
