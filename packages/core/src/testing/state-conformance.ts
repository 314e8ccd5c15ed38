import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FolderMarker } from '../driver.js';
import { normalizeFlags } from '../flags.js';
import { type FolderPath, folderKey } from '../folders.js';
import type { Side } from '../model.js';
import type { FolderPairRecord, FolderPairRename, MessagePair, StateBackend } from '../state.js';

/** One backend under test, on fresh, empty storage of its own. */
export interface StateFixture {
  state: StateBackend;
  /**
   * Opens a new backend on the same storage as `state`. The suite calls it only once the backend it
   * opened last has been closed, and may call it several times in one test. Required unless the suite
   * is told `{ persistent: false }`.
   */
  reopen?: () => Promise<StateBackend>;
  /** Removes the storage. Called once per fixture, after the suite has closed the backends it opened. */
  cleanup?: () => Promise<void>;
}

/**
 * The contract of {@link StateBackend} as a vitest suite: every state backend, ours or a third party's,
 * must pass it. `open` is called once per test (and once per run of the randomized test) and must give
 * a backend on fresh, empty storage.
 *
 * Beyond the contract's own words, the suite holds backends to two readings of it that the engine
 * relies on: recording a folder pair again under its key keeps the key's message pairs and markers
 * (only {@link StateBackend.forgetFolderPair} drops them), and message pairs and markers may be
 * recorded under a key that has no folder pair record (it is then not listed, but forgetting it still
 * drops them). Listed folder pairs are compared strictly: a side's folder id, or a record's `ids`,
 * that was not given must come back absent, not as `undefined` or an empty object.
 */
