// Many small IMAP ⇄ Maildir pairs for the daemon benchmarks (many-pairs.mjs, soak.mjs): fixture users
// with a few messages in INBOX and in a second folder, the twinboxd config that pairs each with its own
// Maildir, and both sides read message by message (by Message-ID, with the system flags) to tell when a
// change has crossed and whether a pair ends equal.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { startDovecot } from '../../tooling/dovecot/dist/index.js';
import { connectImap } from './batch.mjs';
import { maildirFolders, systemFlags } from './snapshot.mjs';

/** The second folder every user has besides INBOX. */
export const OTHER = 'Archive';

/**
 * dovecot.conf additions for a hundred users each holding two connections. Under TLS every connection
 * keeps its own imap-login process (it proxies the TLS), and the fixture leaves imap-login at Dovecot's
 * default_process_limit of 100: 200 connections would queue behind it. 500 stays under the auth and
 * anvil services' client_limit (1000) with imap-urlauth-login's 100, so Dovecot starts without a
 * warning. The fixture's mail_max_userip_connections (200) and imap's process_limit (1024) are enough.
 */
export const MANY_CONNECTIONS = 'service imap-login {\n  process_limit = 500\n}\n';

/** Starts the fixture with room for `pairs` pairs' connections. */
export const startManyDovecot = () => startDovecot({ extraConfig: MANY_CONNECTIONS });

/** A small message with a Message-ID of its own. */
export const benchMessage = (id) =>
  Buffer.from(
    `From: bench@twinbox.test\r\nTo: user@twinbox.test\r\nSubject: ${id}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}\r\n`,
  );

/** A fresh Message-ID for a message the bench makes. */
export const newId = (tag) => `${tag}.${Date.now()}.${randomBytes(3).toString('hex')}@bench.twinbox`;

/** An account of the fixture as connectImap takes it. */
export const imapAccount = (info, user) => ({
  host: info.host,
  port: info.tlsPort,
  ca: info.ca,
  user: user.user,
  password: user.password,
});

/**
 * Adds `count` users named `${prefix}${i}`, each with `inbox` messages in INBOX and `other` in
 * {@link OTHER} (every third one \Seen), four users at a time.
 */
export async function seedUsers(server, count, { prefix = 'pair', inbox = 5, other = 3 } = {}) {
  const users = [];
  const seedOne = async (i) => {
    const user = await server.addUser(`${prefix}${i}`);
    const client = await connectImap(imapAccount(server.info, user));
    try {
      await client.mailboxCreate(OTHER);
      for (const [folder, n] of [
        ['INBOX', inbox],
        [OTHER, other],
      ])
        for (let k = 0; k < n; k++)
          await client.append(folder, benchMessage(newId(`${user.user}.seed`)), k % 3 ? [] : ['\\Seen']);
    } finally {
      await client.logout();
    }
    users[i] = user;
  };
  for (let i = 0; i < count; i += 4)
    await Promise.all(Array.from({ length: Math.min(4, count - i) }, (_, j) => seedOne(i + j)));
  return users;
}

/**
 * A twinboxd config pairing each user with the Maildir `maildirOf(user)`: pair `p${i}` between
 * accounts `s${i}` (IMAP) and `m${i}` (Maildir). `daemon` is extra text for its [daemon] table, `imap`
 * for every IMAP account's table (`watch-poll = 0`, say).
 */
export function pairsConfig({ info, caFile, stateDir, users, maildirOf, daemon = '', imap = '' }) {
  const parts = [`[state]\ndir = "${stateDir}"\n`];
  if (daemon) parts.push(`[daemon]\n${daemon}\n`);
  users.forEach((u, i) => {
    parts.push(
      `[accounts.s${i}]\ntype = "imap"\nhost = "${info.host}"\nport = ${info.tlsPort}\nuser = "${u.user}"\npassword = "${u.password}"\nca-file = "${caFile}"\n${imap ? `${imap}\n` : ''}` +
        `[accounts.m${i}]\ntype = "maildir"\npath = "${maildirOf(u)}"\n` +
        `[pairs.p${i}]\nleft = "s${i}"\nright = "m${i}"\n`,
    );
  });
  return parts.join('\n');
}

const IMAP_LETTER = { '\\Seen': 'S', '\\Flagged': 'F', '\\Answered': 'R', '\\Draft': 'D' };
const idIn = (text) => /^Message-ID:\s*<([^>\r\n]+)>/im.exec(text)?.[1];

