import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

let counter = 0;
/** Per process, not per message: the counter already tells this process's names apart. */
const processRandom = randomBytes(4).toString('hex');
const defaultHost = maildirHostname();

/**
 * The Maildir spec's host part: `/` and `:` cannot appear in a file name's unique part, so they are
 * written as `\057` and `\072`, as the spec and Dovecot do.
 */
export function maildirHostname(host = hostname()): string {
  return host.replaceAll('/', '\\057').replaceAll(':', '\\072') || 'localhost';
}

/**
 * A new unique part: `seconds.M<micros>P<pid>Q<counter>R<random>.host`, the spec's modern form. Time,
 * pid and a per-process counter make it unique on this host; the random part covers a pid reused
 * within the same microsecond (a container restart), and the host covers a Maildir shared over NFS.
 */
export function newUniqueName(now = Date.now(), host = defaultHost): string {
  const seconds = Math.floor(now / 1000);
  const micros = (now % 1000) * 1000 + Math.floor(Math.random() * 1000);
  counter = (counter + 1) % 1_000_000_000;
  return `${seconds}.M${micros}P${process.pid}Q${counter}R${processRandom}.${host}`;
}
