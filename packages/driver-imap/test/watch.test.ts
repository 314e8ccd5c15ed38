import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChangeNotice } from '@twinbox/core';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { FaultProxy } from '@twinbox/test-fake-imap';
import type { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ImapAccountOptions, ImapDriver, type ImapDriverOptions, openImap } from '../src/index.js';
import { freshAccount, mail } from './helpers.js';

/** Pushes must arrive this fast (Dovecot reports a folder other than the selected one after ~0.5 s). */
const PUSH_MS = 2000;

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => undefined);
});

async function driverFor(options: ImapDriverOptions): Promise<ImapDriver> {
  const driver = await ImapDriver.connect(options);
  open.push(driver);
  return driver;
}

async function other(account: ImapAccountOptions): Promise<ImapFlow> {
  const client = await openImap(account);
  open.push({ close: () => client.logout() });
  return client;
}

/** `nextChange`, failing the test if nothing comes within `ms`. */
async function within(driver: ImapDriver, ms = PUSH_MS): Promise<ChangeNotice> {
  const started = Date.now();
  const notice = await driver.nextChange(AbortSignal.timeout(ms));
  expect(Date.now() - started).toBeLessThanOrEqual(ms);
  return notice;
}

/** Notices until one names `folder` (or says `all`), all within `ms`. */
async function noticeFor(driver: ImapDriver, folder: string, ms = PUSH_MS): Promise<ChangeNotice> {
  const deadline = Date.now() + ms;
  for (;;) {
    const notice = await driver.nextChange(AbortSignal.timeout(Math.max(1, deadline - Date.now())));
    if (notice.all || notice.folders.some((f) => f.join('/') === folder)) return notice;
  }
}

