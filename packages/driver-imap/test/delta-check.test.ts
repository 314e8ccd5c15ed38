import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ImapAccountOptions, ImapDriver, openImap } from '../src/index.js';
import { deltaOf, fullOf, mail } from './helpers.js';
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
  proxy.rewriteServer(undefined);
  proxy.record(false);
  for (const c of open.splice(0)) await c.close();
});

/**
 * A folder of three messages listed once through the proxy, then changed by another session: the
 * second message flagged, a fourth appended. Returns the driver, the first listing's marker and the
 * UIDs.
 */
async function changedFolder() {
  const { user, password } = await newUser();
  const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
  const driver = await ImapDriver.connect(account);
  open.push(driver);
  await driver.createFolder(['Check']);
  const outcomes = await driver.appendMessages(
    ['Check'],
    ['a', 'b', 'c'].map((t) => ({ body: mail(t).body, flags: [] })),
  );
  const ids = outcomes.map((o) => (o.ok ? o.id : ''));
  const first = fullOf(await driver.listMessages(['Check'], {}));
  const other = await openImap({ ...account, port: dovecot().port });
  try {
    const lock = await other.getMailboxLock('Check');
    try {
      await other.messageFlagsAdd(ids[1]!, ['\\Flagged'], { uid: true });
      const appended = await other.append('Check', Buffer.from(mail('d').body), ['\\Seen']);
      ids.push(String(appended ? appended.uid : ''));
    } finally {
      lock.release();
    }
  } finally {
    await other.logout();
  }
  return { driver, since: first.marker, ids };
}

describe('a delta listing (FETCH CHANGEDSINCE) finds a changed message whose row it could not take, by SEARCH MODSEQ', () => {
  /** The delta of `changedFolder` with the flagged message's CHANGEDSINCE row (UID, then FLAGS) rewritten. */
  async function deltaWith(rewrite: (row: string) => string) {
    const { driver, since, ids } = await changedFolder();
    const row = new RegExp(`\\* \\d+ FETCH \\(UID ${ids[1]} FLAGS \\([^)]*\\)[^\\r]*`);
    proxy.rewriteServer((lines) => lines.replace(row, rewrite));
    proxy.record(true);
    const delta = deltaOf(await driver.listMessages(['Check'], { since }));
    expect(proxy.commands()).toContain('UID SEARCH');
    return { delta, ids };
  }

  /** The message is listed, with the flags SEARCH finds, and reported. */
  function expectRecovered(delta: Awaited<ReturnType<typeof deltaWith>>['delta'], ids: string[]) {
    const byId = new Map(delta.changed.map((m) => [m.id, m]));
    expect([...byId.keys()].sort()).toEqual([ids[1], ids[3]].sort());
    expect(byId.get(ids[1]!)?.flags).toEqual(['\\Flagged']);
    expect(byId.get(ids[3]!)?.flags).toEqual(['\\Seen']);
    expect(delta.problems?.map((p) => ({ id: p.id, code: p.code }))).toEqual([
      { id: ids[1], code: 'FLAGS_UNREADABLE' },
    ]);
  }

  it('a flag list imapflow cannot parse (the line is skipped, with an error in its log only)', async () => {
    // The NOOP's word on the same change (UID, MODSEQ, FLAGS) goes through untouched.
    const { delta, ids } = await deltaWith((row) => row.replace(/(FLAGS \([^)]*)\)/, '$1 a(b)'));
    expectRecovered(delta, ids);
  });

  it('a row whose message number is not a number (imapflow drops it without a word in any log)', async () => {
    const { delta, ids } = await deltaWith((row) => row.replace(/^\* (\d+) /, '* $1x '));
    expectRecovered(delta, ids);
  });

  it('a row without FLAGS: not listed as a message without flags', async () => {
    const { delta, ids } = await deltaWith((row) => row.replace(/FLAGS \([^)]*\) /, ''));
    expectRecovered(delta, ids);
  });
});

/** A user of the fixture reached through the proxy, a driver on it, and a folder `name` holding a and b, listed. */
async function listedThroughProxy(name: string) {
  const { user, password } = await newUser();
  const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
  const driver = await ImapDriver.connect(account);
  open.push(driver);
  await driver.createFolder([name]);
  const ids = (
    await driver.appendMessages(
      [name],
      ['a', 'b'].map((t) => ({ body: mail(t).body, flags: [] })),
    )
  ).map((o) => (o.ok ? o.id : ''));
  const first = fullOf(await driver.listMessages([name], {}));
  return { account, driver, ids, marker: first.marker };
}

