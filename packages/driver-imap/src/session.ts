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
  /**
   * A NOOP after this many ms without a call, so that a session kept open between calls (a resident
   * daemon's) outlives the socket's quiet timeout and the server's autologout; 0 (the default) for
   * none. The timer never keeps the process alive.
   */
  keepAliveMs?: number;
  /**
   * How long after its last call a session is kept alive by those NOOPs, in ms; then it is closed,
   * and the next call logs in again. Default 60000: a daemon with many pairs then holds one session
   * per pair only while it is in use (each costs memory on both ends), and a sync within a minute of
   * the last one still needs no login.
   */
  keepAliveForMs?: number;
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
  #closed = false;
  #keepAlive: NodeJS.Timeout | undefined;
  /** When the session was last asked for a client (`performance.now()`). */
  #lastUse = performance.now();

  constructor(client: ImapFlow, open: () => Promise<ImapFlow>, retry: ReconnectOptions = {}) {
    this.#client = client;
    this.#open = open;
    this.#retry = {
      attempts: retry.attempts ?? 5,
      initialDelayMs: retry.initialDelayMs ?? 200,
      maxDelayMs: retry.maxDelayMs ?? 5000,
      keepAliveMs: retry.keepAliveMs ?? 0,
      keepAliveForMs: retry.keepAliveForMs ?? 60_000,
    };
    this.#armKeepAlive();
  }

  /** Re-arms the keep-alive: called at every use, so only an idle session sends NOOPs. */
  #armKeepAlive(): void {
    if (this.#retry.keepAliveMs <= 0 || this.#interrupted || this.#closed) return;
    clearTimeout(this.#keepAlive);
    this.#keepAlive = setTimeout(() => {
      if (!this.usable) return;
      if (performance.now() - this.#lastUse >= this.#retry.keepAliveForMs) {
        // Idle long enough: let it go. The next call finds it closed and logs in again at once.
        this.#client.close();
        return;
      }
      // A NOOP that fails leaves a closed client; the next call reopens it, as after any drop.
      this.#client.noop().catch(() => this.#client.close());
      this.#armKeepAlive();
    }, this.#retry.keepAliveMs);
    this.#keepAlive.unref();
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
    this.#lastUse = performance.now();
    this.#armKeepAlive();
    // Found closed before a command was sent: it ended while nobody used it (the server's autologout,
    // a NAT that forgot it), so the first attempt is made at once.
    return this.usable ? Promise.resolve(this.#client) : this.reopen({ immediate: true });
  }

  /**
   * Cuts the connection now, whatever is in flight (its calls reject), and refuses every later call:
   * the sync is stopping and will not wait for the server.
   */
  interrupt(): void {
    this.#interrupted = true;
    clearTimeout(this.#keepAlive);
    this.#client.close();
  }

  /**
   * Drops the current client and opens a new one; concurrent callers share one attempt. The first
   * attempt waits `initialDelayMs` (the connection just dropped under a command: give the network a
   * moment) unless `immediate`.
   */
  reopen(options: { immediate?: boolean } = {}): Promise<ImapFlow> {
    if (this.#interrupted) return Promise.reject(interruptedError());
    this.#reopening ??= this.#reopenWithBackoff(options.immediate === true).finally(() => {
      this.#reopening = undefined;
    });
    return this.#reopening;
  }

  async #reopenWithBackoff(immediate: boolean): Promise<ImapFlow> {
    this.#client.close();
    let delay = this.#retry.initialDelayMs;
    let last: unknown;
    for (let attempt = 1; attempt <= this.#retry.attempts; attempt++) {
      if (attempt > 1 || !immediate) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, this.#retry.maxDelayMs);
      }
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
      last === undefined
        ? 'The IMAP connection dropped, and reconnect.attempts is 0: it is not reopened.'
        : `The IMAP connection dropped and could not be reopened in ${this.#retry.attempts} attempts: ${(last as Error).message}`,
      { code: 'CONNECTION_LOST', cause: last },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#keepAlive);
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