/** What `nextChange` says within `ms`: a notice, or `nothing` when the wait timed out. */
async function quietFor(driver: ImapDriver, ms: number): Promise<ChangeNotice | 'nothing'> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try {
    return await driver.nextChange(controller.signal);
  } catch (err) {
    if ((err as { code?: string }).code === 'ABORTED') return 'nothing';
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Every notice the driver gives within `ms`, in order. */
async function noticesFor(driver: ImapDriver, ms: number): Promise<ChangeNotice[]> {
  const notices: ChangeNotice[] = [];
  const until = Date.now() + ms;
  for (;;) {
    const left = until - Date.now();
    if (left <= 0) return notices;
    const notice = await quietFor(driver, left);
    if (notice === 'nothing') return notices;
    notices.push(notice);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The time from each of `count` APPENDs to `folder` by `writer` until the notice naming it, in ms,
 * sorted. The appends are spaced at random so that they do not fall into step with a timer.
 */
async function pushTimes(driver: ImapDriver, writer: ImapFlow, folder: string, count: number) {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    await sleep(200 + Math.random() * 300);
    await driver.nextChange(AbortSignal.timeout(1)).catch(() => undefined);
    const started = Date.now();
    const noticed = noticeFor(driver, folder);
    await writer.append(folder, mail(`push ${i}`).body);
    expect(await noticed).toEqual({ folders: [[folder]], all: false });
    times.push(Date.now() - started);
  }
  return times.sort((a, b) => a - b);
}

/** Under Dovecot's own delay (0.5 s): only a NOOP can have made the server report this soon. */
const POLLED_MS = 400;

describe('watch with NOTIFY (the Dovecot fixture offers it)', () => {
  async function watching(folders: string[] = [], options: Partial<ImapDriverOptions> = {}) {
    const account = await freshAccount();
    const writer = await other(account);
    for (const f of folders) await writer.mailboxCreate(f);
    const driver = await driverFor({ ...account, ...options });
    const status = await driver.watch({ folders: 'all' });
    return { account, writer, driver, status };
  }

  it('watches every folder on one connection of its own', async () => {
    const { driver, status } = await watching();
    expect(status).toEqual({ method: 'notify', watched: 'all', unwatched: [], connections: 1 });
    // The sync's session is not the watch's: it still answers while the watch idles.
    expect((await driver.listMessages(['INBOX'], {})).kind).toBe('full');
  });

  it('reports a message appended by another client, in INBOX and in another folder', async () => {
    const { writer, driver } = await watching(['Box']);
    await writer.append('Box', mail('box').body);
    expect(await within(driver)).toEqual({ folders: [['Box']], all: false });
    await writer.append('INBOX', mail('inbox').body);
    expect(await within(driver)).toEqual({ folders: [['INBOX']], all: false });
  });

  it('reports a flag change and an expunge', async () => {
    const { writer, driver } = await watching(['Flags']);
    await writer.append('Flags', mail('f').body);
    await writer.append('INBOX', mail('i').body);
    await noticeFor(driver, 'Flags');
    await sleep(700);
    await driver.nextChange(AbortSignal.timeout(10)).catch(() => undefined);

    const lock = await writer.getMailboxLock('Flags');
    try {
      await writer.messageFlagsAdd('1:*', ['\\Flagged']);
      expect(await within(driver)).toEqual({ folders: [['Flags']], all: false });
      await writer.messageDelete('1:*');
      expect(await within(driver)).toEqual({ folders: [['Flags']], all: false });
    } finally {
      lock.release();
    }
    // In INBOX, the folder the watch connection has selected, a keyword comes as a FETCH.
    const inbox = await writer.getMailboxLock('INBOX');
    try {
      await writer.messageFlagsAdd('1:*', ['$Watched']);
      expect(await noticeFor(driver, 'INBOX')).toEqual({ folders: [['INBOX']], all: false });
    } finally {
      inbox.release();
    }
  });

  it('says all when a folder is created, renamed or deleted', async () => {
    const { writer, driver } = await watching();
    await writer.mailboxCreate('New');
    expect(await within(driver)).toEqual({ folders: [], all: true });
    await writer.mailboxRename('New', 'Renamed');
    expect((await within(driver)).all).toBe(true);
    await writer.mailboxDelete('Renamed');
    expect((await within(driver)).all).toBe(true);
  });

  it('coalesces the changes of two folders made before the call into one notice', async () => {
    const { writer, driver } = await watching(['One', 'Two']);
    await writer.append('One', mail('one').body);
    await writer.append('Two', mail('two').body);
    await writer.append('Two', mail('two again').body);
    // Both folders' STATUS come within about 0.5 s; none is taken before the call.
    await sleep(PUSH_MS);
    const notice = await driver.nextChange();
    expect(notice.all).toBe(false);
    expect(notice.folders.map((f) => f.join('/')).sort()).toEqual(['One', 'Two']);
    expect(await quietFor(driver, 800)).toBe('nothing');
  });

  it('aborts a waiting call with ABORTED, keeping what comes later for the next call', async () => {
    const { writer, driver } = await watching(['Later']);
    const controller = new AbortController();
    const waiting = driver.nextChange(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'StoreError', code: 'ABORTED' });
    await expect(driver.nextChange(AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
    await writer.append('Later', mail('later').body);
    expect(await within(driver)).toEqual({ folders: [['Later']], all: false });
  });

  it('takes one call at a time', async () => {
    const { driver } = await watching();
    const first = driver.nextChange().catch((e: unknown) => e);
    await expect(driver.nextChange()).rejects.toMatchObject({ code: 'WATCH_BUSY' });
    await driver.unwatch();
    expect(await first).toMatchObject({ code: 'WATCH_STOPPED' });
  });

  it('unwatch and close reject a waiting call with WATCH_STOPPED, and a later one too', async () => {
    const { driver } = await watching();
    const waiting = driver.nextChange().catch((e: unknown) => e);
    await driver.unwatch();
    expect(await waiting).toMatchObject({ name: 'StoreError', code: 'WATCH_STOPPED' });
    await expect(driver.nextChange()).rejects.toMatchObject({ code: 'WATCH_STOPPED' });
    await driver.unwatch(); // idempotent

    await driver.watch({ folders: [['INBOX']] });
    const again = driver.nextChange().catch((e: unknown) => e);
    await driver.close();
    expect(await again).toMatchObject({ code: 'WATCH_STOPPED' });
  });

  it('asks with a NOOP every watchPollMs, so a change is reported sooner than Dovecot tells it', async () => {
    // A short poll, so that the median of five is well under Dovecot's 0.5 s even on a busy machine.
    const { writer, driver } = await watching(['Polled'], { watchPollMs: 100 });
    for (const folder of ['Polled', 'INBOX']) {
      const times = await pushTimes(driver, writer, folder, 5);
      expect(times[2], `${folder}: ${times.join(', ')} ms`).toBeLessThan(POLLED_MS);
    }
  });

  it('with watchPollMs 0 sends no NOOP: the notice comes when Dovecot tells it, 0.5 s after', async () => {
    const { writer, driver } = await watching([], { watchPollMs: 0 });
    const times = await pushTimes(driver, writer, 'INBOX', 3);
    expect(times[0], times.join(', ')).toBeGreaterThanOrEqual(POLLED_MS);
  });

  it('refuses a watchPollMs below 0', async () => {
    const driver = await driverFor({ ...(await freshAccount()), watchPollMs: -1 });
    await expect(driver.watch({ folders: 'all' })).rejects.toMatchObject({
      name: 'StoreError',
      code: 'WATCH_BAD_REQUEST',
      message: expect.stringMatching(/watchPollMs.*-1/),
    });
  });

  it('rejects nextChange before any watch', async () => {
    const driver = await driverFor(await freshAccount());
    await expect(driver.nextChange()).rejects.toMatchObject({ code: 'WATCH_STOPPED' });
  });
});

describe('a watch connection that drops', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await FaultProxy.start({ host: '127.0.0.1', port: dovecot().port });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  async function throughProxy() {
    const { user, password } = await newUser();
    const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
    const direct = await other({ ...account, port: dovecot().port });
    const driver = await driverFor({ ...account, reconnect: { initialDelayMs: 50 } });
    return { account, direct, driver, user, password };
  }

  it('is restored after a server restart, with an all notice, and reports changes again', async () => {
    const { direct, driver } = await throughProxy();
    await direct.mailboxCreate('After');
    await driver.watch({ folders: 'all' });
    proxy.restart(500);
    // Nothing rejects while it is down; once back (1 s backoff, jittered), `all` covers the gap.
    expect(await within(driver, 4000)).toEqual({ folders: [], all: true });
    await direct.append('After', mail('after').body);
    expect(await noticeFor(driver, 'After')).toEqual({ folders: [['After']], all: false });
    // The sync's session dropped too, and reopens on its next call.
    expect((await driver.listMessages(['After'], {})).kind).toBe('full');
  });

  it('is given up when a NOOP is not answered within timeoutMs, then restored with an all notice', async () => {
    const { user, password } = await newUser();
    const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
    const direct = await other({ ...account, port: dovecot().port });
    await direct.mailboxCreate('Stalled');
    const driver = await driverFor({
      ...account,
      timeoutMs: 1000,
      watchPollMs: 200,
      reconnect: { initialDelayMs: 50 },
    });
    await driver.watch({ folders: 'all' });
    // The next bytes any client sends through the proxy (the watch's DONE before its NOOP) go nowhere,
    // and the connection stays open: only the NOOP's deadline can notice.
    proxy.arm({ kind: 'stall', direction: 'up', afterBytes: 0 });
    // 0.2 s to the NOOP, 1 s for its answer, up to 1 s of backoff, the new connection's set-up.
    expect(await within(driver, 4000)).toEqual({ folders: [], all: true });
    expect(proxy.fired).toBe(true);
    await direct.append('Stalled', mail('after the stall').body);
    expect(await noticeFor(driver, 'Stalled')).toEqual({ folders: [['Stalled']], all: false });
  });

  it('that cannot be restored (the login is refused) rejects nextChange with the error', async () => {
    const { account, driver, user, password } = await throughProxy();
    await driver.watch({ folders: 'all' });
    const waiting = driver.nextChange();
    // The password changes on the server, then the connection drops.
    const file = join(dovecot().usersDir, user);
    await writeFile(file, `${user}:{PLAIN}changed-${password}:::\n`);
    // Dovecot rereads a passwd-file whose mtime changed: not so within the second the user was made.
    const later = new Date(Date.now() + 5000);
    await utimes(file, later, later);
    // It checks the file at most once a second: wait until the old password is refused.
    for (let tries = 0; ; tries++) {
      const refused = await openImap({ ...account, port: dovecot().port }).then(
        (c) => {
          c.close();
          return false;
        },
        () => true,
      );
      if (refused) break;
      expect(tries).toBeLessThan(50);
      await sleep(100);
    }
    proxy.restart(0);
    const err = await waiting.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toMatchObject({ name: 'StoreError', code: 'AUTH_FAILED' });
    expect(err?.message).toMatch(/could not be restored.*sync on a timer/);
    expect(err?.message).not.toContain(password);
    await expect(driver.nextChange()).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });
});

describe('the sync session of a driver kept open between syncs', () => {
  it('reconnects on the next call after the server closed the idle session', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: dovecot().port });
    open.push({ close: () => proxy.stop() });
    const { user, password } = await newUser();
    const driver = await driverFor({
      host: '127.0.0.1',
      port: proxy.port,
      tls: 'none',
      user,
      password,
      reconnect: { initialDelayMs: 100 },
    });
    await driver.createFolder(['Kept']);
    const [stored] = await driver.appendMessages(['Kept'], [{ body: mail('kept').body, flags: [] }]);
    expect(stored?.ok).toBe(true);
    // Between two syncs: the connection is cut and the server is away for a moment, with no call
    // in flight to notice it.
    proxy.restart(300);
    await sleep(600);
    const listing = await driver.listMessages(['Kept'], {});
    expect(listing.kind === 'full' && listing.messages.length).toBe(1);
  });
});