/**
 * Another client expunges `uid` from `folder`; from then on every VANISHED set the server sends through
 * the proxy gets a trailing letter, which makes imapflow's range parser skip it without a word, and
 * the proxy records the commands sent.
 */
async function expungedUnreadably(account: ImapAccountOptions, folder: string, uid: string) {
  const other = await openImap({ ...account, port: dovecot().port });
  try {
    await other.mailboxOpen(folder);
    await other.messageDelete(uid, { uid: true });
  } finally {
    await other.logout();
  }
  proxy.rewriteServer((lines) => lines.replace(/(\* VANISHED (?:\(EARLIER\) )?)([\d:,]+)/g, '$1$2x'));
  proxy.record(true);
}

describe('a delta listing whose VANISHED line imapflow cannot read', () => {
  it('lists the folder whole, so the expunge is not lost', async () => {
    const { account, driver, ids, marker } = await listedThroughProxy('Unread');
    await expungedUnreadably(account, 'Unread', ids[1]!);
    const listing = fullOf(await driver.listMessages(['Unread'], { since: marker }));
    expect(proxy.commands()).toContain('UID FETCH');
    expect(listing.messages.map((m) => m.id)).toEqual([ids[0]]);
  });
});

describe('markerAfterWrites does not vouch for a folder whose changed row it could not take', () => {
  it('another client expunged a message and imapflow could not read the VANISHED line', async () => {
    const { account, driver, ids, marker } = await listedThroughProxy('Gone');
    const [c] = await driver.appendMessages(['Gone'], [{ body: mail('c').body, flags: [] }]);
    expect(c?.ok).toBe(true);
    await expungedUnreadably(account, 'Gone', ids[1]!);
    expect(await driver.markerAfterWrites(['Gone'], marker)).toEqual(marker);
    expect(proxy.commands()).toContain('UID FETCH');
  });

  it('asks the server nothing for a folder whose flags it changed, or that took messages by a move', async () => {
    const { driver, ids, marker } = await listedThroughProxy('Flagged');
    await driver.appendMessages(['Flagged'], [{ body: mail('c').body, flags: [] }]);
    await driver.setFlags(['Flagged'], [{ id: ids[0]!, add: ['\\Seen'], remove: [] }]);
    await driver.createFolder(['Into']);
    const into = fullOf(await driver.listMessages(['Into'], {}));
    await driver.moveMessages(['Flagged'], ['Into'], [ids[1]!]);
    proxy.record(true);
    expect(await driver.markerAfterWrites(['Flagged'], marker)).toEqual(marker);
    expect(await driver.markerAfterWrites(['Into'], into.marker)).toEqual(into.marker);
    expect(proxy.commands()).toEqual([]);
  });

  it('another client re-flagged a message and imapflow dropped its row: SEARCH MODSEQ finds it', async () => {
    const { user, password } = await newUser();
    const account: ImapAccountOptions = { host: '127.0.0.1', port: proxy.port, tls: 'none', user, password };
    const driver = await ImapDriver.connect(account);
    open.push(driver);
    await driver.createFolder(['Vouch']);
    const [a] = await driver.appendMessages(['Vouch'], [{ body: mail('a').body, flags: [] }]);
    const first = fullOf(await driver.listMessages(['Vouch'], {}));
    const [c] = await driver.appendMessages(['Vouch'], [{ body: mail('c').body, flags: [] }]);
    expect(a?.ok && c?.ok).toBe(true);
    const other = await openImap({ ...account, port: dovecot().port });
    try {
      await other.mailboxOpen('Vouch');
      await other.messageFlagsAdd(a!.ok ? a!.id : '', ['\\Flagged'], { uid: true });
    } finally {
      await other.logout();
    }
    // The check's FETCH row for a (UID, then FLAGS) gets a message number that is not a number.
    const row = new RegExp(`\\* (\\d+) (FETCH \\(UID ${a!.ok ? a!.id : ''} FLAGS )`);
    proxy.rewriteServer((lines) => lines.replace(row, '* $1x $2'));
    proxy.record(true);
    expect(await driver.markerAfterWrites(['Vouch'], first.marker)).toEqual(first.marker);
    expect(proxy.commands()).toContain('UID SEARCH');
  });
});
