/**
 * Line endings. The driver contract speaks CRLF (as IMAP does); a Maildir keeps messages with LF, as
 * every Unix mail program that reads one expects (mutt, notmuch, Dovecot, mbsync all write LF).
 * Only CRLF pairs become LF, so a bare CR inside a line survives the round trip.
 */

const LF = 0x0a;
const CR = 0x0d;

/** CRLF to LF, for writing to disk. Returns the input itself when it holds no CR at all. */
export function toDisk(body: Uint8Array): Uint8Array {
  if (body.indexOf(CR) < 0) return body;
  const out = new Uint8Array(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (byte === CR && body[i + 1] === LF) continue;
    out[n++] = byte;
  }
  return out.subarray(0, n);
}

/** LF to CRLF (an LF already preceded by CR is left alone), for handing a message out. */
export function fromDisk(data: Uint8Array): Uint8Array {
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
