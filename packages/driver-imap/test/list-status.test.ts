import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { FakeImapServer } from '@twinbox/test-fake-imap';
import type { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ImapAccountOptions, ImapDriver, openImap } from '../src/index.js';
import { closedAfterEach } from './fake-servers.js';
import { appendAll, deltaOf, fullOf, mail } from './helpers.js';
import { CuttingProxy } from './proxy.js';

let proxy: CuttingProxy;
beforeAll(async () => {
  proxy = await CuttingProxy.start(dovecot().port);
});
afterAll(async () => {
  await proxy?.stop();
});

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  proxy.record(false);
  for (const c of open.splice(0)) await c.close();
});

/** A driver through the recording proxy, and another program's session on the same account. */
async function setup(maxSessions = 1): Promise<{ driver: ImapDriver; other: ImapFlow }> {
  const { user, password } = await newUser();
  const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
  const driver = await ImapDriver.connect({ ...account, maxSessions });
  open.push(driver);
  const other = await openImap({ ...account, port: dovecot().port });
  open.push({ close: () => other.logout() });
  return { driver, other };
}

/** Another program appends a message to `folder`. */
async function appendElsewhere(other: ImapFlow, folder: string, tag: string): Promise<string> {
  const appended = await other.append(folder, Buffer.from(mail(tag).body), []);
  const uid = appended ? appended.uid : undefined;
  if (!uid) throw new Error('the other session got no UID for its APPEND');
  return String(uid);
}

