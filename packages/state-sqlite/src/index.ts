import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type {
  FolderMarker,
  FolderPairRecord,
  FolderPairRename,
  FolderPath,
  MessagePair,
  Side,
  StateBackend,
} from '@twinbox/core';
import Database from 'better-sqlite3';
import { acquireLock, StateLockedError } from './lock.js';

export { StateLockedError } from './lock.js';

/**
 * Schema migrations, applied in order on open. The database's `user_version` is the number of
 * migrations it has seen, so an older file is upgraded in place and a newer one is recognised.
 * A migration that has shipped is never edited: a database that already ran it would not run it again.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE folder_pair (
     id INTEGER PRIMARY KEY,
     key TEXT NOT NULL UNIQUE
   );
   CREATE TABLE message_pair (
     folder_pair INTEGER NOT NULL REFERENCES folder_pair(id),
     left_id TEXT NOT NULL,
     right_id TEXT NOT NULL,
     -- Space-separated: IMAP flags are atoms and never contain a space.
     flags TEXT NOT NULL,
     PRIMARY KEY (folder_pair, left_id),
     UNIQUE (folder_pair, right_id)
   ) WITHOUT ROWID;`,
  // Folder paths are JSON arrays of levels: a level may hold any character, `/` included, so no
  // separator would do. A row whose paths are NULL holds message pairs or markers recorded under a key
  // the engine never recorded as a folder pair (every row of a version 1 database starts so); it is
  // not listed.
  `ALTER TABLE folder_pair ADD COLUMN left_path TEXT;
   ALTER TABLE folder_pair ADD COLUMN right_path TEXT;
   CREATE TABLE marker (
     folder_pair INTEGER NOT NULL REFERENCES folder_pair(id),
     side TEXT NOT NULL CHECK (side IN ('left', 'right')),
     epoch TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (folder_pair, side)
   ) WITHOUT ROWID;`,
  // The limits under which messages of the folder were held back (FolderPairRecord.heldBack).
  `ALTER TABLE folder_pair ADD COLUMN held_back TEXT;`,
  // Each side's folder id as last listed (FolderPairRecord.ids); NULL where that side's store gives
  // none, so every row of an older database starts without ids.
  `ALTER TABLE folder_pair ADD COLUMN left_folder_id TEXT;
   ALTER TABLE folder_pair ADD COLUMN right_folder_id TEXT;`,
];

/** The schema version this build writes; a database with a higher `user_version` is refused. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Any failure of the state database, naming the file so the user knows which one to look at. */
export class StateFileError extends Error {
  override name = 'StateFileError';
  constructor(
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** How {@link SqliteState.open} opens a database: where, and whether to wait for another sync's lock. */
export interface SqliteStateOptions {
  /** The database file; created (mode 0600, directory 0700) when missing. */
  path: string;
}

interface FolderRow {
  key: string;
  left_path: string;
  right_path: string;
  held_back: string | null;
  left_folder_id: string | null;
  right_folder_id: string | null;
}

interface PairRow {
  left_id: string;
  right_id: string;
  flags: string;
}

/**
 * Where a pair's state lives unless configured: `$XDG_STATE_HOME/twinbox/<pair>.sqlite`, or
 * `~/.local/state/twinbox/<pair>.sqlite` (the XDG default). The pair name is a file name, never a path.
 */
export function defaultStatePath(pairName: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!/^[^/\\\0]+$/.test(pairName) || pairName === '.' || pairName === '..') {
    throw new Error(
      `The pair name ${JSON.stringify(pairName)} cannot name a state file: use letters, digits, dots, dashes (no "/" or "..").`,
    );
  }
  const base =
    env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : join(homedir(), '.local', 'state');
  return join(base, 'twinbox', `${pairName}.sqlite`);
}

/**
 * Opens the database file, creating it owner-only, in WAL mode with full fsync, and migrates its
 * schema; every failure is a {@link StateFileError} that names the file and says what to do.
 */
function openDatabase(path: string): Database.Database {
  let db: Database.Database;
  try {
    // Create the file ourselves so it is owner-only from its first byte; SQLite gives its -wal and
    // -shm files the same mode as the database.
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
    db = new Database(path);
  } catch (err) {
    throw new StateFileError(
      path,
      `Cannot open the Twinbox state database ${path}: ${(err as Error).message}. ` +
        'Check that its directory exists or can be created, and that it belongs to you.',
      { cause: err },
    );
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // Each write call runs in a savepoint of the group's transaction (see SqliteState), and SQLite
    // keeps a savepoint's undo pages in a sub-journal: a temporary file by default, two pwrites per page
    // (about 350 per server batch of a daemon, most of the state thread's system calls). In memory, as
    // the pages are few and live only until the transaction commits; durability is the WAL's, unchanged.
    db.pragma('temp_store = MEMORY');
    migrate(db);
  } catch (err) {
    db.close();
    throw new StateFileError(
      path,
      `Cannot open the Twinbox state database ${path}: ${(err as Error).message}. ` +
        'If the file is damaged, move it away; the next sync rebuilds the state by pairing messages by content.',
      { cause: err },
    );
  }
  return db;
}

/** Applies the migrations a database has not seen; refuses one from a newer Twinbox. */
function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `it has schema version ${version}, newer than this Twinbox understands (${SCHEMA_VERSION}); upgrade Twinbox`,
    );
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * The default state backend: one SQLite database per account pair, in WAL mode, committed with
 * `synchronous = FULL`, so a call that resolved survives a crash and a call interrupted by one leaves
 * nothing behind.
 *
 * Group commit: the write calls made in one turn of the event loop (the folders of a sync record their
 * results at the same moments) run in one transaction, each inside a savepoint of its own, and that
 * transaction commits with one fsync once the turn is over; every call of the group resolves then. A
 * call whose own statements fail rolls back alone and rejects at once; a failed commit rejects every
 * call of the group, none of which is then stored. A read made while a group is open sees its writes
 * and answers only once they are durable, so nothing ever acts on a write that could still vanish.
 * better-sqlite3 is synchronous, so calls never interleave.
 *
 * Message pairs and markers may be recorded under a key that has no folder pair record; such a key is
 * not listed by {@link SqliteState.listFolderPairs}, and {@link SqliteState.forgetFolderPair} still
 * drops what it holds.
 */
