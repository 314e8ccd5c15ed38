import { execFile } from 'node:child_process';
import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ChangeNotice, type FolderPath, StoreError } from '@twinbox/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MaildirDriver, type MaildirLayoutName } from '../src/index.js';
import { FolderLayout } from '../src/layout.js';
import { MaildirWatcher, type WatchFunction } from '../src/watch.js';

const run = promisify(execFile);
const MDA = fileURLToPath(new URL('./mda.mjs', import.meta.url));
/** A notice must come this soon (generous: two cores, other test runs alongside). */
const NOTICE_MS = 2000;

/** Delivers `count` messages into a folder's directory from another process, tmp/ then new/. */
async function deliver(dir: string, count = 1, tag = 'mda', gapMs = 0): Promise<void> {
  await run(process.execPath, [MDA, dir, String(count), tag, String(gapMs)]);
}

/** `promise`, or a failure naming `what` once `ms` passed. */
async function within<T>(promise: Promise<T>, what: string, ms = NOTICE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Settles with what the promise did, or `pending` if it has not after `ms`. */
async function stateAfter(
  promise: Promise<unknown>,
  ms: number,
): Promise<'resolved' | 'rejected' | 'pending'> {
  let state: 'resolved' | 'rejected' | 'pending' = 'pending';
  promise.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  await new Promise((r) => setTimeout(r, ms));
  return state;
}

const sortedFolders = (notice: ChangeNotice) => notice.folders.map((p) => p.join('/')).sort();

let root = '';
const open: MaildirDriver[] = [];
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinbox-maildir-watch-'));
});
afterEach(async () => {
  for (const driver of open.splice(0)) await driver.close();
  await rm(root, { recursive: true, force: true });
});

const LAYOUTS: { layout: MaildirLayoutName; separator?: string; dir(path: FolderPath): string }[] = [
  { layout: 'maildir++', dir: (p) => (p[0] === 'INBOX' ? root : join(root, `.${p.join('.')}`)) },
  {
    layout: 'maildir++',
    separator: '-',
    dir: (p) => (p[0] === 'INBOX' ? root : join(root, `.${p.join('-')}`)),
  },
  { layout: 'fs', dir: (p) => join(root, ...p) },
];

