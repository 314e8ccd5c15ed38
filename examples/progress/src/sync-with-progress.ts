import { Controller } from '@twinbox/controller';
import { type SyncReport, sync } from '@twinbox/core';
import { MaildirDriver } from '@twinbox/driver-maildir';
import { MemoryState } from '@twinbox/state-memory';
import { progressLines } from './progress.ts';

/**
 * Syncs two Maildirs once, printing progress as it goes. Any driver pair works the same way; the state
 * is in memory here for brevity (use `@twinbox/state-sqlite` to remember pairs between runs).
 */
export async function syncWithProgress(
  left: string,
  right: string,
  print: (line: string) => void = console.log,
): Promise<SyncReport> {
  const state = new MemoryState();
  const open: { close(): Promise<void> }[] = [state];
  try {
    const a = await MaildirDriver.open({ root: left });
    open.unshift(a);
    const b = await MaildirDriver.open({ root: right });
    open.unshift(b);
    return await sync(
      new Controller({ side: 'left', driver: a, state }),
      new Controller({ side: 'right', driver: b, state }),
      // Small copy batches, so that even a small folder reports its progress more than once.
      { onEvent: progressLines(print), copyBatch: 4 },
    );
  } finally {
    for (const store of open) await store.close();
  }
}