describe('watch with IDLE (a Dovecot that does not offer NOTIFY)', () => {
  const WITHOUT_NOTIFY =
    'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE';
  let server: DovecotServer;
  beforeAll(async () => {
    server = await startDovecot({ extraConfig: WITHOUT_NOTIFY });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function account(watchConnections?: number): Promise<ImapDriverOptions> {
    const { user, password } = await server.addUser();
    const { info } = server;
    return {
      host: 'localhost',
      port: info.tlsPort,
      tls: 'implicit',
      ca: info.ca,
      user,
      password,
      ...(watchConnections === undefined ? {} : { watchConnections }),
    };
  }

  it('idles on one connection per folder, INBOX first, up to the cap; the rest are unwatched', async () => {
    const options = await account();
    const writer = await other(options);
    expect(writer.capabilities.has('NOTIFY')).toBe(false);
    for (const f of ['A', 'B', 'C']) await writer.mailboxCreate(f);
    const driver = await driverFor(options);
    const status = await driver.watch({
      folders: [['A'], ['Missing'], ['INBOX'], ['B'], ['C']],
      maxConnections: 3,
    });
    expect(status).toEqual({
      method: 'idle',
      watched: [['INBOX'], ['A'], ['B']],
      unwatched: [['Missing'], ['C']],
      connections: 3,
    });
    await writer.append('A', mail('a').body);
    expect(await within(driver)).toEqual({ folders: [['A']], all: false });
    await writer.append('INBOX', mail('i').body);
    expect(await within(driver)).toEqual({ folders: [['INBOX']], all: false });
    const lock = await writer.getMailboxLock('B');
    try {
      await writer.append('B', mail('b').body);
      expect(await within(driver)).toEqual({ folders: [['B']], all: false });
      await writer.messageFlagsAdd('1:*', ['\\Seen']);
      expect(await within(driver)).toEqual({ folders: [['B']], all: false });
      await writer.messageDelete('1:*');
      expect(await within(driver)).toEqual({ folders: [['B']], all: false });
    } finally {
      lock.release();
    }
    // C is over the cap: a change there is not pushed. (B may still report the tail of its expunge:
    // the STORE and the EXPUNGE can reach the watch in two rounds.)
    await writer.append('C', mail('c').body);
    const late = await noticesFor(driver, 1500);
    expect(late.filter((n) => n.all || n.folders.some((f) => f.join('/') !== 'B'))).toEqual([]);
  });

  it('asks with a NOOP every watchPollMs under IDLE too', async () => {
    const options = await account();
    const writer = await other(options);
    await writer.mailboxCreate('Polled');
    const driver = await driverFor({ ...options, watchPollMs: 100 });
    await driver.watch({ folders: [['Polled']] });
    const times = await pushTimes(driver, writer, 'Polled', 5);
    expect(times[2], times.join(', ')).toBeLessThan(POLLED_MS);
  });

  it('watches every folder listed now, up to watchConnections by default', async () => {
    const options = await account(2);
    const writer = await other(options);
    await writer.mailboxCreate('Z');
    const driver = await driverFor(options);
    const status = await driver.watch({ folders: 'all' });
    expect(status.method).toBe('idle');
    expect(status.connections).toBe(2);
    expect((status.watched as string[][])[0]).toEqual(['INBOX']);
    // Dovecot's fixture makes Drafts, Sent, Trash, Junk: with Z, four folders are left over.
    expect(status.unwatched).toHaveLength(4);
    await writer.append('INBOX', mail('i').body);
    expect(await within(driver)).toEqual({ folders: [['INBOX']], all: false });
  });
});
