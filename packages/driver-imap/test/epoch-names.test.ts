import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dovecot } from '@twinbox/test-dovecot/inject';
import { describe, expect, it } from 'vitest';
import { accountsClosedAfterEach, appendAll, fullOf, mail } from './helpers.js';

const { setup } = accountsClosedAfterEach();

describe('a UIDVALIDITY change by another client', () => {
  it('rejects every call with old ids as EPOCH_CHANGED, and the next listing reports the new epoch', async () => {
    const { driver, other } = await setup();
    await driver.createFolder(['Epoch']);
    const [a, b] = await appendAll(driver, ['Epoch'], ['a', 'b']);
    const before = fullOf(await driver.listMessages(['Epoch'], {}));
    expect((await driver.readMessage(['Epoch'], a!)).body.byteLength).toBeGreaterThan(0);

    // Deleted and made again under the same name: the old UIDs now name nothing, or other messages.
    await other.mailboxDelete('Epoch');
    await other.mailboxCreate('Epoch');
    await other.append('Epoch', Buffer.from(mail('newcomer').body), []);

    const epochChanged = { name: 'FolderError', code: 'EPOCH_CHANGED' };
    await expect(driver.readMessage(['Epoch'], a!)).rejects.toMatchObject(epochChanged);
    await expect(driver.describeMessages(['Epoch'], [a!, b!])).rejects.toMatchObject(epochChanged);
    await expect(driver.setFlags(['Epoch'], [{ id: a!, add: ['\\Seen'], remove: [] }])).rejects.toMatchObject(
      epochChanged,
    );
    await expect(driver.deleteMessages(['Epoch'], [a!])).rejects.toMatchObject(epochChanged);
    await expect(
      driver.appendMessages(['Epoch'], [{ body: mail('late').body, flags: [] }]),
    ).rejects.toMatchObject(epochChanged);

    const after = fullOf(await driver.listMessages(['Epoch'], { since: before.marker }));
    expect(after.marker.epoch).not.toBe(before.marker.epoch);
    expect(after.messages).toHaveLength(1);
    // Within the new epoch, its ids work again.
    const [newcomer] = after.messages;
    expect((await driver.readMessage(['Epoch'], newcomer!.id)).body.byteLength).toBeGreaterThan(0);
  });
});

describe('modified UTF-7 folder names', () => {
  it('creates a folder whose server name is modified UTF-7, and lists it in UTF-8', async () => {
    const { account, driver, other } = await setup();
    await driver.createFolder(['Entwürfe', 'Привет', 'a&b']);
    const listed = await other.list();
    const asListed = new Map(listed.map((box) => [box.path, box.pathAsListed]));
    expect(asListed.get('Entwürfe')).toBe('Entw&APw-rfe');
    expect(asListed.get('Entwürfe/Привет')).toBe('Entw&APw-rfe/&BB8EQAQ4BDIENQRC-');
    expect(asListed.get('Entwürfe/Привет/a&b')).toBe('Entw&APw-rfe/&BB8EQAQ4BDIENQRC-/a&-b');
    // Dovecot keeps the names as modified UTF-7 on disk too.
    const maildir = join(dovecot().homeRoot, account.user, 'Maildir');
    expect(existsSync(join(maildir, '.Entw&APw-rfe.&BB8EQAQ4BDIENQRC-.a&-b'))).toBe(true);

    const paths = (await driver.listFolders()).map((f) => ('path' in f ? f.path : f));
    expect(paths).toContainEqual(['Entwürfe']);
    expect(paths).toContainEqual(['Entwürfe', 'Привет']);
    expect(paths).toContainEqual(['Entwürfe', 'Привет', 'a&b']);
    // And it holds mail under that name.
    const [id] = await appendAll(driver, ['Entwürfe', 'Привет', 'a&b'], ['utf7']);
    expect(
      fullOf(await driver.listMessages(['Entwürfe', 'Привет', 'a&b'], {})).messages.map((m) => m.id),
    ).toEqual([id]);
  });

  it('lists in UTF-8 a folder another client created under its modified UTF-7 name', async () => {
    const { driver, other } = await setup();
    // The raw name on the wire, as a client without UTF-8 support would send it.
    // imapflow's low-level exec() is not in its types; it sends the name exactly as given.
    const raw = other as unknown as {
      exec(command: string, attributes: unknown[]): Promise<{ next(): void }>;
    };
    const response = await raw.exec('CREATE', [{ type: 'ATOM', value: 'Gr&APwA3w-e/&ZeVnLA-' }]);
    response.next();
    const paths = (await driver.listFolders()).map((f) => ('path' in f ? f.path : f));
    expect(paths).toContainEqual(['Grüße', '日本']);
    await appendAll(driver, ['Grüße', '日本'], ['x']);
    expect((await other.list()).map((b) => b.pathAsListed)).toContain('Gr&APwA3w-e/&ZeVnLA-');
  });
});
