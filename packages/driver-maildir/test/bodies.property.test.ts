import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaildirDriver } from '../src/index.js';

/** More runs find rarer bodies: `TWINBOX_PROPERTY_RUNS=20000 pnpm test` before a release. */
const RUNS = Number(process.env.TWINBOX_PROPERTY_RUNS ?? 300);
/** The timeout is for a hang, not for a busy machine (CI runs every package's tests at once on two cores). */
const slow = { timeout: 60_000 + RUNS * 20 };

const CR = 13;
const LF = 10;

/**
 * Bodies of any bytes, made of pieces that put CR, LF and their awkward neighbours side by side
 * (CR CR LF, LF CR, runs of either, at either end) among NUL, 8-bit and ordinary bytes.
 */
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom([CR, LF], [CR], [LF], [CR, CR, LF], [LF, CR], [LF, LF], [CR, CR]) },
  { weight: 2, arbitrary: fc.constant([0]) },
  { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((b) => [b]) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 0xff }).map((b) => [b]) },
  { weight: 2, arbitrary: fc.constantFrom([...Buffer.from('Subject: x')], [...Buffer.from('line')]) },
);
const body = fc.array(piece, { maxLength: 120 }).map((pieces) => Uint8Array.from(pieces.flat()));
const flags = fc.subarray(['\\Seen', '\\Flagged']);

const show = (bytes: Uint8Array) => JSON.stringify(Buffer.from(bytes).toString('latin1'));
const isPureCrlf = (b: Uint8Array) =>
  b.every((x, i) => (x !== CR || b[i + 1] === LF) && (x !== LF || (i > 0 && b[i - 1] === CR)));

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinbox-bodies-property-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('MaildirDriver bodies, property', slow, () => {
  it('appendMessages then readMessage, readMessages and the listed size give back every body byte for byte', async () => {
    // fsync off: durability is not under test here, and it would cost most of the run.
    const writer = await MaildirDriver.open({ root, fsync: false });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ body, flags }), { minLength: 1, maxLength: 4 }),
        async (batch) => {
          const outcomes = await writer.appendMessages(['INBOX'], batch);
          const ids = outcomes.map((o) => {
            if (!o.ok) throw new Error(`append failed: ${o.message}`);
            return o.id;
          });
          // A reader of its own, so it finds each message from the files alone.
          const reader = await MaildirDriver.open({ root, fsync: false });
          try {
            const listing = await reader.listMessages(['INBOX'], {});
            if (listing.kind !== 'full') throw new Error('expected a full listing');
            const sizes = new Map(listing.messages.map((m) => [m.id, m.size]));
            const described = new Map(
              (await reader.describeMessages(['INBOX'], ids)).map((m) => [m.id, m.size]),
            );
            const many = await reader.readMessages(['INBOX'], ids);
            for (const [i, { body: sent }] of batch.entries()) {
              const id = ids[i]!;
              const one = await reader.readMessage(['INBOX'], id);
              expect(show(one.body), 'readMessage').toBe(show(sent));
              expect(show(many[i]?.body ?? new Uint8Array()), 'readMessages').toBe(show(sent));
              expect(sizes.get(id), 'listed size').toBe(sent.length);
              expect(described.get(id), 'described size').toBe(sent.length);
              if (isPureCrlf(sent)) {
                // The ordinary case keeps its plain LF file, for mutt & co.
                const sub = batch[i]!.flags.length === 0 ? 'new' : 'cur';
                const name = (await readdir(join(root, sub))).find((n) => n.startsWith(id))!;
                expect((await readFile(join(root, sub, name))).includes(CR)).toBe(false);
              }
            }
            await reader.deleteMessages(['INBOX'], ids);
          } finally {
            await reader.close();
          }
        },
      ),
      { numRuns: RUNS },
    );
    await writer.close();
  });
});
