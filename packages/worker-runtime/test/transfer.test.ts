import { describe, expect, it } from 'vitest';
import { startComponent, transfer } from '../src/index.js';
import type createBytes from './fixtures/bytes.js';
import type createCounter from './fixtures/counter.js';
import { fixture, modes, settleMemory } from './helpers.js';

type Bytes = ReturnType<typeof createBytes>;
const SIZE = 50 * 2 ** 20;
const rss = () => process.memoryUsage().rss;

// Both sides keep a reference to the buffer, so a copy would cost twice the memory; a move costs it
// once, and leaves the sender's buffer detached.
describe.each(modes)('transfers, %s', (mode) => {
  it('moves a 50 MB buffer from the component to the caller without a copy', async () => {
    const handle = await startComponent<Bytes>(fixture('bytes'), { mode });
    await settleMemory();
    const before = rss();
    const bytes = await handle.api.make(SIZE, 7);
    const grown = rss() - before;
    expect(bytes.byteLength).toBe(SIZE);
    expect(bytes[SIZE - 1]).toBe(7);
    expect(await handle.api.sentLength()).toBe(0); // detached in the component
    expect(grown).toBeGreaterThan(0.8 * SIZE); // the buffer really was made (pages touched)
    expect(grown).toBeLessThan(1.5 * SIZE);
    await handle.close();
  });

  it('moves a 50 MB buffer from the caller to the component without a copy', async () => {
    const handle = await startComponent<Bytes>(fixture('bytes'), { mode });
    await settleMemory();
    const before = rss();
    const body = new Uint8Array(SIZE).fill(9);
    const answer = await handle.api.take({ folder: 'INBOX', body: transfer(body, [body.buffer]) });
    const grown = rss() - before;
    expect(answer).toEqual({ folder: 'INBOX', length: SIZE, last: 9 });
    expect(body.byteLength).toBe(0); // detached in the caller
    expect(grown).toBeGreaterThan(0.8 * SIZE);
    expect(grown).toBeLessThan(1.5 * SIZE);
    await handle.close();
  });

  it('copies what is not marked, and leaves the sender its buffer', async () => {
    const handle = await startComponent<Bytes>(fixture('bytes'), { mode });
    const body = new Uint8Array(1024).fill(3);
    expect(await handle.api.take({ folder: 'x', body })).toEqual({ folder: 'x', length: 1024, last: 3 });
    expect(body.byteLength).toBe(1024);
    const copied = await handle.api.makeCopied(1024);
    expect(copied.byteLength).toBe(1024);
    expect(await handle.api.sentLength()).toBe(1024);
    await handle.close();
  });

  it('moves a ReadableStream returned by the component', async () => {
    const handle = await startComponent<Bytes>(fixture('bytes'), { mode });
    const stream = await handle.api.stream(5, 1000);
    expect(stream).toBeInstanceOf(ReadableStream);
    let total = 0;
    for await (const chunk of stream) total += chunk.byteLength;
    expect(total).toBe(5000);
    await handle.close();
  });
});

describe('transfer()', () => {
  it('refuses to mark a primitive', () => {
    expect(() => transfer(5 as unknown as object, [])).toThrow(TypeError);
  });
});

describe('transfers, the cost of plain data', () => {
  it('passes plain data (a listing, bodies) without loading web streams in the thread', async () => {
    // A thread of its own: what it loads is what the calls made it load (inline, the test runner's
    // thread has long loaded them).
    type Counter = ReturnType<typeof createCounter>;
    const handle = await startComponent<Counter>(fixture('counter'), { mode: 'thread', args: { start: 0 } });
    try {
      const listing = Array.from({ length: 1000 }, (_, i) => ({
        id: String(i),
        flags: ['\\Seen'],
        body: new Uint8Array(8),
      }));
      expect(await handle.api.echo(listing)).toEqual(listing);
      expect(await handle.api.echo({ messages: listing, body: new Uint8Array(4) })).toMatchObject({
        messages: listing,
      });
      expect(await handle.api.streamsLoaded()).toBe(false);
    } finally {
      await handle.close();
    }
  });
});
