import {
  type ChangeNotice,
  type FolderPath,
  isInbox,
  StoreError,
  type WatchRequest,
  type WatchStatus,
} from '@twinbox/core';
import type { ImapFlow } from 'imapflow';
import { serverAnswered } from './errors.js';
import { execOf, untaggedHandlersOf } from './imapflow-internals.js';
import { pathOfListedName } from './names.js';

/**
 * How the watch reaches IMAP. imapflow carries it: NOTIFY (RFC 5465) is sent with imapflow's `exec`
 * and its unsolicited answers (`* STATUS`, `* LIST`) are read through `untaggedHandlers`, both
 * internal to imapflow (the version is pinned, and the NOTIFY tests fail if either changes). The
 * alternative, a watch-only IMAP client of our own, would have to repeat TLS, STARTTLS, LOGIN, OAuth2
 * and certificate pinning, which {@link WatchDeps.open} already does through the sync's own code.
 */
export interface WatchDeps {
  /** Opens and logs in a new connection, never the sync session's; fails with a StoreError. */
  open(): Promise<ImapFlow>;
  /** The server's name of a folder, or a throw for one it cannot have. */
  nameOf(path: FolderPath): string;
  /** The hierarchy delimiter. */
  delimiter: string;
  /** Whether names travel as UTF-8 on a connection (else modified UTF-7). */
  utf8Names(client: ImapFlow): boolean;
  /** The driver's command timeout, in ms: what a watch connection may wait for any answer. */
  timeoutMs: number;
  /** Default of {@link WatchRequest.maxConnections}. */
  maxConnections: number;
  /**
   * How often, in ms, a watch connection of an active account leaves IDLE for a NOOP, which makes a
   * server that delays its notifications (Dovecot: 0.5 s) report what it holds at once; 0: only
   * IDLE's own reports.
   */
  pollMs: number;
  /**
   * How long, in ms, an account counts as active after the watch began or last saw a change: only
   * then is it polled every {@link pollMs}. Default {@link DEFAULT_WATCH_ACTIVE_MS}.
   */
  activeMs?: number;
  /**
   * How often, in ms, a quiet account's connections send a NOOP all the same, to find a connection
   * that died without a word and to hear what the server failed to report. Default {@link QUIET_POLL_MS}.
   */
  quietPollMs?: number;
  /** Who the watch talks to, for error messages (never a secret). */
  account: string;
}

/**
 * How often a quiet IDLE is ended and begun again. RFC 2177 lets a server log out a client idle for 30
 * minutes, and the refresh doubles as the check that the server still answers: DONE must be answered
 * within the command timeout, or the connection is given up and restored.
 */
export const IDLE_REFRESH_MS = 25 * 60_000;

/**
 * Default of {@link WatchDeps.pollMs}. Dovecot tells a watching client of a change only 0.5 s after
 * it (NOTIFY_DELAY_MSECS in its mailbox-watch.c, not configurable), but a NOOP makes it report at once
 * what it holds, under NOTIFY (STATUS of another folder, EXISTS of the selected one) as under IDLE
 * (`bench/imap-noop-probe.mjs`). A NOOP every 0.5 s thus halves the wait, for three round trips
 * (DONE, NOOP, IDLE) per connection and interval.
 */
export const DEFAULT_WATCH_POLL_MS = 500;

/**
 * Default of {@link WatchDeps.activeMs}. The poll's three round trips every 0.5 s are what an idle
 * daemon spends its CPU on (100 pairs: 200 NOOPs a second, ~6 % of a core, and Dovecot's share), and
 * they buy a quarter of a second only for a change that follows another soon: mail comes in bursts
 * (a thread's replies, a sync's own writes echoed back). An account quiet for this long waits for the
 * server's own report instead (Dovecot: 0.5 s after the change), and polls again from its next change.
 */
export const DEFAULT_WATCH_ACTIVE_MS = 2 * 60_000;

/**
 * Default of {@link WatchDeps.quietPollMs}. The NOOP of a quiet connection is the check that it is
 * alive (IDLE's silence proves nothing: a server owes nothing while idling, and a dead peer sends no
 * FIN), so a connection that died is restored within this plus the command timeout. It is also the
 * bound on a change the server fails to report: Dovecot's NOTIFY hears of changes in folders other
 * than INBOX by an inotify watch on its list index log (mailbox-list-index-notify.c), and once that
 * log rotates (8 KB and 5 minutes old) the watch is left on the old file, so until its own check
 * every `mailbox_idle_check_interval` (30 s) Dovecot reports such a change only when a NOOP asks
 * (`bench/notify-rotation-probe.mjs`; the one-hour soak saw 7 of 1,096 changes take 9 to 21 s with a
 * 30 s quiet poll). 2 s bounds that wait, for one NOOP (three round trips) per connection every 2 s.
 */
