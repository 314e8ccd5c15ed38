import { copyFile, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { newUser } from '@twinbox/test-dovecot/inject';
import { describe, expect, it } from 'vitest';
import { nothingWritten, twinbox } from './helpers.js';
import {
  expectNoBodies,
  imap,
  letters,
  maildirFolder,
  type Pair,
  pair,
  serverFolder,
  statePairs,
  sync,
  systemLetters,
  type Totals,
  type User,
} from './proxy-pair.js';

// Issue 18's "must show" for moves, through the built binary: 1,000 messages filed from INBOX into a
// folder on one side are moved on the other with the store's own move, so no body crosses the wire.
// Every IMAP connection of the sync goes through a proxy that counts its bytes (plain IMAP on loopback,
// so the count is the protocol's own, without TLS records).

const MOVED = 1000;
const KEPT = 10;
const TARGET = 'Archive';
/** Each body carries this much filler, so that one body re-sent would show in the byte counts. */
const FILLER = `${'x'.repeat(76)}\r\n`.repeat(40);
const BODIES = (MOVED + KEPT) * FILLER.length;

/** Message `i`'s flags as seeded: some seen, some flagged, some with a keyword. */
const seededFlags = (i: number) => [
  ...(i % 3 === 0 ? ['\\Seen'] : []),
  ...(i % 5 === 0 ? ['\\Flagged'] : []),
  ...(i % 7 === 0 ? ['$label1'] : []),
];

/** `MOVED` messages to be filed, then `KEPT` that stay in INBOX, and an empty `TARGET`. */
async function seed(u: User): Promise<void> {
  const client = await imap(u);
  try {
    await client.mailboxCreate(TARGET);
    for (let i = 0; i < MOVED + KEPT; i++) {
      const id = i < MOVED ? `m${i}` : `kept${i}`;
      await client.append(
        'INBOX',
        Buffer.from(`Message-ID: <${id}@moves>\r\nSubject: ${id}\r\nFrom: a@example.org\r\n\r\n${FILLER}`),
        seededFlags(i),
      );
    }
  } finally {
    await client.logout();
  }
}

/** What a sync that moved every filed message and sent no body must have cost, at most. */
const expectNoBodyTransferred = (p: Pair) => expectNoBodies(p, BODIES);

describe('moves end to end (built binary, Dovecot)', () => {
  it('IMAP ⇄ Maildir: 1,000 messages moved on the server by UID MOVE are moved in the Maildir, flags kept, nothing fetched', async () => {
    const u = await newUser();
    await seed(u);
    const p = await pair(u);
    const first = await sync(p);
    expect(first).toMatchObject({ copied: MOVED + KEPT, errors: 0 });

    // Meanwhile in the Maildir, the user flags ten of the messages the server is about to move.
    const inbox = await maildirFolder(p.maildir);
    const flaggedHere = new Set<string>();
    for (const sub of ['cur', 'new']) {
      for (const name of await readdir(join(p.maildir, sub))) {
        const text = await readFile(join(p.maildir, sub, name), 'latin1');
        const n = Number(/^Message-ID: <m(\d+)@/m.exec(text)?.[1] ?? -1);
        if (n < 0 || n % 100 !== 1) continue;
        flaggedHere.add(`<m${n}@moves>`);
        const base = name.split(':2,')[0];
        const info = [...new Set(`${name.split(':2,')[1] ?? ''}F`)].sort().join('');
        await rename(join(p.maildir, sub, name), join(p.maildir, 'cur', `${base}:2,${info}`));
      }
    }
    expect(inbox.size).toBe(MOVED + KEPT);
    expect(flaggedHere.size).toBe(10);

    const client = await imap(u);
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageMove(`1:${MOVED}`, TARGET);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }

    // The dry run and the plain report say so.
    const dry = await twinbox(['-c', p.config, 'sync', '--dry-run'], p.env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/moved 1000/);
    expect(await maildirFolder(join(p.maildir, `.${TARGET}`))).toEqual(new Map());

    p.proxy.reset();
    const moved = await sync(p);
    expect(moved).toMatchObject({ moved: MOVED, copied: 0, deleted: 0, errors: 0 });
    expectNoBodyTransferred(p);

    // Both sides hold the same messages with the same flags: the seeded ones, plus \Flagged on the ten
    // the Maildir flagged while the server moved them.
    const server = await serverFolder(u, TARGET);
    const local = await maildirFolder(join(p.maildir, `.${TARGET}`));
    expect(server.size).toBe(MOVED);
    expect(local.size).toBe(MOVED);
    for (let i = 0; i < MOVED; i++) {
      const id = `<m${i}@moves>`;
      const flags = [...seededFlags(i), ...(flaggedHere.has(id) ? ['\\Flagged'] : [])];
      expect(server.get(id)?.flags, id).toEqual([...new Set(flags)].sort());
      expect(systemLetters(local.get(id) ?? '?'), id).toBe(letters([...new Set(flags)]));
    }
    expect((await maildirFolder(p.maildir)).size).toBe(KEPT);

    // The state's pairs in the target folder hold the UIDs the server gave the moved messages.
    const pairs = await statePairs(p, TARGET);
    expect(pairs.map((x) => Number(x.left)).sort((a, b) => a - b)).toEqual(
      [...server.values()].map((m) => m.uid).sort((a, b) => a - b),
    );

    p.proxy.reset();
    const again = await sync(p);
    expect(again).toMatchObject({ ...nothingWritten, moved: 0 });
  });

  it('IMAP ⇄ Maildir: 1,000 files renamed into a Maildir folder are moved on the server by UID MOVE, with the UIDs it reports', async () => {
    const u = await newUser();
    await seed(u);
    const p = await pair(u);
    expect(await sync(p)).toMatchObject({ copied: MOVED + KEPT, errors: 0 });

    // A mail client files the messages: a rename of each file into the folder's cur/, name kept. Its
    // keyword letters mean what INBOX's dovecot-keywords says; the folder has none yet, so the client
    // gives it the same (Dovecot, moving, translates the letters instead).
    const target = join(p.maildir, `.${TARGET}`);
    await copyFile(join(p.maildir, 'dovecot-keywords'), join(target, 'dovecot-keywords'));
    for (const sub of ['cur', 'new']) {
      for (const name of await readdir(join(p.maildir, sub))) {
        const text = await readFile(join(p.maildir, sub, name), 'latin1');
        if (!/^Message-ID: <m\d+@/m.test(text)) continue;
        await rename(
          join(p.maildir, sub, name),
          join(target, 'cur', name.includes(':2,') ? name : `${name}:2,`),
        );
      }
    }
    // And on the server another client flags two of them in INBOX before the sync moves them.
    const client = await imap(u);
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageFlagsAdd({ header: { 'message-id': '<m1@moves>' } }, ['\\Answered']);
        await client.messageFlagsAdd({ header: { 'message-id': '<m2@moves>' } }, ['\\Answered']);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }

    const json = await twinbox(['-c', p.config, '--json', 'sync', '--dry-run'], p.env);
    expect(json.code, json.stderr).toBe(0);
    const dryTotals = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; dryRun?: boolean; totals?: Totals })
      .find((e) => e.type === 'pair-done');
    expect(dryTotals).toMatchObject({ dryRun: true, totals: { moved: MOVED, copied: 0, deleted: 0 } });
    const pending = await twinbox(['-c', p.config, 'status'], p.env);
    expect(pending.code, pending.stderr).toBe(0);
    expect(pending.stdout).toMatch(/pending Archive: copy 0 →, 0 ←; moves 1000; flags 2; deletions 0/);

    p.proxy.reset();
    const moved = await sync(p);
    expect(moved).toMatchObject({ moved: MOVED, copied: 0, deleted: 0, errors: 0 });
    expectNoBodyTransferred(p);

    const server = await serverFolder(u, TARGET);
    const local = await maildirFolder(target);
    expect(server.size).toBe(MOVED);
    expect(local.size).toBe(MOVED);
    expect((await serverFolder(u, 'INBOX')).size).toBe(KEPT);
    for (let i = 0; i < MOVED; i++) {
      const id = `<m${i}@moves>`;
      const flags = [...seededFlags(i), ...(i === 1 || i === 2 ? ['\\Answered'] : [])].sort();
      expect(server.get(id)?.flags, id).toEqual(flags);
      expect(systemLetters(local.get(id) ?? '?'), id).toBe(letters(flags));
    }
    const pairs = await statePairs(p, TARGET);
    expect(pairs.map((x) => Number(x.left)).sort((a, b) => a - b)).toEqual(
      [...server.values()].map((m) => m.uid).sort((a, b) => a - b),
    );
    const status = await twinbox(['-c', p.config, 'status', '--offline'], p.env);
    expect(status.stdout).toMatch(/last sync .*: copied 0, moved 1000, flagged 2, deleted 0/);

    p.proxy.reset();
    expect(await sync(p)).toMatchObject({ ...nothingWritten, moved: 0 });
    // Nothing written: no MOVE, STORE or APPEND went out, only the listing.
    expect(p.proxy.up).toBeLessThan(BODIES / 10);
  });

  it('IMAP ⇄ IMAP: 1,000 messages moved on one server are moved on the other, flags and UIDs from the server', async () => {
    const left = await newUser();
    const right = await newUser();
    await seed(left);
    const p = await pair(left, right);
    expect(await sync(p)).toMatchObject({ copied: MOVED + KEPT, errors: 0 });

    const client = await imap(left);
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageMove(`1:${MOVED}`, TARGET);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }

    p.proxy.reset();
    const moved = await sync(p);
    expect(moved).toMatchObject({ moved: MOVED, copied: 0, deleted: 0, errors: 0 });
    expectNoBodyTransferred(p);

    const there = await serverFolder(right, TARGET);
    expect(there.size).toBe(MOVED);
    expect((await serverFolder(right, 'INBOX')).size).toBe(KEPT);
    for (let i = 0; i < MOVED; i++)
      expect(there.get(`<m${i}@moves>`)?.flags, `m${i}`).toEqual(seededFlags(i).sort());
    const pairs = await statePairs(p, TARGET);
    expect(pairs.map((x) => Number(x.right)).sort((a, b) => a - b)).toEqual(
      [...there.values()].map((m) => m.uid).sort((a, b) => a - b),
    );

    p.proxy.reset();
    expect(await sync(p)).toMatchObject({ ...nothingWritten, moved: 0 });
  });
});
