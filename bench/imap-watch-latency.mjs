#!/usr/bin/env node
// How long from an APPEND by another client until ImapDriver's nextChange() resolves with the folder,
// against a private Dovecot over IMAPS (certificate verified). Three cases, --runs appends each, with
// the watch connections' NOOP poll off (watchPollMs 0) and at the given values (--poll, ms):
//   - notify/INBOX: NOTIFY, INBOX (the folder the watch connection has selected: EXISTS),
//   - notify/other: NOTIFY, another folder (Dovecot reports it with a STATUS),
//   - idle/other:   a Dovecot that does not advertise NOTIFY, IDLE on that folder.
// The clock starts before the APPEND is sent and stops when nextChange resolves; median and range.
// Appends are 0.3 to 0.8 s apart, at random: at a fixed pace they could fall into step with a timer of
// the server (Dovecot's 0.5 s delay) or with the poll, and show one phase only.
//
//   node bench/imap-watch-latency.mjs [--runs 20] [--poll 0,500]
// Needs the built packages: pnpm turbo run build --filter @twinbox/driver-imap...
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ImapDriver, openImap } from '../packages/driver-imap/dist/index.js';
import { startDovecot } from '../tooling/dovecot/dist/index.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, poll: { type: 'string', default: '0,500' } },
});
const RUNS = Number(values.runs);
const POLLS = values.poll.split(',').map(Number);
const WITHOUT_NOTIFY =
  'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE';

const message = (i) =>
  `From: a@bench\r\nTo: b@bench\r\nSubject: watch ${i}\r\nMessage-ID: <watch.${i}.${Date.now()}@bench>\r\n\r\nbody\r\n`;

async function measure(server, folder, watchPollMs) {
  const { info } = server;
  const { user, password } = await server.addUser();
  const account = { host: 'localhost', port: info.tlsPort, tls: 'implicit', ca: info.ca, user, password };
  const writer = await openImap(account);
  if (folder !== 'INBOX') await writer.mailboxCreate(folder);
  const driver = await ImapDriver.connect({ ...account, watchPollMs });
  const status = await driver.watch({ folders: [[folder]] });
  const times = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      // Nothing left over from the previous append (a late FETCH, say) may stop the clock early.
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 500));
      await driver.nextChange(AbortSignal.timeout(1)).catch(() => undefined);
      const started = performance.now();
      const noticed = driver.nextChange(AbortSignal.timeout(10_000));
      await writer.append(folder, message(i));
      const notice = await noticed;
      const took = performance.now() - started;
      if (notice.all || !notice.folders.some((f) => f.join('/') === folder)) {
        throw new Error(`unexpected notice ${JSON.stringify(notice)}`);
      }
      times.push(took);
    }
  } finally {
    await driver.close();
    await writer.logout();
  }
  times.sort((a, b) => a - b);
  return { method: status.method, times };
}

const ms = (t) => `${t.toFixed(0)} ms`;
function report(name, poll, { method, times }) {
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${name.padEnd(14)} ${method.padEnd(7)} poll ${String(poll).padStart(4)} ms   median ${ms(median).padStart(7)}   min ${ms(times[0]).padStart(6)}   max ${ms(times.at(-1)).padStart(6)}   (${times.length} appends)`,
  );
}

const withNotify = await startDovecot();
try {
  for (const poll of POLLS) {
    report('notify/INBOX', poll, await measure(withNotify, 'INBOX', poll));
    report('notify/other', poll, await measure(withNotify, 'Other', poll));
  }
} finally {
  await withNotify.stop();
}
const withoutNotify = await startDovecot({ extraConfig: WITHOUT_NOTIFY });
try {
  for (const poll of POLLS) report('idle/other', poll, await measure(withoutNotify, 'Other', poll));
} finally {
  await withoutNotify.stop();
}
