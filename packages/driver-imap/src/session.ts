import { StoreError } from '@twinbox/core';
import type { ImapFlow } from 'imapflow';

/** How a dropped connection is reopened: a few attempts, each waiting twice as long as the last. */
export interface ReconnectOptions {
  /** Attempts after a drop before the call fails with a `CONNECTION_LOST` store error; default 5. */
  attempts?: number;
  /** Wait before the first attempt, in ms; default 200. Doubles each time, up to `maxDelayMs`. */
  initialDelayMs?: number;
  /** Longest wait between two attempts, in ms; default 5000. */
  maxDelayMs?: number;
}

/**
 * One IMAP session that is reopened when it drops. A refused login is never retried (it would not get
 * better, and servers lock accounts after repeated failures); anything else is, with backoff.
 */
export class Session {
  #client: ImapFlow;
  readonly #open: () => Promise<ImapFlow>;
  readonly #retry: Required<ReconnectOptions>;
  #reopening: Promise<ImapFlow> | undefined;
  #interrupted = false;

  constructor(client: ImapFlow, open: () => Promise<ImapFlow>, retry: ReconnectOptions = {}) {
    this.#client = client;
    this.#open = open;
    this.#retry = {
      attempts: retry.attempts ?? 5,
      initialDelayMs: retry.initialDelayMs ?? 200,
      maxDelayMs: retry.maxDelayMs ?? 5000,
    };
  }

  /** The current client, which may have dropped; see {@link ready}. */
  get client(): ImapFlow {
    return this.#client;
  }

  /** True while the current client can take commands. */
  get usable(): boolean {
    return this.#client.usable === true && !this.#interrupted;
  }

  /** Set once {@link interrupt} was called: nothing is sent any more. */
  get interrupted(): boolean {
    return this.#interrupted;
  }

  /** A client that can take commands: the current one, or a new one if it dropped. */
  ready(): Promise<ImapFlow> {
    if (this.#interrupted) return Promise.reject(interruptedError());
    return this.usable ? Promise.resolve(this.#client) : this.reopen();
  }

  /**
   * Cuts the connection now, whatever is in flight (its calls reject), and refuses every later call:
   * the sync is stopping and will not wait for the server.
   */
  interrupt(): void {
    this.#interrupted = true;
    this.#client.close();
  }

  /** Drops the current client and opens a new one; concurrent callers share one attempt. */
  reopen(): Promise<ImapFlow> {
    if (this.#interrupted) return Promise.reject(interruptedError());
    this.#reopening ??= this.#reopenWithBackoff().finally(() => {
      this.#reopening = undefined;
    });
    return this.#reopening;
  }

  async #reopenWithBackoff(): Promise<ImapFlow> {
    this.#client.close();
    let delay = this.#retry.initialDelayMs;
    let last: unknown;
    for (let attempt = 1; attempt <= this.#retry.attempts; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, this.#retry.maxDelayMs);
      if (this.#interrupted) throw interruptedError();
      try {
        const client = await this.#open();
        // Interrupted while it connected: this session sends nothing more.
        if (this.#interrupted) {
          client.close();
          throw interruptedError();
        }
        this.#client = client;
        return this.#client;
      } catch (err) {
        last = err;
        // A refused login, a stalled server, an interruption: trying again would not help.
        if (err instanceof StoreError && err.code !== 'CONNECT_FAILED') throw err;
      }
    }
    throw new StoreError(
      `The IMAP connection dropped and could not be reopened in ${this.#retry.attempts} attempts: ${(last as Error).message}`,
      { code: 'CONNECTION_LOST', cause: last },
    );
  }

  async close(): Promise<void> {
    await this.#reopening?.catch(() => undefined);
    if (!this.usable) {
      this.#client.close();
      return;
    }
    try {
      await this.#client.logout();
    } catch {
      this.#client.close();
    }
  }
}

/** What every call of an interrupted session rejects with. */
export function interruptedError(): StoreError {
  return new StoreError(
    'The sync was interrupted; the IMAP connection was closed without waiting for the server.',
    {
      code: 'INTERRUPTED',
    },
  );
}
