import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmod, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import type { SyncReport } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ControlServer,
  type ControlTarget,
  connectControl,
  controlSocketPath,
  type PairStatus,
  type SyncReply,
  type SyncRequest,
  serveControl,
} from '../src/control/index.js';
import { lastSyncOf, readLastSync, recordLastSync } from '../src/index.js';

const report: SyncReport = {
  aborted: false,
  folders: [
    {
      key: 'INBOX',
      action: 'synced',
      copied: { toLeft: 0, toRight: 2 },
      moved: { toLeft: 0, toRight: 0 },
      flagged: { left: 0, right: 0 },
      deleted: { left: 0, right: 0 },
      paired: 0,
      conflicts: 0,
      tooLarge: 0,
      tooOld: 0,
      errors: [],
    },
  ],
  plans: [],
  totals: {
    copied: 2,
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

const pairs: PairStatus[] = [
  {
    name: 'work',
    left: 'imap',
    right: 'local',
    state: 'watching',
    since: '2026-12-06T10:00:00.000Z',
    failures: 0,
  },
  {
    name: 'home',
    left: 'gmail',
    right: 'mail',
    state: 'backing-off',
    since: '2026-12-06T10:01:00.000Z',
    failures: 2,
    lastError: { at: '2026-12-06T10:01:00.000Z', message: 'refused', code: 'AUTH_FAILED' },
  },
];

/** A daemon as the control socket sees it: syncs by the script, records what it was asked. */
class StubTarget implements ControlTarget {
  readonly configFile = '/home/me/.config/twinbox/config.toml';
  readonly version = '9.9.9';
  readonly requests: SyncRequest[] = [];
  aborted = false;
  constructor(
    readonly script: (send: (reply: SyncReply) => void, signal: AbortSignal) => Promise<void> = async (
      send,
    ) => {
      send({ type: 'pair-start', pair: 'work', title: 'imap ⇄ local' });
      send({ type: 'event', pair: 'work', event: { type: 'folder-start', key: 'INBOX' } });
      send({ type: 'pair-done', pair: 'work', report, seconds: 0.5 });
    },
  ) {}
  async sync(request: SyncRequest, send: (reply: SyncReply) => void, signal: AbortSignal) {
    this.requests.push(request);
    signal.addEventListener('abort', () => {
      this.aborted = true;
    });
    await this.script(send, signal);
  }
  status() {
    return pairs;
  }
}

let dir: string;
let path: string;
let servers: ControlServer[];

beforeEach(async () => {
  // A short base: a socket path must fit in 108 bytes.
  dir = await mkdtemp(join('/tmp', 'tbx-'));
  path = controlSocketPath(join(dir, 'config.toml'), { XDG_RUNTIME_DIR: dir });
  servers = [];
});

afterEach(async () => {
  for (const s of servers) await s.close();
  await rm(dir, { recursive: true, force: true });
});

async function serve(target: ControlTarget = new StubTarget(), heartbeatMs?: number) {
  const server = await serveControl(target, { path, ...(heartbeatMs ? { heartbeatMs } : {}) });
  servers.push(server);
  return server;
}

/** Sends raw bytes and collects what comes back until the daemon closes the connection. */
async function raw(data: string | Buffer): Promise<{ type: string; message?: string; code?: string }[]> {
  const socket = createConnection(path);
  let text = '';
  socket.on('data', (c) => {
    text += c.toString();
  });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(data);
  await once(socket, 'close');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('controlSocketPath', () => {
  it('is one socket per config, in $XDG_RUNTIME_DIR/twinbox, the same through a symlink', async () => {
    const a = join(dir, 'config.toml');
    await writeFile(a, '');
    await symlink(a, join(dir, 'link.toml'));
    const env = { XDG_RUNTIME_DIR: '/run/user/1000' };
    const p = controlSocketPath(a, env);
    expect(p).toMatch(/^\/run\/user\/1000\/twinbox\/config-[0-9a-f]{12}\.sock$/);
    expect(controlSocketPath(join(dir, 'link.toml'), env)).toBe(p);
    expect(controlSocketPath(join(dir, 'other.toml'), env)).not.toBe(p);
  });

  it('is named by the first 12 hex digits of the SHA-256 of the real path, as in earlier versions', () => {
    // Computed in JavaScript so the CLI need not load node:crypto: the names must stay those
    // node:crypto gave, including for a path outside ASCII.
    for (const file of ['/etc/twinbox.toml', '/home/zoë/.config/twinbox/config.toml', '/tmp/邮件.toml']) {
      const hash = createHash('sha256').update(file).digest('hex').slice(0, 12);
      expect(controlSocketPath(file, { XDG_RUNTIME_DIR: '/run/user/1000' })).toMatch(
        new RegExp(`/twinbox/[^/]*-?${hash}\\.sock$`),
      );
    }
  });

  it('without XDG_RUNTIME_DIR, a directory of the uid under the temporary directory', () => {
    expect(controlSocketPath('/etc/twinbox.toml', { TMPDIR: '/var/tmp' })).toMatch(
      new RegExp(`^/var/tmp/twinbox-${process.getuid!()}/twinbox-[0-9a-f]{12}\\.sock$`),
    );
  });

  it('fits the 108 bytes of a Unix socket path: drops the name, then refuses, saying what to do', () => {
    const long = `/${'d'.repeat(70)}`;
    const p = controlSocketPath(`/etc/${'n'.repeat(60)}.toml`, { XDG_RUNTIME_DIR: long });
    expect(Buffer.byteLength(p)).toBeLessThanOrEqual(107);
    expect(p).toMatch(/\/twinbox\/[0-9a-f]{12}\.sock$/);
    expect(() => controlSocketPath('/etc/t.toml', { XDG_RUNTIME_DIR: `/${'d'.repeat(100)}` })).toThrow(
      /too long for a control socket.*XDG_RUNTIME_DIR/,
    );
  });
});

describe('the control socket', () => {
  it('round trip: hello, a sync with its replies in order and end, then the status', async () => {
    const target = new StubTarget();
    await serve(target);
    const client = await connectControl(path);
    expect(client?.hello).toMatchObject({
      type: 'hello',
      protocol: 1,
      version: '9.9.9',
      pid: process.pid,
      config: target.configFile,
    });
    const replies: SyncReply[] = [];
    await client!.sync({ pairs: ['work'], folders: ['INBOX'], dryRun: true }, (r) => replies.push(r));
    expect(target.requests).toEqual([{ op: 'sync', pairs: ['work'], folders: ['INBOX'], dryRun: true }]);
    expect(replies.map((r) => r.type)).toEqual(['pair-start', 'event', 'pair-done']);
    expect(replies[2]).toEqual({ type: 'pair-done', pair: 'work', report, seconds: 0.5 });
    expect(await client!.status()).toEqual(pairs);
    client!.close();
  });

  it('sends only the events a client asks for; every event without the field, as before it existed', async () => {
    const folderDone = { type: 'folder-done' as const, key: 'INBOX', report: report.folders[0]! };
    const target = new StubTarget(async (send) => {
      send({ type: 'pair-start', pair: 'work', title: 'imap ⇄ local' });
      send({ type: 'event', pair: 'work', event: { type: 'folder-start', key: 'INBOX' } });
      send({
        type: 'event',
        pair: 'work',
        event: { type: 'copied', key: 'INBOX', to: 'right', count: 1, bytes: 9 },
      });
      send({ type: 'event', pair: 'work', event: folderDone });
      send({ type: 'pair-done', pair: 'work', report, seconds: 0.5 });
    });
    await serve(target);
    const client = await connectControl(path);
    const seen = async (request: Omit<SyncRequest, 'op'>) => {
      const replies: SyncReply[] = [];
      await client!.sync(request, (r) => replies.push(r));
      return replies.map((r) => (r.type === 'event' ? r.event.type : r.type));
    };
    expect(await seen({ pairs: [] })).toEqual([
      'pair-start',
      'folder-start',
      'copied',
      'folder-done',
      'pair-done',
    ]);
    expect(await seen({ pairs: [], events: 'all' })).toHaveLength(5);
    expect(await seen({ pairs: [], events: 'folders' })).toEqual(['pair-start', 'folder-done', 'pair-done']);
    expect(await seen({ pairs: [], events: 'none' })).toEqual(['pair-start', 'pair-done']);
    // The target is told what was asked (a daemon may then not make the events at all).
    expect(target.requests.map((r) => r.events)).toEqual([undefined, 'all', 'folders', 'none']);
    client!.close();
    expect((await raw('{"op":"sync","pairs":[],"events":"some"}\n')).at(-1)).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/events must be one of all, folders, none/),
    });
  });

  it('makes the socket 0600 in a 0700 directory, and removes it on close', async () => {
    const server = await serve();
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o700);
    expect((await lstat(path)).mode & 0o777).toBe(0o600);
    await server.close();
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await connectControl(path)).toBeUndefined();
  });

  it('refuses a socket directory others can enter, on both ends', async () => {
    await mkdir(dirname(path), { mode: 0o755 });
    await chmod(dirname(path), 0o755);
    await expect(serve()).rejects.toThrow(/open to others \(mode 755\).*chmod 700/);
    await expect(connectControl(path)).rejects.toThrow(/open to others/);
  });

  it('replaces a stale socket, left by a daemon that was killed', async () => {
    await mkdir(dirname(path), { mode: 0o700, recursive: true });
    const child = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await once(child, 'exit');
    expect((await lstat(path)).isSocket()).toBe(true);
    expect(await connectControl(path)).toBeUndefined();
    await serve();
    const client = await connectControl(path);
    expect(client?.hello.pid).toBe(process.pid);
    client!.close();
  });

  it('refuses to serve where a live daemon serves, naming its pid', async () => {
    await serve();
    await expect(serveControl(new StubTarget(), { path })).rejects.toThrow(
      new RegExp(`another twinboxd \\(pid ${process.pid}\\) serves .*config\\.toml.*stop it first`),
    );
    // The first one still serves.
    const client = await connectControl(path);
    expect(await client!.status()).toHaveLength(2);
    client!.close();
  });

  it('answers garbage with an error and ends that connection, and goes on serving', async () => {
    await serve();
    expect(await raw('this is not json\n')).toEqual([
      expect.objectContaining({ type: 'hello' }),
      expect.objectContaining({
        type: 'error',
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/not JSON/),
      }),
    ]);
    expect((await raw('{"op":"reboot"}\n')).at(-1)).toMatchObject({
      message: expect.stringMatching(/unknown op/),
    });
    expect((await raw('{"op":"sync","pairs":"work"}\n')).at(-1)).toMatchObject({ code: 'BAD_REQUEST' });
    expect((await raw('[1,2]\n')).at(-1)).toMatchObject({ code: 'BAD_REQUEST' });
    // 2 MiB without a line break: cut at 1 MiB, not buffered.
    expect((await raw(Buffer.alloc(2 * 1024 * 1024, 0x61))).at(-1)).toMatchObject({
      type: 'error',
      message: expect.stringMatching(/longer than 1048576 bytes/),
    });
    const client = await connectControl(path);
    expect(await client!.status()).toHaveLength(2);
    client!.close();
  });

  it('rejects a sync of a pair it does not have, and passes on a failed sync with its code', async () => {
    const target = new StubTarget(async () => {
      throw Object.assign(new Error('the state is locked'), { code: 'STATE_LOCKED' });
    });
    await serve(target);
    const client = await connectControl(path);
    await expect(client!.sync({ pairs: ['nope'] }, () => {})).rejects.toMatchObject({
      code: 'UNKNOWN_PAIR',
      message: expect.stringMatching(/no pair named "nope" \(pairs: work, home\)/),
    });
    expect(target.requests).toEqual([]);
    const again = await connectControl(path);
    await expect(again!.sync({ pairs: [] }, () => {})).rejects.toMatchObject({
      code: 'STATE_LOCKED',
      message: 'the state is locked',
    });
  });

  it('resolves to undefined at once when no daemon is there', async () => {
    const started = performance.now();
    expect(await connectControl(path)).toBeUndefined(); // no directory
    await mkdir(dirname(path), { mode: 0o700 });
    expect(await connectControl(path)).toBeUndefined(); // no socket
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('gives up on a listener that never says hello', async () => {
    await mkdir(dirname(path), { mode: 0o700 });
    const mute: Server = createServer(() => {});
    await new Promise<void>((r) => mute.listen(path, r));
    try {
      await expect(connectControl(path, { timeoutMs: 200 })).rejects.toThrow(/did not answer within 200 ms/);
    } finally {
      mute.close();
    }
  });

  it('rejects a sync after a deadline when the daemon stops answering; heartbeats keep a slow one alive', async () => {
    let release!: () => void;
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    // Heartbeats every 10 s: as good as none within the client's 300 ms.
    await serve(new StubTarget(() => stuck), 10_000);
    const client = await connectControl(path, { idleTimeoutMs: 300 });
    const started = performance.now();
    await expect(client!.sync({ pairs: [] }, () => {})).rejects.toMatchObject({
      code: 'DAEMON_STUCK',
      message: expect.stringMatching(/sent nothing for 300 ms; it may be stuck/),
    });
    expect(performance.now() - started).toBeLessThan(2000);
    release();
    await servers.pop()!.close();

    const slow = new StubTarget(async (send) => {
      await new Promise((r) => setTimeout(r, 900));
      send({ type: 'pair-start', pair: 'work', title: 'a ⇄ b' });
    });
    await serve(slow, 50);
    const patient = await connectControl(path, { idleTimeoutMs: 300 });
    const replies: SyncReply[] = [];
    await patient!.sync({ pairs: [] }, (r) => replies.push(r));
    expect(replies).toEqual([{ type: 'pair-start', pair: 'work', title: 'a ⇄ b' }]);
    patient!.close();
  });

  it('a client that stops waiting rejects with AbortError, and the daemon sees its signal abort', async () => {
    const target = new StubTarget(
      (_send, signal) => new Promise((r) => signal.addEventListener('abort', () => r())),
    );
    await serve(target);
    const client = await connectControl(path);
    const controller = new AbortController();
    const pending = client!.sync({ pairs: [] }, () => {}, controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect.poll(() => target.aborted).toBe(true);
  });

  it('rejects a sync in flight when the daemon goes away', async () => {
    const server = await serve(new StubTarget(() => new Promise(() => {})));
    const client = await connectControl(path);
    const pending = client!.sync({ pairs: [] }, () => {});
    setTimeout(() => void server.close(), 50);
    await expect(pending).rejects.toThrow(/closed the connection/);
  });
});

describe('LastSync', () => {
  it('is written next to the state and read back', async () => {
    const state = join(dir, 'work.sqlite');
    expect(await readLastSync(state)).toBeUndefined();
    await recordLastSync(state, report, 1.5);
    expect(await readLastSync(state)).toMatchObject({
      seconds: 1.5,
      aborted: false,
      totals: report.totals,
      folders: [{ key: 'INBOX', action: 'synced', errors: 0 }],
    });
    expect((await stat(`${state}.last.json`)).mode & 0o777).toBe(0o600);
    expect(lastSyncOf(report, 2, new Date(0)).finishedAt).toBe('1970-01-01T00:00:00.000Z');
  });
});
