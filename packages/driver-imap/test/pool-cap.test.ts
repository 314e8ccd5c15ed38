import { afterEach, describe, expect, it, vi } from 'vitest';
import { SESSION_CAP_RETRY_MS, SessionPool } from '../src/pool.js';
import type { Session } from '../src/session.js';

/** What the pool reads of a session: its selected folder, whether it is usable, close and interrupt. */
const fakeSession = (): Session =>
  ({
    client: { mailbox: false },
    usable: true,
    close: async () => {},
    interrupt: () => {},
  }) as unknown as Session;

afterEach(() => {
  vi.useRealTimers();
});

describe('a pool whose server would not open a session', () => {
  it('stays at the sessions it has for SESSION_CAP_RETRY_MS, then opens more again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let refuse = true;
    let opened = 0;
    const pool = new SessionPool(
      fakeSession(),
      async () => {
        if (refuse) throw new Error('Maximum number of connections from user+IP exceeded');
        opened++;
        return fakeSession();
      },
      { max: 3 },
    );
    const a = await pool.acquire('A');
    // A second folder at once: a new session is asked for, refused, and the call waits for the first.
    let bGot = false;
    const b = pool.acquire('B').then((lease) => {
      bGot = true;
      return lease;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.size).toBe(1);
    expect(bGot).toBe(false);
    a.release();
    const leaseB = await b;
    expect(leaseB.session).toBe(a.session);
    // The server would take one now, but the pool does not ask it before the minute is up.
    refuse = false;
    let cGot = false;
    const c = pool.acquire('C').then((lease) => {
      cGot = true;
      return lease;
    });
    await vi.advanceTimersByTimeAsync(SESSION_CAP_RETRY_MS - 1000);
    expect(cGot).toBe(false);
    expect(opened).toBe(0);
    // Then the waiting call gets a session of its own, without waiting for B's release.
    await vi.advanceTimersByTimeAsync(1000);
    const leaseC = await c;
    expect(opened).toBe(1);
    expect(pool.size).toBe(2);
    expect(leaseC.session).not.toBe(leaseB.session);
    leaseB.release();
    leaseC.release();
    await pool.close();
  });

  it('stays at the sessions it has for good when the server refused the login', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let attempts = 0;
    const pool = new SessionPool(
      fakeSession(),
      async () => {
        attempts++;
        throw Object.assign(new Error('the server refused the login'), { code: 'AUTH_FAILED' });
      },
      { max: 3 },
    );
    const a = await pool.acquire('A');
    const b = pool.acquire('B');
    await vi.advanceTimersByTimeAsync(0);
    expect(attempts).toBe(1);
    a.release();
    const leaseB = await b;
    // Ten minutes later two folders at once still share the one session, and no login was tried again.
    await vi.advanceTimersByTimeAsync(10 * SESSION_CAP_RETRY_MS);
    const c = pool.acquire('C');
    leaseB.release();
    const leaseC = await c;
    expect(leaseC.session).toBe(leaseB.session);
    expect(attempts).toBe(1);
    expect(pool.size).toBe(1);
    leaseC.release();
    await pool.close();
  });
});
