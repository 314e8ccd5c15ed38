import { Controller } from '@twinbox/controller';
import { type SyncReport, sync } from '@twinbox/core';
import { MemoryDriver, MemoryStore } from '@twinbox/core/testing';
import { MemoryState } from '@twinbox/state-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { type MetricsServer, serveMetrics } from '../src/http.js';
import { type DaemonHealth, DaemonMetrics } from '../src/metrics.js';

const INBOX = ['INBOX'];
const SECRET = 'hunter2-from-the-server';

function body(token: string): Uint8Array {
  return new TextEncoder().encode(
    `Message-ID: <${token}@twinbox.test>\r\nSubject: ${token}\r\n\r\n${token}\r\n`,
  );
}

/**
 * Two in-memory stores synced by the real engine, controllers and state: the reports the metrics are fed
 * are the engine's own. The right store fails the writes the test asks it to, with a server text that
 * must never reach the metrics.
 */
function pair() {
  const stores = { left: new MemoryStore(), right: new MemoryStore() };
  const state = new MemoryState();
  let failAppends = 0;
  const right = new MemoryDriver(stores.right, {
    faults: {
      message(point) {
        if (point.op === 'appendMessages' && failAppends > 0) {
          failAppends--;
          throw Object.assign(new Error(`NO [OVERQUOTA] ${SECRET}`), { code: 'MESSAGE_OVERQUOTA' });
        }
      },
    },
  });
  const controllers = {
    left: new Controller({ side: 'left', state, driver: new MemoryDriver(stores.left) }),
    right: new Controller({ side: 'right', state, driver: right }),
  };
  return {
    stores,
    failNextAppends(n: number) {
      failAppends = n;
    },
    sync: (): Promise<SyncReport> => sync(controllers.left, controllers.right),
  };
}