describe('STATUS from the folder list (LIST-STATUS)', () => {
  it('answers an unchanged folder listed after a LIST without a command of its own, once', async () => {
    const { driver } = await setup();
    await driver.createFolder(['Quiet']);
    await appendAll(driver, ['Quiet'], ['a', 'b']);
    const first = fullOf(await driver.listMessages(['Quiet'], {}));
    await driver.listMessages(['INBOX'], {});

    proxy.record(true);
    await driver.listFolders();
    // INBOX is selected: a NOOP first (see the next test), then one LIST for every folder's STATUS.
    expect(proxy.commands()).toEqual(['NOOP', 'LIST']);
    expect(proxy.recorded).toMatch(/RETURN \(STATUS \(/);
    proxy.record(true);
    expect(await driver.listMessages(['Quiet'], { since: first.marker })).toEqual({
      kind: 'unchanged',
      marker: first.marker,
    });
    expect(proxy.commands()).toEqual([]);
    // Taken once: listed again without a LIST in between, the folder is asked about.
    proxy.record(true);
    await driver.listMessages(['Quiet'], { since: first.marker });
    expect(proxy.commands()).toEqual(['STATUS']);
  });

  it("gives each selectable folder's message count from the same LIST, as the engine's scheduling hint", async () => {
    const { driver } = await setup();
    await driver.createFolder(['Three']);
    await appendAll(driver, ['Three'], ['a', 'b', 'c']);
    await driver.createFolder(['Parent', 'Child']);
    proxy.record(true);
    const listed = await driver.listFolders();
    // One LIST, no STATUS per folder (the NOOP before it refreshes Three, selected by its appends).
    expect(proxy.commands().filter((c) => c !== 'NOOP')).toEqual(['LIST']);
    const counts = Object.fromEntries(
      listed.flatMap((f) => ('path' in f ? [[f.path.join('/'), f.messages]] : [])),
    );
    expect(counts).toMatchObject({ INBOX: 0, Three: 3, 'Parent/Child': 0 });
  });

  it('sees what another program changed between two syncs, in a folder selected or not', async () => {
    const { driver, other } = await setup();
    await driver.createFolder(['Selected']);
    await driver.createFolder(['Elsewhere']);
    await appendAll(driver, ['Selected'], ['a']);
    await appendAll(driver, ['Elsewhere'], ['b']);
    // One sync: both folders listed after a LIST; the second one stays selected.
    await driver.listFolders();
    const elsewhere = fullOf(await driver.listMessages(['Elsewhere'], {}));
    const selected = fullOf(await driver.listMessages(['Selected'], {}));

    const added = {
      selected: await appendElsewhere(other, 'Selected', 'c'),
      elsewhere: await appendElsewhere(other, 'Elsewhere', 'd'),
    };

    // The next sync: Dovecot answers the selected folder's STATUS from the session's view, which
    // has not caught up with the other program yet unless something asked it to.
    await driver.listFolders();
    const seen = {
      selected: deltaOf(await driver.listMessages(['Selected'], { since: selected.marker })),
      elsewhere: deltaOf(await driver.listMessages(['Elsewhere'], { since: elsewhere.marker })),
    };
    expect(seen.selected.changed.map((m) => m.id)).toEqual([added.selected]);
    expect(seen.elsewhere.changed.map((m) => m.id)).toEqual([added.elsewhere]);
  });

  it('lists every message the LIST counted in a folder another session of the driver keeps selected', async () => {
    const { driver, other } = await setup(2);
    const folders = [['A'], ['B']];
    for (const f of folders) {
      await driver.createFolder(f);
      await appendAll(driver, f, ['a']);
    }
    // Listed at once: one folder stays selected on the first session, the other on a second one.
    const first = await Promise.all(folders.map((f) => driver.listMessages(f, {})));
    const added = [await appendElsewhere(other, 'A', 'new-a'), await appendElsewhere(other, 'B', 'new-b')];
    await driver.listFolders();
    const again = await Promise.all(
      folders.map((f, i) => driver.listMessages(f, { since: first[i]!.marker })),
    );
    again.forEach((listing, i) => {
      expect(listing.problems ?? []).toEqual([]);
      expect(deltaOf(listing).changed.map((m) => m.id)).toEqual([added[i]]);
    });
  });

  it("drops a folder's listed STATUS once the driver writes to it", async () => {
    const { driver } = await setup();
    await driver.createFolder(['Written']);
    await appendAll(driver, ['Written'], ['a']);
    const first = fullOf(await driver.listMessages(['Written'], {}));
    await driver.listFolders();
    const [id] = await appendAll(driver, ['Written'], ['b']);
    proxy.record(true);
    const after = deltaOf(await driver.listMessages(['Written'], { since: first.marker }));
    expect(proxy.commands()).toContain('STATUS');
    expect(after.changed.map((m) => m.id)).toEqual([id]);
  });

  it('drops the listed STATUS of both folders of a move', async () => {
    const { driver } = await setup();
    await driver.createFolder(['MoveFrom']);
    await driver.createFolder(['MoveTo']);
    const [id] = await appendAll(driver, ['MoveFrom'], ['moving']);
    const from = fullOf(await driver.listMessages(['MoveFrom'], {}));
    const to = fullOf(await driver.listMessages(['MoveTo'], {}));
    await driver.listFolders();
    const [outcome] = await driver.moveMessages(['MoveFrom'], ['MoveTo'], [id!]);
    expect(outcome).toMatchObject({ id, ok: true });
    const source = await driver.listMessages(['MoveFrom'], { since: from.marker });
    const target = await driver.listMessages(['MoveTo'], { since: to.marker });
    expect(source.kind === 'delta' ? source.vanished : []).toEqual([id]);
    expect(target.kind === 'delta' ? target.changed.length : 0).toBe(1);
  });
});

describe('a LIST-STATUS that answers UIDVALIDITY 0', () => {
  const fakes = closedAfterEach();

  // Dovecot does, for a new account's INBOX it has not made yet when another session opens it at the
  // same time (seen in CI: "The UIDVALIDITY of INBOX changed (0 became 1796679006)").
  it("is not taken as the folder's epoch: the listing asks STATUS and lists the folder", async () => {
    const server = await FakeImapServer.start({
      capabilities: ['IMAP4rev1', 'LITERAL+', 'UIDPLUS', 'NAMESPACE', 'ID', 'LIST-STATUS'],
      folders: [
        {
          name: 'INBOX',
          uidValidity: 42,
          uidNext: 2,
          messages: [{ uid: 1, flags: [], body: Buffer.from(mail('a').body) }],
        },
      ],
      script: (command, answer) =>
        command.name === 'LIST'
          ? { send: answer().toString('latin1').replace('UIDVALIDITY 42', 'UIDVALIDITY 0'), after: 'done' }
          : undefined,
    });
    fakes.servers.push(server);
    const driver = await ImapDriver.connect({ ...server.account });
    fakes.drivers.push(driver);

    await driver.listFolders();
    expect(server.log.filter((c) => c.name === 'LIST').map((c) => c.args)).toEqual([
      expect.stringMatching(/RETURN \(STATUS \(/),
    ]);
    const listing = fullOf(await driver.listMessages(['INBOX'], {}));
    expect(listing.marker.epoch).toBe('42');
    expect(listing.messages.map((m) => m.id)).toEqual(['1']);
    expect(server.log.map((c) => c.name)).toContain('STATUS');
  });
});
