import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Driver, Listing, MessageContent } from '../driver.js';
import { errorScope } from '../errors.js';
import { type FlagList, normalizeFlags } from '../flags.js';
import { type FolderInfo, type FolderPath, isInbox, isRefusedFolder } from '../folders.js';
import type { ListedMessage } from '../model.js';

/** One driver under test, on a store the suite may create and delete folders in. */
export interface DriverFixture {
  driver: Driver;
  /** Called once per fixture, after the suite has deleted its folders and closed the driver. */
  cleanup?(): Promise<void>;
}

/**
 * The contract of {@link Driver} as a vitest suite: every driver, ours or a third party's, must pass it.
 * `setup` is called once per test and must give a driver on a working store; the suite closes it.
 *
 * The suite uses nothing but the {@link Driver} interface, so it runs against a real server or directory
 * as well as in memory: it works only in folders it creates under a fresh, unique top-level name (and
 * deletes them afterwards), never writes to the inbox, and assumes nothing of ids beyond the contract
 * (no number, no order, nothing shared between folders). Where the contract lets a driver choose (a
 * `full`, `delta` or `unchanged` answer, sizes in a listing), every choice is accepted as long as it
 * says the same thing.
 */
export function describeDriverConformance(name: string, setup: () => Promise<DriverFixture>): void {
  describe(`${name} (Driver conformance)`, () => {
    let fixture: DriverFixture | undefined;
    /** The unique top-level folder of the current test; everything it creates is under it. */
    let root: FolderPath = [];
    const created: FolderPath[] = [];

    const driver = (): Driver => {
      if (!fixture) throw new Error('The driver fixture was not set up.');
      return fixture.driver;
    };
    /** Creates a folder and remembers it, and its parents, for deletion after the test. */
    const createFolder = async (path: FolderPath) => {
      for (let depth = 1; depth <= path.length; depth++) created.push(path.slice(0, depth));
      await driver().createFolder(path);
    };

    beforeEach(async () => {
      fixture = await setup();
      root = [uniqueName()];
      created.length = 0;
    });

    afterEach(async () => {
      const current = fixture;
      fixture = undefined;
      if (!current) return;
      try {
        // Deepest first: the contract does not say whether deleting a parent takes its children.
        const paths = uniquePaths(created).sort((a, b) => b.length - a.length);
        for (const path of paths) await current.driver.deleteFolder(path);
        await current.driver.close();
      } finally {
        await current.cleanup?.();
      }
    });

    describe('folders', () => {
      /** The folders listed, without names the driver refused (the store may hold some of its own). */
      const listFolders = async (): Promise<FolderInfo[]> =>
        (await driver().listFolders()).filter((f): f is FolderInfo => !isRefusedFolder(f));

      it('lists the inbox, as plain data', async () => {
        const listed = await driver().listFolders();
        const folders = await listFolders();
        expect(folders.filter((f) => isInbox(f.path))).toHaveLength(1);
        expect(structuredClone(listed)).toEqual(listed);
      });

      it('creates a folder with its missing parent, a non-ASCII level, and again without complaint', async () => {
        const child = [...root, 'Übersicht'];
        await createFolder(child);
        let folders = await listFolders();
        expect(folders.filter((f) => samePath(f.path, child))).toHaveLength(1);
        expect(
          folders.filter((f) => samePath(f.path, root)),
          'the parent made along',
        ).toHaveLength(1);
        expect(folders.find((f) => samePath(f.path, child))?.selectable).toBe(true);
        await createFolder(child);
        await createFolder(root);
        folders = await listFolders();
        expect(folders.filter((f) => samePath(f.path, child))).toHaveLength(1);
        expect(folders.filter((f) => samePath(f.path, root))).toHaveLength(1);
      });

      it('deletes a folder, and succeeds for one that does not exist', async () => {
        const doomed = [...root, 'Papierkorb'];
        await createFolder(doomed);
        await driver().deleteFolder(doomed);
        expect((await listFolders()).some((f) => samePath(f.path, doomed))).toBe(false);
        await driver().deleteFolder(doomed);
        await driver().deleteFolder([...root, 'never-created']);
        expect((await listFolders()).some((f) => samePath(f.path, root))).toBe(true);
      });

      it('rejects listing a folder that does not exist with a folder-scoped error', async () => {
        await createFolder(root);
        const error = await driver()
          .listMessages([...root, 'never-created'], {})
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(error, 'listMessages of a missing folder must reject').toBeDefined();
        expect(errorScope(error)).toBe('folder');
      });
    });

    describe('messages', () => {
      let box: FolderPath = [];
      /** Flags as this driver can hold them: keywords only with the capability. */
      const visible = (flags: Iterable<string>): string[] => {
        const normal = normalizeFlags(flags);
        return driver().capabilities.keywords ? normal : normal.filter((f) => f.startsWith('\\'));
      };
      /** Appends messages that must all succeed; returns their ids. */
      const append = async (...messages: MessageContent[]): Promise<string[]> => {
        const outcomes = await driver().appendMessages(box, messages);
        expect(outcomes).toHaveLength(messages.length);
        return outcomes.map((o, i) => {
          if (!o.ok) throw new Error(`Appending message ${i} failed: ${o.code} ${o.message}`);
          return o.id;
        });
      };
      /** A listing without a marker, which can only be `full`. */
      const listFull = async (): Promise<Extract<Listing, { kind: 'full' }>> => {
        const listing = await driver().listMessages(box, {});
        expect(structuredClone(listing)).toEqual(listing);
        if (listing.kind !== 'full')
          throw new Error(`A listing without a marker answered '${listing.kind}'.`);
        return listing;
      };
      const current = async () => resolveListing(undefined, await listFull());

      beforeEach(async () => {
        box = [...root, 'Nachrichten'];
        await createFolder(box);
      });

      it('lists an empty folder in full, and appends an empty batch as nothing', async () => {
        expect((await listFull()).messages).toEqual([]);
        expect(await driver().appendMessages(box, [])).toEqual([]);
      });

      it('appends a batch in order and lists it with its normalised flags and CRLF sizes', async () => {
        const bodies = [mail('first'), mail('second'), mail('third', { messageId: false })];
        const flags = [['\\Seen'], ['\\Answered', '\\Flagged', ...keywords(driver(), '$Forwarded')], []];
        const ids = await append(...bodies.map((body, i) => ({ body, flags: normalizeFlags(flags[i]!) })));
        expect(new Set(ids).size).toBe(3);
        const listed = await current();
        expect([...listed.keys()].sort()).toEqual([...ids].sort());
        for (const [i, id] of ids.entries()) {
          const m = listed.get(id)!;
          expect(m.flags, `flags of message ${i}`).toEqual(visible(flags[i]!));
          if (m.size !== undefined) expect(m.size, `size of message ${i}`).toBe(bodies[i]!.length);
        }
      });

      it('reads a message back byte for byte, with its flags and its internal date to the second', async () => {
        const body = mail('read me', { extraHeaders: ['X-Twinbox-Test: read back'] });
        const internalDate = Date.UTC(2021, 4, 6, 7, 8, 9);
        const flags = normalizeFlags(['\\Flagged', '\\Seen', ...keywords(driver(), '$label1')]);
        const [id] = await append({ body, flags, internalDate });
        const read = await driver().readMessage(box, id!);
        expect(new Uint8Array(read.body)).toEqual(body);
        expect(read.flags).toEqual(visible(flags));
        expect(read.internalDate, 'the internal date the driver was given').toBeDefined();
        expect(Math.abs(read.internalDate! - internalDate)).toBeLessThan(1000);
      });

      it('lists arrival dates when asked, in full and in a listing since a marker', async () => {
        const old = Date.UTC(2003, 1, 2, 3, 4, 5);
        const before = Date.now();
        const [a, b] = await append(
          { body: mail('from 2003'), flags: [], internalDate: old },
          { body: mail('arrives now'), flags: ['\\Seen'] },
        );
        const after = Date.now();
        const full = await driver().listMessages(box, { dates: true });
        if (full.kind !== 'full') throw new Error(`A listing without a marker answered '${full.kind}'.`);
        const dated = resolveListing(undefined, full);
        expect(Math.abs(dated.get(a!)!.date! - old), 'the date the message was appended with').toBeLessThan(
          1000,
        );
        const now = dated.get(b!)!.date;
        expect(now, 'a message appended without a date arrived when it was appended').toBeDefined();
        expect(now!).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 2000);
        expect(now!).toBeLessThanOrEqual(after + 2000);
        // A message new since the marker comes with its date too, whatever kind the answer is.
        const [c] = await append({
          body: mail('from 2004'),
          flags: [],
          internalDate: old + 365 * 86_400_000,
        });
        const since = await driver().listMessages(box, { since: full.marker, dates: true });
        const later = resolveListing(dated, since);
        expect(Math.abs(later.get(c!)!.date! - (old + 365 * 86_400_000))).toBeLessThan(1000);
      });

      it('describes Message-ID and size, null for a message without one, and leaves out unknown ids', async () => {
        const withId = mail('described', { messageIdHeader: 'Message-Id' });
        const withoutId = mail('anonymous', { messageId: false });
        const [a, b, gone] = await append(
          { body: withId, flags: ['\\Seen'] },
          { body: withoutId, flags: [] },
          { body: mail('deleted'), flags: [] },
        );
        await driver().deleteMessages(box, [gone!]);
        const described = await driver().describeMessages(box, [a!, b!, gone!]);
        expect(structuredClone(described)).toEqual(described);
        expect(sortById(described)).toEqual(
          sortById([
            { id: a!, flags: ['\\Seen'], size: withId.length, messageId: messageIdOf(withId) },
            { id: b!, flags: [], size: withoutId.length, messageId: null },
          ]),
        );
      });

      it('describes whole every message whose size the request names, and the size of every other', async () => {
        const wanted = mail('wanted');
        const other = mail('another message, of another size');
        const [a, b] = await append({ body: wanted, flags: [] }, { body: other, flags: ['\\Seen'] });
        const described = await driver().describeMessages(box, [a!, b!], { sizes: [wanted.length, 1] });
        expect(described).toHaveLength(2);
        expect(described.find((m) => m.id === a)).toEqual({
          id: a!,
          flags: [],
          size: wanted.length,
          messageId: messageIdOf(wanted),
        });
        // The other may come with its Message-ID or without one: never with a wrong one.
        const rest = described.find((m) => m.id === b);
        expect(rest).toMatchObject({ id: b!, flags: ['\\Seen'], size: other.length });
        expect([undefined, messageIdOf(other)]).toContain(rest!.messageId);
      });

      it('applies flag deltas without touching other flags or other messages', async () => {
        const [a, b] = await append(
          {
            body: mail('a'),
            flags: normalizeFlags(['\\Answered', '\\Seen', ...keywords(driver(), '$label1')]),
          },
          { body: mail('b'), flags: ['\\Seen'] },
        );
        const outcomes = await driver().setFlags(box, [{ id: a!, add: ['\\Flagged'], remove: ['\\Seen'] }]);
        expect(outcomes).toEqual([{ id: a, ok: true }]);
        let listed = await current();
        expect(listed.get(a!)?.flags).toEqual(visible(['\\Answered', '\\Flagged', '$label1']));
        expect(listed.get(b!)?.flags).toEqual(['\\Seen']);

        // Adding a flag already set and removing one not set changes nothing, and is no error.
        expect(await driver().setFlags(box, [{ id: b!, add: ['\\Seen'], remove: ['\\Draft'] }])).toEqual([
          { id: b, ok: true },
        ]);
        expect((await current()).get(b!)?.flags).toEqual(['\\Seen']);

        if (driver().capabilities.keywords) {
          await driver().setFlags(box, [{ id: a!, add: ['$label2'], remove: ['$label1'] }]);
          listed = await current();
          expect(listed.get(a!)?.flags).toEqual(normalizeFlags(['\\Answered', '\\Flagged', '$label2']));
          expect(listed.get(b!)?.flags).toEqual(['\\Seen']);
        }
      });

      it('reports a flag update of a deleted message as gone, and still applies the others', async () => {
        const [a, b] = await append({ body: mail('a'), flags: [] }, { body: mail('b'), flags: [] });
        await driver().deleteMessages(box, [a!]);
        const outcomes = await driver().setFlags(box, [
          { id: a!, add: ['\\Seen'], remove: [] },
          { id: b!, add: ['\\Seen'], remove: [] },
        ]);
        expect(outcomes).toHaveLength(2);
        expect(outcomes[0]).toMatchObject({ id: a, ok: false, gone: true });
        expect(outcomes[1]).toEqual({ id: b, ok: true });
        const listed = await current();
        expect([...listed.keys()]).toEqual([b]);
        expect(listed.get(b!)?.flags).toEqual(['\\Seen']);
      });

      it('deletes messages and ignores ids that are already gone', async () => {
        const [a, b, c] = await append(
          { body: mail('a'), flags: [] },
          { body: mail('b'), flags: [] },
          { body: mail('c'), flags: [] },
        );
        await driver().deleteMessages(box, [a!]);
        await driver().deleteMessages(box, [a!, c!]);
        expect([...(await current()).keys()]).toEqual([b]);
      });

      it('rejects reading a deleted message with a MESSAGE_GONE message error', async () => {
        const [a] = await append({ body: mail('a'), flags: [] });
        await driver().deleteMessages(box, [a!]);
        const error = await driver()
          .readMessage(box, a!)
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(error, 'readMessage of a deleted message must reject').toBeDefined();
        expect(errorScope(error)).toBe('message');
        expect((error as { code?: unknown }).code).toBe('MESSAGE_GONE');
      });

      it('reads a batch (readMessages, where the driver has it) in order, null for a deleted one', async () => {
        const d = driver();
        if (!d.readMessages) return;
        const bodies = [mail('r1'), mail('r2'), mail('r3')];
        const ids = await append(
          { body: bodies[0]!, flags: ['\\Seen'] },
          { body: bodies[1]!, flags: [] },
          { body: bodies[2]!, flags: ['\\Flagged'] },
        );
        await d.deleteMessages(box, [ids[1]!]);
        const read = (await d.readMessages(box, [ids[2]!, ids[1]!, ids[0]!])) as (MessageContent | null)[];
        expect(structuredClone(read)).toEqual(read);
        expect(read).toHaveLength(3);
        expect(new Uint8Array(read[0]!.body)).toEqual(bodies[2]);
        expect(read[0]!.flags).toEqual(['\\Flagged']);
        expect(read[1]).toBeNull();
        expect(new Uint8Array(read[2]!.body)).toEqual(bodies[0]);
        expect(await d.readMessages(box, [])).toEqual([]);
      });

      it('moves messages into another folder (moveMessages, where the driver has it), bodies and flags kept', async () => {
        const d = driver();
        if (!d.moveMessages) return;
        const target = [...root, 'Ablage'];
        await createFolder(target);
        const bodies = [mail('m1'), mail('m2'), mail('m3')];
        const ids = await append(
          { body: bodies[0]!, flags: ['\\Seen', ...keywords(d, '$label1')] },
          { body: bodies[1]!, flags: [] },
          { body: bodies[2]!, flags: ['\\Flagged'] },
        );
        const before = await listFull();
        const dateOf = async (id: string) => (await d.readMessage(box, id)).internalDate;
        const dates = [await dateOf(ids[0]!), await dateOf(ids[2]!)];
        await d.deleteMessages(box, [ids[1]!]);

        const outcomes = await d.moveMessages(box, target, [ids[2]!, ids[1]!, ids[0]!]);
        expect(structuredClone(outcomes)).toEqual(outcomes);
        expect(outcomes).toHaveLength(3);
        expect(outcomes[0]).toMatchObject({ id: ids[2], ok: true });
        expect(outcomes[1]).toMatchObject({ id: ids[1], ok: false, gone: true });
        expect(outcomes[2]).toMatchObject({ id: ids[0], ok: true });

        // Gone from the source, in a full listing and in one since the marker taken before the move.
        expect((await listFull()).messages).toEqual([]);
        const since = await d.listMessages(box, { since: before.marker });
        expect([...resolveListing(resolveListing(undefined, before), since).keys()]).toEqual([]);

        // In the target, with the body, flags and arrival time the message had; `newId` names it there.
        const listing = await d.listMessages(target, {});
        if (listing.kind !== 'full')
          throw new Error(`A listing without a marker answered '${listing.kind}'.`);
        expect(listing.messages).toHaveLength(2);
        for (const [outcome, body, flags, date] of [
          [outcomes[0]!, bodies[2]!, ['\\Flagged'], dates[1]],
          [outcomes[2]!, bodies[0]!, visible(['\\Seen', '$label1']), dates[0]],
        ] as const) {
          const listed = listing.messages.find((m) =>
            outcome.ok && outcome.newId !== undefined
              ? m.id === outcome.newId
              : m.flags.length === flags.length && m.flags.every((f, i) => f === flags[i]),
          );
          expect(listed, `the moved message with flags ${flags.join(' ')}`).toBeDefined();
          expect(listed!.flags).toEqual(flags);
          const content = await d.readMessage(target, listed!.id);
          expect(new Uint8Array(content.body)).toEqual(body);
          if (date !== undefined && content.internalDate !== undefined) {
            expect(Math.floor(content.internalDate / 1000)).toBe(Math.floor(date / 1000));
          }
        }
        expect(await d.moveMessages(box, target, [])).toEqual([]);
      });

      it('renames a folder with its subfolders (renameFolder, where the driver has it), messages kept', async () => {
        const d = driver();
        if (!d.renameFolder) return;
        const child = [...box, 'Unterordner'];
        await createFolder(child);
        const bodies = [mail('r1'), mail('r2'), mail('r3')];
        const ids = await append(
          { body: bodies[0]!, flags: ['\\Seen', ...keywords(d, '$label1')] },
          { body: bodies[1]!, flags: ['\\Flagged'] },
        );
        const childOutcome = await d.appendMessages(child, [{ body: bodies[2]!, flags: ['\\Answered'] }]);
        expect(childOutcome[0]?.ok).toBe(true);
        const before = await listFull();
        const childBefore = await d.listMessages(child, {});

        // Into a parent that does not exist yet, which is made along.
        const to = [...root, 'Archiv', 'Neu'];
        await createFolder(to);
        await d.deleteFolder(to);
        await d.deleteFolder(to.slice(0, -1));
        await d.renameFolder(box, to);
        created.push([...to, 'Unterordner']);

        const folders = (await d.listFolders()).filter((f): f is FolderInfo => !isRefusedFolder(f));
        const has = (path: FolderPath) => folders.some((f) => samePath(f.path, path));
        expect(has(to), 'the new name').toBe(true);
        expect(has([...to, 'Unterordner']), 'the subfolder under the new name').toBe(true);
        expect(has(box), 'the old name').toBe(false);
        expect(has(child), 'the subfolder under the old name').toBe(false);

        const after = await d.listMessages(to, {});
        if (after.kind !== 'full') throw new Error(`A listing without a marker answered '${after.kind}'.`);
        expect(after.messages).toHaveLength(2);
        if (after.marker.epoch === before.marker.epoch) {
          expect(after.messages.map((m) => m.id).sort(), 'ids kept with the epoch').toEqual([...ids].sort());
        }
        for (const [body, flags] of [
          [bodies[0]!, visible(['\\Seen', '$label1'])],
          [bodies[1]!, ['\\Flagged']],
        ] as const) {
          const listed = after.messages.find(
            (m) => m.flags.length === flags.length && m.flags.every((f, i) => f === flags[i]),
          );
          expect(listed, `the renamed folder's message with flags ${flags.join(' ')}`).toBeDefined();
          expect(new Uint8Array((await d.readMessage(to, listed!.id)).body)).toEqual(body);
        }
        const childAfter = await d.listMessages([...to, 'Unterordner'], {});
        if (childAfter.kind !== 'full' || childBefore.kind !== 'full')
          throw new Error('Listings without a marker must be full.');
        expect(childAfter.messages.map((m) => m.flags)).toEqual([['\\Answered']]);

        // The old name is gone for every call; the new one cannot be taken twice.
        const failure = async (p: Promise<unknown>) =>
          p.then(
            () => undefined,
            (err: unknown) => err as { code?: unknown },
          );
        const gone = await failure(d.renameFolder(box, [...root, 'Anderswo']));
        expect(errorScope(gone)).toBe('folder');
        expect(gone?.code).toBe('FOLDER_GONE');
        await createFolder([...root, 'Besetzt']);
        const exists = await failure(d.renameFolder([...root, 'Besetzt'], to));
        expect(errorScope(exists)).toBe('folder');
        expect(exists?.code).toBe('FOLDER_EXISTS');
        const below = await failure(d.renameFolder(to, [...to, 'Unterordner', 'Tiefer']));
        expect(below?.code).toBe('FOLDER_RENAME_REFUSED');
        const inbox = await failure(d.renameFolder(['INBOX'], [...root, 'Posteingang']));
        expect(inbox?.code).toBe('FOLDER_RENAME_REFUSED');
        const still = (await d.listFolders()).filter((f): f is FolderInfo => !isRefusedFolder(f));
        expect(still.some((f) => samePath(f.path, to))).toBe(true);
      });

      it('keeps a message id across flag changes', async () => {
        const body = mail('stable');
        const [a] = await append({ body, flags: [] });
        for (const update of [
          { add: ['\\Seen'], remove: [] },
          { add: ['\\Flagged', '\\Answered'], remove: ['\\Seen'] },
          { add: [], remove: ['\\Flagged', '\\Answered'] },
        ]) {
          expect(await driver().setFlags(box, [{ id: a!, ...update }])).toEqual([{ id: a, ok: true }]);
        }
        expect([...(await current()).keys()]).toEqual([a]);
        expect(new Uint8Array((await driver().readMessage(box, a!)).body)).toEqual(body);
      });
    });

    describe('markers', () => {
      let box: FolderPath = [];
      const listFull = async () => {
        const listing = await driver().listMessages(box, {});
        if (listing.kind !== 'full')
          throw new Error(`A listing without a marker answered '${listing.kind}'.`);
        return listing;
      };
      /**
       * Lists since `before`'s marker and checks the answer, whatever its kind, says what a full listing
       * says now. Returns the listing, for its marker.
       */
      const expectSinceMatchesFull = async (before: Listing, beforeSet: Map<string, ListedMessage>) => {
        const since = await driver().listMessages(box, { since: before.marker });
        expect(structuredClone(since)).toEqual(since);
        expect(since.marker.epoch, 'the epoch of a folder nobody reset').toBe(before.marker.epoch);
        const full = await listFull();
        expect(summary(resolveListing(beforeSet, since))).toEqual(summary(resolveListing(undefined, full)));
        return since;
      };
      const append = async (tag: string, flags: string[] = []) => {
        const [outcome] = await driver().appendMessages(box, [{ body: mail(tag), flags }]);
        if (!outcome?.ok) throw new Error(`Appending ${tag} failed.`);
        return outcome.id;
      };

      beforeEach(async () => {
        box = [...root, 'Marker'];
        await createFolder(box);
      });

      it('says nothing changed between two listings with no change in between', async () => {
        await append('a', ['\\Seen']);
        await append('b');
        const first = await listFull();
        const firstSet = resolveListing(undefined, first);
        const second = await expectSinceMatchesFull(first, firstSet);
        if (second.kind === 'delta') expect(second.vanished.filter((id) => firstSet.has(id))).toEqual([]);
        // The marker of any answer, `unchanged` included, serves as the next `since`.
        await expectSinceMatchesFull(second, resolveListing(firstSet, second));
      });

      it('reports an appended message since a marker', async () => {
        await append('old');
        const first = await listFull();
        const added = await append('new', ['\\Flagged']);
        const after = await expectSinceMatchesFull(first, resolveListing(undefined, first));
        expect(after.kind).not.toBe('unchanged');
        expect(resolveListing(resolveListing(undefined, first), after).get(added)?.flags).toEqual([
          '\\Flagged',
        ]);
      });

      it('reports a flag change since a marker', async () => {
        const a = await append('a');
        await append('b');
        const first = await listFull();
        await driver().setFlags(box, [{ id: a, add: ['\\Seen'], remove: [] }]);
        const after = await expectSinceMatchesFull(first, resolveListing(undefined, first));
        expect(resolveListing(resolveListing(undefined, first), after).get(a)?.flags).toEqual(['\\Seen']);
      });

      it('reports a deleted message as gone since a marker', async () => {
        const a = await append('a');
        const b = await append('b');
        const first = await listFull();
        await driver().deleteMessages(box, [a]);
        const after = await expectSinceMatchesFull(first, resolveListing(undefined, first));
        expect([...resolveListing(resolveListing(undefined, first), after).keys()]).toEqual([b]);
      });

      it('gives a marker after its own writes (markerAfterWrites, where the driver has it) that shows later changes', async () => {
        const markerAfterWrites = driver().markerAfterWrites?.bind(driver());
        if (!markerAfterWrites) return;
        const a = await append('a');
        const b = await append('b', ['\\Seen']);
        const first = await listFull();
        await driver().setFlags(box, [{ id: a, add: ['\\Flagged'], remove: [] }]);
        await driver().deleteMessages(box, [b]);
        await append('c');
        const settled: Listing = { kind: 'unchanged', marker: await markerAfterWrites(box, first.marker) };
        expect(structuredClone(settled.marker)).toEqual(settled.marker);
        expect(settled.marker.epoch).toBe(first.marker.epoch);
        // The folder as of that marker is the listing plus the writes: what a full listing says now.
        const now = resolveListing(undefined, await listFull());
        const next = await expectSinceMatchesFull(settled, now);
        await append('d', ['\\Answered']);
        // A change after the marker shows, since that marker and since the next listing's.
        expect((await expectSinceMatchesFull(settled, now)).kind).not.toBe('unchanged');
        expect((await expectSinceMatchesFull(next, resolveListing(now, next))).kind).not.toBe('unchanged');
      });
    });
  });
}