describe.each(LAYOUTS)(
  'MaildirDriver watch ($layout, separator $separator)',
  ({ layout, separator, dir }) => {
    async function watched(folders: FolderPath[] = [['Lists', 'a']]) {
      const driver = await MaildirDriver.open({ root, layout, separator });
      open.push(driver);
      for (const f of folders) await driver.createFolder(f);
      const status = await driver.watch({ folders: 'all' });
      return { driver, status };
    }

    it('answers its status: file-system notifications, no connection, every folder', async () => {
      const { status } = await watched();
      expect(status).toEqual({ method: 'fs', watched: 'all', unwatched: [], connections: 0 });
    });

    it('reports a delivery by another process (tmp/, then new/) into a nested folder and the inbox', async () => {
      const { driver } = await watched();
      const started = Date.now();
      const waiting = driver.nextChange();
      await deliver(dir(['Lists', 'a']));
      const notice = await within(waiting, 'notice of the delivery');
      expect(Date.now() - started).toBeLessThan(NOTICE_MS);
      expect(notice).toEqual({ folders: [['Lists', 'a']], all: false });

      const next = driver.nextChange();
      await deliver(dir(['INBOX']));
      expect(await within(next, 'notice of the inbox delivery')).toEqual({
        folders: [['INBOX']],
        all: false,
      });
    });

    it('ignores a file written to tmp/ until it is renamed into new/', async () => {
      const { driver } = await watched();
      const waiting = driver.nextChange();
      await writeFile(join(dir(['Lists', 'a']), 'tmp', '1.half-written'), 'Subject: x\n\n');
      expect(await stateAfter(waiting, 400)).toBe('pending');
      await rename(
        join(dir(['Lists', 'a']), 'tmp', '1.half-written'),
        join(dir(['Lists', 'a']), 'new', '1.half-written'),
      );
      expect(await within(waiting, 'notice of the rename into new/')).toEqual({
        folders: [['Lists', 'a']],
        all: false,
      });
    });

    it('reports a flag change (a rename in cur/) and a deletion made by another program', async () => {
      const { driver } = await watched();
      const cur = join(dir(['Lists', 'a']), 'cur');
      await writeFile(join(cur, '1.msg:2,'), 'Subject: x\n\n');
      await driver.nextChange(); // the file just written

      const flagged = driver.nextChange();
      await rename(join(cur, '1.msg:2,'), join(cur, '1.msg:2,FS'));
      expect(await within(flagged, 'notice of the flag rename')).toEqual({
        folders: [['Lists', 'a']],
        all: false,
      });

      const deleted = driver.nextChange();
      await unlink(join(cur, '1.msg:2,FS'));
      expect(await within(deleted, 'notice of the deletion')).toEqual({
        folders: [['Lists', 'a']],
        all: false,
      });
    });

    it('reports a new folder as `all`, and then watches it', async () => {
      const { driver } = await watched();
      const waiting = driver.nextChange();
      // Made the way another program makes one: the directory, then its cur/ new/ tmp/.
      const made = dir(['Fresh']);
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(made, sub), { recursive: true });
      expect((await within(waiting, 'notice of the new folder')).all).toBe(true);

      const next = driver.nextChange();
      await deliver(made);
      expect(sortedFolders(await within(next, 'notice of a delivery into the new folder'))).toContain(
        'Fresh',
      );
    });

    it('gathers a burst of 200 deliveries into a few notices, all naming the folder', async () => {
      const { driver } = await watched();
      const notices: ChangeNotice[] = [];
      const stop = new AbortController();
      const collecting = (async () => {
        for (;;) {
          try {
            notices.push(await driver.nextChange(stop.signal));
          } catch (err) {
            if ((err as StoreError).code === 'ABORTED') return;
            throw err;
          }
        }
      })();
      // Spread out (2 ms apart, ~0.5 s in all), as a batch from a real MDA would be.
      const started = performance.now();
      await deliver(dir(['Lists', 'a']), 200, 'burst', 2);
      const spread = performance.now() - started;
      // Every event of the burst reported: the last notice comes within the settle time.
      await new Promise((r) => setTimeout(r, 600));
      stop.abort();
      await collecting;
      expect((await readdir(join(dir(['Lists', 'a']), 'new'))).length).toBe(200);
      expect(notices.length).toBeGreaterThan(0);
      // A few: one per gathering window (250 ms) the burst spans, and a loaded machine stretches the
      // burst (3 s once in CI, 12 notices), so the bound grows with it. One notice per delivery is 200.
      expect(notices.length).toBeLessThanOrEqual(Math.max(10, Math.ceil(spread / 250) + 2));
      for (const notice of notices) expect(notice).toEqual({ folders: [['Lists', 'a']], all: false });
    });

    it('answers at once with every folder changed since the previous call', async () => {
      const { driver } = await watched([['Lists', 'a'], ['Other']]);
      await deliver(dir(['Lists', 'a']));
      await deliver(dir(['Other']));
      await deliver(dir(['INBOX']));
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const notice = await driver.nextChange();
      expect(Date.now() - started).toBeLessThan(100);
      expect(sortedFolders(notice)).toEqual(['INBOX', 'Lists/a', 'Other']);
      expect(notice.all).toBe(false);
    });

    it('reports its own writes like anyone else’s', async () => {
      const { driver } = await watched();
      const waiting = driver.nextChange();
      const [outcome] = await driver.appendMessages(
        ['Lists', 'a'],
        [{ body: new TextEncoder().encode('Subject: own\r\n\r\nbody\r\n'), flags: [] }],
      );
      expect(outcome?.ok).toBe(true);
      expect(await within(waiting, 'notice of the driver’s own append')).toEqual({
        folders: [['Lists', 'a']],
        all: false,
      });
    });

    it('survives a folder removed while watched: `all`, and the rest is still watched', async () => {
      const { driver } = await watched([['Lists', 'a'], ['Doomed']]);
      const waiting = driver.nextChange();
      await rm(dir(['Doomed']), { recursive: true });
      expect((await within(waiting, 'notice of the removed folder')).all).toBe(true);

      const next = driver.nextChange();
      await deliver(dir(['Lists', 'a']));
      expect(await within(next, 'notice after the removal')).toEqual({
        folders: [['Lists', 'a']],
        all: false,
      });
    });

    it('rejects a pending call with WATCH_STOPPED on unwatch() and on close(), and answers no more', async () => {
      const { driver } = await watched();
      const first = driver.nextChange();
      await driver.unwatch();
      await expect(first).rejects.toMatchObject({ name: 'StoreError', code: 'WATCH_STOPPED' });
      await expect(driver.nextChange()).rejects.toMatchObject({ code: 'WATCH_STOPPED' });
      await driver.unwatch(); // idempotent

      await driver.watch({ folders: 'all' });
      const second = driver.nextChange();
      await driver.close();
      await expect(second).rejects.toMatchObject({ code: 'WATCH_STOPPED' });
    });

    it('rejects before watch() with WATCH_STOPPED, and a second waiting call with WATCH_BUSY', async () => {
      const driver = await MaildirDriver.open({ root, layout, separator });
      open.push(driver);
      await expect(driver.nextChange()).rejects.toMatchObject({ code: 'WATCH_STOPPED' });
      await driver.watch({ folders: [['INBOX']] });
      const first = driver.nextChange();
      await expect(driver.nextChange()).rejects.toMatchObject({ code: 'WATCH_BUSY' });
      await deliver(dir(['INBOX']));
      expect(await within(first, 'notice')).toEqual({ folders: [['INBOX']], all: false });
    });

    it('aborts a waiting call with ABORTED, and keeps what changed for the next call', async () => {
      const { driver } = await watched();
      const stop = new AbortController();
      const waiting = driver.nextChange(stop.signal);
      stop.abort();
      const err = await waiting.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect(err).toMatchObject({ code: 'ABORTED' });
      await expect(driver.nextChange(AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });

      await deliver(dir(['Lists', 'a']));
      await new Promise((r) => setTimeout(r, 300));
      expect(await within(driver.nextChange(), 'kept notice')).toEqual({
        folders: [['Lists', 'a']],
        all: false,
      });
    });

    it('fails the watch, saying so, when the whole Maildir is removed', async () => {
      const { driver } = await watched();
      const failure = (async () => {
        // The removal may first come as `all` notices (folders vanishing); a later call fails.
        for (;;) await driver.nextChange();
      })().catch((e: unknown) => e);
      await rm(root, { recursive: true });
      const err = await within(failure, 'failure', 5000);
      expect(err).toMatchObject({ code: 'WATCH_FAILED' });
      expect((err as Error).message).toContain('no longer exists');
    });
  },
);

