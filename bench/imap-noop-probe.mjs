#!/usr/bin/env node
// Does a NOOP make Dovecot report a change at once, instead of after its 0.5 s notification delay
// (NOTIFY_DELAY_MSECS in mailbox-watch.c)? A bare client on the plain port of a private Dovecot: a
// watcher set up one way, a writer that APPENDs, and the time from the APPEND's tagged OK until the
// watcher sees the change, waiting (`wait`) or sending a command right after the OK (`noop`, …).
//   notify+idle/other  NOTIFY SET (selected + personal), INBOX EXAMINEd, IDLE (the driver's watch),
//                      APPEND to another folder: * STATUS
//   notify+idle/INBOX  the same, APPEND to INBOX: * n EXISTS
//   idle/other         EXAMINE the folder, IDLE, APPEND to it: * n EXISTS
//   notify/…, examine/other  the same without IDLE
// Under IDLE the command is sent after DONE is answered. 3000 ms means: not reported within 3 s.
//
//   node bench/imap-noop-probe.mjs [--runs 5]
// Needs the built fixture: pnpm turbo run build --filter @twinbox/test-dovecot
import { parseArgs } from 'node:util';
import { startDovecot } from '../tooling/dovecot/dist/index.js';
import { rawImap } from './lib/raw-imap.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);

const server = await startDovecot();
const results = [];
try {
  const { user, password } = await server.addUser();
  const login = async () => {
    const c = await rawImap(server.info.port);
    await c.command(`LOGIN ${user} ${password}`);
    return c;
  };
  const writer = await login();
  await writer.command('CREATE Other');
  let n = 0;
  const append = async (folder) => {
    const body = `Subject: probe ${++n}\r\nMessage-ID: <probe.${n}.${Date.now()}@bench>\r\n\r\nbody\r\n`;
    const line = await writer.command(`APPEND ${folder} {${Buffer.byteLength(body)}+}\r\n${body}`);
    return line.t;
  };
  const NOTIFY =
    'NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge FlagChange MailboxName))';
  const notify = async (c) => {
    await c.command('EXAMINE INBOX');
    await c.command(NOTIFY);
  };
  const examineOther = (c) => c.command('EXAMINE Other');
  const statusOther = /^\* STATUS "?Other"? /;
  const exists = /^\* \d+ EXISTS/;
  // As the driver's watch sets it up (NOTIFY, then IDLE; IDLE on the folder), then without IDLE.
  const setups = {
    'notify+idle/other': { folder: 'Other', seen: statusOther, idle: true, setup: notify },
    'notify+idle/INBOX': { folder: 'INBOX', seen: exists, idle: true, setup: notify },
    'idle/other': { folder: 'Other', seen: exists, idle: true, setup: examineOther },
    'notify/other': { folder: 'Other', seen: statusOther, setup: notify },
    'notify/INBOX': { folder: 'INBOX', seen: exists, setup: notify },
    'examine/other': { folder: 'Other', seen: exists, setup: examineOther },
  };
  const commands = {
    wait: undefined,
    noop: 'NOOP',
    check: 'CHECK',
    'status other': 'STATUS Other (MESSAGES UIDNEXT)',
  };
  for (const [name, s] of Object.entries(setups)) {
    for (const [how, command] of Object.entries(commands)) {
      // STATUS of another folder can only matter to NOTIFY's report of that folder.
      if (how === 'status other' && !(name.startsWith('notify') && s.folder === 'Other')) continue;
      const times = [];
      const beforeOk = [];
      for (let i = 0; i < RUNS; i++) {
        const c = await login();
        await s.setup(c);
        let idleTag;
        if (s.idle) {
          idleTag = 'i1';
          const cont = c.until(/^\+/);
          c.send(`${idleTag} IDLE`);
          await cont;
        }
        // Let anything from the set-up settle before the clock starts.
        await new Promise((r) => setTimeout(r, 700));
        const seen = c.until(s.seen, 3000);
        const appended = await append(s.folder);
        let ok;
        if (command) {
          if (s.idle) {
            const done = c.until(/^i1 OK/);
            c.send('DONE');
            await done;
          }
          ok = await c.command(command);
        }
        const line = await seen.catch(() => undefined);
        c.close();
        // Never reported within 3 s: counted as 3 s.
        times.push(line ? line.t - appended : 3000);
        if (ok) beforeOk.push(line !== undefined && line.t <= ok.t);
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)];
      results.push({ name, how, median, min: times[0], max: times.at(-1), beforeOk });
      console.log(
        `${name.padEnd(18)} ${how.padEnd(13)} median ${median.toFixed(0).padStart(4)} ms  [${times[0].toFixed(0)}–${times.at(-1).toFixed(0)}]` +
          (beforeOk.length
            ? `  reported before the command's OK: ${beforeOk.filter(Boolean).length}/${beforeOk.length}`
            : ''),
      );
    }
  }
  writer.close();
} finally {
  await server.stop();
}
