// The change batches applied between two syncs, the same on every tool's copy of the data: a
// deterministic choice (seeded by the repetition and the folder), so that each tool gets the same
// kind and number of changes. Per folder, of its n messages: 1% new (copies of existing messages with
// one header added, so their content is new), 2% flag changes (\Flagged toggled), 0.5% deleted.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { maildirFolders } from './snapshot.mjs';

const require = createRequire(new URL('../../tooling/corpus/package.json', import.meta.url));
const { ImapFlow } = require('imapflow');

export const SHARES = { added: 0.01, flagged: 0.02, deleted: 0.005 };

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text) {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** Which of n items each change takes, disjoint: indices for flag changes, deletions, copies. */
export function choose(n, seedText) {
  const order = [...Array(n).keys()];
  const r = rng(seedOf(seedText));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const k = (share) => (n === 0 ? 0 : Math.max(1, Math.round(n * share)));
  const flagged = order.slice(0, k(SHARES.flagged));
  const deleted = order.slice(flagged.length, flagged.length + k(SHARES.deleted));
  const added = order.slice(
    flagged.length + deleted.length,
    flagged.length + deleted.length + k(SHARES.added),
  );
  return { flagged, deleted, added };
}

const header = (tag) => Buffer.from(`X-Twinbox-Bench: ${tag}\r\n`);

/**
 * A logged-in IMAPS client of the fixture, certificate verified, that never IDLEs on its own (a bench
 * client must not look like a watching one, nor hold a connection busy between its commands).
 */
export async function connectImap({ host, port, ca, user, password }) {
  const client = new ImapFlow({
    host,
    port,
    secure: true,
    tls: { ca: [ca], rejectUnauthorized: true },
    auth: { user, pass: password },
    logger: false,
    disableAutoIdle: true,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Applies a batch over IMAP, as another mail client would. Returns the counts. */
export async function serverBatch(account, tag) {
  const client = await connectImap(account);
  const counts = { added: 0, flagged: 0, deleted: 0 };
  try {
    for (const box of await client.list()) {
      if (box.flags.has('\\Noselect')) continue;
      await client.mailboxOpen(box.path);
      const uids = ((await client.search({ all: true }, { uid: true })) || []).sort((a, b) => a - b);
      const pick = choose(uids.length, `${tag}/${box.path}`);
      for (const i of pick.added) {
        const msg = await client.fetchOne(String(uids[i]), { source: true }, { uid: true });
        await client.append(box.path, Buffer.concat([header(`${tag} ${i}`), msg.source]), []);
        counts.added++;
      }
      for (const i of pick.flagged) {
        const msg = await client.fetchOne(String(uids[i]), { flags: true }, { uid: true });
        if (msg.flags.has('\\Flagged'))
          await client.messageFlagsRemove(String(uids[i]), ['\\Flagged'], { uid: true });
        else await client.messageFlagsAdd(String(uids[i]), ['\\Flagged'], { uid: true });
        counts.flagged++;
      }
      if (pick.deleted.length) {
        await client.messageDelete(pick.deleted.map((i) => uids[i]).join(','), { uid: true });
        counts.deleted += pick.deleted.length;
      }
    }
  } finally {
    await client.logout();
  }
  return counts;
}

/** Applies a batch to a Maildir on disk, as a local mail client (mutt) would. Returns the counts. */
export function maildirBatch(root, tag) {
  const counts = { added: 0, flagged: 0, deleted: 0 };
  for (const [folder, dir] of maildirFolders(root)) {
    const files = [];
    for (const sub of ['cur', 'new'])
      for (const f of readdirSync(join(dir, sub)).sort()) files.push([sub, f]);
    const pick = choose(files.length, `${tag}/${folder}`);
    for (const i of pick.added) {
      const [sub, f] = files[i];
      const bytes = Buffer.concat([header(`${tag} ${i}`), readFileSync(join(dir, sub, f))]);
      const name = `${Date.now()}.M${randomBytes(4).toString('hex')}P${process.pid}.${hostname()}`;
      writeFileSync(join(dir, 'tmp', name), bytes);
      renameSync(join(dir, 'tmp', name), join(dir, 'new', name));
      counts.added++;
    }
    for (const i of pick.flagged) {
      const [sub, f] = files[i];
      const at = f.lastIndexOf(':2,');
      const base = at < 0 ? f : f.slice(0, at);
      const flags = at < 0 ? '' : f.slice(at + 3);
      const next = flags.includes('F') ? flags.replace('F', '') : [...`${flags}F`].sort().join('');
      renameSync(join(dir, sub, f), join(dir, 'cur', `${base}:2,${next}`));
      counts.flagged++;
    }
    for (const i of pick.deleted) {
      const [sub, f] = files[i];
      unlinkSync(join(dir, sub, f));
      counts.deleted++;
    }
  }
  return counts;
}
