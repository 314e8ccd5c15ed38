import type { ImapFlow } from 'imapflow';
import { type FetchRow, item, uidFetch, wholeBody } from './fetch-rows.js';

/**
 * `UID FETCH set (UID [FLAGS] INTERNALDATE BODY.PEEK[])`, each answer row read by fetch-rows.ts rather
 * than through imapflow's `fetch()`: a first sync reads every body of the account, and `fetch()` spent
 * about a third of the reading side's CPU after the parse, on what this reader does not need (see
 * fetch-rows.ts).
 */

/** One message of the answer: a row with its UID and its bytes; flags only when asked for and sent. */
export type FetchedRow = FetchRow & { uid: number; source: Buffer };

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
    if (row.uid !== undefined && row.source !== undefined) take(row as FetchedRow);
  });
}
