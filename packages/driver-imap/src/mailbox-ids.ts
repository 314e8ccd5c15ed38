import type { ImapFlow, ListResponse, StatusQuery } from 'imapflow';
import type { Attribute, Exec, Untagged } from './imapflow-internals.js';

/** RFC 8474 `objectid`: 1 to 255 of letters, digits, `_` and `-`. */
const OBJECTID = /^[A-Za-z0-9_-]{1,255}$/;

/** What a LIST with MAILBOXID gives: imapflow's listing, and the folders' ids by name as listed. */
export interface ListedWithIds {
  boxes: ListResponse[];
  /** By {@link idKey} of the name as listed; a malformed value, or one listed for two names, is left out. */
  ids: Map<string, string>;
}

/** The key of a folder's name as listed in {@link ListedWithIds.ids}: INBOX in any case is one folder. */
export function idKey(nameAsListed: string): string {
  return nameAsListed.toUpperCase() === 'INBOX' ? 'INBOX' : nameAsListed;
}

/**
 * imapflow's LIST with LIST-STATUS (`statusQuery`), with `MAILBOXID` (RFC 8474, OBJECTID) among the
 * STATUS items, on a server that advertises both; one command, as without the ids.
 *
 * imapflow 2.10 can neither ask for MAILBOXID (it builds the STATUS items from a fixed list of its own)
 * nor return it (it parses only the items it knows and drops the rest). Sending the LIST ourselves would
 * mean redoing what imapflow does around it (the RETURN options a server refuses, retried without;
 * special use; LSUB), so instead this one call's LIST gets the item appended on the way out, and its
 * `* STATUS` answers are read for MAILBOXID on the way in before imapflow parses them as before. The
 * hook is on this client only and only while the call runs. A server that refuses `RETURN (STATUS …)`
 * is listed without STATUS by imapflow's own retry, and then without ids.
 */
export async function listWithMailboxIds(client: ImapFlow, statusQuery: StatusQuery): Promise<ListedWithIds> {
  const found = new Map<string, string | undefined>();
  const internal = client as unknown as { exec: Exec };
  const exec = internal.exec;
  internal.exec = function (this: unknown, command, attributes, options) {
    const asked = command === 'LIST' ? withMailboxId(attributes) : undefined;
    if (!asked) return exec.call(this, command, attributes, options);
    // What a LIST imapflow then retried with fewer options answered is not this listing's.
    found.clear();
    const status = options?.untagged?.STATUS;
    const untagged = {
      ...options?.untagged,
      STATUS: (answer: Untagged) => {
        note(found, answer);
        return status?.(answer);
      },
    };
    return exec.call(this, command, asked, { ...options, untagged });
  };
  try {
    const boxes = await client.list({ statusQuery });
    const ids = new Map<string, string>();
    const uses = new Map<string, number>();
    for (const id of found.values()) if (id !== undefined) uses.set(id, (uses.get(id) ?? 0) + 1);
    // Two folders with one id break the RFC's promise; either could be the folder the id stood for.
    for (const [name, id] of found) if (id !== undefined && uses.get(id) === 1) ids.set(name, id);
    return { boxes, ids };
  } finally {
    internal.exec = exec;
  }
}

/** LIST's arguments with MAILBOXID added to `RETURN (STATUS (…))`, or undefined if it has none. */
function withMailboxId(attributes: Attribute[]): Attribute[] | undefined {
  const at = attributes.findIndex((a) => isAtom(a, 'RETURN'));
  const options = attributes[at + 1];
  if (at < 0 || !Array.isArray(options)) return undefined;
  const statusAt = options.findIndex((a) => isAtom(a, 'STATUS'));
  const items = options[statusAt + 1];
  if (statusAt < 0 || !Array.isArray(items)) return undefined;
  // Copies: imapflow reuses its item list when it retries the LIST with fewer options.
  const returned = [...options];
  returned[statusAt + 1] = [...items, { type: 'ATOM', value: 'MAILBOXID' }];
  const copy = [...attributes];
  copy[at + 1] = returned;
  return copy;
}

/** Records the MAILBOXID of one `* STATUS name (… MAILBOXID (id) …)` (undefined if malformed). */
function note(found: Map<string, string | undefined>, answer: Untagged): void {
  const [name, items] = answer.attributes ?? [];
  if (!name || Array.isArray(name) || !Array.isArray(items)) return;
  const listed = (name.value as { toString(): string } | undefined)?.toString();
  if (listed === undefined) return;
  for (let i = 0; i + 1 < items.length; i += 2) {
    if (!isAtom(items[i], 'MAILBOXID')) continue;
    const value = items[i + 1];
    const id = Array.isArray(value) && value.length === 1 ? atomText(value[0]) : undefined;
    found.set(idKey(listed), id !== undefined && OBJECTID.test(id) ? id : undefined);
  }
}

function atomText(a: Attribute): string | undefined {
  return a && !Array.isArray(a) && a.type === 'ATOM' && typeof a.value === 'string' ? a.value : undefined;
}

function isAtom(a: Attribute, word: string): boolean {
  return atomText(a)?.toUpperCase() === word;
}
