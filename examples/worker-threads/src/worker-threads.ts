import type { SideController, StateBackend, SyncReport } from '@twinbox/core';
import { sync } from '@twinbox/core';
import type { ImapDriverOptions } from '@twinbox/driver-imap';
import { type ComponentHandle, startComponent } from '@twinbox/worker-runtime';
import type { SideArgs } from './side.ts';

/**
 * Syncs an IMAP account (left) and a Maildir (right) both ways, once, as imap-to-maildir does, but
 * with the state and each side in a worker thread of its own: the main thread runs only the engine,
 * and the sides call the state's thread directly over ports, not through it.
 */
export async function imapToMaildirInThreads(
  account: ImapDriverOptions,
  maildir: string,
  statePath: string,
): Promise<SyncReport> {
  // The state first: its lock stops a second sync of the same pair before any server is contacted.
  const state = await startComponent<StateBackend>(import.meta.resolve('@twinbox/state-sqlite/component'), {
    name: 'state',
    args: { path: statePath },
  });
  const sides: ComponentHandle<SideController>[] = [];
  const startSide = async (side: SideArgs['side'], store: SideArgs['store']) => {
    const args: SideArgs = { side, store, state: await state.connect() }; // the port is moved, not copied
    const handle = await startComponent<SideController>(new URL('./side.ts', import.meta.url), {
      name: side,
      args,
    });
    sides.push(handle);
    // A handle's api has the component's methods only; sync checks each controller's side, so say it.
    return { ...handle.api, side };
  };
  try {
    const left = await startSide('left', { imap: account });
    const right = await startSide('right', { maildir: { root: maildir } });
    return await sync(left, right);
  } finally {
    // Whatever happened: each side's driver closes in its thread, then the state releases its lock,
    // and no thread or port is left to keep the process alive.
    for (const side of sides) await side.close();
    await state.close();
  }
}