/**
 * What a folder holds according to a listing of any kind: `full` gives it outright; `unchanged` and
 * `delta` are applied to `previous`, the messages as of the marker the listing was asked `since`
 * (vanished ids are dropped, changed messages replace or join the rest). Vanished ids `previous` never
 * held are ignored: a message can come and go between two listings. Returns a new map by id; `previous`
 * is not changed. Throws if an `unchanged` or `delta` answer has nothing to apply to, since a driver
 * may give those only to a request with `since`.
 */
export function resolveListing(
  previous: ReadonlyMap<string, ListedMessage> | undefined,
  listing: Listing,
): Map<string, ListedMessage> {
  if (listing.kind === 'full') return new Map(listing.messages.map((m) => [m.id, m]));
  if (!previous) throw new Error(`A '${listing.kind}' listing needs the messages as of its 'since' marker.`);
  const result = new Map(previous);
  if (listing.kind === 'delta') {
    for (const id of listing.vanished) result.delete(id);
    for (const m of listing.changed) result.set(m.id, m);
  }
  return result;
}

/** Ids and flags, in id order: what two listings of the same content must agree on. */
function summary(messages: ReadonlyMap<string, ListedMessage>): { id: string; flags: FlagList }[] {
  return sortById([...messages.values()].map((m) => ({ id: m.id, flags: m.flags })));
}

