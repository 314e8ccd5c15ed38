import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FetchRow, item, type UntaggedTally, uidFetch } from '../src/fetch-rows.js';
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

describe('a delta listing read whole asks no SEARCH: the lines of its answer are counted before imapflow reads them', () => {
  it('sends the FETCH alone when every untagged line of the answer became a listed message', async () => {
    const { driver, since, ids } = await changedFolder();
    proxy.record(true);
    const delta = deltaOf(await driver.listMessages(['Check'], { since }));
    expect(proxy.commands()).toContain('UID FETCH');
    expect(proxy.commands()).not.toContain('UID SEARCH');
    const byId = new Map(delta.changed.map((m) => [m.id, m]));
    expect([...byId.keys()].sort()).toEqual([ids[1], ids[3]].sort());
    expect(byId.get(ids[1]!)?.flags).toEqual(['\\Flagged']);
    expect(delta.problems).toBeUndefined();
  });

  it('asks SEARCH when the answer holds a line that is no row, and lists the same', async () => {
    const { driver, since, ids } = await changedFolder();
    const row = new RegExp(`\\* \\d+ FETCH \\(UID ${ids[1]} FLAGS`);
    proxy.rewriteServer((lines) =>
      lines.replace(row, (found) => `* OK a word on something else\r\n${found}`),
    );
    proxy.record(true);
    const delta = deltaOf(await driver.listMessages(['Check'], { since }));
    expect(proxy.commands()).toContain('UID SEARCH');
    expect(delta.changed.map((m) => m.id).sort()).toEqual([ids[1], ids[3]].sort());
    expect(delta.problems).toBeUndefined();
  });
});

describe("the count of a FETCH answer's lines (fetch-rows.ts)", () => {
  it('sees every line imapflow is handed for the command, its completion included: the hook on imapflow is live', async () => {
    const { user, password } = await newUser();
    const client = await openImap({ host: '127.0.0.1', port: dovecot().port, tls: 'none', user, password });
    try {
      await client.mailboxCreate('Count');
      for (const t of ['a', 'b', 'c']) await client.append('Count', Buffer.from(mail(t).body), []);
      await client.mailboxOpen('Count');
      const rows: FetchRow[] = [];
      const tally: UntaggedTally = { lines: 0, untagged: 0, vanished: 0 };
      await uidFetch(client, '1:*', [item('UID'), item('FLAGS')], undefined, (row) => rows.push(row), tally);
      expect(rows.map((r) => r.uid)).toEqual([1, 2, 3]);
      expect(tally).toEqual({ lines: 4, untagged: 3, vanished: 0 });
      // Lines of the commands after it are not this one's.
      await client.noop();
      await uidFetch(client, '2', [item('UID')], undefined, () => {});
      expect(tally.lines).toBe(4);
    } finally {
      await client.logout();
    }
  });
});