describe('MaildirWatcher when directories cannot be watched', () => {
  /** Real watches, except where `refuse` says the kernel would say no. */
  function limited(refuse: (dir: string) => string | undefined, made: Map<string, FSWatcher>): WatchFunction {
    return (dir, listener) => {
      const code = refuse(dir);
      if (code) throw Object.assign(new Error(`${code}: simulated, watch '${dir}'`), { code });
      const fsw = fsWatch(dir, { encoding: 'utf8' }, (event, name) => listener(event, name));
      made.set(dir, fsw);
      return fsw;
    };
  }

  async function tree() {
    const driver = await MaildirDriver.open({ root });
    open.push(driver);
    await driver.createFolder(['Full']);
    await driver.createFolder(['Fine']);
    return new FolderLayout({ root, layout: 'maildir++', separator: '.' });
  }

  it('watches what it can, reports the rest unwatched, and says `all` once they can be watched', async () => {
    const layout = await tree();
    let full = true;
    const made = new Map<string, FSWatcher>();
    const watcher = new MaildirWatcher(layout, {
      watch: limited((dir) => (full && dir.startsWith(join(root, '.Full')) ? 'ENOSPC' : undefined), made),
      retryMs: 300,
    });
    try {
      const status = await watcher.start();
      expect(status.unwatched).toEqual([['Full']]);
      expect(status.watched).toEqual(expect.arrayContaining([['INBOX'], ['Fine']]));
      expect(status.watched).not.toContainEqual(['Full']);

      const waiting = watcher.nextChange();
      await deliver(join(root, '.Fine'));
      expect(await within(waiting, 'notice')).toEqual({ folders: [['Fine']], all: false });

      full = false;
      const restored = await within(watcher.nextChange(), 'notice of the restored watch');
      expect(restored.all).toBe(true);
      expect(watcher.status()).toEqual({ method: 'fs', watched: 'all', unwatched: [], connections: 0 });
    } finally {
      watcher.stop();
    }
  });

  it('turns a watcher error (the inotify table filled up later) into `all`, without crashing', async () => {
    const layout = await tree();
    const made = new Map<string, FSWatcher>();
    let full = false;
    const watcher = new MaildirWatcher(layout, {
      watch: limited((dir) => (full && dir.startsWith(join(root, '.Full')) ? 'ENOSPC' : undefined), made),
      retryMs: 60_000,
    });
    try {
      await watcher.start();
      expect(watcher.status().watched).toBe('all');
      const waiting = watcher.nextChange();
      full = true;
      made
        .get(join(root, '.Full', 'cur'))
        ?.emit('error', Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }));
      expect((await within(waiting, 'notice of the broken watch')).all).toBe(true);
      expect(watcher.status().unwatched).toEqual([['Full']]);

      const next = watcher.nextChange();
      await deliver(join(root, '.Fine'));
      expect(await within(next, 'notice')).toEqual({ folders: [['Fine']], all: false });
    } finally {
      watcher.stop();
    }
  });

  it('rejects the start with WATCH_FAILED, naming the limit to raise, when nothing can be watched', async () => {
    const layout = await tree();
    const watcher = new MaildirWatcher(layout, { watch: limited(() => 'ENOSPC', new Map()) });
    const err = await watcher.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'WATCH_FAILED' });
    expect((err as Error).message).toContain('fs.inotify.max_user_watches');
    await expect(watcher.nextChange()).rejects.toMatchObject({ code: 'WATCH_STOPPED' });

    const instances = new MaildirWatcher(layout, { watch: limited(() => 'EMFILE', new Map()) });
    await expect(instances.start()).rejects.toThrow(/max_user_instances/);
  });
});
