// The two ends of a push-latency measurement: seeing a message arrive (in a Maildir, on an IMAP
// server) and, for the floor under every IMAP push, a bare client that hears of an APPEND the way a
// watching sync tool does (NOTIFY, IDLE), with nothing else in between.
import { readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A small message whose Message-ID is `id`: what is looked for at the other end. */
export const probeMessage = (id) =>
  Buffer.from(
    `From: bench@twinbox.test\r\nTo: bench@twinbox.test\r\nSubject: push ${id}\r\nMessage-ID: <${id}@twinbox.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\npush latency probe ${id}\r\n`,
  );

/**
 * Watches a Maildir folder (inotify on its new/ and cur/) for a message file holding `id`. Start it
 * before the clock: `arrived` resolves with performance.now() at the notification of the file's
 * rename into place (a file in new/ or cur/ is complete by the Maildir rules).
 */
export function maildirArrival(folderDir, id, timeoutMs = 15_000) {
  const needle = `<${id}@twinbox.test>`;
  const watchers = [];
  let timer;
  const arrived = new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${id}: not in ${folderDir} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    for (const sub of ['new', 'cur']) {
      const w = watch(join(folderDir, sub), (_event, name) => {
        const at = performance.now();
        if (!name) return;
        try {
          if (readFileSync(join(folderDir, sub, name), 'latin1').includes(needle)) resolve(at);
        } catch {
          // renamed again (a flag) or not a message file
        }
      });
      w.on('error', () => {});
      watchers.push(w);
    }
  });
  const close = () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
  arrived.then(close, close);
  return { arrived, close };
}

/**
 * Polls a folder's UIDNEXT with STATUS every `everyMs` on `client` (a connection of its own, nothing
 * selected) until it passes `uidNext`; resolves with performance.now() when the reply that shows it
 * arrives (so up to everyMs plus a round trip late).
 */
export async function serverArrival(client, folder, uidNext, { everyMs = 10, timeoutMs = 15_000 } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await client.status(folder, { uidNext: true });
    if (status.uidNext > uidNext) return performance.now();
    if (performance.now() > deadline) throw new Error(`nothing new in ${folder} within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** The folder's UIDNEXT now. */
export async function uidNextOf(client, folder) {
  return (await client.status(folder, { uidNext: true })).uidNext;
}

/**
 * A bare IMAP client over TLS that watches INBOX one way: `notify` (NOTIFY SET for the personal
 * namespace, no folder selected: the server announces a new message with an untagged STATUS) or `idle`
 * (INBOX selected, IDLE: an untagged EXISTS). `next()` resolves with performance.now() at the next such
 * announcement: the server's own delay, with no sync tool's work after it.
 */
export async function bareWatcher({ port, ca, user, password }, how) {
  const socket = connect({ host: '127.0.0.1', port, ca: [ca], servername: 'localhost' });
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  let buffered = '';
  let onLine = () => {};
  socket.on('data', (chunk) => {
    const at = performance.now();
    buffered += chunk;
    const parts = buffered.split('\r\n');
    buffered = parts.pop();
    for (const line of parts) onLine(line, at);
  });
  const until = (test, what) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bare ${how} client: no ${what} within 10 s`)), 10_000);
      onLine = (line) => {
        if (/^\S+ (NO|BAD) /.test(line)) reject(new Error(`bare ${how} client: ${line}`));
        if (test(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      };
    });
  const tagged = (tag, command) => {
    const done = until((l) => l.startsWith(`${tag} OK`), `${tag} OK`);
    socket.write(`${tag} ${command}\r\n`);
    return done;
  };
  await until((l) => l.startsWith('* OK'), 'greeting');
  await tagged('a1', `LOGIN "${user}" "${password}"`);
  if (how === 'notify') {
    await tagged('a2', 'NOTIFY SET (personal (MessageNew MessageExpunge))');
  } else {
    await tagged('a2', 'SELECT INBOX');
    const idling = until((l) => l.startsWith('+'), 'IDLE continuation');
    socket.write('a3 IDLE\r\n');
    await idling;
  }
  const announcement = how === 'notify' ? /^\* STATUS / : /^\* \d+ EXISTS/;
  let waiting;
  onLine = (line, at) => {
    if (waiting && announcement.test(line)) {
      waiting(at);
      waiting = undefined;
    }
  };
  return {
    next: (timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting = undefined;
          reject(new Error(`bare ${how} client: no announcement within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting = (at) => {
          clearTimeout(timer);
          resolve(at);
        };
      }),
    close: () => socket.destroy(),
  };
}
