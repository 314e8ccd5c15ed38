import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathOfListedName, wireName } from '../src/names.js';
import { BACKOFF, backoffDelay, folderOfStatus, NoticeQueue } from '../src/watch.js';

const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 3000);

describe('NoticeQueue', () => {
  it('coalesces what changed before the call, and answers it at once', async () => {
    const queue = new NoticeQueue();
    queue.start();
    queue.changed(['A']);
    queue.changed(['B', 'C']);
    queue.changed(['A']);
    expect(await queue.next()).toEqual({ folders: [['A'], ['B', 'C']], all: false });
  });

  it('waits for the next change when nothing is pending', async () => {
    const queue = new NoticeQueue();
    queue.start();
    let settled = false;
    const waiting = queue.next().then((n) => {
      settled = true;
      return n;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    queue.changed(['X']);
    expect(await waiting).toEqual({ folders: [['X']], all: false });
  });

  it('says all, with no folders, once all is noted or too many folders changed', async () => {
    const queue = new NoticeQueue();
    queue.start();
    queue.changed(['A']);
    queue.changedAll();
    queue.changed(['B']);
    expect(await queue.next()).toEqual({ folders: [], all: true });
    for (let i = 0; i <= 1000; i++) queue.changed([`F${i}`]);
    expect(await queue.next()).toEqual({ folders: [], all: true });
  });

  it('rejects with the failure until started again, and notes nothing while stopped', async () => {
    const queue = new NoticeQueue();
    queue.changed(['ignored']);
    await expect(queue.next()).rejects.toMatchObject({ code: 'WATCH_STOPPED' });
    queue.start();
    const waiting = queue.next().catch((e: unknown) => e);
    const failure = Object.assign(new Error('refused'), { code: 'AUTH_FAILED' });
    queue.fail(failure as never);
    expect(await waiting).toBe(failure);
    await expect(queue.next()).rejects.toBe(failure);
    queue.start();
    queue.changed(['again']);
    expect(await queue.next()).toEqual({ folders: [['again']], all: false });
  });

  it('keeps what changed for the next call when a call is aborted', async () => {
    const queue = new NoticeQueue();
    queue.start();
    const controller = new AbortController();
    const waiting = queue.next(controller.signal).catch((e: unknown) => e);
    controller.abort();
    expect(await waiting).toMatchObject({ code: 'ABORTED' });
    queue.changed(['kept']);
    expect(await queue.next()).toEqual({ folders: [['kept']], all: false });
  });
});

describe('backoffDelay', () => {
  it('doubles from 1 s to a 60 s cap, half of each wait random', () => {
    expect(backoffDelay(0, () => 0)).toBe(BACKOFF.initialMs / 2);
    expect(backoffDelay(0, () => 1)).toBe(BACKOFF.initialMs);
    expect(backoffDelay(3, () => 1)).toBe(8000);
    expect(backoffDelay(10, () => 1)).toBe(BACKOFF.maxMs);
    expect(backoffDelay(1e6, () => 0.5)).toBe(BACKOFF.maxMs * 0.75);
  });
});

/** imapflow's parse of a response's attributes, as a hostile server could make it come out. */
const token: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.record({
      type: fc.constantFrom('ATOM', 'STRING', 'LITERAL', 'SEQUENCE', 'SECTION', 'TEXT'),
      value: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 16 }),
        fc.uint8Array({ maxLength: 16 }),
        fc.constant(null),
        fc.integer(),
      ),
    }),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.constant(null),
    fc.constant(undefined),
  ),
})).node;

describe('folderOfStatus', () => {
  it('names a folder only when the name maps to a path and back, else says all; never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.array(token, { maxLength: 3 }), token),
        fc.constantFrom('/', '.'),
        fc.boolean(),
        (attributes, delimiter, utf8) => {
          const folder = folderOfStatus(attributes, delimiter, utf8);
          if (folder === 'all') return;
          const name = (attributes as { value: unknown }[])[0]!.value;
          const text = typeof name === 'string' ? name : new TextDecoder().decode(name as Uint8Array);
          expect(pathOfListedName(text, delimiter, utf8)).toEqual(folder);
          if (text.toUpperCase() !== 'INBOX') expect(wireName(folder, delimiter, utf8)).toBe(text);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('reads the folder of a STATUS as Dovecot sends it', () => {
    const items = [
      { type: 'ATOM', value: 'MESSAGES' },
      { type: 'ATOM', value: '1' },
    ];
    expect(folderOfStatus([{ type: 'ATOM', value: 'Foo/Bar' }, items], '/', false)).toEqual(['Foo', 'Bar']);
    expect(folderOfStatus([{ type: 'STRING', value: 'Caf&AOk-' }, items], '/', false)).toEqual(['Café']);
    expect(folderOfStatus([{ type: 'STRING', value: 'Caf&AOk' }, items], '/', false)).toBe('all');
    expect(folderOfStatus([{ type: 'STRING', value: '/etc' }, items], '/', false)).toBe('all');
    expect(folderOfStatus([], '/', false)).toBe('all');
  });
});
