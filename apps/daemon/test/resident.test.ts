import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connectControl, controlSocketPath } from '@twinbox/config/control';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  cleanup,
  eventually,
  maildirIds,
  message,
  sample,
  serverMaildirConfig,
  serverUser,
  startDaemon,
  workDir,
} from './helpers.js';

afterEach(cleanup);

/**
 * A port on loopback whose "server" drops every connection at once, held until the test ends: a port
 * merely bound and released was once handed by the kernel to the daemon's own metrics listener, whose
 * silence the IMAP account then waited out for 20 s per attempt (the greeting timeout).
 */
async function deadPort(): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

async function scrape(url: string): Promise<string> {
  return (await fetch(new URL('metrics', url))).text();
}

describe.each(['threads', 'inline'] as const)('twinboxd resident, workers = %s', (mode) => {
  it('a pair whose server is down backs off and shows it, while the other pair syncs', async () => {
    const dir = await workDir();
    const good = await serverUser();
    for (let i = 0; i < 3; i++) await good.client.append('INBOX', message(`good-${i}`));
    const port = await deadPort();
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      `workers = "${mode}"\n[state]\ndir = "state"\n${good.account('good')}\n` +
        `[accounts.dead]\ntype = "imap"\nhost = "127.0.0.1"\nport = ${port}\ntls = "none"\nuser = "u"\npassword-env = "PW_DEAD"\n` +
        `[accounts.m1]\ntype = "maildir"\npath = "M1"\n[accounts.m2]\ntype = "maildir"\npath = "M2"\n` +
        `[pairs.up]\nleft = "good"\nright = "m1"\n[pairs.down]\nleft = "dead"\nright = "m2"\n`,
    );
    const daemon = startDaemon(['-c', config, '--metrics', '127.0.0.1:0'], {
      PW_GOOD: good.password,
      PW_DEAD: 'not-a-real-password',
    });
    const { url } = (await daemon.waitFor((l) => l.msg === 'serving metrics')) as unknown as { url: string };
    await daemon.waitFor((l) => l.msg === 'synced' && l.pair === 'up');
    expect(await maildirIds(join(dir, 'M1'))).toHaveLength(3);
    const backoff = await daemon.waitFor((l) => l.msg === 'backing off' && l.pair === 'down');
    expect(backoff.ms).toBeGreaterThan(0);
    // It tries again and backs off longer, while "up" goes on.
    await daemon.waitFor(
      (l) => l.msg === 'backing off' && l.pair === 'down' && (l.failures as number) >= 2,
      20_000,
    );
    await good.client.append('INBOX', message('good-late'));

    const text = await scrape(url);
    expect(sample(text, 'twinbox_pair_state', { pair: 'down', state: 'backing-off' })).toBe(1);
    expect(sample(text, 'twinbox_errors_total', { pair: 'down', scope: 'pair' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'twinbox_syncs_total', { pair: 'up', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'twinbox_messages_copied_total', { pair: 'up', direction: 'left-to-right' })).toBe(3);
    const health = (await (await fetch(new URL('healthz', url))).json()) as {
      ok: boolean;
      pairs: Record<string, { state: string }>;
    };
    expect(health.ok).toBe(true);
    expect(health.pairs.down!.state).toBe('backing-off');
    // What `twinbox status` shows, from the control socket.
    const client = await connectControl(controlSocketPath(config));
    const statuses = await client!.status();
    client!.close();
    expect(statuses.find((p) => p.name === 'down')).toMatchObject({
      state: 'backing-off',
      failures: expect.any(Number),
      lastError: { code: expect.any(String) },
      nextAttemptAt: expect.any(String),
    });
    // On failure, what the daemon said went wrong.
    const trouble = JSON.stringify(daemon.lines.filter((l) => (l.level as number) >= 40 || l.errors));
    expect(
      statuses.find((p) => p.name === 'up'),
      trouble,
    ).toMatchObject({
      failures: 0,
      lastSync: { totals: { errors: 0 } },
    });
    expect(JSON.stringify(daemon.lines)).not.toContain(good.password);
    expect(await daemon.stop()).toBe(0);
    await good.client.logout();
  });

  it('killed with SIGKILL in the middle of a large first sync, restarted, ends complete: nothing lost, nothing twice', async () => {
    const dir = await workDir();
    const server = await serverUser();
    const total = 1200;
    // Bodies of a few kB to a few tens of kB, so the first sync lasts long enough to be cut.
    for (let i = 0; i < total; i++)
      await server.client.append(
        'INBOX',
        message(`big-${i}`, 'x'.repeat(2000 + (i % 20) * 1500)),
        i % 3 ? ['\\Seen'] : [],
      );
    const config = join(dir, 'config.toml');
    await writeFile(config, serverMaildirConfig(mode, server));
    const env = { PW_SRV: server.password };
    const first = startDaemon(['-c', config], env);
    await eventually(
      async () => (await maildirIds(join(dir, 'M'))).length >= 100,
      60_000,
      'a first part copied',
    );
    expect(first.lines.find((l) => l.msg === 'synced')).toBeUndefined();
    await first.stop('SIGKILL');
    const part = (await maildirIds(join(dir, 'M'))).length;
    expect(part).toBeLessThan(total);

    const second = startDaemon(['-c', config], env);
    await second.waitFor((l) => l.msg === 'synced', 120_000);
    const ids = await maildirIds(join(dir, 'M'));
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    // Nothing went back up to the server either.
    const status = await server.client.status('INBOX', { messages: true });
    expect((status || undefined)?.messages).toBe(total);
    expect(await second.stop()).toBe(0);
    await server.client.logout();
  });

  it('SIGTERM in the middle of a sync exits 0 within seconds; a second signal exits 130 at once', async () => {
    const dir = await workDir();
    const server = await serverUser();
    const total = 600;
    for (let i = 0; i < total; i++)
      await server.client.append('INBOX', message(`term-${i}`, 'y'.repeat(20_000 + (i % 10) * 2000)));
    const config = join(dir, 'config.toml');
    await writeFile(config, serverMaildirConfig(mode, server));
    const env = { PW_SRV: server.password };
    const first = startDaemon(['-c', config], env);
    await eventually(
      async () => (await maildirIds(join(dir, 'M'))).length >= 50,
      60_000,
      'a first part copied',
    );
    let started = Date.now();
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(8000);
    const copied = (await maildirIds(join(dir, 'M'))).length;
    expect(copied).toBeLessThan(total);

    const second = startDaemon(['-c', config], env);
    await eventually(async () => (await maildirIds(join(dir, 'M'))).length > copied, 60_000, 'more copied');
    started = Date.now();
    second.child.kill('SIGTERM');
    // Apart, so that the kernel does not merge the two into one pending signal.
    await second.waitFor((l) => l.msg?.startsWith('stopping') === true, 5000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(130);
    expect(Date.now() - started).toBeLessThan(3000);

    // Whatever the stops cut, a third run ends with every message once. Its first pass may have
    // nothing to copy (the second run can have copied the rest before its stop), so what is awaited
    // is the pass itself, as the control socket reports it, not a log line about copies.
    const third = startDaemon(['-c', config], env);
    await eventually(
      async () => {
        const control = await connectControl(controlSocketPath(config));
        if (!control) return false;
        try {
          const statuses = await control.status();
          return statuses.some((p) => p.name === 'p' && p.lastSync !== undefined);
        } finally {
          control.close();
        }
      },
      120_000,
      'the third run’s first pass',
    );
    const ids = await maildirIds(join(dir, 'M'));
    expect(ids).toHaveLength(total);
    expect(new Set(ids).size).toBe(total);
    expect(await third.stop()).toBe(0);
    await server.client.logout();
  });

  it('an edit of the config starts a new pair and leaves the running one alone', async () => {
    const dir = await workDir();
    const server = await serverUser();
    await server.client.append('INBOX', message('one'));
    const config = join(dir, 'config.toml');
    const base = `workers = "${mode}"\n[state]\ndir = "state"\n${server.account('srv')}\n[accounts.m]\ntype = "maildir"\npath = "M"\n[accounts.n]\ntype = "maildir"\npath = "N"\n[pairs.p]\nleft = "srv"\nright = "m"\n`;
    await writeFile(config, base);
    const daemon = startDaemon(['-c', config], { PW_SRV: server.password });
    await daemon.waitFor((l) => l.msg === 'synced' && l.pair === 'p');
    await writeFile(config, `${base}[pairs.q]\nleft = "m"\nright = "n"\n`);
    const reloaded = await daemon.waitFor((l) => l.msg === 'config reloaded');
    expect(reloaded).toMatchObject({ added: ['q'], changed: [], removed: [] });
    await daemon.waitFor((l) => l.msg === 'synced' && l.pair === 'q');
    expect(await maildirIds(join(dir, 'N'))).toEqual(['one@twinbox.test']);
    // What is set only at start is said to wait for a restart, and restarts no pair.
    await writeFile(config, `${base}[pairs.q]\nleft = "m"\nright = "n"\n[daemon]\nside-threads = 3\n`);
    const fixed = await daemon.waitFor((l) => l.level === 40 && Array.isArray(l.keys));
    expect(fixed).toMatchObject({ keys: ['daemon.side-threads'], running: { 'daemon.side-threads': 2 } });
    const after = (l: Record<string, unknown>) => daemon.lines.indexOf(l) > daemon.lines.indexOf(fixed);
    expect(await daemon.waitFor((l) => l.msg === 'config reloaded' && after(l))).toMatchObject({
      added: [],
      changed: [],
      removed: [],
    });
    // A broken edit is logged and changes nothing.
    await writeFile(config, `${base}[pairs.q]\nleft = "m"\nright = "nowhere"\n`);
    await daemon.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('the config was not reloaded'));
    daemon.child.kill('SIGHUP');
    await daemon.waitFor((l) => l.msg === 'reloading the config');
    expect(await daemon.stop()).toBe(0);
    await server.client.logout();
  });
});
