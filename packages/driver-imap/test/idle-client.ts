import { EventEmitter } from 'node:events';
import type { ImapFlow } from 'imapflow';
import { ImapWatch, type WatchDeps } from '../src/watch.js';

/**
 * Just enough of an imapflow client for an IDLE watch link: IDLE lasts until the next command (the
 * NOOP) ends it, as on a real connection. Counts the NOOPs, i.e. the poll rounds.
 */
export class IdleClient extends EventEmitter {
  readonly capabilities = new Map<string, boolean>([['IDLE', true]]);
  usable = true;
  noops = 0;
  #endIdle: (() => void) | undefined;

  async mailboxOpen(): Promise<void> {}

  idle(): Promise<boolean> {
    return new Promise((resolve) => {
      this.#endIdle = () => resolve(true);
    });
  }

  async noop(): Promise<boolean> {
    this.noops++;
    this.#endIdle?.();
    return true;
  }

  async logout(): Promise<void> {
    this.close();
  }

  close(): void {
    if (!this.usable) return;
    this.usable = false;
    this.#endIdle?.();
    this.emit('close');
  }
}

/** A one-connection watch on `client`, with `deps` (poll, account, …) over the defaults. */
export function watchOn(
  client: IdleClient,
  deps: Partial<WatchDeps> & Pick<WatchDeps, 'pollMs' | 'account'>,
) {
  return new ImapWatch({
    open: async () => client as unknown as ImapFlow,
    nameOf: (path) => path.join('/'),
    delimiter: '/',
    utf8Names: () => true,
    timeoutMs: 20_000,
    maxConnections: 1,
    ...deps,
  });
}
