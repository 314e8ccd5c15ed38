import { afterEach, describe, expect, it, vi } from 'vitest';
import { QUIET_POLL_MS } from '../src/watch.js';
import { IdleClient, watchOn } from './idle-client.js';

const active = (client: IdleClient, pollMs = 500) =>
  watchOn(client, { pollMs, activeMs: 10_000, quietPollMs: 5_000, account: 'active@test' });

/** NOOPs the client answers while `ms` of (fake) time pass. */
async function noopsIn(client: IdleClient, ms: number): Promise<number> {
  const before = client.noops;
  await vi.advanceTimersByTimeAsync(ms);
  return client.noops - before;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the NOOP poll of an active and of a quiet account', () => {
  it('polls every pollMs while active, only every quietPollMs once quiet, and fast again after a change', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const client = new IdleClient();
    const watch = active(client);
    await watch.watch({ folders: [['INBOX']] });
    // A watch begins active: twice a second.
    expect(await noopsIn(client, 5_000)).toBeGreaterThanOrEqual(9);
    // 10 s after the start the account is quiet: one NOOP per 5 s (the last fast round may end in it).
    await vi.advanceTimersByTimeAsync(6_000);
    const quiet = await noopsIn(client, 30_000);
    expect(quiet).toBeGreaterThanOrEqual(5);
    expect(quiet).toBeLessThanOrEqual(7);
    // The server reports a change (EXISTS while idling): the quiet round is cut short, and the
    // account polls twice a second again.
    client.emit('exists', { path: 'INBOX', count: 1 });
    expect(await noopsIn(client, 600)).toBe(1);
    expect(await noopsIn(client, 5_000)).toBeGreaterThanOrEqual(9);
    expect(await watch.nextChange()).toEqual({ folders: [['INBOX']], all: false });
    await watch.unwatch();
  });

  it('sends no NOOP with pollMs 0, active or quiet', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const client = new IdleClient();
    const watch = active(client, 0);
    await watch.watch({ folders: [['INBOX']] });
    expect(await noopsIn(client, 60_000)).toBe(0);
    client.emit('exists', { path: 'INBOX', count: 1 });
    expect(await noopsIn(client, 60_000)).toBe(0);
    await watch.unwatch();
  });

  it('polls a quiet account every QUIET_POLL_MS (2 s) by default', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const client = new IdleClient();
    const watch = watchOn(client, { pollMs: 500, activeMs: 10_000, account: 'quiet@test' });
    await watch.watch({ folders: [['INBOX']] });
    await vi.advanceTimersByTimeAsync(12_000);
    const quiet = await noopsIn(client, 30_000);
    expect(QUIET_POLL_MS).toBe(2_000);
    expect(quiet).toBeGreaterThanOrEqual(14);
    expect(quiet).toBeLessThanOrEqual(16);
    await watch.unwatch();
  });

  it('never polls a quiet account more often than an active one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const client = new IdleClient();
    const watch = watchOn(client, { pollMs: 10_000, activeMs: 10_000, account: 'slow@test' });
    await watch.watch({ folders: [['INBOX']] });
    await vi.advanceTimersByTimeAsync(20_000);
    const quiet = await noopsIn(client, 60_000);
    expect(quiet).toBeGreaterThanOrEqual(5);
    expect(quiet).toBeLessThanOrEqual(7);
    await watch.unwatch();
  });

  it('refuses a quiet poll of 0 or less, or not a number', async () => {
    for (const quietPollMs of [0, -5, Number.NaN]) {
      const watch = watchOn(new IdleClient(), { pollMs: 500, quietPollMs, account: 'bad@test' });
      await expect(watch.watch({ folders: [['INBOX']] })).rejects.toMatchObject({
        code: 'WATCH_BAD_REQUEST',
        message: expect.stringContaining('watchQuietPollMs'),
      });
    }
  });
});
