import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ControlServer,
  type ControlTarget,
  controlSocketPath,
  type PairStatus,
  type SyncReply,
  type SyncRequest,
  serveControl,
} from '@twinbox/config/control';
import type { FolderPlan, SyncReport } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bin, type RunResult } from './helpers.js';

const folder: SyncReport['folders'][number] = {
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
};

function reportOf(errors = 0, aborted = false): SyncReport {
  const f = errors
    ? { ...folder, errors: [{ scope: 'message' as const, code: 'READ_FAILED', message: 'uid 7: gone' }] }
    : folder;
  return {
    aborted,
    folders: [f],
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
      errors,
      foldersCreated: 0,
      foldersDeleted: 0,
      foldersRenamed: 0,
    },
  };
}

/** Only what the reporters read of a plan: the copies per direction. */
const plan = {
  key: 'INBOX',
  toLeft: { copies: [], flags: [], deletes: [] },
  toRight: { copies: [{}, {}], flags: [], deletes: [] },
} as unknown as FolderPlan;

/** What a pair `work` of the stub does when synced. */
type Script = (send: (reply: SyncReply) => void, signal: AbortSignal) => Promise<void>;

const fine: Script = async (send) => {
  send({ type: 'pair-start', pair: 'work', title: 'imap ⇄ local' });
  send({ type: 'event', pair: 'work', event: { type: 'folder-start', key: 'INBOX' } });
  send({ type: 'event', pair: 'work', event: { type: 'folder-planned', key: 'INBOX', plan } });
  send({
    type: 'event',
    pair: 'work',
    event: { type: 'copied', key: 'INBOX', to: 'right', count: 2, bytes: 900 },
  });
  send({ type: 'event', pair: 'work', event: { type: 'folder-done', key: 'INBOX', report: folder } });
  send({ type: 'pair-done', pair: 'work', report: reportOf(), seconds: 0.5 });
};

const status: PairStatus[] = [
  {
    name: 'work',
    left: 'imap',
    right: 'local',
    state: 'watching',
    since: '2026-12-06T10:00:00.000Z',
    failures: 0,
    lastSync: {
      finishedAt: '2026-12-06T10:00:00.000Z',
      seconds: 0.5,
      aborted: false,
      totals: reportOf().totals,
      folders: [{ key: 'INBOX', action: 'synced', errors: 0 }],
    },
    watch: { left: { method: 'notify', watched: 'all', unwatched: [], connections: 1 } },
  },
  {
    name: 'home',
    left: 'gmail',
    right: 'mail',
    state: 'backing-off',
    since: '2026-12-06T10:01:00.000Z',
    failures: 3,
    lastError: { at: '2026-12-06T10:01:00.000Z', message: 'login refused', code: 'AUTH_FAILED' },
    nextAttemptAt: '2026-12-06T10:05:00.000Z',
  },
];

/** A daemon as the CLI sees it through the socket: the test's own, scripted. */
class StubDaemon implements ControlTarget {
  readonly version = '0.0.0-test';
  readonly requests: SyncRequest[] = [];
  aborted = false;
  constructor(
    readonly configFile: string,
    public script: Script = fine,
  ) {}
  async sync(request: SyncRequest, send: (reply: SyncReply) => void, signal: AbortSignal) {
    this.requests.push(request);
    signal.addEventListener('abort', () => {
      this.aborted = true;
    });
    await this.script(send, signal);
  }
  status() {
    return status;
  }
}

let dir: string;
let config: string;
let env: Record<string, string>;
let stub: StubDaemon;
let server: ControlServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp('/tmp/tbx-cli-');
  config = join(dir, 'config.toml');
  // Not TOML: a CLI that read it would exit 2. Through the daemon it never does.
  await writeFile(config, 'this is [ not toml\n');
  env = { XDG_RUNTIME_DIR: dir, XDG_STATE_HOME: join(dir, 'state') };
  stub = new StubDaemon(config);
  server = await serveControl(stub, { path: controlSocketPath(config, env) });
});

afterEach(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the built `twinbox`, recording the modules it loads; the command's own environment and `-c`. */
function twinbox(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<RunResult & { loaded: () => Promise<string[]> }> {
  const loads = join(dir, `loads-${Math.random().toString(36).slice(2)}.txt`);
  const hook = fileURLToPath(new URL('./fixtures/record-loads.mjs', import.meta.url));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', hook, bin, '-c', config, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: dir, TWINBOX_LOADS_FILE: loads, ...env, ...extraEnv } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, loaded: async () => (await readFile(loads, 'utf8')).split('\n') });
      },
    );
  });
}

