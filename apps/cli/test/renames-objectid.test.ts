import { readdir, rm } from 'node:fs/promises';
import { FakeImapServer } from '@twinbox/test-fake-imap';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeServerPair, pairTotals, twinbox } from './helpers.js';

// Issue 18's OBJECTID path end to end, against a test double of a server with OBJECTID (Dovecot 2.3 has
// none): the server lists each folder's MAILBOXID, the sync records it, and a folder the server renamed
// is renamed in the Maildir by that id alone, even when no message could prove it.

let server: FakeImapServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  server = undefined;
  dir = undefined;
});

const CAPABILITIES = ['IMAP4rev1', 'LITERAL+', 'UIDPLUS', 'NAMESPACE', 'ID', 'LIST-STATUS', 'OBJECTID'];

async function totalsOf(args: string[], env: Record<string, string>) {
  const r = await twinbox([...args, '--json', 'sync'], env);
  expect(r.code, r.stderr).toBe(0);
  return pairTotals(r.stdout);
}

describe('folder renames by MAILBOXID (OBJECTID, a scripted server)', () => {
  it('an empty folder and a folder whose mail was replaced, renamed on the server, are renamed in the Maildir', async () => {
    const fake = await FakeImapServer.start({
      capabilities: CAPABILITIES,
      folders: [
        { name: 'INBOX', uidValidity: 1, uidNext: 1, messages: [], mailboxId: 'F-inbox' },
        { name: 'Leer', uidValidity: 2, uidNext: 1, messages: [], mailboxId: 'F-leer-1' },
        { name: 'Alt', uidValidity: 3, uidNext: 1, messages: [], mailboxId: 'F-alt-2' },
      ],
    });
    server = fake;
    fake.add('Alt', 'Message-ID: <old@objectid.test>\r\nSubject: old\r\n\r\nold\r\n');
    const p = await fakeServerPair(fake.account);
    dir = p.dir;
    const args = ['-c', p.config];
    expect(await totalsOf(args, p.env)).toMatchObject({ copied: 1, errors: 0 });

    // On the server: `Leer` renamed, and `Alt` emptied, given new mail, and renamed. Same MAILBOXIDs.
    fake.folder('Leer')!.name = 'Immer noch leer';
    const alt = fake.folder('Alt')!;
    alt.messages.length = 0;
    alt.name = 'Neu';
    fake.add('Neu', 'Message-ID: <new@objectid.test>\r\nSubject: new\r\n\r\nnew\r\n');

    const renamed = await totalsOf(args, p.env);
    expect(renamed).toMatchObject({
      foldersRenamed: 2,
      foldersCreated: 0,
      foldersDeleted: 0,
      copied: 1,
      deleted: 1,
      errors: 0,
    });
    const dirs = await readdir(p.maildir);
    expect(dirs).toEqual(expect.arrayContaining(['.Immer noch leer', '.Neu']));
    expect(dirs).not.toContain('.Leer');
    expect(dirs).not.toContain('.Alt');
    expect(await totalsOf(args, p.env)).toMatchObject({
      copied: 0,
      deleted: 0,
      foldersRenamed: 0,
      errors: 0,
    });
  });
});
