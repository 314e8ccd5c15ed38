// What a mail store holds, as a multiset of (folder, content hash, flags), read straight from a Maildir
// on disk: each tool's local Maildir, and the fixture users' own Maildirs on the Dovecot side (the
// server's files are the truth an IMAP client would see, and reading them needs no IMAP session that
// would itself disturb the server's state or CPU count).
//
// Normalized so that layouts compare: folder names are decoded from modified UTF-7 (Dovecot, mbsync and
// OfflineIMAP write that; Twinbox writes UTF-8) and spelled with `/`; both Maildir++ (`.A.B`, inbox at the
// root) and OfflineIMAP's `A.B` with an INBOX directory are read. Line endings are hashed as LF (a store
// may keep CRLF or LF; the bytes otherwise must be identical). Only the system flags (uppercase Maildir
// letters) are compared: keywords are stored per folder as letters mapped in dovecot-keywords, and
// mbsync 1.4 does not sync them. mbsync's X-TUID header is left out of the hash (see contentHash). A message marked T (\Deleted) counts as gone: some tools expunge at
// once, some leave the mark, and either is a deletion.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Decodes IMAP's modified UTF-7 (`&` base64 of UTF-16BE `-`); UTF-8 names pass unchanged. */
export function decodeMutf7(name) {
  return name.replace(/&([A-Za-z0-9+,]*)-/g, (_, b64) => {
    if (b64 === '') return '&';
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode(bytes.readUInt16BE(i));
    return out;
  });
}

/** Maildir folders under root: [name with `/`, directory]. */
export function maildirFolders(root) {
  const out = [];
  if (!existsSync(root)) return out;
  if (existsSync(join(root, 'cur'))) out.push(['INBOX', root]);
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || ['cur', 'new', 'tmp'].includes(entry.name)) continue;
    const dir = join(root, entry.name);
    if (!existsSync(join(dir, 'cur'))) continue;
    const bare = entry.name.startsWith('.') ? entry.name.slice(1) : entry.name;
    const name = decodeMutf7(bare).split('.').join('/');
    out.push([name.toUpperCase() === 'INBOX' ? 'INBOX' : name, dir]);
  }
  return out;
}

/** Uppercase flags of a Maildir file name (`…:2,FS`). */
export function systemFlags(file) {
  const at = file.lastIndexOf(':2,');
  if (at < 0) return '';
  return [...file.slice(at + 3)]
    .filter((c) => c >= 'A' && c <= 'Z')
    .sort()
    .join('');
}

const LF = Buffer.from('\r\n');

const TUID = /^X-TUID: [^\r\n]*\r?\n/m;

/**
 * sha256 of a message with LF line ends and without the X-TUID header that mbsync adds to every message
 * it stores (its way of finding the copy again), which is bookkeeping, not a change of content.
 */
function contentHash(raw) {
  let bytes = raw;
  const end = bytes.indexOf('\n\n') >= 0 ? bytes.indexOf('\n\n') : bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, end < 0 ? bytes.length : end + 1).toString('latin1');
  const tuid = TUID.exec(head);
  if (tuid)
    bytes = Buffer.concat([bytes.subarray(0, tuid.index), bytes.subarray(tuid.index + tuid[0].length)]);
  const h = createHash('sha256');
  let start = 0;
  for (let i = bytes.indexOf(LF); i >= 0; i = bytes.indexOf(LF, start)) {
    h.update(bytes.subarray(start, i));
    h.update('\n');
    start = i + 2;
  }
  h.update(bytes.subarray(start));
  return h.digest('hex').slice(0, 24);
}

/** Map of "folder\thash\tflags" → count, and the number of messages. */
export function snapshot(root) {
  const items = new Map();
  let messages = 0;
  for (const [folder, dir] of maildirFolders(root)) {
    for (const sub of ['cur', 'new']) {
      let files;
      try {
        files = readdirSync(join(dir, sub));
      } catch {
        continue;
      }
      for (const file of files) {
        // Read the info of a file in new/ too: the Maildir spec says it has none, but OfflineIMAP
        // keeps unseen messages in new/ and renames them there when their flags change.
        const flags = systemFlags(file);
        if (flags.includes('T')) continue;
        let bytes;
        try {
          bytes = readFileSync(join(dir, sub, file));
        } catch {
          continue;
        }
        const key = `${folder}\t${contentHash(bytes)}\t${flags}`;
        items.set(key, (items.get(key) ?? 0) + 1);
        messages++;
      }
    }
  }
  return { items, messages };
}

/** Differences between an expected and an actual snapshot: counts and a few examples. */
export function compareSnapshots(expected, actual) {
  const missing = [];
  const extra = [];
  for (const [k, n] of expected.items) {
    const m = actual.items.get(k) ?? 0;
    for (let i = m; i < n; i++) missing.push(k);
  }
  for (const [k, n] of actual.items) {
    const m = expected.items.get(k) ?? 0;
    for (let i = m; i < n; i++) extra.push(k);
  }
  const show = (xs) => xs.slice(0, 3).map((k) => k.replaceAll('\t', ' '));
  return {
    ok: missing.length === 0 && extra.length === 0,
    expected: expected.messages,
    actual: actual.messages,
    missing: missing.length,
    extra: extra.length,
    examples: { missing: show(missing), extra: show(extra) },
  };
}
