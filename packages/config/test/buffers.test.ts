import type { ActionOutcome, CopyItem } from '@twinbox/core';
import { describe, expect, it } from 'vitest';
import { releaseWritten } from '../src/buffers.js';

const item = (from: string, body: Uint8Array): CopyItem => ({
  action: { from, flags: [] },
  content: { body, flags: [] },
});
const ok = (id: string): ActionOutcome => ({ ok: true, id, newId: `new-${id}` });
const failed = (id: string): ActionOutcome => ({ ok: false, id, code: 'WRITE_FAILED', message: 'disk full' });

describe('releaseWritten', () => {
  it('frees the buffer of every body that was stored', () => {
    const a = new Uint8Array(4096).fill(1);
    const b = new Uint8Array(100).fill(2);
    releaseWritten([item('1', a), item('2', b)], [ok('1'), ok('2')]);
    expect(a.buffer.byteLength).toBe(0);
    expect(b.buffer.byteLength).toBe(0);
  });

  it('keeps the body of a message that was not stored, and a buffer it shares with a stored one', () => {
    const shared = new ArrayBuffer(8192);
    const first = new Uint8Array(shared, 0, 100);
    const second = new Uint8Array(shared, 100, 100);
    const alone = new Uint8Array(300);
    releaseWritten(
      [item('1', first), item('2', second), item('3', alone)],
      [ok('1'), failed('2'), failed('3')],
    );
    expect(shared.byteLength).toBe(8192);
    expect(alone.byteLength).toBe(300);
  });

  it('keeps a body whose outcome is missing or names another message', () => {
    const a = new Uint8Array(10);
    const b = new Uint8Array(10);
    releaseWritten([item('1', a), item('2', b)], [ok('other')]);
    expect(a.byteLength).toBe(10);
    expect(b.byteLength).toBe(10);
  });
});
