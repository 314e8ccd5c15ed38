import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FolderPairRecord, MessagePair } from '@twinbox/core';
import { describeStateConformance } from '@twinbox/core/testing';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteState, StateFileError } from '../src/index.js';

describeStateConformance(
  'SqliteState',
  async () => {
    const fixtureDir = await mkdtemp(join(tmpdir(), 'twinbox-sqlite-conformance-'));
    const path = join(fixtureDir, 'state.sqlite');
    return {
      state: new SqliteState({ path }),
      reopen: async () => new SqliteState({ path }),
      cleanup: () => rm(fixtureDir, { recursive: true, force: true }),
    };
  },
  { findPairs: true, renameFolderPairs: true },
);

/** The schema as the first release wrote it, frozen here: the migration must accept exactly this. */
const SCHEMA_V1 = `
  CREATE TABLE folder_pair (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
  );
  CREATE TABLE message_pair (
    folder_pair INTEGER NOT NULL REFERENCES folder_pair(id),
    left_id TEXT NOT NULL,
    right_id TEXT NOT NULL,
    flags TEXT NOT NULL,
    PRIMARY KEY (folder_pair, left_id),
    UNIQUE (folder_pair, right_id)
  ) WITHOUT ROWID;`;

/**
 * The schema version 3 wrote (before the folder ids), frozen here as `.schema` printed it: the
 * migration to version 4 must accept exactly this.
 */
const SCHEMA_V3 = `
  CREATE TABLE folder_pair (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    left_path TEXT,
    right_path TEXT,
    held_back TEXT
  );
  CREATE TABLE message_pair (
    folder_pair INTEGER NOT NULL REFERENCES folder_pair(id),
    left_id TEXT NOT NULL,
    right_id TEXT NOT NULL,
    flags TEXT NOT NULL,
    PRIMARY KEY (folder_pair, left_id),
    UNIQUE (folder_pair, right_id)
  ) WITHOUT ROWID;
  CREATE TABLE marker (
    folder_pair INTEGER NOT NULL REFERENCES folder_pair(id),
    side TEXT NOT NULL CHECK (side IN ('left', 'right')),
    epoch TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (folder_pair, side)
  ) WITHOUT ROWID;`;

