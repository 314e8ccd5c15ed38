#!/usr/bin/env node
// How long from an APPEND by another client until ImapDriver's nextChange() resolves with the folder,
// against a private Dovecot over IMAPS (certificate verified). Three cases, --runs appends each:
//   - notify/INBOX: NOTIFY, INBOX (the folder the watch connection has selected: EXISTS),
//   - notify/other: NOTIFY, another folder (Dovecot reports it with a STATUS),
//   - idle/other:   a Dovecot that does not advertise NOTIFY, IDLE on that folder.
// The clock starts before the APPEND is sent and stops when nextChange resolves; median and range.
//
//   node bench/imap-watch-latency.mjs [--runs 20]
// Needs the built packages: pnpm turbo run build --filter @twinbox/driver-imap...
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ImapDriver, openImap } from '../packages/driver-imap/dist/index.js';
import { startDovecot } from '../tooling/dovecot/dist/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const RUNS = Number(values.runs);
const WITHOUT_NOTIFY =
  'imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC ESEARCH LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE';

const message = (i) =>
  `From: a@bench\r\nTo: b@bench\r\nSubject: watch ${i}\r\nMessage-ID: <watch.${i}.${Date.now()}@bench>\r\n\r\nbody\r\n`;

async function measure(server, folder) {
  const { info } = server;
  const { user, password } = await server.addUser();
  const account = { host: 'localhost', port: info.tlsPort, tls: 'implicit', ca: info.ca, user, password };
  const writer = await openImap(account);
  if (folder !== 'INBOX') await writer.mailboxCreate(folder);
  const driver = await ImapDriver.connect(account);
  const status = await driver.watch({ folders: [[folder]] });
  const times = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      // Nothing left over from the previous append (a late FETCH, say) may stop the clock early.
      await new Promise((resolve) => setTimeout(resolve, 300));
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
function report(name, { method, times }) {
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${name.padEnd(14)} ${method.padEnd(7)} median ${ms(median).padStart(7)}   min ${ms(times[0]).padStart(6)}   max ${ms(times.at(-1)).padStart(6)}   (${times.length} appends)`,
  );
}

const withNotify = await startDovecot();
try {
  report('notify/INBOX', await measure(withNotify, 'INBOX'));
  report('notify/other', await measure(withNotify, 'Other'));
} finally {
  await withNotify.stop();
}
const withoutNotify = await startDovecot({ extraConfig: WITHOUT_NOTIFY });
try {
  report('idle/other', await measure(withoutNotify, 'Other'));
} finally {
  await withoutNotify.stop();
}
