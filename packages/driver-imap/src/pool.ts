import type { ImapFlow } from 'imapflow';
import { interruptedError, type Session } from './session.js';

/**
 * How long a session stays its folder's after that folder's last call: a folder whose call has just
 * ended is most likely between two of its calls (listed, being planned, its bodies read next), so its
 * session is not handed to another folder within this window while another session can be opened.
 */
export const EXTRA_SESSION_IDLE_MS = 2000;

/**
 * How long an extra session (any but the first) stays open after its last call, by default. Long
 * enough that the next sync of an account that is busy (a resident daemon hearing one change after
 * another) finds its sessions logged in, instead of paying a TLS handshake and a login for each;
 * short enough that a daemon with many quiet pairs does not hold their extra connections.
 */
export const EXTRA_SESSION_CLOSE_MS = 60_000;

/**
 * How long a pool capped by a session the server would not open stays at the sessions it has before
 * it tries to grow again. The server's limit counts every client of the user (a phone's IDLE, another
 * program's sync), which come and go: a resident daemon's pool must not stay small for good, nor ask
 * a server at its limit on every call.
 */
export const SESSION_CAP_RETRY_MS = 60_000;

/** Codes of a session's refusal that waiting does not mend: the pool is then capped for good. */
const REFUSED_FOR_GOOD = new Set(['AUTH_FAILED', 'CERT_PIN_MISMATCH', 'INSECURE_TRANSPORT']);

/** One session of the pool and what the pool knows of it. */
interface Member {
  readonly session: Session;
  /** The first session: opened at connect, never closed by the pool (its own keep-alive rules it). */
  readonly first: boolean;
  busy: boolean;
  idle: NodeJS.Timeout | undefined;
  /** When its last call ended (`performance.now()`): the session idle longest is taken over first. */
  releasedAt: number;
}

/** A call waiting for a session: for its folder (affinity), or for one session only. */
interface Waiter {
  readonly folder: string | undefined;
  readonly only: Member | undefined;
  resolve(member: Member): void;
  reject(err: unknown): void;
}

/** A session lent to one call; {@link release} gives it back (once). */
export interface Lease {
  readonly session: Session;
  release(): void;
}

/**
 * Up to `max` IMAP sessions to one account, each lent to one call at a time. A call names the folder it
 * works on; it gets the session that has that folder selected (waiting for it when it is busy, since
 * that folder's own calls come one after the other), else a free one (one with no folder selected
 * first), else a new one while under the bound, else it waits. So a folder stays selected on its
 * session, no call's commands queue behind another folder's, and a session that drops or stalls
 * takes only its own call with it. A session that cannot be opened (the server's limit of
 * connections per user, most likely) caps the pool at the sessions it has, for
 * {@link SESSION_CAP_RETRY_MS}; a refused login caps it for good.
 */
export class SessionPool {
  readonly #members: Member[];
  readonly #open: () => Promise<Session>;
  readonly #idleMs: number;
  readonly #closeMs: number;
  /** The bound asked for. */
  readonly #limit: number;
  /** The bound now: {@link #limit}, or less while capped. */
  #max: number;
  /** When a session could not be opened (`performance.now()`), capping {@link #max}. */
  #cappedAt = 0;
  /** Set when a session was refused for a reason that does not pass (see {@link REFUSED_FOR_GOOD}). */
  #cappedForGood = false;
  /** Dispatches the calls waiting when the cap ends, so they need not wait for a release. */
  #capEnds: NodeJS.Timeout | undefined;
  #opening = 0;
  readonly #waiting: Waiter[] = [];
  #interrupted = false;
  #closed = false;

  constructor(
    first: Session,
    open: () => Promise<Session>,
    options: { max: number; idleMs?: number; closeMs?: number },
  ) {
    this.#members = [{ session: first, first: true, busy: false, idle: undefined, releasedAt: 0 }];
    this.#open = open;
    this.#limit = Math.max(1, options.max);
    this.#max = this.#limit;
    this.#idleMs = options.idleMs ?? EXTRA_SESSION_IDLE_MS;
    this.#closeMs = options.closeMs ?? EXTRA_SESSION_CLOSE_MS;
  }

  /** The session opened at connect, always in the pool. */
  get first(): Session {
    return this.#members[0]!.session;
  }

  /** How many sessions the pool holds now (open or reopening). */
  get size(): number {
    return this.#members.length;
  }

  /** Set once {@link interrupt} was called. */
  get interrupted(): boolean {
    return this.#interrupted;
  }

  /** A session for a call on `folder` (its name on the server), or on no folder. */
  acquire(folder: string | undefined): Promise<Lease> {
    return this.#enqueue(folder, undefined);
  }

  /**
   * Has every session with a folder selected that `matches` leave it, with `leave`, each while no call
   * is on it: DELETE and RENAME of a folder selected on another session would otherwise close it under
   * that session (Dovecot ends such a session). `except` is the caller's own session, which it leaves
   * itself. A call that selects the folder again meanwhile is the caller's to avoid.
   */
  async leaveEverywhere(
    matches: (selected: string) => boolean,
    leave: (client: ImapFlow) => Promise<void>,
    except?: Session,
  ): Promise<void> {
    const selects = (session: Session) => {
      const selected = selectedOf(session);
      return selected !== undefined && matches(selected);
    };
    const holding = this.#members.filter((m) => m.session !== except && selects(m.session));
    await Promise.all(
      holding.map(async (member) => {
        const lease = await this.#enqueue(undefined, member);
        try {
          if (member.session.usable && selects(member.session)) {
            await leave(member.session.client);
          }
        } catch {
          // A session that could not leave the folder is cut by the server, and reopens for its next call.
        } finally {
          lease.release();
        }
      }),
    );
  }