/** The samples of a Prometheus text exposition: name, labels, value. */
function parse(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = parse(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function scrape(url: string): Promise<string> {
  const res = await fetch(new URL('metrics', url));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
}

describe('DaemonMetrics over /metrics', () => {
  it('counts what real syncs applied, in the right direction, and their errors', async () => {
    let now = 1_800_000_000;
    const metrics = new DaemonMetrics({ now: () => now });
    server = await serveMetrics('127.0.0.1:0', { metrics, health: () => metrics.health() });
    const work = pair();
    const pairLabel = { pair: 'work' };
    const l2r = { pair: 'work', direction: 'left-to-right' };
    const r2l = { pair: 'work', direction: 'right-to-left' };

    const before = await scrape(server.url);
    expect(value(before, 'twinbox_messages_copied_total', l2r)).toBeUndefined();
    expect(value(before, 'twinbox_server_connections')).toBe(0);
    // prom-client's default process metrics, under our prefix.
    expect(value(before, 'twinbox_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(before).toContain('# TYPE twinbox_nodejs_eventloop_lag_seconds gauge');
    expect(before).toContain('# HELP twinbox_messages_copied_total Messages copied');

    // First sync: 4 messages only on the left, 2 only on the right.
    for (const t of ['l1', 'l2', 'l3', 'l4']) work.stores.left.addMessage(INBOX, body(t));
    for (const t of ['r1', 'r2']) work.stores.right.addMessage(INBOX, body(t));
    metrics.syncStarted('work', 2);
    metrics.pairState('work', 'syncing');
    const during = await scrape(server.url);
    expect(value(during, 'twinbox_server_connections')).toBe(2);
    expect(value(during, 'twinbox_pair_state', { pair: 'work', state: 'syncing' })).toBe(1);
    expect(value(during, 'twinbox_pair_state', { pair: 'work', state: 'polling' })).toBe(0);
    expect(value(during, 'twinbox_messages_copied_total', l2r)).toBe(0);
    const first = await work.sync();
    expect(first.totals).toMatchObject({ copied: 6, errors: 0 });
    metrics.syncFinished('work', first, 0.02);
    metrics.pairState('work', 'polling');

    const once = await scrape(server.url);
    expect(value(once, 'twinbox_messages_copied_total', l2r)).toBe(4);
    expect(value(once, 'twinbox_messages_copied_total', r2l)).toBe(2);
    expect(value(once, 'twinbox_syncs_total', { pair: 'work', outcome: 'ok' })).toBe(1);
    expect(value(once, 'twinbox_syncs_total', { pair: 'work', outcome: 'partial' })).toBe(0);
    expect(value(once, 'twinbox_last_success_timestamp_seconds', pairLabel)).toBe(1_800_000_000);
    expect(value(once, 'twinbox_sync_duration_seconds_count', pairLabel)).toBe(1);
    expect(value(once, 'twinbox_sync_duration_seconds_bucket', { ...pairLabel, le: '0.01' })).toBe(0);
    expect(value(once, 'twinbox_sync_duration_seconds_bucket', { ...pairLabel, le: '0.025' })).toBe(1);
    expect(value(once, 'twinbox_server_connections')).toBe(0);
    expect(value(once, 'twinbox_pair_state', { pair: 'work', state: 'syncing' })).toBe(0);
    expect(value(once, 'twinbox_pair_state', { pair: 'work', state: 'polling' })).toBe(1);

    // Second sync, each kind of change made a different number of times on each side, so a swapped
    // direction shows: flags changed on 1 message on the left and 2 on the right; 2 deleted on the left
    // and 1 on the right; 2 new on the left, one of which the right fails to store; and the right lists
    // a folder name it refuses.
    const ids = (side: 'left' | 'right') => {
      const store = work.stores[side];
      return new Map(
        store.messages(INBOX).map((m) => [new TextDecoder().decode(m.body).split('\r\n')[1], m.id]),
      );
    };
    const left = ids('left');
    const right = ids('right');
    work.stores.left.setMessageFlags(INBOX, left.get('Subject: l1')!, ['\\Flagged']);
    work.stores.right.setMessageFlags(INBOX, right.get('Subject: l4')!, ['\\Seen']);
    work.stores.right.setMessageFlags(INBOX, right.get('Subject: r1')!, ['\\Seen']);
    work.stores.left.removeMessage(INBOX, left.get('Subject: l3')!);
    work.stores.left.removeMessage(INBOX, left.get('Subject: r2')!);
    work.stores.right.removeMessage(INBOX, right.get('Subject: l2')!);
    for (const t of ['n1', 'n2']) work.stores.left.addMessage(INBOX, body(t));
    work.failNextAppends(1);
    work.stores.right.refusedNames = [`Bad/${SECRET}`];
    now += 60;
    metrics.syncStarted('work', 2);
    const second = await work.sync();
    // The report says what the metrics must show; checked here so a change in the engine's
    // accounting fails this test where it happens rather than as a puzzling metric.
    const inbox = second.folders.find((f) => f.key === 'INBOX')!;
    expect(inbox.copied).toEqual({ toLeft: 0, toRight: 1 });
    expect(inbox.flagged).toEqual({ left: 2, right: 1 });
    expect(inbox.deleted).toEqual({ left: 1, right: 2 });
    expect(second.totals.errors).toBe(2);
    metrics.syncFinished('work', second, 42);

    const twice = await scrape(server.url);
    expect(value(twice, 'twinbox_messages_copied_total', l2r)).toBe(5);
    expect(value(twice, 'twinbox_messages_copied_total', r2l)).toBe(2);
    expect(value(twice, 'twinbox_flag_changes_total', l2r)).toBe(1);
    expect(value(twice, 'twinbox_flag_changes_total', r2l)).toBe(2);
    expect(value(twice, 'twinbox_messages_deleted_total', l2r)).toBe(2);
    expect(value(twice, 'twinbox_messages_deleted_total', r2l)).toBe(1);
    expect(
      value(twice, 'twinbox_errors_total', { pair: 'work', scope: 'message', code: 'MESSAGE_OVERQUOTA' }),
    ).toBe(1);
    expect(
      value(twice, 'twinbox_errors_total', { pair: 'work', scope: 'folder', code: 'FOLDER_NAME_REFUSED' }),
    ).toBe(1);
    expect(value(twice, 'twinbox_syncs_total', { pair: 'work', outcome: 'partial' })).toBe(1);
    expect(value(twice, 'twinbox_syncs_total', { pair: 'work', outcome: 'ok' })).toBe(1);
    // A partial sync is no success: the gauge still says when the first one ended.
    expect(value(twice, 'twinbox_last_success_timestamp_seconds', pairLabel)).toBe(1_800_000_000);
    expect(value(twice, 'twinbox_sync_duration_seconds_count', pairLabel)).toBe(2);
    expect(value(twice, 'twinbox_sync_duration_seconds_sum', pairLabel)).toBeCloseTo(42.02);
    expect(value(twice, 'twinbox_sync_duration_seconds_bucket', { ...pairLabel, le: '30' })).toBe(1);
    expect(value(twice, 'twinbox_sync_duration_seconds_bucket', { ...pairLabel, le: '60' })).toBe(2);
    expect(value(twice, 'twinbox_sync_duration_seconds_bucket', { ...pairLabel, le: '+Inf' })).toBe(2);
    expect(twice).not.toContain(SECRET);
    expect(twice).not.toContain('OVERQUOTA]');
  });

  it('counts a failed sync by its code, sums connections, and drops a removed pair', async () => {
    const metrics = new DaemonMetrics({ defaultMetrics: false, now: () => 1_000 });
    server = await serveMetrics('localhost:0', { metrics, health: () => metrics.health() });
    metrics.watching('work', 'left', 12, 1);
    metrics.watching('work', 'right', 3, 2);
    metrics.watching('home', 'left', 5, 1);
    metrics.syncStarted('home', 1);
    metrics.pairState('home', 'syncing');
    let text = await scrape(server.url);
    expect(value(text, 'twinbox_server_connections')).toBe(5);
    metrics.sessionsOpen('home', 2);
    expect(value(await scrape(server.url), 'twinbox_server_connections')).toBe(7);
    metrics.sessionsOpen('home', 0);
    expect(value(text, 'twinbox_watched_folders', { pair: 'work', side: 'left' })).toBe(12);
    expect(value(text, 'twinbox_watched_folders', { pair: 'work', side: 'right' })).toBe(3);

    metrics.syncFailed('home', 'AUTH_FAILED', 0.3);
    metrics.syncFailed('home', undefined);
    metrics.syncFailed('home', `Login failed: ${SECRET}`);
    metrics.pairState('home', 'backing-off');
    text = await scrape(server.url);
    expect(value(text, 'twinbox_server_connections')).toBe(4);
    expect(value(text, 'twinbox_errors_total', { pair: 'home', scope: 'pair', code: 'AUTH_FAILED' })).toBe(1);
    expect(value(text, 'twinbox_errors_total', { pair: 'home', scope: 'pair', code: 'UNKNOWN' })).toBe(1);
    expect(value(text, 'twinbox_errors_total', { pair: 'home', scope: 'pair', code: 'OTHER' })).toBe(1);
    expect(value(text, 'twinbox_syncs_total', { pair: 'home', outcome: 'failed' })).toBe(3);
    // Only the failure that said how long it ran is observed.
    expect(value(text, 'twinbox_sync_duration_seconds_count', { pair: 'home' })).toBe(1);
    expect(value(text, 'twinbox_last_success_timestamp_seconds', { pair: 'home' })).toBeUndefined();
    expect(text).not.toContain(SECRET);

    metrics.pairRemoved('home');
    text = await scrape(server.url);
    expect(parse(text).filter((s) => s.labels.pair === 'home')).toEqual([]);
    expect(parse(text).filter((s) => s.labels.pair === 'work').length).toBeGreaterThan(0);
    expect(value(text, 'twinbox_server_connections')).toBe(3);
    expect(metrics.health().pairs).not.toHaveProperty('home');
  });
});

describe('serveMetrics', () => {
  it.each(['0.0.0.0:9464', '192.168.1.10:9464', '[::]:9464', '[fe80::1]:9464', 'example.com:9464', ':9464'])(
    'refuses the non-loopback address %s, saying why',
    async (address) => {
      const error = await serveMetrics(address, {
        metrics: new DaemonMetrics({ defaultMetrics: false }),
        health: () => ({ ok: true, pairs: {} }),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain(
        'must be on a loopback address (127.0.0.0/8, ::1 or localhost)',
      );
      expect((error as Error).message).toContain('no authentication');
    },
  );

  it.each(['9464', '127.0.0.1', '127.0.0.1:99999', '127.0.0.1:http'])(
    'refuses the malformed address %s',
    async (address) => {
      const error = await serveMetrics(address, {
        metrics: new DaemonMetrics({ defaultMetrics: false }),
        health: () => ({ ok: true, pairs: {} }),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
    },
  );

  it('listens on 127.0.0.2 and [::1] too', async () => {
    const metrics = new DaemonMetrics({ defaultMetrics: false });
    for (const address of ['127.0.0.2:0', '[::1]:0']) {
      const s = await serveMetrics(address, { metrics, health: () => metrics.health() });
      try {
        expect(s.url).toMatch(
          address.startsWith('[') ? /^http:\/\/\[::1\]:\d+\/$/ : /^http:\/\/127\.0\.0\.2:\d+\/$/,
        );
        expect((await fetch(new URL('metrics', s.url))).status).toBe(200);
      } finally {
        await s.close();
      }
    }
  });

  it('names the address when its port is taken', async () => {
    const metrics = new DaemonMetrics({ defaultMetrics: false });
    server = await serveMetrics('127.0.0.1:0', { metrics, health: () => metrics.health() });
    const taken = `127.0.0.1:${new URL(server.url).port}`;
    const error = await serveMetrics(taken, { metrics, health: () => metrics.health() }).catch(
      (e: Error) => e,
    );
    expect((error as Error).message).toContain(`cannot listen on ${taken} (EADDRINUSE)`);
  });

  it('answers /healthz 200 while a pair works and 503 once every pair is failing', async () => {
    const metrics = new DaemonMetrics({ defaultMetrics: false, now: () => 1_000 });
    server = await serveMetrics('127.0.0.1:0', { metrics, health: () => metrics.health() });
    const healthz = async () => {
      const res = await fetch(new URL('healthz', server!.url));
      expect(res.headers.get('content-type')).toBe('application/json');
      return { status: res.status, body: (await res.json()) as DaemonHealth };
    };
    expect(await healthz()).toEqual({ status: 200, body: { ok: true, pairs: {} } });

    metrics.pairState('work', 'polling');
    metrics.syncFinished('work', emptyReport(), 1);
    metrics.syncFailed('home', 'ECONNREFUSED', 2);
    expect(await healthz()).toEqual({
      status: 200,
      body: {
        ok: true,
        pairs: {
          work: { state: 'polling', lastOutcome: 'ok', lastSuccess: 1_000, consecutiveFailures: 0 },
          home: { lastOutcome: 'failed', consecutiveFailures: 1 },
        },
      },
    });

    metrics.pairState('work', 'backing-off');
    metrics.syncFailed('work', 'ECONNREFUSED');
    const down = await healthz();
    expect(down.status).toBe(503);
    expect(down.body.ok).toBe(false);
    expect(down.body.pairs.work).toMatchObject({ lastOutcome: 'failed', consecutiveFailures: 1 });

    // One pair recovering is enough.
    metrics.syncFinished('home', emptyReport(), 1);
    expect((await healthz()).status).toBe(200);
  });

  it("serves only the health fields it knows, and 503 without details when the daemon's check throws", async () => {
    const metrics = new DaemonMetrics({ defaultMetrics: false });
    let health: () => DaemonHealth = () => ({
      ok: true,
      pairs: { work: { consecutiveFailures: 0, error: SECRET } as never },
    });
    server = await serveMetrics('127.0.0.1:0', { metrics, health: () => health() });
    let res = await fetch(new URL('healthz', server.url));
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain(SECRET);

    health = () => {
      throw new Error(SECRET);
    };
    res = await fetch(new URL('healthz', server.url));
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ ok: false, pairs: {} });
    expect(text).not.toContain(SECRET);
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const metrics = new DaemonMetrics({ defaultMetrics: false });
    server = await serveMetrics('127.0.0.1:0', { metrics, health: () => metrics.health() });
    expect((await fetch(new URL('/', server.url))).status).toBe(404);
    expect((await fetch(new URL('/metrics/x', server.url))).status).toBe(404);
    expect((await fetch(new URL('/metrics?debug=1', server.url))).status).toBe(200);
    for (const path of ['metrics', 'healthz']) {
      const res = await fetch(new URL(path, server.url), { method: 'POST', body: 'x' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
    expect((await fetch(new URL('metrics', server.url), { method: 'DELETE' })).status).toBe(405);
    const head = await fetch(new URL('metrics', server.url), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('closes with a keep-alive connection open', async () => {
    const metrics = new DaemonMetrics({ defaultMetrics: false });
    const s = await serveMetrics('127.0.0.1:0', { metrics, health: () => metrics.health() });
    await (await fetch(new URL('metrics', s.url))).text();
    await s.close();
    await expect(fetch(new URL('metrics', s.url))).rejects.toThrow();
  });
});

function emptyReport(): SyncReport {
  return {
    aborted: false,
    folders: [],
    plans: [],
    totals: {
      copied: 0,
      moved: 0,
      flagged: 0,
      deleted: 0,
      paired: 0,
      conflicts: 0,
      tooLarge: 0,
      tooOld: 0,
      errors: 0,
      foldersCreated: 0,
      foldersDeleted: 0,
      foldersRenamed: 0,
    },
  };
}