/** The bundled modules of `urls` whose code comes from a package matching `pattern`. */
async function bundledFrom(urls: string[], pattern: RegExp): Promise<string[]> {
  const hits: string[] = [];
  for (const url of urls.filter((u) => u.startsWith('file:'))) {
    // esbuild heads each bundled module with its path: `// ../../node_modules/.pnpm/zod@4.6.7/…`.
    const text = await readFile(fileURLToPath(url), 'utf8');
    for (const m of text.matchAll(/^\/\/ (\S+)$/gm)) if (pattern.test(m[1]!)) hits.push(m[1]!);
  }
  return hits;
}

const HEAVY =
  /\/(zod|imapflow|smol-toml)@|driver-imap\/dist\/(?!auth-codes)|driver-maildir\/dist|state-sqlite\/dist/;

describe('twinbox through a running daemon', () => {
  it('syncs through it: the same JSON lines as a local sync, the config never read', async () => {
    const run = await twinbox(['sync', '--json', 'work', '--folder', 'INBOX', 'Archive/*']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(stub.requests).toEqual([{ op: 'sync', pairs: ['work'], folders: ['INBOX', 'Archive/*'] }]);
    expect(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { type: 'pair-start', pair: 'work', detail: 'imap ⇄ local' },
      {
        type: 'folder-planned',
        pair: 'work',
        folder: 'INBOX',
        toLeft: { copies: 0, flags: 0, deletes: 0, moves: 0 },
        toRight: { copies: 2, flags: 0, deletes: 0, moves: 0 },
      },
      { type: 'copied', pair: 'work', folder: 'INBOX', to: 'right', count: 2, bytes: 900 },
      { type: 'folder-done', pair: 'work', folder: 'INBOX', ...folder },
      {
        type: 'pair-done',
        pair: 'work',
        dryRun: false,
        seconds: 0.5,
        aborted: false,
        totals: reportOf().totals,
      },
    ]);
  });

  it('loads neither zod, smol-toml, imapflow nor a driver or state on that path (and does locally)', async () => {
    const through = await twinbox(['sync']);
    expect(through.code).toBe(0);
    const loaded = await through.loaded();
    // The hook saw the bundles: what it reports is what ran. The quick path ran, and the program,
    // commander and the progress bars' module were never loaded.
    expect(loaded.some((u) => u.endsWith('/dist/quick.mjs'))).toBe(true);
    expect(loaded.some((u) => u.endsWith('/dist/twinbox.mjs'))).toBe(false);
    expect(await bundledFrom(loaded, HEAVY)).toEqual([]);
    expect(await bundledFrom(loaded, /\/(commander|cli-progress)@/)).toEqual([]);
    // Nor node:crypto (~6 ms to load), whose only use here was the socket name's hash; the quick path
    // is one file (the bundle's), not a module per chunk.
    expect(loaded).not.toContain('node:crypto');
    expect(loaded.filter((u) => u.startsWith('file:') && u.includes('/dist/'))).toEqual([
      expect.stringMatching(/\/dist\/bin\.js$/),
      expect.stringMatching(/\/dist\/quick\.mjs$/),
    ]);
    // A command line the quick path leaves to the program (--folder) still loads none of the heavy ones.
    const program = await twinbox(['sync', '--folder', 'INBOX']);
    expect(program.code).toBe(0);
    const programLoaded = await program.loaded();
    expect(programLoaded.some((u) => u.endsWith('/dist/twinbox.mjs'))).toBe(true);
    expect(await bundledFrom(programLoaded, HEAVY)).toEqual([]);
    // Nor, off a terminal, the progress bars' module: only a terminal shows them.
    expect(await bundledFrom(programLoaded, /\/cli-progress@/)).toEqual([]);
    // The same check on a local sync (here of a config that is not TOML) finds smol-toml: it can fail.
    // (Not zod: a config that does not parse is refused before the schema is loaded.)
    const local = await twinbox(['--no-daemon', 'sync']);
    expect(local.code).toBe(2);
    expect(await bundledFrom(await local.loaded(), HEAVY)).toEqual(
      expect.arrayContaining([expect.stringMatching(/\/smol-toml@/)]),
    );
  });

  it('reads a command line the same on the quick path as the program does on its own', async () => {
    const ran = async (args: string[]) => {
      const run = await twinbox(args);
      const quick = !(await run.loaded()).some((u) => u.endsWith('/dist/twinbox.mjs'));
      return { quick, code: run.code, stdout: run.stdout, stderr: run.stderr };
    };
    // Grouped short options are left to commander; spelled out, the quick path reads them.
    const grouped = await ran(['sync', '-qn', 'work']);
    const spelled = await ran(['-q', 'sync', 'work', '--dry-run']);
    expect(grouped.quick).toBe(false);
    expect(spelled.quick).toBe(true);
    expect(spelled).toEqual({ ...grouped, quick: true });
    expect(stub.requests.slice(-2)).toEqual([
      { op: 'sync', pairs: ['work'], dryRun: true, events: 'folders' },
      { op: 'sync', pairs: ['work'], dryRun: true, events: 'folders' },
    ]);
    // A usage error is commander's to report, whichever path saw it first.
    const both = await ran(['sync', '-q', '-v']);
    expect(both).toMatchObject({ quick: false, code: 64 });
    expect((await ran(['status', '--json', '-c', config])).quick).toBe(true);
  });

  it('prints the same plain lines, with a dry run said as such', async () => {
    const run = await twinbox(['sync', '--dry-run']);
    expect(run.code).toBe(0);
    // Plain output prints nothing of the per-message events: only the folders' ends are asked for.
    expect(stub.requests).toEqual([{ op: 'sync', pairs: [], dryRun: true, events: 'folders' }]);
    expect(run.stdout).toBe(
      'work: imap ⇄ local (dry run: nothing is changed)\n' +
        'work: INBOX: copied 2 →, 0 ←\n' +
        'work: would copy 2, flagged 0, deleted 0, paired 0, folders created 0, deleted 0, conflicts 0, errors 0 in 0.5 s\n',
    );
  });

  it('asks for the events its output shows: folders for plain, quiet and verbose lines, all for JSON', async () => {
    const errored = {
      ...folder,
      key: 'Sent',
      errors: [{ scope: 'message' as const, code: 'READ_FAILED', message: 'uid 7: gone' }],
    };
    stub.script = async (send) => {
      await fine(send, new AbortController().signal);
      send({ type: 'event', pair: 'work', event: { type: 'folder-done', key: 'Sent', report: errored } });
    };
    const quiet = await twinbox(['sync', '-q']);
    expect(quiet.stdout).toMatch(/^work: copied 2, .* in 0\.5 s\n$/);
    expect(quiet.stderr).toBe('work: Sent: READ_FAILED: uid 7: gone\n');
    const verbose = await twinbox(['sync', '-v']);
    expect(verbose.stdout).toContain('work: INBOX: copied 2 →, 0 ←\n');
    expect(verbose.stderr).toBe('work: Sent: READ_FAILED: uid 7: gone\n');
    await twinbox(['sync', '--json']);
    expect(stub.requests.map((r) => r.events)).toEqual(['folders', 'folders', undefined]);
  });

  it('exits as a local sync would: 1 partial, 3 login refused, 5 locked, 2 unknown pair, 130 interrupted', async () => {
    stub.script = async (send) => {
      send({ type: 'pair-start', pair: 'work', title: 'imap ⇄ local' });
      send({ type: 'pair-done', pair: 'work', report: reportOf(1), seconds: 1 });
    };
    expect((await twinbox(['sync'])).code).toBe(1);

    stub.script = async (send) => {
      send({ type: 'pair-start', pair: 'home', title: 'gmail ⇄ mail' });
      send({ type: 'pair-error', pair: 'home', message: 'login refused', code: 'AUTH_FAILED' });
    };
    const auth = await twinbox(['sync']);
    expect(auth).toMatchObject({ code: 3, stderr: 'home: login refused\n' });
    const authJson = await twinbox(['sync', '--json']);
    expect(authJson.code).toBe(3);
    expect(authJson.stdout).toContain(
      '{"type":"error","message":"home: login refused","pair":"home","code":"AUTH_FAILED"}',
    );

    stub.script = async (send) => {
      send({ type: 'pair-error', pair: 'work', message: 'locked', code: 'STATE_LOCKED' });
      send({ type: 'pair-error', pair: 'home', message: 'login refused', code: 'AUTH_FAILED' });
    };
    expect((await twinbox(['sync'])).code).toBe(5);

    const unknown = await twinbox(['sync', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^twinbox: .*config\.toml: no pair named "nope" \(pairs: work, home\)\.\n$/,
    );

    stub.script = async (send) =>
      send({ type: 'pair-done', pair: 'work', report: reportOf(0, true), seconds: 1 });
    expect((await twinbox(['sync'])).code).toBe(130);
  });

  it('on Ctrl-C stops waiting, exits 130 and says the daemon finishes the sync', async () => {
    let started!: () => void;
    const inFlight = new Promise<void>((r) => {
      started = r;
    });
    stub.script = (send, signal) => {
      send({ type: 'pair-start', pair: 'work', title: 'imap ⇄ local' });
      started();
      return new Promise((r) => signal.addEventListener('abort', () => r()));
    };
    const child: ChildProcess = spawn(process.execPath, [bin, '-c', config, 'sync'], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
    });
    let stderr = '';
    child.stderr!.on('data', (c) => {
      stderr += c;
    });
    await inFlight;
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(130);
    expect(stderr).toMatch(/SIGINT: stopped waiting; twinboxd \(pid \d+\) finishes the sync in flight/);
    await expect.poll(() => stub.aborted).toBe(true);
  });

  it('shows each pair live in status, as text and JSON; exits with the error of a pair backing off', async () => {
    const text = await twinbox(['status']);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain(
      `work  (imap ⇄ local; twinboxd pid ${process.pid}: watching since 2026-12-06T10:00:00.000Z)`,
    );
    expect(text.stdout).toContain('  left watched by notify: every folder, 1 connections');
    expect(text.stdout).toContain('  last error 2026-12-06T10:01:00.000Z: login refused (AUTH_FAILED)');
    expect(text.stdout).toContain('  next attempt 2026-12-06T10:05:00.000Z');
    const json = await twinbox(['status', 'work', '--json']);
    expect(json.code).toBe(0);
    const { name: _, ...rest } = status[0]!;
    expect(JSON.parse(json.stdout)).toEqual([
      { pair: 'work', ...rest, daemon: { pid: process.pid, version: '0.0.0-test' } },
    ]);
    expect((await twinbox(['status', 'nope'])).code).toBe(2);
  });

  it('--no-daemon, TWINBOX_NO_DAEMON=1 and --inline work here, reading the config', async () => {
    for (const run of [
      await twinbox(['--no-daemon', 'sync']),
      await twinbox(['sync'], { TWINBOX_NO_DAEMON: '1' }),
      await twinbox(['--inline', 'status', '--offline']),
    ]) {
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/config\.toml/);
    }
    expect(stub.requests).toEqual([]);
  });
});

