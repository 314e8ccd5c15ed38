import { FakeImapServer } from '@twinbox/test-fake-imap';
import { describe, expect, it } from 'vitest';
import { ImapDriver } from '../src/index.js';
import { closedAfterEach } from './fake-servers.js';
import { fullOf } from './helpers.js';

const { servers, drivers } = closedAfterEach();

const body = (i: number) => `Message-ID: <l${i}@listing.test>\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`;

/** A folder of three messages whose listing FETCH is answered with `rows` (then the server's OK). */
async function listWith(rows: string | undefined, dates = false) {
  const server = await FakeImapServer.start({});
  servers.push(server);
  server.add('INBOX', body(1), ['\\Seen']);
  server.add('INBOX', body(2), ['\\Flagged', '$Work']);
  server.add('INBOX', body(3), []);
  const fetches: string[] = [];
  server.script = (command) => {
    if (!command.name.endsWith('FETCH')) return undefined;
    fetches.push(`${command.name} ${command.args}`);
    if (rows === undefined || fetches.length > 1) return undefined;
    return { send: `${rows}${command.tag} OK done\r\n`, after: 'done' };
  };
  const driver = await ImapDriver.connect({ ...server.account });
  drivers.push(driver);
  const listing = fullOf(await driver.listMessages(['INBOX'], dates ? { dates: true } : {}));
  return { listing, fetches };
}

describe("the listing's FETCH (fetch-rows.ts)", () => {
  it('asks for UID, FLAGS and RFC822.SIZE only, by UID, and lists every message with its flags and size', async () => {
    const { listing, fetches } = await listWith(undefined);
    // Not imapflow's fetch(), which adds EMAILID and MODSEQ the listing does not use.
    expect(fetches).toEqual(['UID FETCH 1:* (UID FLAGS RFC822.SIZE)']);
    expect(listing.messages).toEqual([
      { id: '1', flags: ['\\Seen'], size: body(1).length },
      { id: '2', flags: ['\\Flagged', '$Work'], size: body(2).length },
      { id: '3', flags: [], size: body(3).length },
    ]);
  });

  it('reads INTERNALDATE when dates are asked for; a garbled date or size is left out, as imapflow read it', async () => {
    const { listing, fetches } = await listWith(
      '* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 12 INTERNALDATE "06-May-2021 07:08:09 +0000")\r\n' +
        '* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 12x INTERNALDATE "yesterday")\r\n' +
        '* 3 FETCH (UID 3 RFC822.SIZE 5 FLAGS ("" \\Answered))\r\n',
      true,
    );
    expect(fetches[0]).toBe('UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)');
    expect(listing.messages).toEqual([
      { id: '1', flags: ['\\Seen'], size: 12, date: Date.UTC(2021, 4, 6, 7, 8, 9) },
      { id: '2', flags: [], size: 0 },
      { id: '3', flags: ['\\Answered'], size: 5 },
    ]);
  });

  it('a throttled listing (Microsoft 365 answers BAD with a backoff) is asked again, as imapflow fetch() did', async () => {
    const server = await FakeImapServer.start({});
    servers.push(server);
    server.add('INBOX', body(1), ['\\Seen']);
    server.add('INBOX', body(2), []);
    let fetches = 0;
    server.script = (command) => {
      if (command.name !== 'UID FETCH') return undefined;
      fetches++;
      if (fetches > 1) return undefined;
      return {
        send: `* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 3)\r\n${command.tag} BAD Request is throttled. Suggested Backoff Time: 20 milliseconds\r\n`,
        after: 'done',
      };
    };
    const driver = await ImapDriver.connect({ ...server.account });
    drivers.push(driver);
    const listing = fullOf(await driver.listMessages(['INBOX'], {}));
    expect(fetches).toBe(2);
    // A UID answered by the throttled attempt and again by the next is one message, the first answer
    // kept (as imapflow's retry did: a change between them has a MODSEQ above the listing's marker,
    // so the next listing shows it).
    expect(listing.messages).toEqual([
      { id: '1', flags: ['\\Seen'], size: 3 },
      { id: '2', flags: [], size: body(2).length },
    ]);
  });
});
