import { chown, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FolderPath } from '@twinbox/core';
import { type DovecotServer, startDovecot, type TestUser } from '@twinbox/test-dovecot';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaildirDriver } from '../src/index.js';
import { foldersOf } from './folders.js';

/**
 * Interoperability with Dovecot on the same Maildir: what Twinbox writes, Dovecot serves as the same
 * messages, flags and folders; what Dovecot writes, Twinbox reads the same. Dovecot is told to keep
 * folder names in UTF-8 on disk (`:UTF-8`), as Twinbox does; its default is modified UTF-7.
 */

let server: DovecotServer;
beforeAll(async () => {
  server = await startDovecot({ extraConfig: 'mail_location = maildir:~/Maildir:UTF-8\n' });
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

async function imap(user: TestUser): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: server.info.host,
    port: server.info.tlsPort,
    secure: true,
    tls: { ca: [server.info.ca] },
    auth: { user: user.user, pass: user.password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Under root the mail belongs to Dovecot's mail user; elsewhere it is ours already. */
async function handOver(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { mailUid, mailGid } = server.info;
  await chown(dirname(dir), mailUid, mailGid);
  await chown(dir, mailUid, mailGid);
  for (const entry of await readdir(dir, { recursive: true }))
    await chown(join(dir, String(entry)), mailUid, mailGid);
}

interface Seen {
  folders: string[];
  messages: Record<string, { messageId: string | null; flags: string[]; size: number }[]>;
}

const byId = (a: { messageId: string | null }, b: { messageId: string | null }) =>
  String(a.messageId).localeCompare(String(b.messageId));

/** Everything Dovecot reports: folders, and per folder each message's Message-ID, flags and size. */
async function seenByDovecot(user: TestUser): Promise<Seen> {
  const client = await imap(user);
  try {
    const boxes = await client.list();
    const noselect = (flags: Set<string>) => flags.has('\\Noselect') || flags.has('\\NonExistent');
    const folders = boxes.map((b) => b.path + (noselect(b.flags) ? ' (no messages)' : '')).sort();
    const messages: Seen['messages'] = {};
    for (const folder of boxes.filter((b) => !noselect(b.flags)).map((b) => b.path)) {
      const lock = await client.getMailboxLock(folder);
      try {
        const list: Seen['messages'][string] = [];
        if ((client.mailbox || { exists: 0 }).exists > 0) {
          for await (const m of client.fetch('1:*', { flags: true, size: true, envelope: true })) {
            list.push({
              messageId: m.envelope?.messageId ?? null,
              flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
              size: m.size ?? -1,
            });
          }
        }
        messages[folder] = list.sort(byId);
      } finally {
        lock.release();
      }
    }
    return { folders, messages };
  } finally {
    await client.logout();
  }
}

/** The same, as the Maildir driver reads it. */
async function seenByTwinbox(root: string): Promise<Seen> {
  const driver = await MaildirDriver.open({ root, create: false });
  try {
    const infos = foldersOf(await driver.listFolders());
    const folders = infos.map((f) => f.path.join('/') + (f.selectable ? '' : ' (no messages)')).sort();
    const messages: Seen['messages'] = {};
    for (const info of infos.filter((f) => f.selectable)) {
      const listing = await driver.listMessages(info.path, {});
      if (listing.kind !== 'full') throw new Error('expected a full listing');
      const described = await driver.describeMessages(
        info.path,
        listing.messages.map((m) => m.id),
      );
      messages[info.path.join('/')] = described
        .map((m) => ({ messageId: m.messageId ?? null, flags: [...m.flags].sort(), size: m.size ?? -1 }))
        .sort(byId);
    }
    return { folders, messages };
  } finally {
    await driver.close();
  }
}

const enc = new TextEncoder();
const body = (id: string, lines = 3) =>
  enc.encode(`Message-ID: <${id}@interop>\r\nSubject: ${id}\r\n\r\n${'line\r\n'.repeat(lines)}`);

const content: { folder: FolderPath; id: string; flags: string[] }[] = [
  { folder: ['INBOX'], id: 'unseen', flags: [] },
  { folder: ['INBOX'], id: 'seen', flags: ['\\Seen'] },
  { folder: ['INBOX'], id: 'all', flags: ['\\Answered', '\\Draft', '\\Flagged', '\\Seen'] },
  { folder: ['INBOX'], id: 'keywords', flags: ['\\Seen', 'Work', '$label1'] },
  { folder: ['Archiv', 'Übersicht'], id: 'nested', flags: ['\\Flagged'] },
  { folder: ['Archiv', 'Übersicht'], id: 'deleted-flag', flags: ['\\Deleted', 'Later'] },
  { folder: ['Привет'], id: 'cyrillic', flags: ['\\Seen'] },
];
const expectedFolders = ['Archiv', 'Archiv/Übersicht', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash', 'Привет'];

describe('MaildirDriver and Dovecot on one Maildir', () => {
  it('Dovecot serves a Maildir written by Twinbox with the same messages, flags and folders', async () => {
    const user = await server.addUser();
    const driver = await MaildirDriver.open({ root: user.maildir });
    for (const { folder, id, flags } of content) {
      await driver.createFolder(folder);
      const [outcome] = await driver.appendMessages(folder, [{ body: body(id), flags }]);
      expect(outcome?.ok).toBe(true);
    }
    for (const special of ['Drafts', 'Sent', 'Trash', 'Junk']) await driver.createFolder([special]);
    await driver.close();
    await handOver(user.maildir);

    const dovecot = await seenByDovecot(user);
    const twinbox = await seenByTwinbox(user.maildir);
    expect(dovecot.folders).toEqual(expectedFolders);
    expect(dovecot).toEqual(twinbox);
    expect(dovecot.messages.INBOX!.find((m) => m.messageId === '<keywords@interop>')?.flags).toEqual(
      ['$label1', 'Work', '\\Seen'].sort(),
    );
    expect(dovecot.messages['Archiv/Übersicht']).toHaveLength(2);
  });

  it('Twinbox reads a Maildir written by Dovecot with the same messages, flags and folders', async () => {
    const user = await server.addUser();
    const client = await imap(user);
    try {
      for (const { folder, id, flags } of content) {
        const name = folder.join('/');
        if (name !== 'INBOX') await client.mailboxCreate(name).catch(() => {});
        await client.append(name, Buffer.from(body(id, 20)), flags);
      }
      // Another client changes flags afterwards: Dovecot renames the files.
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageFlagsAdd('1', ['\\Seen', 'Followup']);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }

    // Dovecot lists its special-use folders before it makes them on disk; its look makes them.
    const dovecot = await seenByDovecot(user);
    const twinbox = await seenByTwinbox(user.maildir);
    // Dovecot makes `Archiv/Übersicht` without a mailbox for `Archiv`; both report the name alone.
    expect(twinbox.folders).toEqual(
      expectedFolders.map((f) => (f === 'Archiv' ? 'Archiv (no messages)' : f)),
    );
    expect(twinbox).toEqual(dovecot);
    expect(twinbox.messages.INBOX!.find((m) => m.messageId === '<unseen@interop>')?.flags).toEqual(
      ['Followup', '\\Seen'].sort(),
    );
  });
});