export const QUIET_POLL_MS = 2_000;

/** Restoring a dropped watch connection: the first wait, doubling up to the cap, with jitter. */
export const BACKOFF = { initialMs: 1000, maxMs: 60_000 };

/** More folders than this changed since the last notice: it says `all` instead. */
const MAX_FOLDERS_IN_NOTICE = 1000;

/** A failed restore that is not worth repeating: the credentials or the settings are wrong. */
function permanent(err: unknown): boolean {
  return err instanceof StoreError && err.code !== 'CONNECT_FAILED' && err.code !== 'SERVER_STALLED';
}

/** The wait before restore attempt `failures` (0-based): exponential, capped, half of it random. */
export function backoffDelay(failures: number, random = Math.random): number {
  const ceiling = Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** Math.min(failures, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

function stoppedError(): StoreError {
  return new StoreError(
    'The IMAP watch was stopped (unwatch or close); call watch() again to be notified of changes.',
    { code: 'WATCH_STOPPED' },
  );
}

function abortedError(): StoreError {
  return new StoreError('Waiting for a change on the IMAP account was aborted.', { code: 'ABORTED' });
}

/** The one call of {@link NoticeQueue.next} waiting. */
interface Waiter {
  resolve(notice: ChangeNotice): void;
  reject(err: unknown): void;
}

/**
 * The notices seen and not yet taken, coalesced: folders as a set, or `all`. At most one caller waits.
 * Plain logic, no I/O.
 */
export class NoticeQueue {
  readonly #folders = new Map<string, FolderPath>();
  #all = false;
  #failure: StoreError | undefined;
  #stopped = true;
  #waiter: Waiter | undefined;
  /** When the queue last started or heard of a change (Date.now()): what makes an account active. */
  changedAt = 0;
  /** Called on every change heard (not on a start): a quiet connection resumes its fast poll. */
  onChange: (() => void) | undefined;

  /** Accepts notices again (after {@link stop}), with nothing pending and no failure. */
  start(): void {
    this.changedAt = Date.now();
    this.#stopped = false;
    this.#failure = undefined;
    this.#folders.clear();
    this.#all = false;
  }

  changed(path: FolderPath): void {
    if (this.#stopped) return;
    this.#heard();
    if (!this.#all) {
      this.#folders.set(JSON.stringify(path), path);
      if (this.#folders.size > MAX_FOLDERS_IN_NOTICE) this.#all = true;
    }
    this.#deliver();
  }

  changedAll(): void {
    if (this.#stopped) return;
    this.#heard();
    this.#all = true;
    this.#deliver();
  }

  /** The watch cannot go on: the waiting call and every later one reject with `err`. */
  fail(err: StoreError): void {
    if (this.#stopped || this.#failure) return;
    this.#failure = err;
    this.#settle((w) => w.reject(err));
  }

  /** The watch ended: the waiting call and every later one reject with `WATCH_STOPPED`. */
  stop(): void {
    this.#stopped = true;
    this.#settle((w) => w.reject(stoppedError()));
  }

  next(signal?: AbortSignal): Promise<ChangeNotice> {
    if (this.#waiter) {
      return Promise.reject(
        new StoreError('nextChange() is already waiting on this IMAP driver; call it once at a time.', {
          code: 'WATCH_BUSY',
        }),
      );
    }
    if (this.#stopped) return Promise.reject(stoppedError());
    if (this.#failure) return Promise.reject(this.#failure);
    if (signal?.aborted) return Promise.reject(abortedError());
    const ready = this.#take();
    if (ready) return Promise.resolve(ready);
    return new Promise<ChangeNotice>((resolve, reject) => {
      const onAbort = () => {
        this.#waiter = undefined;
        reject(abortedError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.#waiter = {
        resolve: (n) => {
          done();
          resolve(n);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
    });
  }

  #heard(): void {
    this.changedAt = Date.now();
    this.onChange?.();
  }

  #take(): ChangeNotice | undefined {
    if (!this.#all && this.#folders.size === 0) return undefined;
    const notice: ChangeNotice = { folders: this.#all ? [] : [...this.#folders.values()], all: this.#all };
    this.#folders.clear();
    this.#all = false;
    return notice;
  }

  #deliver(): void {
    if (!this.#waiter) return;
    const notice = this.#take();
    if (notice) this.#settle((w) => w.resolve(notice));
  }

  #settle(how: (w: Waiter) => void): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) how(waiter);
  }
}

/**
 * The folder a NOTIFY `* STATUS` names, from imapflow's parse of it (`[name, [items…]]`), or `all`
 * when the name is missing or does not map to a path and back to the same name.
 */
export function folderOfStatus(attributes: unknown, delimiter: string, utf8: boolean): FolderPath | 'all' {
  if (!Array.isArray(attributes)) return 'all';
  const first = attributes[0] as { type?: unknown; value?: unknown } | null | undefined;
  if (!first || typeof first !== 'object' || Array.isArray(first)) return 'all';
  if (first.type !== 'ATOM' && first.type !== 'STRING' && first.type !== 'LITERAL') return 'all';
  const raw = first.value;
  const name =
    typeof raw === 'string'
      ? raw
      : raw instanceof Uint8Array
        ? new TextDecoder('utf-8').decode(raw)
        : undefined;
  if (name === undefined) return 'all';
  const path = pathOfListedName(name, delimiter, utf8);
  return typeof path === 'string' ? 'all' : path;
}

/** What a watch connection does once logged in, and where the changes it sees go. */
type Setup = (client: ImapFlow, queue: NoticeQueue) => Promise<void>;

/**
 * NOTIFY SET for every personal folder: the selected one (INBOX, EXAMINEd so that idling needs no
 * other command) reports through EXISTS, EXPUNGE and FETCH, the others through STATUS, and a folder
 * created, deleted or renamed through LIST. SubscriptionChange is left out: a subscription does not
 * change what is synced.
 */
function notifySetup(deps: WatchDeps): Setup {
  return async (client, queue) => {
    const handlers = untaggedHandlersOf(client);
    handlers.STATUS = (untagged) => {
      const path = folderOfStatus(untagged.attributes, deps.delimiter, deps.utf8Names(client));
      if (path === 'all') queue.changedAll();
      else queue.changed(path);
    };
    handlers.LIST = () => queue.changedAll();
    listenSelected(client, queue, ['INBOX']);
    await client.mailboxOpen('INBOX', { readOnly: true });
    const atoms = (...values: string[]) => values.map((value) => ({ type: 'ATOM', value }));
    const exec = execOf(client);
    const response = await exec('NOTIFY', [
      ...atoms('SET'),
      [...atoms('selected'), atoms('MessageNew', 'MessageExpunge', 'FlagChange')],
      [...atoms('personal'), atoms('MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName')],
    ]);
    response.next();
  };
}

/**
 * The folder an IDLE connection watches. Mutable, because a rename through the driver moves it
 * ({@link ImapWatch.renamed}): the connection is then restored on the new name.
 */
interface IdleTarget {
  path: FolderPath;
}

/** IDLE on one folder, EXAMINEd: the one `target` names when the connection is (re)opened. */
function idleSetup(deps: WatchDeps, target: IdleTarget): Setup {
  return async (client, queue) => {
    const path = target.path;
    listenSelected(client, queue, path);
    await client.mailboxOpen(deps.nameOf(path), { readOnly: true });
  };
}

/** imapflow's events for the selected folder: a message came, went, or changed flags. */
function listenSelected(client: ImapFlow, queue: NoticeQueue, path: FolderPath): void {
  const changed = () => queue.changed(path);
  client.on('exists', changed);
  client.on('expunge', changed);
  client.on('flags', changed);
}

/**
 * Gives a logged-in watch connection a quiet-socket timeout longer than {@link IDLE_REFRESH_MS}: a
 * server owes nothing during IDLE (Dovecot sends nothing under NOTIFY), so silence is only checked at
 * each refresh, whose DONE has the command timeout. imapflow reads `socketTimeout` (internal) when it
 * re-arms the socket's timer; the set-up commands before this keep the driver's timeout.
 */
function relaxQuietTimeout(client: ImapFlow, ms: number): void {
  const internal = client as unknown as {
    socketTimeout?: number;
    socket?: { setTimeout?: (ms: number) => void };
  };
  internal.socketTimeout = ms;
  internal.socket?.setTimeout?.(ms);
}

/** Rejects after `ms`, closing `client`: a server that stopped answering. */
function answerWithin<T>(client: ImapFlow, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      client.close();
      reject(new Error(`no answer within ${ms / 1000} s`));
    }, ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * One watch connection, kept open: set up, idle, and when it drops, restored with backoff, after
 * which an `all` notice covers what it may have missed. A refused login ends the whole watch with the
 * error (the caller then polls); a folder that is gone when restoring ends only this connection.
 */
class WatchLink {
  /** The folder of an IDLE link; undefined for the NOTIFY link, which watches them all. */
  readonly target: IdleTarget | undefined;
  readonly #deps: WatchDeps;
  readonly #setup: Setup;
  readonly #queue: NoticeQueue;
  readonly #stop = new AbortController();
  #client: ImapFlow | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(deps: WatchDeps, setup: Setup, queue: NoticeQueue, target?: IdleTarget) {
    this.target = target;
    this.#deps = deps;
    this.#setup = setup;
    this.#queue = queue;
  }

  /** Resolves once set up the first time; rejects (and ends) if that fails. `client` may be reused. */
  start(client?: ImapFlow): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#done = this.#run(client, resolve, reject);
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    const client = this.#client;
    if (client?.usable) {
      // A polite LOGOUT if it comes quickly; the connection is closed either way.
      await answerWithin(client, client.logout(), Math.min(this.#deps.timeoutMs, 2000)).catch(
        () => undefined,
      );
    }
    client?.close();
    await this.#done;
  }

  async #run(reuse: ImapFlow | undefined, ready: () => void, failed: (err: unknown) => void): Promise<void> {
    const stopped = this.#stop.signal;
    let established = false;
    let failures = 0;
    while (!stopped.aborted) {
      let client = reuse;
      reuse = undefined;
      try {
        client ??= await this.#deps.open();
        this.#client = client;
        if (stopped.aborted) {
          client.close();
          break;
        }
        await this.#setup(client, this.#queue);
        if (established) this.#queue.changedAll();
        else ready();
        established = true;
        failures = 0;
        await this.#idle(client);
      } catch (err) {
        client?.close();
        if (stopped.aborted) break;
        if (!established) {
          failed(err);
          return;
        }
        if (permanent(err)) {
          this.#queue.fail(lostError(this.#deps.account, err as StoreError));
          return;
        }
        if (serverAnswered(err)) {
          // The server refused to set the watch up again (its folder was deleted, say).
          this.#queue.changedAll();
          return;
        }
      }
      if (stopped.aborted) break;
      await sleep(backoffDelay(failures++), stopped);
    }
    // Stopped: stop() closes the connection (after a LOGOUT it may still be waiting for).
    if (!established) failed(stoppedError());
  }

  /** Set while a quiet round waits: cuts it to a poll's length once a change is heard. */
  #hurry: (() => void) | undefined;

  /** The account heard of a change: a link waiting out a quiet round polls again soon. */
  active(): void {
    this.#hurry?.();
  }

  /**
   * Idles until the connection drops or the link stops, leaving IDLE for a NOOP every
   * {@link WatchDeps.pollMs} while the account is active ({@link WatchDeps.activeMs}), else every
   * {@link WatchDeps.quietPollMs}, and never less often than every {@link IDLE_REFRESH_MS}. What the
   * server sends meanwhile (after DONE, with the NOOP's answer) reaches the same handlers as during
   * IDLE: nothing is lost.
   */
  async #idle(client: ImapFlow): Promise<void> {
    const stopped = this.#stop.signal;
    const { pollMs } = this.#deps;
    const activeMs = this.#deps.activeMs ?? DEFAULT_WATCH_ACTIVE_MS;
    // Poll 0 asks for no NOOP at all: the refresh alone, active or not. A quiet account is never
    // polled more often than an active one (a slow watch-poll is a wish for less traffic).
    const quiet =
      pollMs > 0
        ? Math.min(Math.max(this.#deps.quietPollMs ?? QUIET_POLL_MS, pollMs), IDLE_REFRESH_MS)
        : IDLE_REFRESH_MS;
    const fast = pollMs > 0 ? Math.min(pollMs, quiet) : quiet;
    relaxQuietTimeout(client, IDLE_REFRESH_MS + this.#deps.timeoutMs);
    while (!stopped.aborted && client.usable) {
      const began = Date.now();
      const idling = client.idle().catch(() => false);
      const isActive = began - this.#queue.changedAt < activeMs;
      const outcome = await idleRound(client, idling, isActive ? fast : quiet, fast, stopped, (hurry) => {
        this.#hurry = hurry;
      });
      if (outcome === 'closed' || outcome === 'stopped') return;
      if (outcome === 'refresh') {
        // NOOP breaks the IDLE (DONE) and is answered after it: both within the command timeout, else
        // the connection is given up (answerWithin closes it) and restored like any dropped one.
        await answerWithin(client, client.noop(), this.#deps.timeoutMs);
        await idling;
      } else if (Date.now() - began < 1000) {
        // The server ended IDLE at once: do not spin.
        await sleep(1000, stopped);
      }
    }
  }
}

/**
 * One round of IDLE: what ends it first, the connection closing, IDLE ending, the refresh being due, or
 * the link stopping. `every` is the round's length; `hurry`, handed to `expose` for the round's life,
 * shortens it to `fast` from then (a change heard during a quiet round). Every listener and timer it
 * sets is removed when it settles. It runs twice a second per active connection for as long as the
 * daemon does, so it must leave nothing behind: racing a promise that lives as long as the connection
 * (`Promise.race([closed, …])`) or deriving a signal from the link's (`AbortSignal.any`) added a
 * reaction or a weak reference to that long-lived object every round, ~570 bytes each, 40 MB an hour
 * for 10 pairs.
 */
function idleRound(
  client: ImapFlow,
  idling: Promise<unknown>,
  every: number,
  fast: number,
  stopped: AbortSignal,
  expose: (hurry: (() => void) | undefined) => void,
): Promise<'closed' | 'ended' | 'refresh' | 'stopped'> {
  if (stopped.aborted) return Promise.resolve('stopped');
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: 'closed' | 'ended' | 'refresh' | 'stopped') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      expose(undefined);
      client.off('close', onClose);
      stopped.removeEventListener('abort', onStop);
      resolve(outcome);
    };
    const onClose = () => finish('closed');
    const onStop = () => finish('stopped');
    const refresh = () => finish('refresh');
    let timer = setTimeout(refresh, every);
    if (every > fast) {
      expose(() => {
        clearTimeout(timer);
        timer = setTimeout(refresh, fast);
        expose(undefined);
      });
    }
    client.once('close', onClose);
    stopped.addEventListener('abort', onStop, { once: true });
    // `idling` belongs to this round only: its reaction goes with it.
    void idling.then(() => finish('ended'));
  });
}

function lostError(account: string, err: StoreError): StoreError {
  return new StoreError(
    `The IMAP watch on ${account} could not be restored: ${err.message} Changes are no longer pushed; sync on a timer until this is fixed.`,
    { code: err.code, cause: err },
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The watch of one IMAP account ({@link ChangeWatch} for {@link ImapDriver}): NOTIFY on one connection
 * where the server offers it, else IDLE on one connection per folder, up to the cap.
 */
export class ImapWatch {
  readonly #deps: WatchDeps;
  readonly #queue = new NoticeQueue();
  #links: WatchLink[] = [];
  /** Bumped by every watch and unwatch: a watch() overtaken by another call gives up. */
  #generation = 0;

  constructor(deps: WatchDeps) {
    this.#deps = deps;
    this.#queue.onChange = () => {
      for (const link of this.#links) link.active();
    };
  }

  async watch(request: WatchRequest): Promise<WatchStatus> {
    const generation = ++this.#generation;
    const cap = request.maxConnections ?? this.#deps.maxConnections;
    if (!Number.isInteger(cap) || cap < 1) {
      throw new StoreError(
        `maxConnections must be a whole number of at least 1 (got ${cap}): the watch needs a connection of its own.`,
        { code: 'WATCH_BAD_REQUEST' },
      );
    }
    const { pollMs, quietPollMs } = this.#deps;
    if (!Number.isFinite(pollMs) || pollMs < 0) {
      throw new StoreError(
        `watchPollMs must be a number of milliseconds of at least 0 (got ${pollMs}); 0 turns the NOOP poll of watch connections off.`,
        { code: 'WATCH_BAD_REQUEST' },
      );
    }
    if (quietPollMs !== undefined && (!Number.isFinite(quietPollMs) || quietPollMs <= 0)) {
      throw new StoreError(
        `watchQuietPollMs must be a number of milliseconds above 0 (got ${quietPollMs}): how often a quiet account's watch connections send a NOOP.`,
        { code: 'WATCH_BAD_REQUEST' },
      );
    }
    await this.#stopLinks();
    this.#queue.start();
    const overtaken = () => generation !== this.#generation;
    try {
      const first = await this.#deps.open();
      if (overtaken()) {
        first.close();
        throw stoppedError();
      }
      if (!first.capabilities.has('IDLE')) {
        first.close();
        throw new StoreError(
          `The IMAP server of ${this.#deps.account} offers neither NOTIFY nor IDLE, so it cannot be watched; sync it on a timer instead.`,
          { code: 'WATCH_UNSUPPORTED' },
        );
      }
      const status = first.capabilities.has('NOTIFY')
        ? await this.#tryNotify(first)
        : await this.#idleEach(first, request.folders, cap, overtaken);
      if (overtaken()) throw stoppedError();
      return status;
    } catch (err) {
      if (!overtaken()) {
        await this.#stopLinks();
        this.#queue.stop();
      }
      throw err;
    }
  }

  /** NOTIFY on `first`, or IDLE on every folder if the server refuses the command it advertised. */
  async #tryNotify(first: ImapFlow): Promise<WatchStatus> {
    const link = new WatchLink(this.#deps, notifySetup(this.#deps), this.#queue);
    try {
      await link.start(first);
      this.#links.push(link);
      return { method: 'notify', watched: 'all', unwatched: [], connections: 1 };
    } catch (err) {
      if (!serverAnswered(err)) throw err;
      const generation = this.#generation;
      const client = await this.#deps.open();
      return this.#idleEach(client, 'all', this.#deps.maxConnections, () => generation !== this.#generation);
    }
  }

  async #idleEach(
    first: ImapFlow,
    asked: WatchRequest['folders'],
    cap: number,
    overtaken: () => boolean,
  ): Promise<WatchStatus> {
    let folders: FolderPath[];
    if (asked === 'all') {
      const utf8 = this.#deps.utf8Names(first);
      folders = (await first.list()).flatMap((box) => {
        if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) return [];
        const path = pathOfListedName(box.pathAsListed, box.delimiter, utf8);
        return typeof path === 'string' ? [] : [path];
      });
    } else {
      folders = [...asked];
    }
    const seen = new Set<string>();
    folders = folders
      .filter((path) => {
        const key = JSON.stringify(isInbox(path) ? ['INBOX'] : path);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort((a, b) => Number(isInbox(b)) - Number(isInbox(a)));
    const watched: FolderPath[] = [];
    const unwatched: FolderPath[] = [];
    let spare: ImapFlow | undefined = first;
    let next = 0;
    try {
      while (next < folders.length && watched.length < cap && !overtaken()) {
        const batch = folders.slice(next, next + cap - watched.length);
        next += batch.length;
        const results = await Promise.allSettled(
          batch.map((path, i) => {
            const target = { path };
            const link = new WatchLink(this.#deps, idleSetup(this.#deps, target), this.#queue, target);
            const reuse = i === 0 ? spare : undefined;
            if (i === 0) spare = undefined;
            return link.start(reuse).then(() => {
              this.#links.push(link);
            });
          }),
        );
        for (const [i, result] of results.entries()) {
          const path = batch[i]!;
          if (result.status === 'fulfilled') {
            watched.push(path);
            continue;
          }
          // A folder that is missing (or whose name this server cannot have) is reported, not fatal.
          const err = result.reason;
          if (serverAnswered(err) || (err as { scope?: string }).scope === 'folder') unwatched.push(path);
          else throw err;
        }
      }
    } finally {
      spare?.close();
    }
    unwatched.push(...folders.slice(next));
    return { method: 'idle', watched, unwatched, connections: watched.length };
  }

  /**
   * A folder was renamed through the driver: IDLE connections on it or below it follow the new name.
   * Dovecot ends every session that has a renamed folder (or one below it) selected, so such a
   * connection is restored, now on the new name, and its restore reports `all` as after any drop. Under
   * NOTIFY nothing is to do: the one connection watches every folder, and reports the rename itself.
   */
  renamed(from: FolderPath, to: FolderPath): void {
    for (const link of this.#links) {
      const target = link.target;
      if (!target || target.path.length < from.length) continue;
      if (!from.every((level, i) => target.path[i] === level)) continue;
      target.path = [...to, ...target.path.slice(from.length)];
    }
  }

  nextChange(signal?: AbortSignal): Promise<ChangeNotice> {
    return this.#queue.next(signal);
  }

  async unwatch(): Promise<void> {
    this.#generation++;
    this.#queue.stop();
    await this.#stopLinks();
  }

  async #stopLinks(): Promise<void> {
    const links = this.#links;
    this.#links = [];
    await Promise.all(links.map((l) => l.stop()));
  }
}
