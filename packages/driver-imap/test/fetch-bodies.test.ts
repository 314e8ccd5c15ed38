import { isReadFailure, type MessageContent } from '@twinbox/core';
import { FakeImapServer } from '@twinbox/test-fake-imap';
import { describe, expect, it } from 'vitest';
import { ImapDriver } from '../src/index.js';
import { closedAfterEach } from './fake-servers.js';

const { servers, drivers } = closedAfterEach();

const body = (i: number) => `Message-ID: <b${i}@fetch.test>\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`;
const literal = (text: string) => `{${Buffer.byteLength(text)}}\r\n${text}`;

/**
 * A folder of four messages whose first body FETCH is answered with the rows given (then the server's
 * own answers), and the driver's read of all four.
 */
async function readWith(rows: (tag: string) => string) {
  const server = await FakeImapServer.start({});
  servers.push(server);
  for (let i = 1; i <= 4; i++) server.add('INBOX', body(i), ['\\Seen']);
  let first = true;
  const fetches: string[] = [];
  server.script = (command) => {
    if (command.name !== 'UID FETCH' || !/BODY\.PEEK\[\]/.test(command.args)) return undefined;
    fetches.push(command.args);
    if (!first) return undefined;
    first = false;
    return { send: rows(command.tag), after: 'done' };
  };
  const driver = await ImapDriver.connect({
    ...server.account,
    reconnect: { initialDelayMs: 20, maxDelayMs: 50, attempts: 3 },
  });
  drivers.push(driver);
  const read = await driver.readMessages(['INBOX'], ['1', '2', '3', '4']);
  return { read, fetches };
}

const text = (r: unknown) => Buffer.from((r as MessageContent).body).toString('latin1');

describe('the body reader (fetch-bodies.ts) on answers of every shape a server may send', () => {
  it('takes literals and quoted strings, flags and dates; asks again, without FLAGS, for a row it cannot use', async () => {
    const { read, fetches } = await readWith(
      (tag) =>
        // 1: a literal with everything; 2: the body as a quoted string, no date; 3: a partial answer
        // (not the whole message); 4: a row without a UID. 3 and 4 are asked for again.
        `* 1 FETCH (UID 1 FLAGS (\\Seen $Work) INTERNALDATE "06-May-2021 07:08:09 +0000" BODY[] ${literal(body(1))})\r\n` +
        `* 2 FETCH (UID 2 FLAGS () BODY[] "${body(2).replace(/\r\n/g, ' ')}")\r\n` +
        `* 3 FETCH (UID 3 FLAGS (\\Seen) BODY[]<0> ${literal(body(3).slice(0, 10))})\r\n` +
        `* 4 FETCH (FLAGS (\\Seen) BODY[] ${literal(body(4))})\r\n` +
        `${tag} OK done\r\n`,
    );
    expect(fetches).toHaveLength(2);
    expect(fetches[0]).toMatch(/FLAGS/);
    expect(fetches[1]).not.toMatch(/FLAGS/);
    expect(fetches[1]).toMatch(/^3:4 /);
    expect(text(read[0])).toBe(body(1));
    expect((read[0] as MessageContent).flags).toEqual(['\\Seen', '$Work']);
    expect((read[0] as MessageContent).internalDate).toBe(Date.UTC(2021, 4, 6, 7, 8, 9));
    expect(text(read[1])).toBe(body(2).replace(/\r\n/g, ' '));
    expect((read[1] as MessageContent).flags).toEqual([]);
    expect((read[1] as MessageContent).internalDate).toBeUndefined();
    // Read whole the second time, without their flags (the engine takes flags from the listing).
    expect(text(read[2])).toBe(body(3));
    expect(text(read[3])).toBe(body(4));
  });

  it('a garbled INTERNALDATE leaves the date out; a UID outside 1..2^32-1 is no UID', async () => {
    const { read } = await readWith(
      (tag) =>
        `* 1 FETCH (UID 1 INTERNALDATE "yesterday" BODY[] ${literal(body(1))})\r\n` +
        `* 2 FETCH (UID 4294967296 BODY[] ${literal('not message 2')})\r\n` +
        `* 3 FETCH (UID 0 BODY[] ${literal('not message 3')})\r\n` +
        `* 4 FETCH (UID 4 BODY[] NIL)\r\n` +
        `${tag} OK done\r\n`,
    );
    expect(text(read[0])).toBe(body(1));
    expect((read[0] as MessageContent).internalDate).toBeUndefined();
    // The rows that named no usable UID or carried no body: read again, from the server's own answer.
    expect(text(read[1])).toBe(body(2));
    expect(text(read[2])).toBe(body(3));
    expect(text(read[3])).toBe(body(4));
    expect(read.some((r) => r !== null && isReadFailure(r))).toBe(false);
  });
});
