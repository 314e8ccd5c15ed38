import type { ImapFlow } from 'imapflow';
import { type Attribute, execOf, type Untagged } from './imapflow-internals.js';

/**
 * `UID FETCH set (items) [(modifiers)]` through imapflow's internal `exec`, each answer row read in one
 * pass into the few fields the driver uses: the listings (UID, FLAGS, RFC822.SIZE, INTERNALDATE) and
 * the body reader (fetch-bodies.ts).
 *
 * Why not imapflow's `fetch()`: a listing reads a row per message of the folder (30,000 rows for a
 * large folder's first listing, or the listing after a sync that wrote that many), and `fetch()`
 * spends more on each row than the parse itself: it asks for EMAILID and MODSEQ on top of the items
 * given (more work for the server too), compiles every attribute name back to text to look it up,
 * hashes the folder, UIDVALIDITY and UID into an id (md5), looks for a flag colour, and hands the row
 * through an async iterator (a promise and a callback each). imapflow still queues the command, reads
 * and tokenizes the answer and keeps the session's state (an untagged EXPUNGE or VANISHED meanwhile
 * updates it and is emitted as usual); only this command's FETCH rows come here.
 */

/** What one `* n FETCH (…)` said, as far as the driver reads it; absent when not sent or unusable. */
export interface FetchRow {
  /** 1 to 2^32-1; absent for a row without a usable UID, which names no message of the folder. */
  uid?: number;
  flags?: Set<string>;
  /** RFC822.SIZE; 0 when the server sent one that is not a count (as imapflow reads it). */
  size?: number;
  /** A Date, or the text as sent when it is not a date `Date` reads. */
  internalDate?: Date | string;
  /** The whole message (`BODY[]` or `BINARY[]`): a literal, or a quoted string some servers send. */
  source?: Buffer;
}

/** An item of a FETCH: `ATOM` for `UID`, `FLAGS` and the like, or `BODY.PEEK[]`. */
export const item = (value: string) => ({ type: 'ATOM', value });
export const wholeBody = { type: 'ATOM', value: 'BODY.PEEK', section: [] };

/**
 * True when a VANISHED answer is one imapflow reads whole: an optional `(EARLIER)` and a UID set of
 * numbers and ranges. imapflow skips whatever else it is given (a set with a letter in it, no set at
 * all) without a word, and the UIDs of such a line would never be reported as expunged.
 */
export function readableVanished(untagged: Untagged): boolean {
  const attributes = untagged.attributes ?? [];
  const [first, second] = attributes;
  const set = Array.isArray(first) ? second : first;
  if (attributes.length !== (Array.isArray(first) ? 2 : 1)) return false;
  if (Array.isArray(first) && !(first.length === 1 && atomText(first[0])?.toUpperCase() === 'EARLIER'))
    return false;
  const text = atomText(set);
  return text !== undefined && /^[1-9]\d*(:[1-9]\d*)?(,[1-9]\d*(:[1-9]\d*)?)*$/.test(text);
}

function atomText(attribute: Attribute): string | undefined {
  if (!attribute || Array.isArray(attribute)) return undefined;
  return typeof attribute.value === 'string' ? attribute.value : undefined;
}

/**
 * Sends `UID FETCH uids (items) [(modifiers)]` on the selected folder and calls `take` with each row,
 * in the order the server sends them. Resolves when the server answered OK; rejects with imapflow's
 * error when it answered NO or BAD, or when the connection failed.
 */
