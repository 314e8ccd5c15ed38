import type { Driver } from '@twinbox/core';
import { MemoryDriver, MemoryStore } from '@twinbox/core/testing';
import { describe, expect, it } from 'vitest';
import { FolderRenames, RenamedDriver } from '../src/index.js';

const renames = new FolderRenames({ Archive: 'Archiv', Sent: 'Gesendet' });
const body = new TextEncoder().encode('Message-ID: <m@test>\r\nSubject: m\r\n\r\nm\r\n');

describe('RenamedDriver moveMessages', () => {
  it('moves between the inner driver’s names of both folders', async () => {
    const store = new MemoryStore();
    const renamed = new RenamedDriver(new MemoryDriver(store), renames);
    await renamed.createFolder(['Sent']);
    await renamed.createFolder(['Archive', '2024']);
    const [appended] = await renamed.appendMessages(['Sent'], [{ body, flags: ['\\Seen'] }]);
    const id = appended?.ok ? appended.id : '';
    await renamed.listMessages(['Sent'], {});

    const [outcome] = await renamed.moveMessages!(['Sent'], ['Archive', '2024'], [id]);
    expect(outcome).toMatchObject({ id, ok: true });
    expect(store.messages(['Gesendet'])).toEqual([]);
    const moved = store.messages(['Archiv', '2024']);
    expect(moved.map((m) => [m.id, m.flags])).toEqual([[outcome!.ok ? outcome!.newId : '', ['\\Seen']]]);
  });

  it('offers no move when the inner driver has none, so the caller copies and deletes', () => {
    const inner = new MemoryDriver(new MemoryStore());
    // The reference driver without its move: every other method, bound to it.
    const withoutMove = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'moveMessages') return undefined;
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const renamed: Driver = new RenamedDriver(withoutMove, renames);
    expect(renamed.moveMessages).toBeUndefined();
  });
});
