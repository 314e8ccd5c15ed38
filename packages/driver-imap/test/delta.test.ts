import { normalizeFlags } from '@twinbox/core';
import { describe, expect, it } from 'vitest';
import { accountsClosedAfterEach, appendAll, deltaOf, fullOf, mail } from './helpers.js';

const { setup } = accountsClosedAfterEach();

describe('QRESYNC delta listings against Dovecot', () => {
  it('lists exactly the messages added or re-flagged and the UIDs expunged by another client', async () => {
    const { driver, other } = await setup();
    await driver.createFolder(['Delta']);
    const [a, b, c] = await appendAll(driver, ['Delta'], ['a', 'b', 'c']);
    const first = fullOf(await driver.listMessages(['Delta'], {}));
    expect(first.messages.map((m) => m.id).sort()).toEqual([a, b, c].sort());

    // Another program changes the folder while the driver still has it selected.
    const lock = await other.getMailboxLock('Delta');
    let added: string;
    try {
      await other.messageFlagsAdd(b!, ['\\Seen', '$label1'], { uid: true });
      await other.messageDelete(c!, { uid: true });
      const appended = await other.append('Delta', Buffer.from(mail('d').body), ['\\Flagged']);
      added = String(appended ? appended.uid : undefined);
    } finally {
      lock.release();
    }

    const delta = deltaOf(await driver.listMessages(['Delta'], { since: first.marker }));
    expect(delta.marker.epoch).toBe(first.marker.epoch);
    expect(BigInt(delta.marker.value)).toBeGreaterThan(BigInt(first.marker.value));
    expect(delta.vanished).toEqual([c]);
    expect(
      delta.changed.map(({ id, flags }) => ({ id, flags })).sort((x, y) => Number(x.id) - Number(y.id)),
    ).toEqual([
      { id: b, flags: normalizeFlags(['\\Seen', '$label1']) },
      { id: added, flags: ['\\Flagged'] },
    ]);
    expect(delta.changed.every((m) => (m.size ?? 0) > 0)).toBe(true);
    // Nothing happened since the delta: one STATUS says so.
    expect(await driver.listMessages(['Delta'], { since: delta.marker })).toEqual({
      kind: 'unchanged',
      marker: delta.marker,
    });
    expect(a).toBeDefined();
  });

  it('still reports an expunge whose notice the server sent to the session earlier', async () => {
    const { driver, other } = await setup();
    await driver.createFolder(['Notice']);
    const [a, b] = await appendAll(driver, ['Notice'], ['a', 'b']);
    const first = fullOf(await driver.listMessages(['Notice'], {}));
    await other.mailboxOpen('Notice');
    await other.messageDelete(a!, { uid: true });
    // The driver's session, still on Notice, is told of the expunge (an untagged VANISHED) while it
    // works on another folder; the next listing must not depend on having seen it then.
    await driver.listMessages(['INBOX'], {});
    await driver.readMessage(['Notice'], b!);
    const delta = deltaOf(await driver.listMessages(['Notice'], { since: first.marker }));
    expect(delta.vanished).toEqual([a]);
    expect(delta.changed).toEqual([]);
  });

  it('reports every UID as vanished when the folder was emptied', async () => {
    const { driver, other } = await setup();
    await driver.createFolder(['Emptied']);
    const ids = await appendAll(driver, ['Emptied'], ['a', 'b', 'c']);
    const first = fullOf(await driver.listMessages(['Emptied'], {}));
    await other.mailboxOpen('Emptied');
    await other.messageDelete('1:*');
    const delta = deltaOf(await driver.listMessages(['Emptied'], { since: first.marker }));
    expect(delta.changed).toEqual([]);
    expect([...delta.vanished].sort()).toEqual([...ids].sort());
  });

  it('answers a marker of another epoch, or a foreign value, with a full listing', async () => {
    const { driver } = await setup();
    await driver.createFolder(['Foreign']);
    await appendAll(driver, ['Foreign'], ['a']);
    const first = fullOf(await driver.listMessages(['Foreign'], {}));
    const epoch = String(BigInt(first.marker.epoch) + 1n);
    expect((await driver.listMessages(['Foreign'], { since: { epoch, value: '1' } })).kind).toBe('full');
    const value = 'not-a-modseq';
    expect(
      (await driver.listMessages(['Foreign'], { since: { epoch: first.marker.epoch, value } })).kind,
    ).toBe('full');
  });
});