export function describeStateConformance(
  name: string,
  open: () => Promise<StateFixture>,
  options: {
    /**
     * False for a backend whose state does not outlive the object (the in-memory one): the tests of what
     * survives a reopen are then not part of its suite at all, rather than reported as skipped.
     */
    persistent?: boolean;
    /** True for a backend that implements the optional {@link StateBackend.findPairs}: it is then tested. */
    findPairs?: boolean;
    /**
     * True for a backend that implements the optional {@link StateBackend.renameFolderPairs}: it is then
     * tested, and renames join the randomized operations.
     */
    renameFolderPairs?: boolean;
  } = {},
): void {
  const persistent = options.persistent ?? true;
  const run = (body: (session: Session) => Promise<void>) => withSession(open, body);

  describe(`${name} (StateBackend conformance)`, () => {
    describe('folder pairs', () => {
      it('lists nothing on fresh storage', () =>
        run(async ({ state }) => {
          expect(await state.listFolderPairs()).toEqual([]);
        }));

      it('lists each recorded folder pair once', () =>
        run(async ({ state }) => {
          await state.recordFolderPair(INBOX_PAIR);
          await state.recordFolderPair(ARCHIVE_PAIR);
          expect(sortFolderPairs(await state.listFolderPairs())).toEqual(
            sortFolderPairs([INBOX_PAIR, ARCHIVE_PAIR]),
          );
        }));

      it('replaces the folder pair recorded again under its key, keeping its message pairs and markers', () =>
        run(async ({ state }) => {
          await state.recordFolderPair(INBOX_PAIR);
          await state.recordPairs(INBOX_PAIR.key, [pair('1', 'a', ['\\Seen'])]);
          await state.recordMarker(INBOX_PAIR.key, 'left', { epoch: '7', value: '100' });
          const moved = { key: INBOX_PAIR.key, left: ['INBOX'], right: ['Posteingang'] };
          await state.recordFolderPair(moved);
          expect(await state.listFolderPairs()).toEqual([moved]);
          expect(await state.loadPairs(INBOX_PAIR.key)).toEqual([pair('1', 'a', ['\\Seen'])]);
          expect(await state.loadMarker(INBOX_PAIR.key, 'left')).toEqual({ epoch: '7', value: '100' });
        }));

      it('keeps what a folder pair holds back as given, and recording it again without clears it', () =>
        run(async ({ state }) => {
          const held = { ...INBOX_PAIR, heldBack: 'size<=1000 age<=86400000' };
          await state.recordFolderPair(held);
          await state.recordFolderPair(ARCHIVE_PAIR);
          expect(sortFolderPairs(await state.listFolderPairs())).toEqual(
            sortFolderPairs([held, ARCHIVE_PAIR]),
          );
          await state.recordFolderPair(INBOX_PAIR);
          expect(sortFolderPairs(await state.listFolderPairs())).toEqual(
            sortFolderPairs([INBOX_PAIR, ARCHIVE_PAIR]),
          );
        }));

      it("keeps each side's folder id as given: both sides, one side only, neither", () =>
        run(async ({ state }) => {
          const records = [
            { ...INBOX_PAIR, ids: { left: MAILBOX_ID, right: MAILDIR_ID } },
            { ...ARCHIVE_PAIR, ids: { right: MAILDIR_ID } },
            { key: 'Sent', left: ['Sent'], right: ['Gesendet'], ids: { left: ODD_FOLDER_ID } },
            { key: 'Drafts', left: ['Drafts'], right: ['Entwürfe'], heldBack: 'size<=1000' },
          ];
          for (const record of records) await state.recordFolderPair(record);
          // Strictly: a side without an id, or a pair without ids, is absent, not `undefined` or `{}`.
          await expectFolderPairs(state, records);
        }));

      it('replaces the folder ids when the folder pair is recorded again, and drops them when recorded without', () =>
        run(async ({ state }) => {
          await state.recordFolderPair({ ...INBOX_PAIR, ids: { left: MAILBOX_ID, right: MAILDIR_ID } });
          await state.recordFolderPair(ARCHIVE_PAIR);
          await state.recordPairs(INBOX_PAIR.key, [pair('1', 'a')]);
          const oneSide = { ...INBOX_PAIR, ids: { right: ODD_FOLDER_ID } };
          await state.recordFolderPair(oneSide);
          await expectFolderPairs(state, [oneSide, ARCHIVE_PAIR]);
          const otherSide = { ...INBOX_PAIR, ids: { left: MAILBOX_ID } };
          await state.recordFolderPair(otherSide);
          await expectFolderPairs(state, [otherSide, ARCHIVE_PAIR]);
          await state.recordFolderPair(INBOX_PAIR);
          await expectFolderPairs(state, [INBOX_PAIR, ARCHIVE_PAIR]);
          const archived = { ...ARCHIVE_PAIR, ids: { left: MAILDIR_ID, right: MAILBOX_ID } };
          await state.recordFolderPair(archived);
          await expectFolderPairs(state, [INBOX_PAIR, archived]);
          // The ids are part of the folder pair record only: its message pairs stay.
          expect(await state.loadPairs(INBOX_PAIR.key)).toEqual([pair('1', 'a')]);
        }));

      it('forgets a folder pair with all of its message pairs and markers, and nothing else', () =>
        run(async ({ state }) => {
          for (const record of [INBOX_PAIR, ARCHIVE_PAIR]) {
            await state.recordFolderPair(record);
            await state.recordPairs(record.key, [pair('1', 'a'), pair('2', 'b', ['\\Flagged'])]);
            await state.recordMarker(record.key, 'left', { epoch: '1', value: 'l' });
            await state.recordMarker(record.key, 'right', { epoch: '2', value: 'r' });
          }
          await state.forgetFolderPair(INBOX_PAIR.key);
          expect(await state.listFolderPairs()).toEqual([ARCHIVE_PAIR]);
          expect(await state.loadPairs(INBOX_PAIR.key)).toEqual([]);
          expect(await state.loadMarker(INBOX_PAIR.key, 'left')).toBeNull();
          expect(await state.loadMarker(INBOX_PAIR.key, 'right')).toBeNull();
          expect(sortPairs(await state.loadPairs(ARCHIVE_PAIR.key))).toEqual([
            pair('1', 'a'),
            pair('2', 'b', ['\\Flagged']),
          ]);
          expect(await state.loadMarker(ARCHIVE_PAIR.key, 'right')).toEqual({ epoch: '2', value: 'r' });

          // Recorded again, the key starts empty: nothing of the forgotten pair comes back.
          await state.recordFolderPair(INBOX_PAIR);
          expect(await state.loadPairs(INBOX_PAIR.key)).toEqual([]);
          expect(await state.loadMarker(INBOX_PAIR.key, 'left')).toBeNull();
        }));

      it('ignores forgetting a key it does not know', () =>
        run(async ({ state }) => {
          await state.forgetFolderPair('never recorded');
          await state.recordFolderPair(INBOX_PAIR);
          await state.forgetFolderPair('never recorded');
          expect(await state.listFolderPairs()).toEqual([INBOX_PAIR]);
        }));

      it('keeps folder paths exactly: `/` and `%` inside a level, non-ASCII, deep and one-level paths', () =>
        run(async ({ state }) => {
          const records = ODD_PATHS.map(([left, right]) => ({ key: folderKey(left), left, right }));
          for (const record of records) await state.recordFolderPair(record);
          expect(sortFolderPairs(await state.listFolderPairs())).toEqual(sortFolderPairs(records));
        }));

      it('keeps message pairs and markers of a key that has no folder pair record, without listing it', () =>
        run(async ({ state }) => {
          await state.recordPairs('unlisted', [pair('1', 'a')]);
          await state.recordMarker('unlisted', 'right', { epoch: 'e', value: 'v' });
          expect(await state.listFolderPairs()).toEqual([]);
          expect(await state.loadPairs('unlisted')).toEqual([pair('1', 'a')]);
          expect(await state.loadMarker('unlisted', 'right')).toEqual({ epoch: 'e', value: 'v' });
          await state.forgetFolderPair('unlisted');
          expect(await state.loadPairs('unlisted')).toEqual([]);
          expect(await state.loadMarker('unlisted', 'right')).toBeNull();
        }));
    });

    if (options.findPairs) {
      describe('findPairs', () => {
        it('returns exactly the pairs with those ids on that side, as copies, ignoring unknown ids', () =>
          run(async ({ state }) => {
            const findPairs = state.findPairs?.bind(state);
            expect(findPairs, 'the backend was declared to implement findPairs').toBeTypeOf('function');
            await state.recordPairs('INBOX', [pair('1', 'a', ['\\Seen']), pair('2', 'b'), pair('3', 'c')]);
            await state.recordPairs('Other', [pair('1', 'z')]);
            const byLeft = await findPairs!('INBOX', 'left', ['1', '3', '99', '1']);
            expect(byLeft.sort((x, y) => x.left.localeCompare(y.left))).toEqual([
              pair('1', 'a', ['\\Seen']),
              pair('3', 'c'),
            ]);
            expect(await findPairs!('INBOX', 'right', ['b', '1'])).toEqual([pair('2', 'b')]);
            expect(await findPairs!('Nowhere', 'left', ['1'])).toEqual([]);
            expect(await findPairs!('INBOX', 'left', [])).toEqual([]);
            (byLeft[0]!.flags as string[]).push('\\Flagged');
            expect(await findPairs!('INBOX', 'left', ['1'])).toEqual([pair('1', 'a', ['\\Seen'])]);
          }));
      });
    }

    if (options.renameFolderPairs) {
      describe('renameFolderPairs', () => {
        /** The backend's renameFolderPairs, which it was declared to have. */
        const renamer = (state: StateBackend) => {
          const rename = state.renameFolderPairs?.bind(state);
          expect(rename, 'the backend was declared to implement renameFolderPairs').toBeTypeOf('function');
          return rename!;
        };

        it('files a folder pair under the new key with the new paths and heldBack, keeping its pairs and markers', () =>
          run(async ({ state }) => {
            await fillFolderPair(state, ARCHIVE_PAIR, 'a');
            const to = { key: 'Ablage', left: ['Ablage'], right: ['Filed'], heldBack: 'size<=1000' };
            await renamer(state)([{ from: ARCHIVE_PAIR.key, to }]);
            expect(await state.listFolderPairs()).toEqual([to]);
            await expectFilled(state, 'Ablage', 'a');
            await expectEmpty(state, ARCHIVE_PAIR.key);

            // Renamed without heldBack, it holds nothing back any more.
            const plain = { key: 'Archiv', left: ['Archiv'], right: ['Archive'] };
            await renamer(state)([{ from: 'Ablage', to: plain }]);
            expect(await state.listFolderPairs()).toEqual([plain]);
            await expectFilled(state, 'Archiv', 'a');
          }));

        it('moves a folder and its subfolders in one call, and touches no other key', () =>
          run(async ({ state }) => {
            const parent = { key: 'Archiv', left: ['Archiv'], right: ['Archive'] };
            const child = { ...ARCHIVE_PAIR, heldBack: 'age<=86400000' };
            const grandchild = {
              key: 'Archiv/Übersicht/2026',
              left: ['Archiv', 'Übersicht', '2026'],
              right: ['Archive', 'Overview', '2026'],
            };
            const other = { key: 'Archive', left: ['Archive'], right: ['Archiv'] };
            await fillFolderPair(state, parent, 'p');
            await fillFolderPair(state, child, 'c');
            await fillFolderPair(state, grandchild, 'g');
            await fillFolderPair(state, INBOX_PAIR, 'i');
            await fillFolderPair(state, other, 'o');
            const renames = [
              { from: 'Archiv', to: { key: 'Ablage', left: ['Ablage'], right: ['Archive'] } },
              {
                from: 'Archiv/Übersicht',
                to: {
                  key: 'Ablage/Übersicht',
                  left: ['Ablage', 'Übersicht'],
                  right: ['Archive', 'Overview'],
                },
              },
              {
                from: 'Archiv/Übersicht/2026',
                to: {
                  key: 'Ablage/Übersicht/2026',
                  left: ['Ablage', 'Übersicht', '2026'],
                  right: ['Archive', 'Overview', '2026'],
                },
              },
            ];
            await renamer(state)(renames);
            expect(sortFolderPairs(await state.listFolderPairs())).toEqual(
              sortFolderPairs([...renames.map((r) => r.to), INBOX_PAIR, other]),
            );
            await expectFilled(state, 'Ablage', 'p');
            await expectFilled(state, 'Ablage/Übersicht', 'c');
            await expectFilled(state, 'Ablage/Übersicht/2026', 'g');
            await expectFilled(state, INBOX_PAIR.key, 'i');
            await expectFilled(state, other.key, 'o');
            for (const { from } of renames) await expectEmpty(state, from);

            // The old keys are free: recorded again, they start empty and do not alias the new ones.
            await state.recordFolderPair(parent);
            await state.recordPairs(parent.key, [pair('new', 'new')]);
            expect(await state.loadPairs(parent.key)).toEqual([pair('new', 'new')]);
            expect(await state.loadMarker(parent.key, 'left')).toBeNull();
            await expectFilled(state, 'Ablage', 'p');
          }));

        it("moves the folder ids with a rename: the new record's ids are stored, not the old one's", () =>
          run(async ({ state }) => {
            await fillFolderPair(
              state,
              { ...ARCHIVE_PAIR, ids: { left: MAILBOX_ID, right: MAILDIR_ID } },
              'a',
            );
            await state.recordFolderPair({ ...INBOX_PAIR, ids: { left: ODD_FOLDER_ID } });
            const to = { key: 'Ablage', left: ['Ablage'], right: ['Filed'], ids: { right: MAILDIR_ID } };
            await renamer(state)([{ from: ARCHIVE_PAIR.key, to }]);
            await expectFolderPairs(state, [to, { ...INBOX_PAIR, ids: { left: ODD_FOLDER_ID } }]);
            await expectFilled(state, 'Ablage', 'a');

            // Renamed without ids, it has none; renamed onto a key that had ids, the old ones go too.
            const plain = { key: 'Archiv', left: ['Archiv'], right: ['Archive'] };
            await renamer(state)([{ from: 'Ablage', to: plain }]);
            await expectFolderPairs(state, [plain, { ...INBOX_PAIR, ids: { left: ODD_FOLDER_ID } }]);
            await renamer(state)([{ from: 'Archiv', to: INBOX_PAIR }]);
            await expectFolderPairs(state, [INBOX_PAIR]);
            const both = { ...INBOX_PAIR, key: 'Posteingang', ids: { left: MAILBOX_ID, right: MAILDIR_ID } };
            await renamer(state)([{ from: INBOX_PAIR.key, to: both }]);
            await expectFolderPairs(state, [both]);
            await expectFilled(state, 'Posteingang', 'a');
          }));

        it('replaces a folder pair already under the new key, dropping its message pairs and markers', () =>
          run(async ({ state }) => {
            await fillFolderPair(state, INBOX_PAIR, 'i');
            await fillFolderPair(state, ARCHIVE_PAIR, 'a');
            await state.recordPairs(ARCHIVE_PAIR.key, [pair('only-in-target', 'x')]);
            const to = { ...ARCHIVE_PAIR, left: ['INBOX'], right: ['Archive', 'Overview'] };
            await renamer(state)([{ from: INBOX_PAIR.key, to }]);
            expect(await state.listFolderPairs()).toEqual([to]);
            // Exactly the moved pairs: none of the replaced folder pair's is left beside them.
            await expectFilled(state, ARCHIVE_PAIR.key, 'i');
            await expectEmpty(state, INBOX_PAIR.key);

            // A folder pair that holds nothing yet leaves the new key holding nothing either.
            const bare = { key: 'bare', left: ['bare'], right: ['bare'] };
            await state.recordFolderPair(bare);
            await renamer(state)([{ from: bare.key, to: { ...bare, key: ARCHIVE_PAIR.key } }]);
            expect(await state.listFolderPairs()).toEqual([{ ...bare, key: ARCHIVE_PAIR.key }]);
            expect(await state.loadPairs(ARCHIVE_PAIR.key)).toEqual([]);
            expect(await state.loadMarker(ARCHIVE_PAIR.key, 'left')).toBeNull();
            expect(await state.loadMarker(ARCHIVE_PAIR.key, 'right')).toBeNull();
          }));

        it('replaces message pairs and markers recorded under the new key without a folder pair record', () =>
          run(async ({ state }) => {
            await fillFolderPair(state, INBOX_PAIR, 'i');
            await state.recordPairs('Ablage', [pair('stray', 'stray')]);
            await state.recordMarker('Ablage', 'right', { epoch: 'stray', value: 'stray' });
            const to = { key: 'Ablage', left: ['Ablage'], right: ['Ablage'] };
            await renamer(state)([{ from: INBOX_PAIR.key, to }]);
            expect(await state.listFolderPairs()).toEqual([to]);
            await expectFilled(state, 'Ablage', 'i');
          }));

        it('skips a rename whose old key it does not know, keeping what is under its new key', () =>
          run(async ({ state }) => {
            await fillFolderPair(state, INBOX_PAIR, 'i');
            await fillFolderPair(state, ARCHIVE_PAIR, 'a');
            const to = { key: 'Posteingang', left: ['INBOX'], right: ['Posteingang'] };
            await renamer(state)([
              { from: 'never recorded', to: { key: 'Ghost', left: ['Ghost'], right: ['Ghost'] } },
              { from: INBOX_PAIR.key, to },
              { from: 'gone too', to: { ...ARCHIVE_PAIR, left: ['Elsewhere'] } },
            ]);
            expect(sortFolderPairs(await state.listFolderPairs())).toEqual(
              sortFolderPairs([to, ARCHIVE_PAIR]),
            );
            await expectFilled(state, 'Posteingang', 'i');
            await expectFilled(state, ARCHIVE_PAIR.key, 'a');
            await expectEmpty(state, 'Ghost');
            await renamer(state)([]);
            expect(sortFolderPairs(await state.listFolderPairs())).toEqual(
              sortFolderPairs([to, ARCHIVE_PAIR]),
            );
          }));

        it('keeps copies: changing the renames after the call does not change the state', () =>
          run(async ({ state }) => {
            await state.recordFolderPair(INBOX_PAIR);
            const left = ['Posteingang'];
            const rename = { from: INBOX_PAIR.key, to: { key: 'Posteingang', left, right: ['INBOX'] } };
            await renamer(state)([rename]);
            left.push('changed');
            rename.to.key = 'changed';
            expect(await state.listFolderPairs()).toEqual([
              { key: 'Posteingang', left: ['Posteingang'], right: ['INBOX'] },
            ]);
          }));

        it('rejects after close', () =>
          run(async (session) => {
            const rename = renamer(session.state);
            await session.state.recordFolderPair(INBOX_PAIR);
            await session.close();
            await expect(rename([{ from: INBOX_PAIR.key, to: ARCHIVE_PAIR }])).rejects.toThrow();
          }));

        if (persistent) {
          it('keeps the renames when reopened', () =>
            run(async (session) => {
              if (!session.canReopen)
                throw new Error(`${name}: a persistent backend's fixture must give reopen().`);
              await fillFolderPair(session.state, { ...INBOX_PAIR, ids: { right: MAILDIR_ID } }, 'i');
              await fillFolderPair(session.state, ARCHIVE_PAIR, 'a');
              await fillFolderPair(
                session.state,
                { key: 'Ablage', left: ['Ablage'], right: ['Ablage'], ids: { left: ODD_FOLDER_ID } },
                'x',
              );
              const renames = [
                {
                  from: INBOX_PAIR.key,
                  to: { ...INBOX_PAIR, key: 'Posteingang', heldBack: 'size<=1', ids: { left: MAILBOX_ID } },
                },
                { from: ARCHIVE_PAIR.key, to: { ...ARCHIVE_PAIR, key: 'Ablage' } },
              ];
              await renamer(session.state)(renames);
              const state = await session.reopen();
              await expectFolderPairs(
                state,
                renames.map((r) => r.to),
              );
              await expectFilled(state, 'Posteingang', 'i');
              await expectFilled(state, 'Ablage', 'a');
              await expectEmpty(state, INBOX_PAIR.key);
              await expectEmpty(state, ARCHIVE_PAIR.key);
            }));
        }

        it('agrees with the model over random sequences of operations that include renames', async () => {
          await fc.assert(
            fc.asyncProperty(
              fc.array(operationWithRenamesArbitrary, { minLength: 1, maxLength: 25 }),
              (ops) =>
                run(async (session) => {
                  const model = new ReferenceState();
                  for (const op of ops) {
                    if (op.op === 'reopen') {
                      if (session.canReopen) await session.reopen();
                    } else {
                      await applyOperation(session.state, op);
                      model.apply(op);
                    }
                    await expectAgrees(session.state, model);
                  }
                }),
            ),
            // Fewer runs than the plain property: it repeats most of that one, and across a worker thread
            // a run costs about 0.2 s.
            { numRuns: 50 },
          );
        }, 60_000);
      });
    }

    describe('message pairs', () => {
      it('reads a key it does not know as empty', () =>
        run(async ({ state }) => {
          expect(await state.loadPairs('never recorded')).toEqual([]);
          await state.recordPairs('INBOX', [pair('1', 'a')]);
          expect(await state.loadPairs('never recorded')).toEqual([]);
        }));

      it('returns what was recorded, over several calls', () =>
        run(async ({ state }) => {
          await state.recordPairs('INBOX', [pair('1', 'a', ['\\Seen']), pair('2', 'b')]);
          await state.recordPairs('INBOX', [pair('3', 'c', ['\\Answered', '\\Seen'])]);
          expect(sortPairs(await state.loadPairs('INBOX'))).toEqual([
            pair('1', 'a', ['\\Seen']),
            pair('2', 'b'),
            pair('3', 'c', ['\\Answered', '\\Seen']),
          ]);
        }));

      it('keeps each key apart: the same ids under two keys are two pairs', () =>
        run(async ({ state }) => {
          await state.recordPairs('INBOX', [pair('1', 'a', ['\\Seen']), pair('2', 'b')]);
          await state.recordPairs('Archiv', [pair('1', 'a', ['\\Flagged']), pair('2', 'z')]);
          await state.forgetPairs('Archiv', 'left', ['2']);
          await state.recordPairs('Archiv', [pair('9', 'b')]);
          expect(sortPairs(await state.loadPairs('INBOX'))).toEqual([
            pair('1', 'a', ['\\Seen']),
            pair('2', 'b'),
          ]);
          expect(sortPairs(await state.loadPairs('Archiv'))).toEqual([
            pair('1', 'a', ['\\Flagged']),
            pair('9', 'b'),
          ]);
        }));

      it('treats keys as opaque strings: case, Unicode normalisation and escapes all tell keys apart', () =>
        run(async ({ state }) => {
          const keys = ODD_KEYS;
          for (const [i, key] of keys.entries()) await state.recordPairs(key, [pair(`${i}`, `${i}`)]);
          for (const [i, key] of keys.entries())
            expect(await state.loadPairs(key)).toEqual([pair(`${i}`, `${i}`)]);
        }));

      it('replaces a stored pair that shares the left id', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'a', ['\\Seen']), pair('2', 'b')]);
          await state.recordPairs('f', [pair('1', 'c')]);
          expect(sortPairs(await state.loadPairs('f'))).toEqual([pair('1', 'c'), pair('2', 'b')]);
        }));

      it('replaces a stored pair that shares the right id', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'a'), pair('2', 'b')]);
          await state.recordPairs('f', [pair('3', 'a', ['\\Flagged'])]);
          expect(sortPairs(await state.loadPairs('f'))).toEqual([
            pair('2', 'b'),
            pair('3', 'a', ['\\Flagged']),
          ]);
        }));

      it('replaces both stored pairs when a new one shares the left id of one and the right id of another', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'a'), pair('2', 'b'), pair('3', 'c')]);
          await state.recordPairs('f', [pair('1', 'b', ['\\Seen'])]);
          expect(sortPairs(await state.loadPairs('f'))).toEqual([pair('1', 'b', ['\\Seen']), pair('3', 'c')]);
        }));

      it('replaces the flags of a pair recorded again with the same ids', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'a', ['\\Flagged', '\\Seen'])]);
          await state.recordPairs('f', [pair('1', 'a', ['$label1'])]);
          expect(await state.loadPairs('f')).toEqual([pair('1', 'a', ['$label1'])]);
        }));

      it('applies the same rule within one batch, where a later pair wins', () =>
        run(async ({ state }) => {
          await state.recordPairs('same-left', [pair('1', 'a'), pair('1', 'b')]);
          expect(await state.loadPairs('same-left')).toEqual([pair('1', 'b')]);
          await state.recordPairs('same-right', [pair('1', 'a'), pair('2', 'a')]);
          expect(await state.loadPairs('same-right')).toEqual([pair('2', 'a')]);
          await state.recordPairs('both', [pair('1', 'a'), pair('2', 'b'), pair('1', 'b', ['\\Seen'])]);
          expect(await state.loadPairs('both')).toEqual([pair('1', 'b', ['\\Seen'])]);
          // Each replacement removes only what clashes with the pair being recorded, not what the pair
          // it replaced used to clash with.
          await state.recordPairs('chain', [pair('1', 'a'), pair('2', 'a'), pair('2', 'b'), pair('1', 'c')]);
          expect(sortPairs(await state.loadPairs('chain'))).toEqual([pair('1', 'c'), pair('2', 'b')]);
          await state.recordPairs('flags', [pair('1', 'a', ['\\Seen']), pair('1', 'a', [])]);
          expect(await state.loadPairs('flags')).toEqual([pair('1', 'a', [])]);
        }));

      it('does not confuse a left id with the same right id', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'x'), pair('y', '1')]);
          await state.recordPairs('f', [pair('1', 'z')]);
          expect(sortPairs(await state.loadPairs('f'))).toEqual([pair('1', 'z'), pair('y', '1')]);
          await state.forgetPairs('f', 'left', ['1']);
          expect(await state.loadPairs('f')).toEqual([pair('y', '1')]);
          await state.forgetPairs('f', 'left', ['1']);
          expect(await state.loadPairs('f')).toEqual([pair('y', '1')]);
          await state.forgetPairs('f', 'right', ['1']);
          expect(await state.loadPairs('f')).toEqual([]);
        }));

      it('forgets pairs by their left ids', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'a'), pair('2', 'b'), pair('3', 'c')]);
          await state.forgetPairs('f', 'left', ['1', '3']);
          expect(await state.loadPairs('f')).toEqual([pair('2', 'b')]);
        }));

      it('forgets pairs by their right ids', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'a'), pair('2', 'b'), pair('3', 'c')]);
          await state.forgetPairs('f', 'right', ['b', 'c']);
          expect(await state.loadPairs('f')).toEqual([pair('1', 'a')]);
        }));

      it('ignores unknown ids and keys, repeated ids and an empty list when forgetting', () =>
        run(async ({ state }) => {
          await state.recordPairs('f', [pair('1', 'a'), pair('2', 'b')]);
          await state.forgetPairs('f', 'left', ['nope', '1', '1', 'a']);
          await state.forgetPairs('f', 'right', []);
          await state.forgetPairs('never recorded', 'right', ['b']);
          expect(await state.loadPairs('f')).toEqual([pair('2', 'b')]);
          expect(await state.loadPairs('never recorded')).toEqual([]);
        }));

      it('records an empty batch without effect', () =>
        run(async ({ state }) => {
          await state.recordPairs('empty', []);
          expect(await state.loadPairs('empty')).toEqual([]);
          await state.recordPairs('f', [pair('1', 'a')]);
          await state.recordPairs('f', []);
          expect(await state.loadPairs('f')).toEqual([pair('1', 'a')]);
          expect(await state.listFolderPairs()).toEqual([]);
        }));
    });

    describe('markers', () => {
      it('reads null for a key it does not know and for a side never recorded', () =>
        run(async ({ state }) => {
          expect(await state.loadMarker('never recorded', 'left')).toBeNull();
          expect(await state.loadMarker('never recorded', 'right')).toBeNull();
          await state.recordFolderPair(INBOX_PAIR);
          await state.recordMarker(INBOX_PAIR.key, 'left', { epoch: '1', value: '2' });
          expect(await state.loadMarker(INBOX_PAIR.key, 'right')).toBeNull();
        }));

      it('keeps one marker per key and side', () =>
        run(async ({ state }) => {
          await state.recordMarker('INBOX', 'left', { epoch: '1', value: 'inbox-left' });
          await state.recordMarker('INBOX', 'right', { epoch: '2', value: 'inbox-right' });
          await state.recordMarker('Archiv', 'left', { epoch: '3', value: 'archiv-left' });
          expect(await state.loadMarker('INBOX', 'left')).toEqual({ epoch: '1', value: 'inbox-left' });
          expect(await state.loadMarker('INBOX', 'right')).toEqual({ epoch: '2', value: 'inbox-right' });
          expect(await state.loadMarker('Archiv', 'left')).toEqual({ epoch: '3', value: 'archiv-left' });
          expect(await state.loadMarker('Archiv', 'right')).toBeNull();
        }));

      it('replaces a marker recorded again', () =>
        run(async ({ state }) => {
          await state.recordMarker('INBOX', 'left', { epoch: '1', value: 'old' });
          await state.recordMarker('INBOX', 'left', { epoch: '2', value: 'new' });
          expect(await state.loadMarker('INBOX', 'left')).toEqual({ epoch: '2', value: 'new' });
        }));

      it('clears a marker recorded as null, and only that side', () =>
        run(async ({ state }) => {
          await state.recordMarker('INBOX', 'left', { epoch: '1', value: 'l' });
          await state.recordMarker('INBOX', 'right', { epoch: '1', value: 'r' });
          await state.recordMarker('INBOX', 'left', null);
          expect(await state.loadMarker('INBOX', 'left')).toBeNull();
          expect(await state.loadMarker('INBOX', 'right')).toEqual({ epoch: '1', value: 'r' });
          await state.recordMarker('INBOX', 'left', null);
          await state.recordMarker('never recorded', 'right', null);
          expect(await state.loadMarker('never recorded', 'right')).toBeNull();
          await state.recordMarker('INBOX', 'left', { epoch: '2', value: 'again' });
          expect(await state.loadMarker('INBOX', 'left')).toEqual({ epoch: '2', value: 'again' });
        }));

      it('keeps epoch and value exactly, empty and odd strings included', () =>
        run(async ({ state }) => {
          const markers: FolderMarker[] = [
            { epoch: '', value: '' },
            { epoch: '0', value: '00' },
            { epoch: '1700000000', value: '{"new":1700000000123456789,"cur":1700000000987654321}' },
            { epoch: 'épоch ✉', value: 'line one\nline two\ttab "quote" \'single\' \\ back' },
            { epoch: '4294967295', value: 'x'.repeat(10_000) },
          ];
          for (const [i, marker] of markers.entries()) await state.recordMarker(`k${i}`, 'right', marker);
          for (const [i, marker] of markers.entries())
            expect(await state.loadMarker(`k${i}`, 'right')).toEqual(marker);
        }));

      it('keeps markers apart from message pairs', () =>
        run(async ({ state }) => {
          await state.recordMarker('INBOX', 'left', { epoch: '1', value: 'v' });
          await state.recordPairs('INBOX', [pair('1', 'a')]);
          await state.forgetPairs('INBOX', 'left', ['1']);
          expect(await state.loadMarker('INBOX', 'left')).toEqual({ epoch: '1', value: 'v' });
          await state.recordPairs('INBOX', [pair('2', 'b')]);
          await state.recordMarker('INBOX', 'left', null);
          expect(await state.loadPairs('INBOX')).toEqual([pair('2', 'b')]);
        }));
    });

    describe('copies', () => {
      it('returns copies: changing what a read returned does not change the state', () =>
        run(async ({ state }) => {
          await state.recordFolderPair(INBOX_PAIR);
          await state.recordPairs('INBOX', [pair('1', 'a', ['\\Seen'])]);
          await state.recordMarker('INBOX', 'left', { epoch: '1', value: 'v' });

          await state.recordFolderPair({ ...ARCHIVE_PAIR, ids: { left: MAILBOX_ID } });
          const folders = sortFolderPairs(await state.listFolderPairs());
          const folder = folders[1]!;
          folders[0]!.ids!.left = 'changed';
          folders[0]!.ids!.right = 'changed';
          (folder.left as string[]).push('changed');
          (folder.right as string[])[0] = 'changed';
          folder.key = 'changed';
          folders.push(ARCHIVE_PAIR);
          const again = sortFolderPairs(await state.listFolderPairs());
          again[0]!.ids = { right: 'changed' };
          const pairs = await state.loadPairs('INBOX');
          (pairs[0]!.flags as string[]).push('\\Deleted');
          pairs[0]!.left = 'changed';
          pairs.push(pair('2', 'b'));
          const marker = (await state.loadMarker('INBOX', 'left'))!;
          marker.epoch = 'changed';
          marker.value = 'changed';

          await expectFolderPairs(state, [INBOX_PAIR, { ...ARCHIVE_PAIR, ids: { left: MAILBOX_ID } }]);
          expect(await state.loadPairs('INBOX')).toEqual([pair('1', 'a', ['\\Seen'])]);
          expect(await state.loadMarker('INBOX', 'left')).toEqual({ epoch: '1', value: 'v' });
        }));

      it('keeps copies: changing an argument after the call does not change the state', () =>
        run(async ({ state }) => {
          const left = ['Archiv', 'Übersicht'];
          const record = { key: 'k', left, right: ['Archive'] };
          await state.recordFolderPair(record);
          left.push('changed');
          record.key = 'changed';
          record.right = ['changed'];
          const ids: { left?: string; right?: string } = { left: MAILBOX_ID };
          await state.recordFolderPair({ ...ARCHIVE_PAIR, ids });
          ids.left = 'changed';
          ids.right = 'changed';

          const flags = ['\\Seen'];
          const first = { left: '1', right: 'a', flags };
          const batch = [first];
          await state.recordPairs('k', batch);
          flags.push('\\Flagged');
          first.left = 'changed';
          batch.push({ left: '2', right: 'b', flags: [] });

          const marker = { epoch: '1', value: 'v' };
          await state.recordMarker('k', 'right', marker);
          marker.epoch = 'changed';

          const forgotten = ['nope'];
          await state.forgetPairs('k', 'left', forgotten);
          forgotten.push('1');

          await expectFolderPairs(state, [
            { key: 'k', left: ['Archiv', 'Übersicht'], right: ['Archive'] },
            { ...ARCHIVE_PAIR, ids: { left: MAILBOX_ID } },
          ]);
          expect(await state.loadPairs('k')).toEqual([pair('1', 'a', ['\\Seen'])]);
          expect(await state.loadMarker('k', 'right')).toEqual({ epoch: '1', value: 'v' });
        }));
    });

    describe('data', () => {
      it('round-trips flag lists exactly: system flags, keywords, the empty list', () =>
        run(async ({ state }) => {
          const lists = FLAG_LISTS;
          await state.recordPairs(
            'f',
            lists.map((flags, i) => pair(`${i}`, `${i}`, flags)),
          );
          const loaded = new Map((await state.loadPairs('f')).map((p) => [p.left, p.flags]));
          for (const [i, flags] of lists.entries()) expect(loaded.get(`${i}`)).toEqual(flags);
        }));

      it('keeps ids with odd characters: Maildir names, UTF-8, ids that differ only in case or zeros', () =>
        run(async ({ state }) => {
          const pairs = ODD_IDS.map((id, i) =>
            pair(id, ODD_IDS[ODD_IDS.length - 1 - i]!, i % 2 ? ['\\Seen'] : []),
          );
          await state.recordPairs('Archiv/Übersicht', pairs);
          expect(sortPairs(await state.loadPairs('Archiv/Übersicht'))).toEqual(sortPairs(pairs));
          await state.forgetPairs(
            'Archiv/Übersicht',
            'left',
            ODD_IDS.filter((_, i) => i % 2 === 0),
          );
          expect(sortPairs(await state.loadPairs('Archiv/Übersicht'))).toEqual(
            sortPairs(pairs.filter((_, i) => i % 2 === 1)),
          );
        }));

      it('records and loads back a batch of 10,000 pairs', () =>
        run(async ({ state }) => {
          const pairs = Array.from({ length: 10_000 }, (_, i) =>
            pair(`${100_000 + i}`, `${1_700_000_000 + i}.M${i}P4242.mail.example,S=${2000 + i}:2,S`, [
              ...(i % 2 ? ['\\Seen'] : []),
              ...(i % 7 ? [] : ['$label1']),
            ]),
          );
          await state.recordPairs('INBOX', pairs);
          expectSamePairs(await state.loadPairs('INBOX'), pairs);
          await state.forgetPairs(
            'INBOX',
            'right',
            pairs.filter((_, i) => i % 2).map((p) => p.right),
          );
          expectSamePairs(
            await state.loadPairs('INBOX'),
            pairs.filter((_, i) => i % 2 === 0),
          );
        }));
    });

    describe('lifecycle', () => {
      it('rejects every call after close', () =>
        run(async (session) => {
          await session.state.recordPairs('INBOX', [pair('1', 'a')]);
          await session.close();
          const { state } = session;
          const calls: [string, () => Promise<unknown>][] = [
            ['listFolderPairs', () => state.listFolderPairs()],
            ['recordFolderPair', () => state.recordFolderPair(INBOX_PAIR)],
            ['forgetFolderPair', () => state.forgetFolderPair('INBOX')],
            ['loadPairs', () => state.loadPairs('INBOX')],
            ['recordPairs', () => state.recordPairs('INBOX', [pair('2', 'b')])],
            ['forgetPairs', () => state.forgetPairs('INBOX', 'left', ['1'])],
            ['loadMarker', () => state.loadMarker('INBOX', 'left')],
            ['recordMarker', () => state.recordMarker('INBOX', 'left', { epoch: '1', value: 'v' })],
          ];
          for (const [method, call] of calls) {
            await expect(call(), `${method} after close`).rejects.toThrow();
          }
        }));

      if (persistent) {
        it('keeps everything that resolved before close when reopened', () =>
          run(async (session) => {
            if (!session.canReopen)
              throw new Error(`${name}: a persistent backend's fixture must give reopen().`);
            const model = new ReferenceState();
            const apply = async (op: Operation) => {
              await applyOperation(session.state, op);
              model.apply(op);
            };
            for (const op of DURABILITY_SCRIPT) await apply(op);
            await session.reopen();
            await expectAgrees(session.state, model);

            // Writes after a reopen are kept across the next one too.
            await apply({ op: 'recordPairs', key: INBOX_PAIR.key, pairs: [pair('5', 'e', ['\\Draft'])] });
            await apply({ op: 'forgetFolderPair', key: 'Archiv' });
            await apply({ op: 'recordMarker', key: INBOX_PAIR.key, side: 'right', marker: null });
            await session.reopen();
            await expectAgrees(session.state, model);
          }));
      }

      it('settles writes racing close: each resolves and is kept, or rejects', () =>
        run(async (session) => {
          const { state } = session;
          const writes = [
            state.recordFolderPair(INBOX_PAIR),
            state.recordPairs(INBOX_PAIR.key, [pair('1', 'a'), pair('2', 'b')]),
            state.recordMarker(INBOX_PAIR.key, 'left', { epoch: '1', value: 'v' }),
            state.forgetPairs(INBOX_PAIR.key, 'right', ['b']),
          ];
          const closing = session.close();
          const settled = await Promise.allSettled(writes);
          await closing;
          if (!session.canReopen) return;
          const reopened = await session.reopen();
          // Writes that were in flight together may have been applied in any order, so only what no
          // other write touches is checked.
          const [folderPair, pairs, marker] = settled.map((s) => s.status === 'fulfilled');
          if (folderPair) expect(await reopened.listFolderPairs()).toEqual([INBOX_PAIR]);
          if (pairs) expect(await reopened.loadPairs(INBOX_PAIR.key)).toContainEqual(pair('1', 'a'));
          if (marker)
            expect(await reopened.loadMarker(INBOX_PAIR.key, 'left')).toEqual({ epoch: '1', value: 'v' });
        }));
    });

    describe('against a reference model', () => {
      it('agrees with the model over random sequences of operations', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(operationArbitrary, { minLength: 1, maxLength: 25 }), (ops) =>
            run(async (session) => {
              const model = new ReferenceState();
              for (const op of ops) {
                if (op.op === 'reopen') {
                  if (session.canReopen) await session.reopen();
                } else {
                  await applyOperation(session.state, op);
                  model.apply(op);
                }
                await expectAgrees(session.state, model);
              }
            }),
          ),
          { numRuns: 100 },
        );
      }, 60_000);
    });
  });
}