export async function uidFetch(
  client: ImapFlow,
  uids: string,
  items: readonly Attribute[],
  modifiers: readonly Attribute[] | undefined,
  take: (row: FetchRow) => void,
  vanished?: (untagged: Untagged) => unknown,
): Promise<void> {
  const exec = execOf(client);
  const attributes: Attribute[] = [{ type: 'SEQUENCE', value: uids }, [...items]];
  if (modifiers?.length) attributes.push([...modifiers]);
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await exec('UID FETCH', attributes, {
        untagged: {
          FETCH: (untagged) => {
            const row = rowOf(untagged);
            if (row) take(row);
          },
          // Given, it sees each VANISHED line that comes while the command runs, in place of imapflow's
          // own handler, which it must then call itself.
          ...(vanished ? { VANISHED: vanished } : {}),
        },
      });
      answer.next();
      return;
    } catch (err) {
      // Throttled (Microsoft 365 answers BAD with a backoff hint; imapflow names it ETHROTTLE and has
      // waited part of it): asked again after the rest of the hint, at least 1, 2, 4 s, as imapflow's
      // fetch() does. The rows of a throttled attempt may come again: every caller keeps a UID's first.
      const { code, throttleReset, throttleWaited } = err as {
        code?: unknown;
        throttleReset?: number;
        throttleWaited?: number;
      };
      if (code !== 'ETHROTTLE' || attempt >= THROTTLE_ATTEMPTS) throw err;
      const backoff = Math.min(1000 * 2 ** (attempt - 1), 30_000);
      const delay = Math.max(throttleReset ?? 0, backoff) - (throttleWaited ?? 0);
      if (await throttleWait(client, delay)) throw err;
    }
  }
}

/** How often a throttled FETCH is sent in all. */
const THROTTLE_ATTEMPTS = 4;

/**
 * Waits `ms` through imapflow's own throttle wait (internal: capped, and cut short when the client
 * closes, answering true then), or a plain timer if this imapflow has none.
 */
async function throttleWait(client: ImapFlow, ms: number): Promise<boolean> {
  const wait = (client as unknown as { throttleWait?: (ms: number) => Promise<boolean> }).throttleWait;
  if (typeof wait === 'function') return (await wait.call(client, Math.max(0, ms))) === true;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  return false;
}

/** The row of one `* n FETCH (…)`; undefined when it holds no item list at all. */
function rowOf(untagged: Untagged): FetchRow | undefined {
  const list = untagged.attributes?.[1];
  if (!Array.isArray(list)) return undefined;
  const row: FetchRow = {};
  for (let i = 0; i + 1 < list.length; i += 2) {
    const key = list[i];
    const value = list[i + 1];
    if (!key || Array.isArray(key) || typeof key.value !== 'string') continue;
    switch (key.value.toUpperCase()) {
      case 'UID': {
        const text = textOf(value);
        // A UID is 1 to 2^32-1: anything else is no UID of this folder.
        if (text !== undefined && /^[1-9]\d{0,9}$/.test(text) && Number(text) <= 0xffffffff)
          row.uid = Number(text);
        break;
      }
      case 'FLAGS':
        if (Array.isArray(value)) {
          const flags = new Set<string>();
          for (const flag of value) {
            const text = textOf(flag);
            if (text) flags.add(text);
          }
          row.flags = flags;
        }
        break;
      case 'RFC822.SIZE': {
        const text = textOf(value);
        row.size = text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : 0;
        break;
      }
      case 'INTERNALDATE': {
        const text = textOf(value);
        if (text === undefined) break;
        const date = new Date(text);
        row.internalDate = Number.isNaN(date.getTime()) ? text : date;
        break;
      }
      case 'BODY':
      case 'BINARY': {
        // Only the whole message (`BODY[]`), not a part or a partial answer (`BODY[]<0>`).
        if (!Array.isArray(key.section) || key.section.length > 0 || (key as { partial?: unknown }).partial)
          break;
        if (value && !Array.isArray(value)) {
          if (Buffer.isBuffer(value.value)) row.source = value.value;
          // A quoted string: the tokenizer read it as UTF-8, so encoding it the same way gives its bytes.
          else if (typeof value.value === 'string') row.source = Buffer.from(value.value);
        }
        break;
      }
    }
  }
  return row;
}

/** The text of an atom, a quoted string or a literal; undefined for NIL or a list. */
function textOf(a: Attribute): string | undefined {
  if (!a || Array.isArray(a)) return undefined;
  if (typeof a.value === 'string') return a.value;
  if (Buffer.isBuffer(a.value)) return a.value.toString();
  return undefined;
}
