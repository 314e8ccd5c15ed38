#!/usr/bin/env node
// Does Dovecot's NOTIFY go quiet for folders other than INBOX once its mailbox list index log
// (dovecot.list.index.log) has rotated? Dovecot hears of such changes by an inotify watch on that
// file (mailbox-list-index-notify.c) and, besides, by a check every mailbox_idle_check_interval (30 s
// by default); a rotation renames the file away from under the watch. A bare client watches as the
// driver does (EXAMINE INBOX, NOTIFY SET, IDLE) and never sends another command; a writer APPENDs to
// another folder every --every seconds for --minutes. For each APPEND: the time until the watcher's
// `* STATUS` for it (or none within 40 s), and whether the log file has been replaced since the
// watch began (its inode changed; Dovecot rotates it once it is 8 KB and 5 minutes old).
// --renotify: once the log has been replaced, the watcher ends IDLE, sends NOTIFY SET again (Dovecot
// then watches the file now there) and idles again, once per replacement.
//
//   node bench/notify-rotation-probe.mjs [--minutes 8] [--every 2] [--renotify]
// Needs the built fixture: pnpm turbo run build --filter @twinbox/test-dovecot
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startDovecot } from '../tooling/dovecot/dist/index.js';
import { rawImap } from './lib/raw-imap.mjs';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '8' },
    every: { type: 'string', default: '2' },
    renotify: { type: 'boolean', default: false },
  },
});

const server = await startDovecot();
try {
  const { user, password } = await server.addUser();
  const login = async () => {
    const c = await rawImap(server.info.port);
    await c.command(`LOGIN ${user} ${password}`);
    return c;
  };
  const writer = await login();
  await writer.command('CREATE Other');
  const log = join(server.info.homeRoot, user, 'Maildir', 'dovecot.list.index.log');
  const inode = () => {
    try {
      return statSync(log).ino;
    } catch {
      return undefined;
    }
  };
  const watcher = await login();
  await watcher.command('EXAMINE INBOX');
  const NOTIFY =
    'NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge FlagChange MailboxName))';
  await watcher.command(NOTIFY);
  const idle = async () => {
    const cont = watcher.until(/^\+/);
    watcher.send('i1 IDLE');
    await cont;
  };
  await idle();
  const watchedInode = inode();
  let notifiedInode = watchedInode;
  let renotified = 0;
  const began = performance.now();
  const end = began + Number(values.minutes) * 60_000;
  let n = 0;
  const rows = [];
  while (performance.now() < end) {
    if (values.renotify && inode() !== notifiedInode) {
      const done = watcher.until(/^i1 OK/);
      watcher.send('DONE');
      await done;
      await watcher.command(NOTIFY);
      await idle();
      notifiedInode = inode();
      renotified++;
    }
    const body = `Subject: probe ${++n}\r\nMessage-ID: <rot.${n}.${Date.now()}@bench>\r\n\r\nbody\r\n`;
    const seen = watcher.until(/^\* STATUS "?Other"? /, 40_000).catch(() => undefined);
    const appended = await writer.command(`APPEND Other {${Buffer.byteLength(body)}+}\r\n${body}`);
    const line = await seen;
    const row = {
      at: ((appended.t - began) / 1000).toFixed(0),
      ms: line ? Math.round(line.t - appended.t) : 40_000,
      rotated: inode() !== watchedInode,
    };
    rows.push(row);
    console.log(`${row.at.padStart(4)} s  ${String(row.ms).padStart(6)} ms  ${row.rotated ? 'rotated' : ''}`);
    await new Promise((r) => setTimeout(r, Number(values.every) * 1000));
  }
  const late = (list) => list.filter((r) => r.ms > 2000).length;
  const before = rows.filter((r) => !r.rotated);
  const after = rows.filter((r) => r.rotated);
  console.log(
    `before the log rotated: ${late(before)} of ${before.length} over 2 s; after: ${late(after)} of ${after.length} over 2 s` +
      (values.renotify ? `; NOTIFY SET sent again ${renotified} times` : ''),
  );
  writer.close();
  watcher.close();
} finally {
  await server.stop();
}
