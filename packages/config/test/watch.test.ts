import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  ChangeNotice,
  ChangeWatch,
  Driver,
  SideController,
  StateBackend,
  WatchRequest,
  WatchStatus,
} from '@twinbox/core';
import { MemoryDriver, MemoryStore } from '@twinbox/core/testing';
import { MaildirDriver } from '@twinbox/driver-maildir';
import { startComponent, transfer } from '@twinbox/worker-runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderRenames, openPair, RenamedDriver } from '../src/index.js';
import { parseConfig } from '../src/schema-entry.js';
import type { SideArgs } from '../src/side-component.js';

/** The built side component: a worker thread loads JavaScript, as `openPair` does in production. */
const SIDE = new URL('../dist/side-component.js', import.meta.url);
const NOTICE_MS = 2000;

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-config-watch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Delivers one message the way an MDA does: written to `tmp/`, renamed into `new/`. */
async function deliver(folderDir: string, name: string): Promise<void> {
  await writeFile(join(folderDir, 'tmp', name), 'Subject: hello\n\nbody\n');
  await rename(join(folderDir, 'tmp', name), join(folderDir, 'new', name));
}

async function within<T>(promise: Promise<T>, what: string, ms = NOTICE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The reference store with a scripted watch that records what it was asked in its own names. */
class ScriptedWatchDriver extends MemoryDriver {
  readonly requests: WatchRequest[] = [];
  unwatched = 0;
  async watch(request: WatchRequest): Promise<WatchStatus> {
    this.requests.push(request);
    return {
      method: 'idle',
      watched: [['Archiv', '2024'], ['INBOX']],
      unwatched: [['Archiv']],
      connections: 2,
    };
  }
  async nextChange(): Promise<ChangeNotice> {
    return { folders: [['Archiv', 'x'], ['Other']], all: true };
  }
  async unwatch(): Promise<void> {
    this.unwatched++;
  }
}

describe('RenamedDriver watch', () => {
  const renames = new FolderRenames({ Archive: 'Archiv' });

  it('asks for the inner driver’s names and reports the engine’s', async () => {
    const inner = new ScriptedWatchDriver(new MemoryStore());
    const renamed = new RenamedDriver(inner, renames);
    const status = await renamed.watch!({
      folders: [['Archive'], ['Archive', '2024'], ['INBOX']],
      maxConnections: 2,
    });
    expect(inner.requests).toEqual([
      { folders: [['Archiv'], ['Archiv', '2024'], ['INBOX']], maxConnections: 2 },
    ]);
    expect(status).toEqual({
      method: 'idle',
      watched: [['Archive', '2024'], ['INBOX']],
      unwatched: [['Archive']],
      connections: 2,
    });
    await renamed.watch!({ folders: 'all' });
    expect(inner.requests[1]).toEqual({ folders: 'all' });
    expect(await renamed.nextChange!()).toEqual({ folders: [['Archive', 'x'], ['Other']], all: true });
    await renamed.unwatch!();
    expect(inner.unwatched).toBe(1);
  });

  it('offers no watch when the inner driver has none', () => {
    const renamed: Driver = new RenamedDriver(new MemoryDriver(new MemoryStore()), renames);
    expect([renamed.watch, renamed.nextChange, renamed.unwatch]).toEqual([undefined, undefined, undefined]);
  });

  it('names a Maildir delivery into a renamed folder by the engine’s name', async () => {
    const inner = await MaildirDriver.open({ root: dir });
    const renamed = new RenamedDriver(inner, renames);
    await renamed.createFolder(['Archive']); // on disk: .Archiv
    try {
      await renamed.watch!({ folders: 'all' });
      const waiting = renamed.nextChange!();
      await deliver(join(dir, '.Archiv'), '1.mda');
      expect(await within(waiting, 'notice')).toEqual({ folders: [['Archive']], all: false });
    } finally {
      await renamed.close();
    }
  });
});

describe('a side component in a worker thread', () => {
  const config = () =>
    parseConfig(
      `workers = "threads"

[state]
dir = "state"

[accounts.one]
type = "maildir"
path = "one"

[accounts.two]
type = "maildir"
path = "two"

[pairs.p]
left = "one"
right = "two"
rename = { Archive = "Archiv" }
`,
      join(dir, 'config.toml'),
    );

  /** Starts the state and the right side the way `openPair` does. */
  async function startRight() {
    const state = await startComponent<StateBackend>(import.meta.resolve('@twinbox/state-sqlite/component'), {
      mode: 'thread',
      name: 'state',
      args: { path: join(dir, 'state.sqlite'), wait: false },
    });
    const port = await state.connect();
    const { accounts, pairs } = config();
    const args: SideArgs = {
      side: 'right',
      account: accounts.two!,
      rename: pairs.p!.rename,
      statePort: port,
    };
    // Every side component has the three watch methods (the controller's), whatever its driver.
    const side = await startComponent<SideController & ChangeWatch>(SIDE, {
      mode: 'thread',
      name: 'right side',
      args: transfer(args, [port]),
    });
    return { state, side };
  }

  it('watches, aborts a waiting nextChange from the caller’s side, and carries a delivery across as a notice', async () => {
    const { state, side } = await startRight();
    try {
      await side.api.createFolder(['Archive']);
      const status = await side.api.watch({ folders: 'all' });
      expect(status).toEqual({ method: 'fs', watched: 'all', unwatched: [], connections: 0 });

      const stop = new AbortController();
      const waiting = side.with({ signal: stop.signal }).nextChange();
      const started = Date.now();
      stop.abort();
      await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
      expect(Date.now() - started).toBeLessThan(500);

      // The component's call was cancelled too: otherwise this one would be refused as WATCH_BUSY.
      const next = side.api.nextChange();
      await deliver(join(dir, 'two', '.Archiv'), '1.mda');
      expect(await within(next, 'notice across the thread')).toEqual({ folders: [['Archive']], all: false });

      await side.api.unwatch();
      await expect(side.api.nextChange()).rejects.toMatchObject({ code: 'WATCH_STOPPED' });
    } finally {
      await side.close();
      await state.close();
    }
  });

  it('closes with a nextChange still waiting: the call ends, nothing hangs', async () => {
    const { state, side } = await startRight();
    await side.api.watch({ folders: 'all' });
    const waiting = side.api.nextChange();
    waiting.catch(() => {});
    const started = Date.now();
    await side.close({ graceMs: 100 });
    await state.close();
    await expect(waiting).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('reaches the watch through openPair’s sides, inline and in threads', async () => {
    for (const mode of ['inline', 'threads'] as const) {
      const pair = await openPair({ file: join(dir, 'config.toml'), config: config() }, 'p', {
        mode,
        entries: { side: SIDE },
      });
      try {
        expect(await pair.left.watch!({ folders: 'all' })).toMatchObject({ method: 'fs' });
        // As the daemon waits: through call options, a signal and no deadline.
        const stop = new AbortController();
        const aborted = pair.withOptions('left', { signal: stop.signal, deadlineMs: Infinity }).nextChange!();
        stop.abort();
        await expect(aborted).rejects.toThrow();
        const waiting = pair.withOptions('left', { deadlineMs: Infinity }).nextChange!();
        await deliver(join(dir, 'one'), `${mode}.mda`);
        expect(await within(waiting, `notice (${mode})`)).toEqual({ folders: [['INBOX']], all: false });
        await pair.left.unwatch!();
      } finally {
        await pair.close();
      }
    }
  });
});
