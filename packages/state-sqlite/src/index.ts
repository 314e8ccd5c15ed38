import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MessagePair, Side, StateBackend } from '@twinbox/core';
import Database from 'better-sqlite3';

/**
 * Schema migrations, applied in order on open. The database's `user_version` is the number of
 * migrations it has seen, so an older file is upgraded in place and a newer one is recognised.
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

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

export interface SqliteStateOptions {
  /** The database file; created (mode 0600, directory 0700) when missing. */
  path: string;
}

/**
 * The default state backend: one SQLite database per account pair, in WAL mode. Each write call is one
 * transaction, committed with `synchronous = FULL`, so a call that resolved survives a crash and a call
 * interrupted by one leaves nothing behind.
 */
export class SqliteState implements StateBackend {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #folderIds = new Map<string, number>();
  readonly #stmts;

  constructor(options: SqliteStateOptions) {
    this.path = options.path;
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    // Create the file ourselves so it is owner-only from its first byte; SQLite gives its -wal and
    // -shm files the same mode as the database.
    closeSync(openSync(this.path, 'a', 0o600));
    chmodSync(this.path, 0o600);
    try {
      this.#db = new Database(this.path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      this.#migrate();
    } catch (err) {
      throw new StateFileError(
        this.path,
        `Cannot open the Twinbox state database ${this.path}: ${(err as Error).message}. ` +
          'If the file is damaged, move it away; the next sync rebuilds the state by pairing messages by content.',
        { cause: err },
      );
    }
    this.#stmts = {
      folder: this.#db.prepare<[string], { id: number }>('SELECT id FROM folder_pair WHERE key = ?'),
      addFolder: this.#db.prepare<[string]>('INSERT INTO folder_pair (key) VALUES (?)'),
      load: this.#db.prepare<[number], { left_id: string; right_id: string; flags: string }>(
        'SELECT left_id, right_id, flags FROM message_pair WHERE folder_pair = ?',
      ),
      // REPLACE removes every row that clashes on the primary key (left id) or the unique right id.
      record: this.#db.prepare<[number, string, string, string]>(
        'INSERT OR REPLACE INTO message_pair (folder_pair, left_id, right_id, flags) VALUES (?, ?, ?, ?)',
      ),
      forgetLeft: this.#db.prepare<[number, string]>(
        'DELETE FROM message_pair WHERE folder_pair = ? AND left_id = ?',
      ),
      forgetRight: this.#db.prepare<[number, string]>(
        'DELETE FROM message_pair WHERE folder_pair = ? AND right_id = ?',
      ),
    };
  }

  #migrate() {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `it has schema version ${version}, newer than this Twinbox understands (${SCHEMA_VERSION}); upgrade Twinbox`,
      );
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      this.#db.transaction(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  #folderId(key: string, create: boolean): number | undefined {
    let id = this.#folderIds.get(key) ?? this.#stmts.folder.get(key)?.id;
    if (id === undefined && create) id = Number(this.#stmts.addFolder.run(key).lastInsertRowid);
    if (id !== undefined) this.#folderIds.set(key, id);
    return id;
  }

  async loadPairs(folderPair: string): Promise<MessagePair[]> {
    const id = this.#folderId(folderPair, false);
    if (id === undefined) return [];
    return this.#stmts.load.all(id).map((row) => ({
      left: row.left_id,
      right: row.right_id,
      flags: row.flags === '' ? [] : row.flags.split(' '),
    }));
  }

  async recordPairs(folderPair: string, pairs: readonly MessagePair[]): Promise<void> {
    this.#db.transaction(() => {
      const id = this.#folderId(folderPair, true)!;
      for (const pair of pairs) this.#stmts.record.run(id, pair.left, pair.right, pair.flags.join(' '));
    })();
  }

  async forgetPairs(folderPair: string, side: Side, ids: readonly string[]): Promise<void> {
    const id = this.#folderId(folderPair, false);
    if (id === undefined) return;
    const stmt = side === 'left' ? this.#stmts.forgetLeft : this.#stmts.forgetRight;
    this.#db.transaction(() => {
      for (const messageId of ids) stmt.run(id, messageId);
    })();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
