import type { ImapFlow } from 'imapflow';

/**
 * `UID FETCH set (UID [FLAGS] INTERNALDATE BODY.PEEK[])`, each answer row handed over as imapflow parsed
 * it, without imapflow's `fetch()` around it.
 *
 * Why: a first sync reads every body of the account, and imapflow's `fetch()` spends about a third of
 * the reading side's CPU after the parse, on things this reader does not need: per row it compiles
 * every attribute name back to text to look it up, hashes the folder, UIDVALIDITY and UID into an id
 * (md5), looks for a flag colour, and hands the row through an async iterator (a promise and a
 * callback each). Here the command goes through imapflow's internal `exec` (as `multiappend.ts` and
 * `mailbox-ids.ts` send theirs): imapflow queues it, reads and parses the answer and keeps the
 * session's state; only the rows of this command come here, each read in one pass.
 */

/** One message of the answer. */
export interface FetchedRow {
  uid: number;
  /** The message's bytes (a literal, or a quoted string some servers send for a small one). */
  source: Buffer;
  /** Absent when not asked for, or when the server sent none. */
  flags?: Set<string>;
  /** A Date, or the text as sent when it is not a date `Date` reads. */
  internalDate?: Date | string;
}

/** imapflow's parsed form of a token of a server's answer (internal: `untagged.attributes`). */
type Attribute = { type?: string; value?: unknown; section?: unknown } | Attribute[] | null | undefined;
type Untagged = { attributes?: Attribute[] };
type ExecOptions = { untagged?: Record<string, (untagged: Untagged) => unknown> };
type Exec = (command: string, attributes: unknown[], options?: ExecOptions) => Promise<{ next(): void }>;

/**
 * Fetches the bodies of `uids` (a UID set) of the selected folder, calling `take` with each row that
 * has a UID and a body, in the order the server sends them; a row without either is skipped (the
 * caller asks again for what it did not get). Resolves when the server answered OK; rejects with
 * imapflow's error when it answered NO or BAD, or when the connection failed.
 */
export async function fetchBodies(
  client: ImapFlow,
  uids: string,
  withFlags: boolean,
  take: (row: FetchedRow) => void,
): Promise<void> {
  const items: unknown[] = [{ type: 'ATOM', value: 'UID' }];
  if (withFlags) items.push({ type: 'ATOM', value: 'FLAGS' });
  items.push({ type: 'ATOM', value: 'INTERNALDATE' }, { type: 'ATOM', value: 'BODY.PEEK', section: [] });
  const exec = (client as unknown as { exec: Exec }).exec.bind(client);
  const answer = await exec('UID FETCH', [{ type: 'SEQUENCE', value: uids }, items], {
    untagged: {
      FETCH: (untagged) => {
        const row = rowOf(untagged);
        if (row) take(row);
      },
    },
  });
  answer.next();
}

/** The row of one `* n FETCH (…)`, or undefined when it lacks a usable UID or a body. */
function rowOf(untagged: Untagged): FetchedRow | undefined {
  const list = untagged.attributes?.[1];
  if (!Array.isArray(list)) return undefined;
  let uid: number | undefined;
  let source: Buffer | undefined;
  let flags: Set<string> | undefined;
  let internalDate: Date | string | undefined;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const key = list[i];
    const value = list[i + 1];
    if (!key || Array.isArray(key) || typeof key.value !== 'string') continue;
    switch (key.value.toUpperCase()) {
      case 'UID': {
        const text = textOf(value);
        // A UID is 1 to 2^32-1: anything else is no UID of this folder.
        if (text !== undefined && /^[1-9]\d{0,9}$/.test(text) && Number(text) <= 0xffffffff)
          uid = Number(text);
        break;
      }
      case 'FLAGS':
        if (Array.isArray(value)) {
          flags = new Set();
          for (const flag of value) {
            const text = textOf(flag);
            if (text !== undefined) flags.add(text);
          }
        }
        break;
      case 'INTERNALDATE': {
        const text = textOf(value);
        if (text === undefined) break;
        const date = new Date(text);
        internalDate = Number.isNaN(date.getTime()) ? text : date;
        break;
      }
      case 'BODY':
      case 'BINARY': {
        // Only the whole message (`BODY[]`), not a part or a partial answer (`BODY[]<0>`).
        if (!Array.isArray(key.section) || key.section.length > 0 || (key as { partial?: unknown }).partial)
          break;
        if (value && !Array.isArray(value)) {
          if (Buffer.isBuffer(value.value)) source = value.value;
          // A quoted string: the tokenizer read it as UTF-8, so encoding it the same way gives its bytes.
          else if (typeof value.value === 'string') source = Buffer.from(value.value);
        }
        break;
      }
    }
  }
  if (uid === undefined || source === undefined) return undefined;
  const row: FetchedRow = { uid, source };
  if (flags) row.flags = flags;
  if (internalDate !== undefined) row.internalDate = internalDate;
  return row;
}

/** The text of an atom, a quoted string or a literal; undefined for NIL or a list. */
function textOf(a: Attribute): string | undefined {
  if (!a || Array.isArray(a)) return undefined;
  if (typeof a.value === 'string') return a.value;
  if (Buffer.isBuffer(a.value)) return a.value.toString();
  return undefined;
}
