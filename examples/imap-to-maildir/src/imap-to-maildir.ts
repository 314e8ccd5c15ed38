import { Controller } from '@twinbox/controller';
import { type SyncReport, sync } from '@twinbox/core';
import { ImapDriver, type ImapDriverOptions } from '@twinbox/driver-imap';
import { MaildirDriver } from '@twinbox/driver-maildir';
import { SqliteState } from '@twinbox/state-sqlite';

/**
 * Syncs an IMAP account (the left side) and a Maildir (the right side) both ways, once, remembering
 * what it synced in an SQLite file so the next run writes only what changed since.
 */
export async function imapToMaildir(
  account: ImapDriverOptions,
  maildir: string,
  statePath: string,
): Promise<SyncReport> {
  // The state first: its lock stops a second sync of the same pair before any server is contacted.
  const state = await SqliteState.open({ path: statePath });
  const open: { close(): Promise<void> }[] = [state];
  try {
    const imap = await ImapDriver.connect(account);
    open.unshift(imap);
    const local = await MaildirDriver.open({ root: maildir });
    open.unshift(local);
    // Each controller's side must match its place in sync(left, right); sync rejects a mismatch.
    return await sync(
      new Controller({ side: 'left', driver: imap, state }),
      new Controller({ side: 'right', driver: local, state }),
    );
  } finally {
    // Whatever happened: the IMAP driver logs out, and the state releases its lock and database.
    for (const store of open) await store.close();
  }
}
