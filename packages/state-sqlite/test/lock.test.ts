import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultStatePath, SqliteState, StateLockedError } from '../src/index.js';

const dist = new URL('../dist/index.js', import.meta.url).href;
/** A second Twinbox process: holds the state open until its stdin closes. */
const HOLDER = `
const { SqliteState } = await import(${JSON.stringify(dist)});
const state = new SqliteState({ path: process.argv[1] });
process.stdout.write('held\\n');
process.stdin.on('end', async () => { await state.close(); process.exit(0); });
process.stdin.resume();
`;

function holder(path: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HOLDER, path], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const held = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  return { child, held };
}

describe('the state lock between two Twinbox processes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'twinbox-lock-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes the second one fail at once with a message naming the lock file and the holder', async () => {
    const path = join(dir, 'a.sqlite');
    const { child, held } = holder(path);
    await held;
    let error: unknown;
    try {
      new SqliteState({ path });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(StateLockedError);
    expect((error as Error).message).toContain(`${path}.lock`);
    expect((error as Error).message).toContain(`pid ${child.pid}`);
    child.stdin.end();
    await new Promise((resolve) => child.once('exit', resolve));
  });

  it('lets the second one wait for the first to finish, then go on', async () => {
    const path = join(dir, 'b.sqlite');
    const { child, held } = holder(path);
    await held;
    const opening = SqliteState.open({ path, wait: true, timeoutMs: 10_000 });
    setTimeout(() => child.stdin.end(), 300);
    const state = await opening;
    await state.recordPairs('INBOX', [{ left: '1', right: 'a', flags: [] }]);
    await state.close();
  });

  it('takes over the lock of a holder that was killed with SIGKILL', async () => {
    const path = join(dir, 'c.sqlite');
    const { child, held } = holder(path);
    await held;
    const lockOwner = (await readFile(`${path}.lock`, 'utf8')).trim();
    expect(lockOwner).toBe(String(child.pid));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const state = new SqliteState({ path });
    expect((await readFile(`${path}.lock`, 'utf8')).trim()).toBe(String(process.pid));
    await state.close();
  });

  it('refuses a second instance in the same process too, and releases the lock on close', async () => {
    const path = join(dir, 'd.sqlite');
    const first = new SqliteState({ path });
    expect(() => new SqliteState({ path })).toThrow(StateLockedError);
    await first.close();
    const second = new SqliteState({ path });
    await second.close();
  });

  it('treats a lock file with garbage in it as stale', async () => {
    const path = join(dir, 'e.sqlite');
    await writeFile(`${path}.lock`, 'not a pid');
    const state = new SqliteState({ path });
    await state.close();
  });
});

describe('defaultStatePath', () => {
  it('follows XDG_STATE_HOME, else ~/.local/state', () => {
    expect(defaultStatePath('work', { XDG_STATE_HOME: '/x/state' })).toBe('/x/state/twinbox/work.sqlite');
    expect(defaultStatePath('work', {})).toMatch(/\/\.local\/state\/twinbox\/work\.sqlite$/);
  });

  it('refuses pair names that would leave the directory', () => {
    for (const bad of ['../evil', 'a/b', '..', '.', '', 'nul\0'])
      expect(() => defaultStatePath(bad, {})).toThrow(/cannot name a state file/);
  });
});