/** A folder's messages on the server: Message-ID → { uid, flags as Maildir letters }. */
export async function serverFolder(client, folder) {
  const found = new Map();
  const lock = await client.getMailboxLock(folder);
  try {
    if (!client.mailbox.exists) return found;
    for await (const m of client.fetch('1:*', { envelope: true, flags: true, uid: true })) {
      // A message marked \Deleted counts as gone, as in snapshot.mjs: some clients expunge later.
      if (m.flags?.has('\\Deleted')) continue;
      const id = m.envelope?.messageId?.replace(/^<|>$/g, '') ?? `(no id: uid ${m.uid})`;
      const flags = [...(m.flags ?? [])]
        .map((f) => IMAP_LETTER[f])
        .filter(Boolean)
        .sort()
        .join('');
      found.set(found.has(id) ? `${id} (twice)` : id, { uid: m.uid, flags });
    }
  } finally {
    lock.release();
  }
  return found;
}

/** Every selectable folder on the server, as serverFolder reads it: folder → Message-ID → entry. */
export async function serverMessages(client) {
  const all = new Map();
  for (const box of await client.list())
    if (!box.flags.has('\\Noselect')) all.set(box.path, await serverFolder(client, box.path));
  return all;
}

/**
 * Every folder of a Maildir: folder → Message-ID → { file (its path), dir (the folder's), flags }.
 * `cache` (a Map kept by the caller) spares re-reading a file already seen under the same name.
 */
export function maildirMessages(root, cache) {
  const all = new Map();
  for (const [folder, dir] of maildirFolders(root)) {
    const found = new Map();
    for (const sub of ['new', 'cur']) {
      let names = [];
      try {
        names = readdirSync(join(dir, sub));
      } catch {
        continue;
      }
      for (const name of names) {
        const file = join(dir, sub, name);
        let id = cache?.get(file);
        if (id === undefined) {
          try {
            id = idIn(readFileSync(file, 'latin1')) ?? `(no id: ${name})`;
          } catch {
            continue; // renamed or deleted meanwhile
          }
          cache?.set(file, id);
        }
        const flags = systemFlags(name);
        if (flags.includes('T')) continue;
        found.set(found.has(id) ? `${id} (twice)` : id, { file, dir, flags });
      }
    }
    all.set(folder, found);
  }
  return all;
}

/** The directory of a Maildir's folder (`INBOX`, `Archive`). */
export function folderDir(root, folder) {
  const found = maildirFolders(root).find(([name]) => name === folder);
  if (!found) throw new Error(`no folder ${folder} in the Maildir ${root}`);
  return found[1];
}

/** Delivers a message into a Maildir folder the way an MDA does: written in tmp/, renamed into new/. */
export function deliver(dir, bytes) {
  const name = `${Date.now()}.M${randomBytes(4).toString('hex')}P${process.pid}.${hostname()}`;
  writeFileSync(join(dir, 'tmp', name), bytes);
  renameSync(join(dir, 'tmp', name), join(dir, 'new', name));
}

/** Toggles a letter among a Maildir file's flags, as a mail client does: a rename into cur/. */
export function toggleMaildirFlag(file, dir, letter) {
  const name = file.slice(file.lastIndexOf('/') + 1);
  const at = name.lastIndexOf(':2,');
  const base = at < 0 ? name : name.slice(0, at);
  const info = at < 0 ? '' : name.slice(at + 3);
  const next = info.includes(letter) ? info.replace(letter, '') : [...`${info}${letter}`].sort().join('');
  renameSync(file, join(dir, 'cur', `${base}:2,${next}`));
  return next.includes(letter);
}

/**
 * Differences between a pair's two sides, folder by folder (the union of both sides' folders): a
 * message on one side only, or with other flags. Empty when the pair is in sync.
 */
export function differences(server, local) {
  const out = [];
  for (const folder of new Set([...server.keys(), ...local.keys()])) {
    const s = server.get(folder) ?? new Map();
    const l = local.get(folder) ?? new Map();
    for (const id of new Set([...s.keys(), ...l.keys()])) {
      const a = s.get(id)?.flags;
      const b = l.get(id)?.flags;
      if (a !== b) out.push({ folder, id, server: a ?? '(missing)', maildir: b ?? '(missing)' });
    }
  }
  return out;
}

/**
 * Polls `check` every `everyMs` until it holds. Returns the ms from `since` (a performance.now() taken
 * before the change was made; default: now), or undefined once `limitMs` have passed since then.
 */
export async function until(check, limitMs, { since = performance.now(), everyMs = 20 } = {}) {
  for (;;) {
    if (await check()) return performance.now() - since;
    if (performance.now() - since > limitMs) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