/** The backend a test works on, and the bookkeeping to close and reopen it. */
interface Session {
  readonly state: StateBackend;
  readonly canReopen: boolean;
  /** Closes the current backend (once). */
  close(): Promise<void>;
  /** Closes the current backend and opens a new one on the same storage. */
  reopen(): Promise<StateBackend>;
}

async function withSession(open: () => Promise<StateFixture>, body: (session: Session) => Promise<void>) {
  const fixture = await open();
  let state = fixture.state;
  let closed = false;
  const session: Session = {
    get state() {
      return state;
    },
    canReopen: fixture.reopen !== undefined,
    async close() {
      if (closed) return;
      closed = true;
      await state.close();
    },
    async reopen() {
      if (!fixture.reopen) throw new Error('This fixture cannot reopen its storage.');
      await session.close();
      state = await fixture.reopen();
      closed = false;
      return state;
    },
  };
  let failed = true;
  try {
    await body(session);
    failed = false;
  } finally {
    // A close that fails after the test failed would hide the test's own error.
    await session.close().catch((err: unknown) => {
      if (!failed) throw err;
    });
    await fixture.cleanup?.();
  }
}

function pair(left: string, right: string, flags: string[] = []): MessagePair {
  return { left, right, flags: normalizeFlags(flags) };
}