export class SqliteState implements StateBackend {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #stmts;
  readonly #record;
  readonly #forget;
  readonly #forgetFolder;
  readonly #renameFolders;
  readonly #lock: { release(): void };
  /** The open group transaction: who waits for its commit. Undefined when no write is pending. */
  #group: Array<{ resolve(): void; reject(err: Error): void }> | undefined;
  /**
   * Runs work in a transaction: a write inside the group's (nested in one, better-sqlite3 makes it a
   * savepoint), or a batch of reads in one of its own, which commits without writing anything.
   */
  readonly #savepoint: (work: () => void) => void;

  /**
   * Opens (creating if needed) the database and takes its lock; throws {@link StateLockedError} at
   * once if another process holds it. {@link SqliteState.open} can wait instead.
   */
  constructor(options: SqliteStateOptions) {
    this.path = options.path;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new StateFileError(
        this.path,
        `Cannot create the directory of the Twinbox state database ${this.path}: ${(err as Error).message}. ` +
          'Check that the path is yours to write.',
        { cause: err },
      );
    }
    try {
      this.#lock = acquireLock(`${this.path}.lock`);
    } catch (err) {
      if (err instanceof StateLockedError) throw err;
      throw new StateFileError(
        this.path,
        `Cannot lock the Twinbox state database ${this.path}: ${(err as Error).message}.`,
        {
          cause: err,
        },
      );
    }
    try {
      this.#db = openDatabase(this.path);
    } catch (err) {
      this.#lock.release();
      throw err;
    }
    const db = this.#db;
    this.#stmts = {
      folderId: db.prepare<[string], { id: number }>('SELECT id FROM folder_pair WHERE key = ?'),
      // A key recorded only through its message pairs or markers gets a row without paths.
      addFolder: db.prepare<[string]>(
        'INSERT INTO folder_pair (key) VALUES (?) ON CONFLICT (key) DO NOTHING',
      ),
      listFolders: db.prepare<[], FolderRow>(
        `SELECT key, left_path, right_path, held_back, left_folder_id, right_folder_id
         FROM folder_pair WHERE left_path IS NOT NULL`,
      ),
      recordFolder: db.prepare<[string, string, string, string | null, string | null, string | null]>(
        `INSERT INTO folder_pair (key, left_path, right_path, held_back, left_folder_id, right_folder_id)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET left_path = excluded.left_path, right_path = excluded.right_path,
           held_back = excluded.held_back, left_folder_id = excluded.left_folder_id,
           right_folder_id = excluded.right_folder_id`,
      ),
      // Only a key with a folder pair record can be renamed: a row without paths is no folder pair.
      listedFolderId: db.prepare<[string], { id: number }>(
        'SELECT id FROM folder_pair WHERE key = ? AND left_path IS NOT NULL',
      ),
      // Message pairs and markers point at the row's id, not its key, so they follow the row.
      renameFolder: db.prepare<[string, string, string, string | null, string | null, string | null, number]>(
        `UPDATE folder_pair SET key = ?, left_path = ?, right_path = ?, held_back = ?,
           left_folder_id = ?, right_folder_id = ? WHERE id = ?`,
      ),
      forgetFolderPairs: db.prepare<[number]>('DELETE FROM message_pair WHERE folder_pair = ?'),
      forgetFolderMarkers: db.prepare<[number]>('DELETE FROM marker WHERE folder_pair = ?'),
      forgetFolder: db.prepare<[number]>('DELETE FROM folder_pair WHERE id = ?'),
      loadPairs: db.prepare<[number], PairRow>(
        'SELECT left_id, right_id, flags FROM message_pair WHERE folder_pair = ?',
      ),
      // REPLACE removes every row that clashes on the primary key (left id) or the unique right id:
      // exactly the contract's rule, and within one batch a later row wins.
      recordPair: db.prepare<[number, string, string, string]>(
        'INSERT OR REPLACE INTO message_pair (folder_pair, left_id, right_id, flags) VALUES (?, ?, ?, ?)',
      ),
      // The same pair with new flags (a flag change recorded): only the row's own page changes, where
      // REPLACE deletes and inserts it again, in the right-id index too, twice the pages to write.
      updateFlags: db.prepare<[string, number, string, string]>(
        'UPDATE message_pair SET flags = ? WHERE folder_pair = ? AND left_id = ? AND right_id = ?',
      ),
      findLeft: db.prepare<[number, string], PairRow>(
        'SELECT left_id, right_id, flags FROM message_pair WHERE folder_pair = ? AND left_id = ?',
      ),
      findRight: db.prepare<[number, string], PairRow>(
        'SELECT left_id, right_id, flags FROM message_pair WHERE folder_pair = ? AND right_id = ?',
      ),
      forgetLeft: db.prepare<[number, string]>(
        'DELETE FROM message_pair WHERE folder_pair = ? AND left_id = ?',
      ),
      forgetRight: db.prepare<[number, string]>(
        'DELETE FROM message_pair WHERE folder_pair = ? AND right_id = ?',
      ),
      loadMarker: db.prepare<[number, Side], { epoch: string; value: string }>(
        'SELECT epoch, value FROM marker WHERE folder_pair = ? AND side = ?',
      ),
      recordMarker: db.prepare<[number, Side, string, string]>(
        `INSERT INTO marker (folder_pair, side, epoch, value) VALUES (?, ?, ?, ?)
         ON CONFLICT (folder_pair, side) DO UPDATE SET epoch = excluded.epoch, value = excluded.value`,
      ),
      clearMarker: db.prepare<[number, Side]>('DELETE FROM marker WHERE folder_pair = ? AND side = ?'),
    };
    const stmts = this.#stmts;
    this.#savepoint = db.transaction((work: () => void) => work());
    this.#record = db.transaction((key: string, pairs: readonly MessagePair[]) => {
      const id = this.#folderId(key, true)!;
      for (const pair of pairs) {
        const flags = joinFlags(pair.flags);
        if (stmts.updateFlags.run(flags, id, pair.left, pair.right).changes === 0)
          stmts.recordPair.run(id, pair.left, pair.right, flags);
      }
    });
    this.#forget = db.transaction((id: number, side: Side, ids: readonly string[]) => {
      const stmt = side === 'left' ? stmts.forgetLeft : stmts.forgetRight;
      for (const messageId of ids) stmt.run(id, messageId);
    });
    this.#forgetFolder = db.transaction((id: number) => {
      stmts.forgetFolderPairs.run(id);
      stmts.forgetFolderMarkers.run(id);
      stmts.forgetFolder.run(id);
    });
    // One rename after the other is safe because the keys of one call are distinct: no `to.key` is
    // the `from` of a later rename, so clearing it never drops a folder pair still to be moved.
    this.#renameFolders = db.transaction((renames: readonly FolderPairRename[]) => {
      for (const { from, to } of renames) {
        const id = stmts.listedFolderId.get(from)?.id;
        if (id === undefined) continue;
        const replaced = this.#folderId(to.key, false);
        if (replaced !== undefined) this.#forgetFolder(replaced);
        stmts.renameFolder.run(
          to.key,
          JSON.stringify(to.left),
          JSON.stringify(to.right),
          to.heldBack ?? null,
          to.ids?.left ?? null,
          to.ids?.right ?? null,
          id,
        );
      }
    });
  }

  /**
   * Like the constructor, but with `wait`, waits up to `timeoutMs` for another process to release the
   * pair's lock instead of failing at once.
   */
  static async open(
    options: SqliteStateOptions & { wait?: boolean; timeoutMs?: number },
  ): Promise<SqliteState> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      try {
        return new SqliteState(options);
      } catch (err) {
        if (!(err instanceof StateLockedError) || !options.wait || Date.now() >= deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /**
   * The row id of a key. Not cached: a transaction that rolls back would leave a cached id that names
   * no row, and the indexed lookup costs next to nothing beside the work of a call.
   */
  #folderId(key: string, create: boolean): number | undefined {
    if (create) this.#stmts.addFolder.run(key);
    return this.#stmts.folderId.get(key)?.id;
  }

  /**
   * Runs one write call in the open group transaction (opening one, with its commit at the end of this
   * turn of the event loop), inside a savepoint, and resolves once the group has committed.
   */
  async #write(action: string, work: () => void): Promise<void> {
    this.#writes++;
    this.#run(action, () => {
      // SQLite may have rolled the group back under a read (I/O, memory): its callers must hear so
      // before this write starts a transaction of its own.
      if (this.#group && !this.#db.inTransaction) this.#fail(new Error('SQLite rolled the transaction back'));
      // A transaction left open with no group (a rollback that failed) must not take this write's
      // statements into whatever it still holds.
      if (!this.#group && this.#db.inTransaction) this.#db.exec('ROLLBACK');
      if (!this.#group) {
        this.#db.exec('BEGIN');
        this.#group = [];
        setImmediate(() => this.#commit());
      }
      try {
        this.#savepoint(work);
      } catch (err) {
        // Some errors (a full disk, I/O) make SQLite roll back the whole transaction, taking the
        // group's earlier writes with it: their callers must hear so, not be told they are stored.
        if (!this.#db.inTransaction) this.#fail(err as Error);
        throw err;
      }
    });
    await this.#durable();
  }

  /** Resolves once the open group (if any) has committed; rejects if it cannot. */
  #durable(): Promise<void> {
    const group = this.#group;
    if (!group) return Promise.resolve();
    return new Promise((resolve, reject) => group.push({ resolve, reject }));
  }

  #commit(): void {
    const group = this.#group;
    if (!group) return;
    this.#group = undefined;
    try {
      if (!this.#db.inTransaction) throw new Error('SQLite rolled the transaction back');
      this.#db.exec('COMMIT');
    } catch (err) {
      this.#group = group;
      this.#fail(err as Error);
      return;
    }
    for (const waiter of group) waiter.resolve();
  }

  /** Rolls the open group back and rejects every call waiting for it. */
  #fail(cause: Error): void {
    const group = this.#group ?? [];
    this.#group = undefined;
    try {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
    } catch {
      // SQLite may have rolled back already; the waiters learn of the cause below either way.
    }
    const err = new StateFileError(
      this.path,
      `Cannot commit to the Twinbox state database ${this.path}: ${cause.message}. Nothing of the ` +
        'calls made with this one was stored; the next sync redoes their work. Check the disk (space, errors).',
      { cause },
    );
    for (const waiter of group) waiter.reject(err);
  }

  /**
   * Runs one call against the database, turning a closed database and SQLite's errors into
   * {@link StateFileError}s that name the file.
   */
  #run<T>(action: string, work: () => T): T {
    if (!this.#db.open) {
      throw new StateFileError(
        this.path,
        `Cannot ${action}: the Twinbox state database ${this.path} is closed. Open a new SqliteState to keep syncing.`,
      );
    }
    try {
      return work();
    } catch (err) {
      throw new StateFileError(
        this.path,
        `Cannot ${action} in the Twinbox state database ${this.path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async listFolderPairs(): Promise<FolderPairRecord[]> {
    const records = this.#run('list the folder pairs', () =>
      this.#stmts.listFolders.all().map((row) => {
        const record: FolderPairRecord = {
          key: row.key,
          left: parsePath(row.left_path),
          right: parsePath(row.right_path),
        };
        if (row.held_back !== null) record.heldBack = row.held_back;
        // Absent, not an empty object, when neither side has an id: the contract's "no ids".
        if (row.left_folder_id !== null || row.right_folder_id !== null) {
          record.ids = {};
          if (row.left_folder_id !== null) record.ids.left = row.left_folder_id;
          if (row.right_folder_id !== null) record.ids.right = row.right_folder_id;
        }
        return record;
      }),
    );
    await this.#durable();
    return records;
  }

  async recordFolderPair(record: FolderPairRecord): Promise<void> {
    await this.#write(`record the folder pair ${record.key}`, () => {
      this.#stmts.recordFolder.run(
        record.key,
        JSON.stringify(record.left),
        JSON.stringify(record.right),
        record.heldBack ?? null,
        record.ids?.left ?? null,
        record.ids?.right ?? null,
      );
    });
  }

  async forgetFolderPair(key: string): Promise<void> {
    this.#preloaded.delete(key);
    await this.#write(`forget the folder pair ${key}`, () => {
      const id = this.#folderId(key, false);
      if (id !== undefined) this.#forgetFolder(id);
    });
  }

  /**
   * Moves each known `from` to `to.key` in one transaction: the folder pair's row takes the new key and
   * paths, so its message pairs and markers move without being copied. What was under `to.key` is
   * forgotten first; an unknown `from` is skipped. Rejects, changing nothing, when a key appears twice
   * in one call (the contract forbids it: the outcome would depend on the order of the renames).
   */
  async renameFolderPairs(renames: readonly FolderPairRename[]): Promise<void> {
    for (const { from, to } of renames) {
      this.#preloaded.delete(from);
      this.#preloaded.delete(to.key);
    }
    await this.#write('rename folder pairs', () => {
      assertDistinctKeys(renames);
      if (renames.length > 0) this.#renameFolders(renames);
    });
  }

  /** How many write calls have started: {@link preload} keeps what it read only if none did meanwhile. */
  #writes = 0;

  /** Pairs read into memory ahead of a sync, per key; dropped for a key as soon as it is written. */
  readonly #preloaded = new Map<string, MessagePair[]>();

  /**
   * Reads the pairs of these folder pairs into memory now (at discover time, say), so that the sync's
   * `loadPairs` for them is served from memory. Any write to a key drops its preloaded copy, so a
   * later read is never stale.
   */
  async preload(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const written = this.#writes;
      const pairs = await this.#readPairs(key);
      // Not kept before it is durable: a group that failed to commit would leave it naming phantoms.
      await this.#durable();
      // Nor when anything was written meanwhile: a write made while this one waited found no copy to
      // drop, and a copy from before it would hide it from every later read.
      if (this.#writes === written) this.#preloaded.set(key, pairs);
    }
  }

  async loadPairs(key: string): Promise<MessagePair[]> {
    const preloaded = this.#preloaded.get(key);
    if (preloaded) return preloaded.map((p) => ({ left: p.left, right: p.right, flags: [...p.flags] }));
    const pairs = await this.#readPairs(key);
    await this.#durable();
    return pairs;
  }

  async #readPairs(key: string): Promise<MessagePair[]> {
    return this.#run(`load the message pairs of ${key}`, () => {
      const id = this.#folderId(key, false);
      if (id === undefined) return [];
      return this.#stmts.loadPairs.all(id).map((row) => ({
        left: row.left_id,
        right: row.right_id,
        flags: row.flags === '' ? [] : row.flags.split(' '),
      }));
    });
  }

  /** Point lookups on the primary key or the unique right id: an incremental sync reads only what changed. */
  async findPairs(key: string, side: Side, ids: readonly string[]): Promise<MessagePair[]> {
    const found = this.#run(`find message pairs of ${key}`, () => {
      const id = this.#folderId(key, false);
      if (id === undefined || ids.length === 0) return [];
      const stmt = side === 'left' ? this.#stmts.findLeft : this.#stmts.findRight;
      const found: MessagePair[] = [];
      // In one read transaction: a statement outside of one takes and drops SQLite's shared lock
      // itself (two fcntl calls each), which for a batch's thousands of ids cost more than the lookups.
      this.#savepoint(() => {
        for (const messageId of new Set(ids)) {
          const row = stmt.get(id, messageId);
          if (row)
            found.push({
              left: row.left_id,
              right: row.right_id,
              flags: row.flags === '' ? [] : row.flags.split(' '),
            });
        }
      });
      return found;
    });
    await this.#durable();
    return found;
  }

  async recordPairs(key: string, pairs: readonly MessagePair[]): Promise<void> {
    this.#preloaded.delete(key);
    await this.#write(`record message pairs of ${key}`, () => {
      if (pairs.length > 0) this.#record(key, pairs);
    });
  }

  async forgetPairs(key: string, side: Side, ids: readonly string[]): Promise<void> {
    this.#preloaded.delete(key);
    await this.#write(`forget message pairs of ${key}`, () => {
      const id = this.#folderId(key, false);
      if (id !== undefined && ids.length > 0) this.#forget(id, side, ids);
    });
  }

  async loadMarker(key: string, side: Side): Promise<FolderMarker | null> {
    const marker = this.#run(`load the ${side} marker of ${key}`, () => {
      const id = this.#folderId(key, false);
      if (id === undefined) return null;
      const row = this.#stmts.loadMarker.get(id, side);
      return row ? { epoch: row.epoch, value: row.value } : null;
    });
    await this.#durable();
    return marker;
  }

  async recordMarker(key: string, side: Side, marker: FolderMarker | null): Promise<void> {
    await this.#write(`record the ${side} marker of ${key}`, () => {
      if (marker === null) {
        const id = this.#folderId(key, false);
        if (id !== undefined) this.#stmts.clearMarker.run(id, side);
        return;
      }
      this.#stmts.recordMarker.run(this.#folderId(key, true)!, side, marker.epoch, marker.value);
    });
  }

  /** Closing twice is harmless; every other call after the first close rejects. */
  async close(): Promise<void> {
    if (!this.#db.open) return;
    // Writes still waiting for their group's commit are committed (or told they failed) first; a
    // failure is the close's too, so a daemon shutting down hears of it.
    let failed: Error | undefined;
    if (this.#group) {
      // Synchronously, so no call slips in between: #commit settles its waiters at once.
      this.#group.push({ resolve: () => {}, reject: (err) => (failed = err) });
      this.#commit();
    }
    try {
      this.#db.close();
      this.#lock.release();
    } catch (err) {
      throw new StateFileError(
        this.path,
        `Cannot close the Twinbox state database ${this.path}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (failed) throw failed;
  }
}

function assertDistinctKeys(renames: readonly FolderPairRename[]): void {
  const seen = new Set<string>();
  for (const { from, to } of renames) {
    for (const key of [from, to.key]) {
      if (seen.has(key)) {
        throw new Error(
          `the key ${JSON.stringify(key)} appears twice in one call. ` +
            'Each key may appear once per call: split the renames into calls whose keys are distinct.',
        );
      }
      seen.add(key);
    }
  }
}

function joinFlags(flags: readonly string[]): string {
  return flags.join(' ');
}

function parsePath(json: string): FolderPath {
  return JSON.parse(json) as string[];
}