describe('twinbox without a daemon', () => {
  it('syncs here as before, when no daemon serves the config (and when one served it and stopped)', async () => {
    await server!.close();
    server = undefined;
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, 'A', sub), { recursive: true });
    await writeFile(join(dir, 'A', 'cur', '1.M1P1.test:2,S'), 'Subject: hello\n\nhello\n');
    await writeFile(
      config,
      'workers = "inline"\n\n[accounts.a]\ntype = "maildir"\npath = "A"\n\n[accounts.b]\ntype = "maildir"\npath = "B"\n\n[pairs.work]\nleft = "a"\nright = "b"\n',
    );
    const run = await twinbox(['sync', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/"type":"pair-done","pair":"work".*"copied":1/);
    expect(await readdir(join(dir, 'B', 'cur'))).toHaveLength(1);
    expect(stub.requests).toEqual([]);
    const status = await twinbox(['status', '--offline', '--json']);
    expect(JSON.parse(status.stdout)[0]).toMatchObject({ pair: 'work', lastSync: { totals: { copied: 1 } } });
  });

  it('validates a config with zod once: run again, the same text loads with the defaults kept in ~/.cache', async () => {
    const pairs = (n: number) =>
      `workers = "inline"\n\n[accounts.a]\ntype = "maildir"\npath = "A"\n\n[accounts.b]\ntype = "maildir"\npath = "B${n}"\n\n[pairs.work]\nleft = "a"\nright = "b"\n`;
    await server?.close();
    server = undefined;
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, 'A', sub), { recursive: true });
    await writeFile(config, pairs(1));
    const first = await twinbox(['sync', '--json']);
    expect(first.code).toBe(0);
    expect(await bundledFrom(await first.loaded(), /\/zod@/)).not.toEqual([]);
    expect(await readdir(join(dir, '.cache', 'twinbox', 'config'))).not.toEqual([]);
    const again = await twinbox(['sync', '--json']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/"type":"pair-done","pair":"work"/);
    expect(await bundledFrom(await again.loaded(), /\/zod@/)).toEqual([]);
    // Another text is validated again.
    await writeFile(config, pairs(2));
    const edited = await twinbox(['sync', '--json']);
    expect(edited.code).toBe(0);
    expect(await bundledFrom(await edited.loaded(), /\/zod@/)).not.toEqual([]);
  });
});