/** The contract leaves the order of returned lists open, so tests compare them sorted. */
function sortPairs(pairs: readonly MessagePair[]): MessagePair[] {
  return [...pairs].sort((a, b) => compare(a.left, b.left) || compare(a.right, b.right));
}

/**
 * For large lists: a diff of two 10,000-element arrays takes vitest seconds to print, so only what
 * differs (the first few of it) is compared.
 */
function expectSamePairs(actual: readonly MessagePair[], expected: readonly MessagePair[]): void {
  const id = (p: MessagePair) => JSON.stringify([p.left, p.right, p.flags]);
  const actualIds = new Set(actual.map(id));
  const expectedIds = new Set(expected.map(id));
  expect({
    count: actual.length,
    missing: [...expectedIds].filter((p) => !actualIds.has(p)).slice(0, 10),
    unexpected: [...actualIds].filter((p) => !expectedIds.has(p)).slice(0, 10),
  }).toEqual({ count: expected.length, missing: [], unexpected: [] });
}

/**
 * Records `record` with two message pairs and both markers, all derived from `tag`, so that
 * {@link expectFilled} can tell afterwards whose they are.
 */
async function fillFolderPair(state: StateBackend, record: FolderPairRecord, tag: string): Promise<void> {
  await state.recordFolderPair(record);
  await state.recordPairs(record.key, filledPairs(tag));
  await state.recordMarker(record.key, 'left', { epoch: tag, value: `left of ${tag}` });
  await state.recordMarker(record.key, 'right', { epoch: tag, value: `right of ${tag}` });
}

