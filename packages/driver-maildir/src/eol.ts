/**
 * Line endings. The driver contract speaks CRLF (as IMAP does); a Maildir keeps messages with LF, as
 * every Unix mail program that reads one expects (mutt, notmuch, Dovecot, mbsync all write LF). A body
 * must still come back byte for byte whatever it holds (CR CR LF, bare LF, bare CR, NUL), or `twinbox
 * check` and a copy onwards see another message.
 *
 * Reading is Dovecot's rule, so that a Maildir it shares serves the same bytes we hand out: a file
 * whose name has `,W=` (the size with CRLF) equal to its size is sent as it is (Dovecot: physical size
 * = virtual size means "has CRLFs", and its FETCH BODY[] then skips conversion); any other file gets a
 * CR before each LF that has none (Dovecot's CRLF stream). That keeps every file written by another
 * program (no `W`, LF endings) reading as it always did.
 *
 * Writing picks, for each body, a file that this rule turns back into exactly that body, with `W` the
 * body's length:
 * - Every LF preceded by CR (no bare LF, the case of everything an IMAP server sends): drop the CR of
 *   each CRLF, except where another CR comes right before it. A pure CRLF body becomes plain LF, as
 *   before; in CR CR LF only the last CR goes, so the line still ends in CR LF on disk and reading adds
 *   nothing back. Every dropped CR is added back, since the LF it stood before is left bare; every kept
 *   one still precedes its LF.
 * - A bare LF anywhere: no rule of the form "add a CR to bare LFs" can return it, so the body is stored
 *   as it is, which makes `W` equal to the size: the marker, in the unique part that every mail program
 *   keeps when it renames for flags, and that Dovecot's COPY keeps too.
 *
 * Why not "convert only pure CRLF bodies, store every other one as it is, and treat a CR anywhere in
 * a file as meaning raw": a file another program wrote with one CR CR LF (Dovecot saves it as CR LF)
 * and LF elsewhere would then come back with bare LFs, unlike today and unlike what Dovecot serves;
 * and a CR CR LF body would be stored with CRLF on every line. Why `W` = size and not a marker field of
 * our own: Dovecot would drop it on COPY, and would serve the file converted while we hand it out raw.
 */

const LF = 0x0a;
const CR = 0x0d;

/**
 * The bytes to store for a message body (see above). The name's `W` is then `body.length`. Returns the
 * body itself when nothing changes.
 */
export function toDisk(body: Uint8Array): Uint8Array {
  if (body.indexOf(CR) < 0) return body;
  // One pass from LF to LF (indexOf is native), copying the runs between dropped CRs whole rather than
  // byte by byte; the first bare LF means the body is stored as it is.
  let out: Uint8Array | undefined;
  let n = 0;
  let from = 0;
  for (let lf = body.indexOf(LF); lf >= 0; lf = body.indexOf(LF, lf + 1)) {
    if (lf === 0 || body[lf - 1] !== CR) return body;
    const cr = lf - 1;
    if (cr > 0 && body[cr - 1] === CR) continue;
    out ??= new Uint8Array(body.length);
    out.set(body.subarray(from, cr), n);
    n += cr - from;
    from = lf;
  }
  if (out === undefined) return body;
  out.set(body.subarray(from), n);
  return out.subarray(0, n + body.length - from);
}

/**
 * The message a file holds, with CRLF line endings. `crlfSize` is the name's `W` (undefined without
 * one): equal to the file's size, the file is the message as it is; otherwise each bare LF gets a CR.
 */
export function fromDisk(data: Uint8Array, crlfSize?: number): Uint8Array {
  if (crlfSize === data.length) return data;
  const bare = countBareLf(data);
  if (bare === 0) return data;
  const out = new Uint8Array(data.length + bare);
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    if (byte === LF && (i === 0 || data[i - 1] !== CR)) out[n++] = CR;
    out[n++] = byte;
  }
  return out;
}

/** LFs not preceded by CR: what converting to CRLF adds to the size. */
export function countBareLf(data: Uint8Array): number {
  let count = 0;
  let i = data.indexOf(LF);
  while (i >= 0) {
    if (i === 0 || data[i - 1] !== CR) count++;
    i = data.indexOf(LF, i + 1);
  }
  return count;
}
