import type { MessagePort } from 'node:worker_threads';
import { Controller } from '@twinbox/controller';
import type { Driver, Side, StateBackend } from '@twinbox/core';
import { ImapDriver, type ImapDriverOptions } from '@twinbox/driver-imap';
import { MaildirDriver, type MaildirOptions } from '@twinbox/driver-maildir';
import { connectRemote } from '@twinbox/worker-runtime';

/** What a side is started with: plain data that can cross to its thread, and a port to the state. */
export interface SideArgs {
  side: Side;
  store: { imap: ImapDriverOptions } | { maildir: MaildirOptions };
  /** From the state component's `connect()`: this side calls the state's thread directly. */
  state: MessagePort;
}

/**
 * One side of the sync as a worker-runtime component: this module's default export runs in the side's
 * own thread, opens its store there and answers the engine's calls with a Controller.
 */
export default async function createSide(args: SideArgs) {
  const state = await connectRemote<StateBackend>(args.state);
  let driver: Driver;
  try {
    driver =
      'imap' in args.store
        ? await ImapDriver.connect(args.store.imap)
        : await MaildirDriver.open(args.store.maildir);
  } catch (err) {
    await state.close();
    throw err;
  }
  // Every function of the component, own or inherited, becomes a method the main thread can call, so
  // the controller itself is the component; the close() added to it is what the handle's close() runs
  // once the calls in flight are done: the driver logs out, then this side's port to the state closes.
  return Object.assign(new Controller({ side: args.side, driver, state: state.api }), {
    async close(): Promise<void> {
      try {
        await driver.close();
      } finally {
        await state.close();
      }
    },
  });
}