function sortById<T extends { id: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function samePath(a: FolderPath, b: FolderPath): boolean {
  return a.length === b.length && a.every((level, i) => level === b[i]);
}

function uniquePaths(paths: readonly FolderPath[]): FolderPath[] {
  const seen = new Map(paths.map((p) => [JSON.stringify(p), p]));
  return [...seen.values()];
}

function keywords(driver: Driver, ...names: string[]): string[] {
  return driver.capabilities.keywords ? names : [];
}

let counter = 0;

/**
 * A top-level folder name no other run shares, so the suite can run against a real, shared store: ASCII
 * letters, digits and `-` only, which every store's folder syntax takes as one level.
 */
function uniqueName(): string {
  counter++;
  const random = Math.random().toString(36).slice(2, 8);
  return `twinbox-conformance-${Date.now().toString(36)}-${random}-${counter}`;
}

let mailCounter = 0;

/** A small RFC 5322 message with CRLF line endings and an 8-bit body, unique across runs. */
function mail(
  tag: string,
  options: { messageId?: boolean; messageIdHeader?: string; extraHeaders?: string[] } = {},
): Uint8Array {
  mailCounter++;
  const unique = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}.${mailCounter}`;
  const headers = [
    'From: Twinbox Conformance <conformance@twinbox.test>',
    'To: Driver Under Test <driver@twinbox.test>',
    `Subject: ${tag}`,
    'Date: Thu, 06 May 2021 07:08:09 +0000',
    ...(options.messageId === false
      ? []
      : [`${options.messageIdHeader ?? 'Message-ID'}: <${unique}@twinbox.test>`]),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    ...(options.extraHeaders ?? []),
  ];
  const text = `${headers.join('\r\n')}\r\n\r\nBody of ${tag}: Grüße aus Übersicht.\r\n\r\n-- \r\nTwinbox\r\n`;
  return new TextEncoder().encode(text);
}

/** The Message-ID {@link mail} put into a message, as a driver must report it. */
function messageIdOf(body: Uint8Array): string {
  const match = /^message-id:\s*(<[^>]+>)/im.exec(new TextDecoder().decode(body));
  if (!match) throw new Error('The test message has no Message-ID.');
  return match[1]!;
}