function filledPairs(tag: string): MessagePair[] {
  return [pair(`${tag}1`, `${tag}a`, ['\\Seen']), pair(`${tag}2`, `${tag}b`)];
}

/** `key` holds exactly what {@link fillFolderPair} recorded with `tag`: its pairs and both markers. */
async function expectFilled(state: StateBackend, key: string, tag: string): Promise<void> {
  expect(sortPairs(await state.loadPairs(key)), `loadPairs(${JSON.stringify(key)})`).toEqual(
    filledPairs(tag),
  );
  expect(await state.loadMarker(key, 'left'), `left marker of ${JSON.stringify(key)}`).toEqual({
    epoch: tag,
    value: `left of ${tag}`,
  });
  expect(await state.loadMarker(key, 'right'), `right marker of ${JSON.stringify(key)}`).toEqual({
    epoch: tag,
    value: `right of ${tag}`,
  });
}

/** `key` is not listed and holds no message pair and no marker. */
async function expectEmpty(state: StateBackend, key: string): Promise<void> {
  expect((await state.listFolderPairs()).map((r) => r.key)).not.toContain(key);
  expect(await state.loadPairs(key), `loadPairs(${JSON.stringify(key)})`).toEqual([]);
  expect(await state.loadMarker(key, 'left'), `left marker of ${JSON.stringify(key)}`).toBeNull();
  expect(await state.loadMarker(key, 'right'), `right marker of ${JSON.stringify(key)}`).toBeNull();
}