const byLeft = (pairs: MessagePair[]) => [...pairs].sort((a, b) => (a.left < b.left ? -1 : 1));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-sqlite-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('SqliteState', () => {
  it('opens its database in WAL mode, owner-only, in a directory it creates 0700', async () => {
    const path = join(dir, 'nested', 'pair.sqlite');
    const state = new SqliteState({ path });
    await state.recordPairs('INBOX', [{ left: '1', right: 'a', flags: [] }]);
    const probe = new Database(path, { readonly: true });
    expect(probe.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(probe.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    probe.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(`${path}-wal`)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700);
    await state.close();
  });

  it('upgrades a version 1 database in place, keeping its pairs', async () => {
    const path = join(dir, 'v1.sqlite');
    const v1 = new Database(path);
    v1.exec(SCHEMA_V1);
    v1.prepare('INSERT INTO folder_pair (id, key) VALUES (?, ?)').run(1, 'INBOX');
    v1.prepare('INSERT INTO folder_pair (id, key) VALUES (?, ?)').run(2, 'Archiv/Übersicht');
    const insert = v1.prepare(
      'INSERT INTO message_pair (folder_pair, left_id, right_id, flags) VALUES (?, ?, ?, ?)',
    );
    insert.run(1, '10', '1700000000.M1.host,S=10:2,S', '\\Seen $label1');
    insert.run(1, '11', '1700000001.M2.host', '');
    insert.run(2, '10', 'other', '\\Flagged');
    v1.pragma('user_version = 1');
    v1.close();

    const state = new SqliteState({ path });
    expect(byLeft(await state.loadPairs('INBOX'))).toEqual([
      { left: '10', right: '1700000000.M1.host,S=10:2,S', flags: ['\\Seen', '$label1'] },
      { left: '11', right: '1700000001.M2.host', flags: [] },
    ]);
    expect(await state.loadPairs('Archiv/Übersicht')).toEqual([
      { left: '10', right: 'other', flags: ['\\Flagged'] },
    ]);
    // A version 1 database never knew the folders' paths, so it has no folder pair to list yet.
    expect(await state.listFolderPairs()).toEqual([]);
    expect(await state.loadMarker('INBOX', 'left')).toBeNull();

    await state.recordFolderPair({ key: 'INBOX', left: ['INBOX'], right: ['INBOX'] });
    await state.recordMarker('INBOX', 'right', { epoch: '', value: 'new=1;cur=2' });
    await state.recordPairs('INBOX', [{ left: '12', right: '1700000002.M3.host', flags: [] }]);
    expect(await state.loadPairs('INBOX')).toHaveLength(3);
    await state.forgetFolderPair('Archiv/Übersicht');
    await state.close();

    const probe = new Database(path, { readonly: true });
    expect(probe.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(probe.pragma('journal_mode', { simple: true })).toBe('wal');
    probe.close();
    const reopened = new SqliteState({ path });
    expect(await reopened.listFolderPairs()).toEqual([{ key: 'INBOX', left: ['INBOX'], right: ['INBOX'] }]);
    expect(await reopened.loadMarker('INBOX', 'right')).toEqual({ epoch: '', value: 'new=1;cur=2' });
    expect(await reopened.loadPairs('INBOX')).toHaveLength(3);
    expect(await reopened.loadPairs('Archiv/Übersicht')).toEqual([]);
    await reopened.close();
  });

  it('upgrades a version 3 database in place, keeping its rows, and then stores folder ids', async () => {
    const path = join(dir, 'v3.sqlite');
    const v3 = new Database(path);
    v3.pragma('journal_mode = WAL');
    v3.exec(SCHEMA_V3);
    const folder = v3.prepare(
      'INSERT INTO folder_pair (id, key, left_path, right_path, held_back) VALUES (?, ?, ?, ?, ?)',
    );
    folder.run(1, 'INBOX', '["INBOX"]', '["INBOX"]', null);
    folder.run(2, 'Archiv/Übersicht', '["Archiv","Übersicht"]', '["Archive","Overview"]', 'size<=1000');
    folder.run(3, 'unlisted', null, null, null);
    const insert = v3.prepare(
      'INSERT INTO message_pair (folder_pair, left_id, right_id, flags) VALUES (?, ?, ?, ?)',
    );
    insert.run(1, '10', '1700000000.M1.host,S=10:2,S', '\\Seen $label1');
    insert.run(2, '10', 'other', '');
    insert.run(3, '1', 'a', '');
    v3.prepare('INSERT INTO marker (folder_pair, side, epoch, value) VALUES (?, ?, ?, ?)').run(
      2,
      'left',
      '7',
      '100',
    );
    v3.pragma('user_version = 3');
    v3.close();

    const inbox = { key: 'INBOX', left: ['INBOX'], right: ['INBOX'] };
    const archive = {
      key: 'Archiv/Übersicht',
      left: ['Archiv', 'Übersicht'],
      right: ['Archive', 'Overview'],
      heldBack: 'size<=1000',
    };
    const byKey = (records: FolderPairRecord[]) => [...records].sort((a, b) => (a.key < b.key ? -1 : 1));
    const state = new SqliteState({ path });
    // Every row of a version 3 database starts without ids: absent, not an empty object.
    expect(byKey(await state.listFolderPairs())).toStrictEqual([archive, inbox]);
    expect(await state.loadPairs('INBOX')).toEqual([
      { left: '10', right: '1700000000.M1.host,S=10:2,S', flags: ['\\Seen', '$label1'] },
    ]);
    expect(await state.loadPairs('Archiv/Übersicht')).toEqual([{ left: '10', right: 'other', flags: [] }]);
    expect(await state.loadMarker('Archiv/Übersicht', 'left')).toEqual({ epoch: '7', value: '100' });
    expect(await state.loadPairs('unlisted')).toEqual([{ left: '1', right: 'a', flags: [] }]);

    const withIds = { ...inbox, ids: { left: 'F2212ea87-6097-4256-9d51-71338625', right: '2049:1311522:1' } };
    await state.recordFolderPair(withIds);
    const renamed = { ...archive, key: 'Ablage', left: ['Ablage'], ids: { right: '2049:77:2' } };
    await state.renameFolderPairs([{ from: archive.key, to: renamed }]);
    await state.close();

    const probe = new Database(path, { readonly: true });
    expect(probe.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    probe.close();
    const reopened = new SqliteState({ path });
    expect(byKey(await reopened.listFolderPairs())).toStrictEqual([renamed, withIds]);
    expect(await reopened.loadMarker('Ablage', 'left')).toEqual({ epoch: '7', value: '100' });
    expect(await reopened.loadPairs('Ablage')).toEqual([{ left: '10', right: 'other', flags: [] }]);
    await reopened.close();
  });

  it('rolls a failed batch back whole', async () => {
    const state = new SqliteState({ path: join(dir, 'p.sqlite') });
    await state.recordPairs('f', [{ left: '1', right: 'a', flags: [] }]);
    // A caller bypassing the types: SQLite refuses the NULL id after the first pair was written.
    const broken = { left: null, right: 'b', flags: [] } as unknown as MessagePair;
    await expect(
      state.recordPairs('f', [
        { left: '1', right: 'z', flags: ['\\Seen'] },
        { left: '2', right: 'y', flags: [] },
        broken,
      ]),
    ).rejects.toThrow(StateFileError);
    await expect(state.recordPairs('new key', [broken])).rejects.toThrow(/p\.sqlite/);
    expect(await state.loadPairs('f')).toEqual([{ left: '1', right: 'a', flags: [] }]);
    await state.close();
  });

  it('commits the writes of one turn together, once, and resolves them only when they are durable', async () => {
    const path = join(dir, 'p.sqlite');
    const state = new SqliteState({ path });
    const other = new Database(path, { readonly: true });
    const stored = () => other.prepare('SELECT count(*) AS n FROM message_pair').get();
    let resolved = 0;
    const writes = ['a', 'b', 'c'].map((key) =>
      state.recordPairs(key, [{ left: key, right: `r${key}`, flags: [] }]).then(() => resolved++),
    );
    const marker = state.recordMarker('a', 'left', { epoch: '1', value: 'm' });
    // Another connection sees none of them before the turn is over: they are one open transaction.
    expect(stored()).toEqual({ n: 0 });
    await Promise.all([...writes, marker]);
    expect(resolved).toBe(3);
    expect(stored()).toEqual({ n: 3 });
    // A failing call of a group rolls back alone; the others of its turn are stored.
    const broken = { left: null, right: 'x', flags: [] } as unknown as MessagePair;
    const results = await Promise.allSettled([
      state.recordPairs('d', [{ left: 'd', right: 'rd', flags: [] }]),
      state.recordPairs('e', [{ left: 'e', right: 're', flags: [] }, broken]),
      state.forgetPairs('a', 'left', ['a']),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(stored()).toEqual({ n: 3 });
    expect(await state.loadPairs('e')).toEqual([]);
    expect(await state.loadPairs('d')).toEqual([{ left: 'd', right: 'rd', flags: [] }]);
    other.close();
    await state.close();
  });

  it('finds pairs inside a turn with pending writes and outside one, leaving no transaction open', async () => {
    const path = join(dir, 'p.sqlite');
    const state = new SqliteState({ path });
    const other = new Database(path, { readonly: true });
    const stored = () => other.prepare('SELECT count(*) AS n FROM message_pair').get();
    await state.recordPairs('INBOX', [{ left: '1', right: 'a', flags: [] }]);
    // A lookup in the turn of a write sees it (the lookups nest in the group's transaction), and the
    // group still commits as one.
    const write = state.recordPairs('INBOX', [{ left: '2', right: 'b', flags: ['\\Seen'] }]);
    const found = state.findPairs('INBOX', 'left', ['1', '2', '3']);
    expect(stored()).toEqual({ n: 1 });
    await write;
    expect(await found).toEqual([
      { left: '1', right: 'a', flags: [] },
      { left: '2', right: 'b', flags: ['\\Seen'] },
    ]);
    expect(stored()).toEqual({ n: 2 });
    // A lookup on its own ends its read transaction: another connection can write (a reader holding
    // its snapshot would not stop that in WAL mode, but a transaction left open would take the next
    // write of this state into it, uncommitted), and this state's next write commits by itself.
    expect(await state.findPairs('INBOX', 'right', ['b', 'zz'])).toEqual([
      { left: '2', right: 'b', flags: ['\\Seen'] },
    ]);
    await state.recordPairs('INBOX', [{ left: '3', right: 'c', flags: [] }]);
    expect(stored()).toEqual({ n: 3 });
    other.close();
    await state.close();
  });

  it('rejects every call of a group whose commit fails, reads included, and stores none of it', async () => {
    const path = join(dir, 'p.sqlite');
    const state = new SqliteState({ path });
    await state.recordPairs('kept', [{ left: '1', right: 'a', flags: [] }]);
    // Another connection adds a trigger whose row breaks a deferred foreign key: SQLite refuses it
    // at COMMIT, after every statement of the group went through.
    const db = new Database(path);
    db.exec(`CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER breaks AFTER INSERT ON marker BEGIN INSERT INTO child VALUES (42); END;`);
    db.close();
    const results = await Promise.allSettled([
      state.recordPairs('kept', [{ left: '2', right: 'b', flags: [] }]),
      state.recordMarker('kept', 'left', { epoch: '1', value: 'm' }),
      state.loadPairs('kept'),
    ]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StateFileError);
      expect(String((r as PromiseRejectedResult).reason)).toMatch(
        /Cannot commit.*p\.sqlite.*Nothing of the calls/,
      );
    }
    expect(await state.loadPairs('kept')).toEqual([{ left: '1', right: 'a', flags: [] }]);
    expect(await state.loadMarker('kept', 'left')).toBeNull();
    // A close whose last commit fails says so, after telling the waiting write.
    const last = state.recordMarker('kept', 'right', { epoch: '1', value: 'm' });
    await expect(state.close()).rejects.toThrow(/Cannot commit/);
    await expect(last).rejects.toThrow(/Cannot commit/);
    const reopened = new SqliteState({ path });
    expect(await reopened.loadMarker('kept', 'right')).toBeNull();
    await reopened.close();
    const again = new SqliteState({ path });
    // The next group starts afresh once the cause is gone.
    const fix = new Database(path);
    fix.exec('DROP TRIGGER breaks');
    fix.close();
    await again.recordMarker('kept', 'left', { epoch: '1', value: 'm' });
    expect(await again.loadMarker('kept', 'left')).toEqual({ epoch: '1', value: 'm' });
    await again.close();
  });

  it('does not keep a preloaded copy when the key is written while the preload waits for a commit', async () => {
    const state = new SqliteState({ path: join(dir, 'p.sqlite') });
    await state.recordPairs('other', [{ left: 'o', right: 'ro', flags: [] }]);
    // A write of another key opens a group; the preload of k reads, then waits for it; k is written meanwhile.
    const opened = state.recordPairs('other', [{ left: 'p', right: 'rp', flags: [] }]);
    const preloading = state.preload(['k']);
    const written = state.recordPairs('k', [{ left: '1', right: 'a', flags: [] }]);
    await Promise.all([opened, preloading, written]);
    expect(await state.loadPairs('k')).toEqual([{ left: '1', right: 'a', flags: [] }]);
    await state.close();
  });

  it('commits writes still waiting for their turn when it is closed', async () => {
    const path = join(dir, 'p.sqlite');
    const state = new SqliteState({ path });
    const write = state.recordPairs('f', [{ left: '1', right: 'a', flags: [] }]);
    await state.close();
    await write;
    const reopened = new SqliteState({ path });
    expect(await reopened.loadPairs('f')).toEqual([{ left: '1', right: 'a', flags: [] }]);
    await reopened.close();
  });

  it('forgets a folder pair whole: no message pair or marker row of it is left', async () => {
    const path = join(dir, 'p.sqlite');
    const state = new SqliteState({ path });
    await state.recordFolderPair({ key: 'INBOX', left: ['INBOX'], right: ['INBOX'] });
    await state.recordPairs('INBOX', [{ left: '1', right: 'a', flags: [] }]);
    await state.recordMarker('INBOX', 'left', { epoch: '1', value: '2' });
    await state.forgetFolderPair('INBOX');
    await state.close();
    const probe = new Database(path, { readonly: true });
    for (const table of ['folder_pair', 'message_pair', 'marker']) {
      expect(probe.prepare(`SELECT count(*) AS n FROM ${table}`).get(), table).toEqual({ n: 0 });
    }
    probe.close();
  });

  it('renames folder pairs in one transaction: a failure part-way leaves every pair where it was', async () => {
    const path = join(dir, 'p.sqlite');
    const state = new SqliteState({ path });
    const folders = [
      { key: 'Archiv', left: ['Archiv'], right: ['Archive'] },
      { key: 'Archiv/2025', left: ['Archiv', '2025'], right: ['Archive', '2025'] },
      { key: 'Ablage/2025', left: ['Ablage', '2025'], right: ['Filed', '2025'] },
    ];
    for (const [i, folder] of folders.entries()) {
      await state.recordFolderPair(folder);
      await state.recordPairs(folder.key, [{ left: `${i}`, right: `r${i}`, flags: [] }]);
      await state.recordMarker(folder.key, 'left', { epoch: `${i}`, value: 'v' });
    }
    // Another connection adds a trigger that makes SQLite refuse the second rename, after the first
    // one (and the clearing of the second one's target) already ran inside the transaction.
    const db = new Database(path);
    db.exec(`CREATE TRIGGER refuse BEFORE UPDATE OF key ON folder_pair WHEN NEW.key = 'Ablage/2025'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;`);
    db.close();
    const renames = [
      { from: 'Archiv', to: { key: 'Ablage', left: ['Ablage'], right: ['Filed'] } },
      { from: 'Archiv/2025', to: { key: 'Ablage/2025', left: ['Ablage', '2025'], right: ['Filed', '2025'] } },
    ];
    await expect(state.renameFolderPairs(renames)).rejects.toThrow(/p\.sqlite.*injected failure/);
    const sorted = async () => [...(await state.listFolderPairs())].sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(await sorted()).toEqual([folders[2], folders[0], folders[1]]);
    for (const [i, folder] of folders.entries()) {
      expect(await state.loadPairs(folder.key)).toEqual([{ left: `${i}`, right: `r${i}`, flags: [] }]);
      expect(await state.loadMarker(folder.key, 'left')).toEqual({ epoch: `${i}`, value: 'v' });
    }
    expect(await state.loadPairs('Ablage')).toEqual([]);

    // Without the trigger, the same call goes through whole.
    const fix = new Database(path);
    fix.exec('DROP TRIGGER refuse');
    fix.close();
    await state.renameFolderPairs(renames);
    expect(await sorted()).toEqual(renames.map((r) => r.to));
    expect(await state.loadPairs('Ablage/2025')).toEqual([{ left: '1', right: 'r1', flags: [] }]);
    await state.close();

    // The replaced folder pair's rows are gone, not only hidden.
    const probe = new Database(path, { readonly: true });
    expect(probe.prepare('SELECT count(*) AS n FROM message_pair').get()).toEqual({ n: 2 });
    expect(probe.prepare('SELECT count(*) AS n FROM marker').get()).toEqual({ n: 2 });
    expect(probe.prepare('SELECT count(*) AS n FROM folder_pair').get()).toEqual({ n: 2 });
    probe.close();
  });

  it('refuses renames that name a key twice, changing nothing, and says what to do', async () => {
    const state = new SqliteState({ path: join(dir, 'p.sqlite') });
    const inbox = { key: 'INBOX', left: ['INBOX'], right: ['INBOX'] };
    const archive = { key: 'Archiv', left: ['Archiv'], right: ['Archive'] };
    await state.recordFolderPair(inbox);
    await state.recordFolderPair(archive);
    // A swap: its outcome would depend on the order of the renames.
    await expect(
      state.renameFolderPairs([
        { from: 'INBOX', to: { ...archive, key: 'Archiv' } },
        { from: 'Archiv', to: { ...inbox, key: 'INBOX' } },
      ]),
    ).rejects.toThrow(/"Archiv" appears twice.*split the renames/);
    const keys = (await state.listFolderPairs()).map((r) => r.key).sort();
    expect(keys).toEqual(['Archiv', 'INBOX']);
    await state.close();
  });

  it('records and loads 100,000 pairs in one call', async () => {
    const state = new SqliteState({ path: join(dir, 'big.sqlite') });
    const pairs = Array.from({ length: 100_000 }, (_, i) => ({
      left: `${i + 1}`,
      right: `${1_700_000_000 + i}.M${i}P99.host,S=${i}:2,S`,
      flags: i % 3 ? ['\\Seen'] : [],
    }));
    await state.recordPairs('INBOX', pairs);
    const loaded = await state.loadPairs('INBOX');
    expect(loaded).toHaveLength(100_000);
    expect(new Set(loaded.map((p) => p.right)).size).toBe(100_000);
    await state.close();
  });

  it('says which file is closed when called after close, and closes twice without complaint', async () => {
    const path = join(dir, 'closed.sqlite');
    const state = new SqliteState({ path });
    await state.close();
    await expect(state.close()).resolves.toBeUndefined();
    await expect(state.loadPairs('INBOX')).rejects.toThrow(StateFileError);
    await expect(state.recordFolderPair({ key: 'k', left: ['a'], right: ['b'] })).rejects.toThrow(
      /closed\.sqlite is closed.*new SqliteState/,
    );
  });

  it('refuses a database from a newer Twinbox with an error naming the file', async () => {
    const path = join(dir, 'new.sqlite');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteState({ path })).toThrow(StateFileError);
    expect(() => new SqliteState({ path })).toThrow(new RegExp(`${path}.*newer than this Twinbox.*upgrade`));
  });

  it('names the file and says what to do when it is not a database', async () => {
    const path = join(dir, 'garbage.sqlite');
    await writeFile(path, 'this is not an SQLite database, just some bytes that are long enough to matter');
    expect(() => new SqliteState({ path })).toThrow(/garbage\.sqlite.*move it away/);
  });

  it('names the file when its directory cannot be created', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, '');
    const path = join(blocker, 'state.sqlite');
    expect(() => new SqliteState({ path })).toThrow(StateFileError);
    expect(() => new SqliteState({ path })).toThrow(new RegExp(`${path}`));
  });
});

describe('SqliteState.preload', () => {
  it('serves loadPairs from memory until the key is written, then reads the database again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-preload-'));
    const state = new SqliteState({ path: join(dir, 's.sqlite') });
    try {
      await state.recordPairs('INBOX', [{ left: '1', right: 'a', flags: ['\\Seen'] }]);
      await state.preload(['INBOX', 'Empty']);
      const loaded = await state.loadPairs('INBOX');
      expect(loaded).toEqual([{ left: '1', right: 'a', flags: ['\\Seen'] }]);
      (loaded[0]!.flags as string[]).push('x');
      expect(await state.loadPairs('INBOX')).toEqual([{ left: '1', right: 'a', flags: ['\\Seen'] }]);
      await state.recordPairs('INBOX', [{ left: '2', right: 'b', flags: [] }]);
      expect(await state.loadPairs('INBOX')).toHaveLength(2);
      expect(await state.loadPairs('Empty')).toEqual([]);
    } finally {
      await state.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteState.preload and renames', () => {
  it('reads a renamed key from the database, not from what was preloaded under either key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-preload-'));
    const state = new SqliteState({ path: join(dir, 's.sqlite') });
    try {
      await state.recordFolderPair({ key: 'INBOX', left: ['INBOX'], right: ['INBOX'] });
      await state.recordPairs('INBOX', [{ left: '1', right: 'a', flags: [] }]);
      await state.recordPairs('Ablage', [{ left: '9', right: 'z', flags: [] }]);
      await state.preload(['INBOX', 'Ablage']);
      await state.renameFolderPairs([
        { from: 'INBOX', to: { key: 'Ablage', left: ['Ablage'], right: ['Ablage'] } },
      ]);
      expect(await state.loadPairs('INBOX')).toEqual([]);
      expect(await state.loadPairs('Ablage')).toEqual([{ left: '1', right: 'a', flags: [] }]);
    } finally {
      await state.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
