import type { ImapFlow } from 'imapflow';
import { item, uidFetch, wholeBody } from './fetch-rows.js';

/**
 * `UID FETCH set (UID [FLAGS] INTERNALDATE BODY.PEEK[])`, each answer row read by fetch-rows.ts rather
 * than through imapflow's `fetch()`: a first sync reads every body of the account, and `fetch()` spent
 * about a third of the reading side's CPU after the parse, on what this reader does not need (see
 * fetch-rows.ts).
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
  const items = [item('UID'), ...(withFlags ? [item('FLAGS')] : []), item('INTERNALDATE'), wholeBody];
  await uidFetch(client, uids, items, undefined, (row) => {
    if (row.uid === undefined || row.source === undefined) return;
    const fetched: FetchedRow = { uid: row.uid, source: row.source };
    if (row.flags) fetched.flags = row.flags;
    if (row.internalDate !== undefined) fetched.internalDate = row.internalDate;
    take(fetched);
  });
}