/**
 * The backend lists exactly `expected`, compared strictly: a folder id, or the ids of a folder pair,
 * that were not given must be absent, not `undefined` or an empty object (the engine tells "no id"
 * by absence).
 */
async function expectFolderPairs(state: StateBackend, expected: readonly FolderPairRecord[]): Promise<void> {
  expect(sortFolderPairs(await state.listFolderPairs()), 'listFolderPairs()').toStrictEqual(
    sortFolderPairs(expected),
  );
}

function sortFolderPairs(records: readonly FolderPairRecord[]): FolderPairRecord[] {
  return [...records].sort((a, b) => compare(a.key, b.key));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const INBOX_PAIR: FolderPairRecord = { key: 'INBOX', left: ['INBOX'], right: ['INBOX'] };
const ARCHIVE_PAIR: FolderPairRecord = {
  key: 'Archiv/Übersicht',
  left: ['Archiv', 'Übersicht'],
  right: ['Archive', 'Overview'],
};

/** Folder ids as the stores give them: an IMAP MAILBOXID, a Maildir directory's device:inode:birth time. */
const MAILBOX_ID = 'F2212ea87-6097-4256-9d51-71338625';
const MAILDIR_ID = '2049:1311522:1733476800123';
const ODD_FOLDER_ID = 'Übersicht 📬 "id" \\ with\nnewline';

const ODD_PATHS: [FolderPath, FolderPath][] = [
  [['INBOX'], ['INBOX']],
  [['Archiv', 'Übersicht'], ['Archiv.Übersicht']],
  [
    ['a/b', 'c'],
    ['a%2Fb', 'c'],
  ],
  [['100%', '%2F'], ['Sent Items']],
  [
    ['Входящие', '日本語', '📬 Post'],
    ['Lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur'],
  ],
  [
    ['  spaced  ', '"quoted"', "it's", '[brackets]', 'back\\slash'],
    ['.hidden', '..', 'a.b.c'],
  ],
];

const ODD_KEYS: readonly string[] = [
  'INBOX',
  'inbox',
  'Übersicht',
  'U\u0308bersicht',
  'a/b',
  'a%2Fb',
  'a.b',
  ' INBOX',
  '',
  '📬',
  "'; DROP TABLE message_pair; --",
];

const ODD_IDS: readonly string[] = [
  '1700000000.M123456P7890V000000000000FD01I0000000000A1B2C3_0.mail.example.org,S=4321',
  '1700000000.M123456P7890V000000000000FD01I0000000000A1B2C3_0.mail.example.org,S=4321:2,FS',
  '1700000001.M1P2.höst.example,S=12:2,',
  '1700000002.Q3.host:2,S',
  'name with spaces and "quotes" and \'apostrophes\'',
  '日本語.📨.id',
  'Ünïcödé',
  'U\u0308nïcödé',
  '1',
  '01',
  '1.0',
  '1e3',
  'a',
  'A',
  '%',
  '_',
  'back\\slash',
  'new/line\nid',
];

const FLAG_LISTS: readonly string[][] = [
  [],
  ['\\Seen'],
  ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged', '\\Seen'],
  ['$label1'],
  ['\\Flagged', '\\Seen', '$Forwarded', '$label1', '$MDNSent', 'NonJunk'],
  ['$Junk', '$label5', 'Work.Project-X_2', 'a:b'],
  Array.from({ length: 50 }, (_, i) => `$keyword${i}`),
].map(normalizeFlags);

/** Every write of the contract, and a reopen, as plain data the model and the backend both apply. */
type Operation =
  | { op: 'recordFolderPair'; record: FolderPairRecord }
  | { op: 'forgetFolderPair'; key: string }
  | { op: 'recordPairs'; key: string; pairs: MessagePair[] }
  | { op: 'forgetPairs'; key: string; side: Side; ids: string[] }
  | { op: 'recordMarker'; key: string; side: Side; marker: FolderMarker | null }
  | { op: 'renameFolderPairs'; renames: FolderPairRename[] };

const DURABILITY_SCRIPT: readonly Operation[] = [
  { op: 'recordFolderPair', record: INBOX_PAIR },
  { op: 'recordFolderPair', record: ARCHIVE_PAIR },
  { op: 'recordFolderPair', record: { key: 'Archiv', left: ['Archiv'], right: ['Archive'] } },
  {
    op: 'recordFolderPair',
    record: { key: 'Sent', left: ['Sent'], right: ['Sent'], ids: { left: MAILBOX_ID, right: MAILDIR_ID } },
  },
  { op: 'recordFolderPair', record: { ...ARCHIVE_PAIR, ids: { right: ODD_FOLDER_ID } } },
  {
    op: 'recordPairs',
    key: INBOX_PAIR.key,
    pairs: [pair('1', 'a', ['\\Seen']), pair('2', 'b'), pair('3', 'c')],
  },
  { op: 'recordPairs', key: INBOX_PAIR.key, pairs: [pair('1', 'a', ['\\Flagged', '\\Seen', '$label1'])] },
  { op: 'forgetPairs', key: INBOX_PAIR.key, side: 'right', ids: ['b'] },
  { op: 'recordPairs', key: ARCHIVE_PAIR.key, pairs: ODD_IDS.map((id) => pair(id, `r-${id}`)) },
  { op: 'recordPairs', key: 'Archiv', pairs: [pair('1', 'a')] },
  { op: 'recordMarker', key: INBOX_PAIR.key, side: 'left', marker: { epoch: '1', value: '42' } },
  { op: 'recordMarker', key: INBOX_PAIR.key, side: 'right', marker: { epoch: '', value: 'new=1;cur=2' } },
  { op: 'recordMarker', key: ARCHIVE_PAIR.key, side: 'left', marker: { epoch: '9', value: 'gone soon' } },
  { op: 'recordMarker', key: ARCHIVE_PAIR.key, side: 'left', marker: null },
  { op: 'recordMarker', key: 'Archiv', side: 'right', marker: { epoch: '3', value: 'v' } },
  { op: 'recordPairs', key: 'unlisted', pairs: [pair('u', 'v')] },
  { op: 'recordFolderPair', record: { key: 'forgotten', left: ['Trash'], right: ['Papierkorb'] } },
  { op: 'recordPairs', key: 'forgotten', pairs: [pair('1', 'a')] },
  { op: 'recordMarker', key: 'forgotten', side: 'left', marker: { epoch: '1', value: '1' } },
  { op: 'forgetFolderPair', key: 'forgotten' },
  {
    op: 'recordFolderPair',
    record: { key: 'Drafts', left: ['Drafts'], right: ['Drafts'], ids: { left: '' } },
  },
  { op: 'recordFolderPair', record: { key: 'Drafts', left: ['Drafts'], right: ['Drafts'] } },
];

async function applyOperation(state: StateBackend, op: Operation): Promise<void> {
  switch (op.op) {
    case 'recordFolderPair':
      return state.recordFolderPair(op.record);
    case 'forgetFolderPair':
      return state.forgetFolderPair(op.key);
    case 'recordPairs':
      return state.recordPairs(op.key, op.pairs);
    case 'forgetPairs':
      return state.forgetPairs(op.key, op.side, op.ids);
    case 'recordMarker':
      return state.recordMarker(op.key, op.side, op.marker);
    case 'renameFolderPairs':
      if (!state.renameFolderPairs) throw new Error('This backend has no renameFolderPairs.');
      return state.renameFolderPairs(op.renames);
  }
}

/**
 * The contract in its plainest form: lists scanned linearly, nothing clever, so that it is evidently
 * right and a backend that disagrees with it is the one at fault.
 */
class ReferenceState {
  readonly folderPairs = new Map<string, FolderPairRecord>();
  readonly pairs = new Map<string, MessagePair[]>();
  readonly markers = new Map<string, FolderMarker>();

  /** Every key the model ever saw, so a comparison also reads the ones that should now be empty. */
  readonly keys = new Set<string>();

  apply(op: Operation): void {
    if (op.op === 'renameFolderPairs') {
      this.#rename(op.renames);
      return;
    }
    const key = op.op === 'recordFolderPair' ? op.record.key : op.key;
    this.keys.add(key);
    switch (op.op) {
      case 'recordFolderPair':
        this.folderPairs.set(key, structuredCopy(op.record));
        return;
      case 'forgetFolderPair':
        this.folderPairs.delete(key);
        this.pairs.delete(key);
        this.markers.delete(markerKey(key, 'left'));
        this.markers.delete(markerKey(key, 'right'));
        return;
      case 'recordPairs': {
        let stored = this.pairs.get(key) ?? [];
        for (const p of op.pairs) {
          stored = stored.filter((s) => s.left !== p.left && s.right !== p.right);
          stored.push(structuredCopy(p));
        }
        this.pairs.set(key, stored);
        return;
      }
      case 'forgetPairs': {
        const ids = new Set(op.ids);
        this.pairs.set(
          key,
          (this.pairs.get(key) ?? []).filter((p) => !ids.has(op.side === 'left' ? p.left : p.right)),
        );
        return;
      }
      case 'recordMarker':
        if (op.marker === null) this.markers.delete(markerKey(key, op.side));
        else this.markers.set(markerKey(key, op.side), { ...op.marker });
        return;
    }
  }

  /**
   * Every known `from` is taken out first, then put in under its `to.key`: the keys of one call are
   * distinct, so no rename can see another's effect, whatever their order.
   */
  #rename(renames: readonly FolderPairRename[]): void {
    const moving = renames
      .filter((r) => this.folderPairs.has(r.from))
      .map((r) => ({
        to: structuredCopy(r.to),
        pairs: this.pairs.get(r.from),
        left: this.markers.get(markerKey(r.from, 'left')),
        right: this.markers.get(markerKey(r.from, 'right')),
      }));
    for (const { from, to } of renames) {
      this.keys.add(from);
      this.keys.add(to.key);
    }
    for (const { from } of renames.filter((r) => this.folderPairs.has(r.from))) this.#drop(from);
    for (const { to, pairs, left, right } of moving) {
      this.#drop(to.key);
      this.folderPairs.set(to.key, to);
      if (pairs) this.pairs.set(to.key, pairs);
      if (left) this.markers.set(markerKey(to.key, 'left'), left);
      if (right) this.markers.set(markerKey(to.key, 'right'), right);
    }
  }

  #drop(key: string): void {
    this.folderPairs.delete(key);
    this.pairs.delete(key);
    this.markers.delete(markerKey(key, 'left'));
    this.markers.delete(markerKey(key, 'right'));
  }
}

