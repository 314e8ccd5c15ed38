import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteState, StateFileError } from '../src/index.js';

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

  it('keeps what was recorded across close and reopen', async () => {
    const path = join(dir, 'pair.sqlite');
    const first = new SqliteState({ path });
    await first.recordPairs('Archiv/Übersicht', [
      { left: '10', right: '1700000000.M1.host', flags: ['\\Seen', '$label1'] },
      { left: '11', right: '1700000001.M2.host', flags: [] },
    ]);
    await first.forgetPairs('Archiv/Übersicht', 'right', ['1700000001.M2.host']);
    await first.close();
    const second = new SqliteState({ path });
    expect(await second.loadPairs('Archiv/Übersicht')).toEqual([
      { left: '10', right: '1700000000.M1.host', flags: ['\\Seen', '$label1'] },
    ]);
    await second.close();
  });

  it('replaces any pair sharing an id, so each id is in one pair', async () => {
    const state = new SqliteState({ path: join(dir, 'p.sqlite') });
    await state.recordPairs('f', [
      { left: '1', right: 'a', flags: [] },
      { left: '2', right: 'b', flags: [] },
    ]);
    await state.recordPairs('f', [{ left: '1', right: 'b', flags: ['\\Flagged'] }]);
    expect(await state.loadPairs('f')).toEqual([{ left: '1', right: 'b', flags: ['\\Flagged'] }]);
    await state.close();
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
});
