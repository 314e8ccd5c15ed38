import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A line-oriented raw IMAP client on a plain port of 127.0.0.1, for probes of what a server sends and
 * when: every line received is timestamped (performance.now()). Resolves once the greeting is in.
 */
export async function rawImap(port) {
  const socket = connect(port, '127.0.0.1');
  const waiters = [];
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    buffer += chunk;
    for (let at = buffer.indexOf('\r\n'); at >= 0; at = buffer.indexOf('\r\n')) {
      const line = { text: buffer.slice(0, at), t: performance.now() };
      buffer = buffer.slice(at + 2);
      for (const w of [...waiters])
        if (w.test(line.text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  let tag = 0;
  const client = {
    /** The first line from now on matching `re`; rejects after `ms`. */
    until(re, ms = 5000) {
      return new Promise((resolve, reject) => {
        const waiter = {
          test: (s) => re.test(s),
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no ${re} within ${ms} ms`));
        }, ms);
        waiters.push(waiter);
      });
    },
    send(text) {
      socket.write(`${text}\r\n`);
    },
    /** Sends a tagged command; resolves with its OK line, rejects on NO or BAD. */
    async command(text) {
      const t = `a${++tag}`;
      const done = client.until(new RegExp(`^${t} (OK|NO|BAD)`), 20_000);
      client.send(`${t} ${text}`);
      const line = await done;
      if (!line.text.startsWith(`${t} OK`)) throw new Error(`${text}: ${line.text}`);
      return line;
    },
    close: () => socket.destroy(),
  };
  await client.until(/^\* OK/);
  return client;
}