function markerKey(key: string, side: Side): string {
  return `${side}:${key}`;
}

function structuredCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

async function expectAgrees(state: StateBackend, model: ReferenceState): Promise<void> {
  await expectFolderPairs(state, [...model.folderPairs.values()]);
  for (const key of model.keys) {
    expect(sortPairs(await state.loadPairs(key)), `loadPairs(${JSON.stringify(key)})`).toEqual(
      sortPairs(model.pairs.get(key) ?? []),
    );
    for (const side of ['left', 'right'] as const) {
      expect(await state.loadMarker(key, side), `loadMarker(${JSON.stringify(key)}, '${side}')`).toEqual(
        model.markers.get(markerKey(key, side)) ?? null,
      );
    }
  }
}

// Few keys and ids, so that random operations collide often: replacements and forgets then hit.
const keyArbitrary = fc.constantFrom('INBOX', 'Archiv/Übersicht', 'a%2Fb');
const idArbitrary = fc.constantFrom('1', '2', '3', '01', '1700000000.M1P2.host,S=9:2,S');
const sideArbitrary = fc.constantFrom<Side>('left', 'right');
const flagsArbitrary = fc
  .subarray(['\\Seen', '\\Flagged', '\\Answered', '$label1', 'NonJunk'])
  .map(normalizeFlags);