  #enqueue(folder: string | undefined, only: Member | undefined): Promise<Lease> {
    if (this.#interrupted) return Promise.reject(interruptedError());
    return new Promise<Member>((resolve, reject) => {
      this.#waiting.push({ folder, only, resolve, reject });
      this.#dispatch();
    }).then((member) => this.#lend(member));
  }

  #lend(member: Member): Lease {
    let released = false;
    return {
      session: member.session,
      release: () => {
        if (released) return;
        released = true;
        member.busy = false;
        member.releasedAt = performance.now();
        this.#dispatch();
        this.#armIdle(member);
      },
    };
  }

  /** Gives free sessions to waiting calls, in the order they came, and opens sessions for the rest. */
  #dispatch(): void {
    for (let i = 0; i < this.#waiting.length; ) {
      const waiter = this.#waiting[i]!;
      const member = this.#pick(waiter);
      if (member === 'wait') {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      if (member === 'open') {
        void this.#grow(waiter);
        continue;
      }
      member.busy = true;
      clearTimeout(member.idle);
      member.idle = undefined;
      waiter.resolve(member);
    }
  }

  /** The session for `waiter` now, or whether to open one for it or let it wait. */
  #pick(waiter: Waiter): Member | 'open' | 'wait' {
    if (waiter.only) {
      // A session closed meanwhile has nothing selected any more: its waiter gets it all the same.
      return waiter.only.busy && this.#members.includes(waiter.only) ? 'wait' : waiter.only;
    }
    if (waiter.folder !== undefined) {
      const own = this.#members.filter((m) => selectedOf(m.session) === waiter.folder);
      const free = own.find((m) => !m.busy);
      if (free) return free;
      // Its session comes back soon (that folder's calls run one after the other): taking another
      // would select the folder on two sessions and flip the other session's folder.
      if (own.length > 0) return 'wait';
    }
    // A free session with no folder selected, else one whose folder no waiting call wants and that has
    // been idle for the idle window, the one idle longest first. A folder whose call has just ended is
    // most likely between two of its calls (listed, now being planned, its bodies read next): taking
    // its session would make its next call wait behind ours, on a server that may stall ours, so a
    // session is opened instead while the bound allows.
    const free = this.#members.filter((m) => !m.busy).sort((a, b) => a.releasedAt - b.releasedAt);
    const wanted = new Set(this.#waiting.map((w) => w.folder));
    const unwanted = (m: Member) => !wanted.has(selectedOf(m.session));
    const now = performance.now();
    if (this.#max < this.#limit && !this.#cappedForGood && now - this.#cappedAt >= SESSION_CAP_RETRY_MS)
      this.#max = this.#limit;
    const pick =
      free.find((m) => selectedOf(m.session) === undefined) ??
      free.find((m) => unwanted(m) && now - m.releasedAt >= this.#idleMs);
    if (pick) return pick;
    if (this.#members.length + this.#opening < this.#max && !this.#closed) return 'open';
    return free.find(unwanted) ?? free[0] ?? 'wait';
  }

  /** Opens one more session for `waiter`; if the server refuses it, the pool stays as large as it is. */
  async #grow(waiter: Waiter): Promise<void> {
    this.#opening++;
    let session: Session;
    try {
      session = await this.#open();
    } catch (err) {
      this.#opening--;
      if (this.#interrupted) {
        waiter.reject(interruptedError());
        return;
      }
      this.#max = Math.max(1, this.#members.length + this.#opening);
      if (REFUSED_FOR_GOOD.has((err as { code?: unknown }).code as string)) {
        // A refused login or certificate does not get better, and servers lock accounts after
        // repeated failures: the pool stays as it is (the sessions it has are logged in).
        this.#cappedForGood = true;
      } else if (!this.#closed) {
        this.#cappedAt = performance.now();
        clearTimeout(this.#capEnds);
        this.#capEnds = setTimeout(() => this.#dispatch(), SESSION_CAP_RETRY_MS);
        this.#capEnds.unref();
      }
      this.#waiting.unshift(waiter);
      this.#dispatch();
      return;
    }
    this.#opening--;
    if (this.#interrupted || this.#closed) {
      session.interrupt();
      waiter.reject(interruptedError());
      return;
    }
    const member: Member = { session, first: false, busy: true, idle: undefined, releasedAt: 0 };
    this.#members.push(member);
    waiter.resolve(member);
  }

  /** Closes an extra session that stays free for the close window ({@link EXTRA_SESSION_CLOSE_MS}). */
  #armIdle(member: Member): void {
    if (member.first || member.busy || this.#closed || !this.#members.includes(member)) return;
    clearTimeout(member.idle);
    member.idle = setTimeout(() => {
      if (member.busy || !this.#members.includes(member)) return;
      this.#members.splice(this.#members.indexOf(member), 1);
      void member.session.close();
      this.#dispatch();
    }, this.#closeMs);
    member.idle.unref();
  }

  /** Cuts every session now (see {@link Session.interrupt}); waiting and later calls reject. */
  interrupt(): void {
    this.#interrupted = true;
    clearTimeout(this.#capEnds);
    for (const waiter of this.#waiting.splice(0)) waiter.reject(interruptedError());
    for (const member of this.#members) {
      clearTimeout(member.idle);
      member.session.interrupt();
    }
  }

  /** Logs every session out. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#capEnds);
    for (const member of this.#members) clearTimeout(member.idle);
    await Promise.all(this.#members.map((m) => m.session.close()));
  }
}

/** The folder a session has selected, by its name on the server. */
function selectedOf(session: Session): string | undefined {
  const mailbox = session.client.mailbox;
  return mailbox ? mailbox.path : undefined;
}