const pathArbitrary = fc.array(fc.constantFrom('INBOX', 'Archiv', 'a/b', 'Übersicht', '%'), {
  minLength: 1,
  maxLength: 3,
});
const folderIdArbitrary = fc.constantFrom(MAILBOX_ID, MAILDIR_ID, ODD_FOLDER_ID, 'x');
/** A folder pair's ids: one side, the other or both; never an empty object (the contract's absence). */
const folderIdsArbitrary = fc.oneof(
  fc.record({ left: folderIdArbitrary, right: folderIdArbitrary }),
  fc.record({ left: folderIdArbitrary }),
  fc.record({ right: folderIdArbitrary }),
);
/** A folder pair record under one of the few keys, with or without ids (absent, not `undefined`). */
const folderPairArbitrary = (key: fc.Arbitrary<string>): fc.Arbitrary<FolderPairRecord> =>
  fc.record(
    { key, left: pathArbitrary, right: pathArbitrary, ids: folderIdsArbitrary },
    { requiredKeys: ['key', 'left', 'right'] },
  );
const markerArbitrary = fc.option(
  fc.record({ epoch: fc.constantFrom('1', '2', ''), value: fc.string({ unit: 'grapheme', maxLength: 8 }) }),
  { nil: null },
);

const baseOperationArbitraries = [
  fc.record({
    op: fc.constant('recordFolderPair' as const),
    record: folderPairArbitrary(keyArbitrary),
  }),
  fc.record({ op: fc.constant('forgetFolderPair' as const), key: keyArbitrary }),
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('recordPairs' as const),
      key: keyArbitrary,
      pairs: fc.array(fc.record({ left: idArbitrary, right: idArbitrary, flags: flagsArbitrary }), {
        maxLength: 6,
      }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('forgetPairs' as const),
      key: keyArbitrary,
      side: sideArbitrary,
      ids: fc.array(idArbitrary, { maxLength: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('recordMarker' as const),
      key: keyArbitrary,
      side: sideArbitrary,
      marker: markerArbitrary,
    }),
  },
  fc.constant({ op: 'reopen' as const }),
] as const;

const operationArbitrary: fc.Arbitrary<Operation | { op: 'reopen' }> = fc.oneof(...baseOperationArbitraries);

/**
 * Renames among the three keys of the other operations and one only renames reach: distinct keys
 * (as the contract requires), taken two by two as `from` and `to`, so a call makes one or two renames.
 */
const renamesArbitrary: fc.Arbitrary<FolderPairRename[]> = fc
  .uniqueArray(fc.constantFrom('INBOX', 'Archiv/Übersicht', 'a%2Fb', 'Ablage'), {
    minLength: 2,
    maxLength: 4,
  })
  .chain((keys) =>
    fc.tuple(
      fc.constant(keys),
      fc.array(
        fc.tuple(
          pathArbitrary,
          pathArbitrary,
          fc.option(fc.constantFrom('size<=1', 'age<=2'), { nil: null }),
          fc.option(folderIdsArbitrary, { nil: null }),
        ),
        { minLength: 2, maxLength: 2 },
      ),
    ),
  )
  .map(([keys, records]) =>
    records.slice(0, Math.floor(keys.length / 2)).map(([left, right, heldBack, ids], i) => {
      const to: FolderPairRecord = { key: keys[2 * i + 1]!, left, right };
      if (heldBack !== null) to.heldBack = heldBack;
      if (ids !== null) to.ids = ids;
      return { from: keys[2 * i]!, to };
    }),
  );

const operationWithRenamesArbitrary: fc.Arbitrary<Operation | { op: 'reopen' }> = fc.oneof(
  ...baseOperationArbitraries,
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('renameFolderPairs' as const), renames: renamesArbitrary }),
  },
);
