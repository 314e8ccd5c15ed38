import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MaildirDriver } from '../src/index.js';

/**
 * Issue 15, item 5: every body a server can hold comes back from the Maildir byte for byte, and the
 * size a listing reports is the length readMessage returns. Each case here came back altered before.
 */

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'twinbox-bodies-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const latin1 = (text: string) => new Uint8Array(Buffer.from(text, 'latin1'));
const show = (bytes: Uint8Array) => JSON.stringify(Buffer.from(bytes).toString('latin1'));

/** Writes `body` through the driver and reads it back every way the engine and `twinbox check` do. */
async function roundTrip(body: Uint8Array, flags: string[] = ['\\Seen']) {
  const writer = await MaildirDriver.open({ root });
  const [outcome] = await writer.appendMessages(['INBOX'], [{ body, flags }]);
  if (!outcome?.ok) throw new Error(`append failed: ${JSON.stringify(outcome)}`);
  const sub = flags.length === 0 ? 'new' : 'cur';
  const [name] = await readdir(join(root, sub));
  const disk = new Uint8Array(await readFile(join(root, sub, name!)));
  // A second driver, so nothing the writer remembers can stand in for what is on disk.
  const reader = await MaildirDriver.open({ root });
  const listing = await reader.listMessages(['INBOX'], {});
  if (listing.kind !== 'full') throw new Error('expected a full listing');
  const [described] = await reader.describeMessages(['INBOX'], [outcome.id]);
  const read = await reader.readMessage(['INBOX'], outcome.id);
  const [batch] = await reader.readMessages(['INBOX'], [outcome.id]);
  return {
    name: name!,
    disk,
    read: read.body,
    batch: batch?.body,
    listedSize: listing.messages.find((m) => m.id === outcome.id)?.size,
    describedSize: described?.size,
  };
}

async function expectExact(body: Uint8Array) {
  const got = await roundTrip(body);
  expect(show(got.read), 'readMessage').toBe(show(body));
  expect(show(got.batch ?? new Uint8Array()), 'readMessages').toBe(show(body));
  expect(got.listedSize, 'listMessages size').toBe(body.length);
  expect(got.describedSize, 'describeMessages size').toBe(body.length);
  return got;
}

describe('bodies come back from the Maildir byte for byte', () => {
  it('CR CR LF (a corpus message Cyrus stores as 3,171 bytes came back as 3,144)', async () => {
    const body = latin1(`Subject: x\r\n\r\n${'a line ending in CR CR LF\r\r\n'.repeat(27)}last\r\n`);
    const got = await expectExact(body);
    // The ordinary line endings are still LF on disk, for mutt and notmuch; only the CR before CR LF stays.
    expect(show(got.disk)).toBe(
      show(latin1(`Subject: x\n\n${'a line ending in CR CR LF\r\r\n'.repeat(27)}last\n`)),
    );
  });

  it('bare LF line endings', async () => {
    const got = await expectExact(latin1('Subject: x\n\nbody\nwith LF only\n'));
    // Kept as they are, and the name says so the way Dovecot reads it: W (the size handed out) = S.
    expect(got.name).toMatch(/,S=30,W=30:2,S$/);
  });

  it('a bare LF among CRLF line endings', async () => {
    await expectExact(latin1('Subject: x\r\n\r\nmixed\nendings\r\n'));
  });

  it('bare CRs, alone and next to CRLF', async () => {
    await expectExact(latin1('Subject: x\r\n\r\na\rb\r\r\r\n\r\rc\r'));
  });

  it('a body of only LFs', async () => {
    await expectExact(latin1('\n\n\n\n'));
  });

  it('a body of only CRs, and one of only CR LF', async () => {
    await expectExact(latin1('\r\r\r'));
    await rm(root, { recursive: true, force: true });
    await expectExact(latin1('\r\n\r\n'));
  });

  it('NUL and 8-bit bytes', async () => {
    await expectExact(latin1('Subject: \xe9\xff\r\n\r\n\x00\x80\xfe\x00\n\x00\r\x00\r\n'));
  });

  it('an empty body', async () => {
    const got = await expectExact(new Uint8Array(0));
    expect(got.disk.length).toBe(0);
  });

  it('a body without flags, delivered to new/', async () => {
    const body = latin1('Subject: x\n\nnew mail\n');
    const got = await roundTrip(body, []);
    expect(show(got.read)).toBe(show(body));
    expect(got.listedSize).toBe(body.length);
  });
});

describe('the disk form stays what Unix mail programs expect', () => {
  it('a body whose line endings are all CRLF is stored with LF, and its name carries S and W as before', async () => {
    const body = latin1('Subject: x\r\n\r\nbody\r\nwith a bare \r inside\r\n');
    const got = await expectExact(body);
    expect(show(got.disk)).toBe(show(latin1('Subject: x\n\nbody\nwith a bare \r inside\n')));
    expect(got.name).toMatch(new RegExp(`,S=${got.disk.length},W=${body.length}:2,S$`));
  });

  it("reads other programs' files as Dovecot serves them: a CR is added to every bare LF", async () => {
    await mkdir(join(root, 'cur'), { recursive: true });
    await mkdir(join(root, 'new'), { recursive: true });
    // No sizes (mutt, notmuch), and Dovecot's own name for a message whose CR CR LF it saved as CR LF.
    const plain = 'Subject: a\n\nbody\n';
    const dovecot = 'Subject: b\n\nx\r\ny\n';
    await writeFile(join(root, 'cur', '1700000000.plain.host:2,S'), plain);
    await writeFile(join(root, 'cur', `1700000001.M1P1.host,S=${dovecot.length},W=20:2,S`), dovecot);
    const driver = await MaildirDriver.open({ root });
    const listing = await driver.listMessages(['INBOX'], {});
    if (listing.kind !== 'full') throw new Error('expected a full listing');
    const expected = {
      '1700000000.plain.host': 'Subject: a\r\n\r\nbody\r\n',
      [`1700000001.M1P1.host,S=${dovecot.length},W=20`]: 'Subject: b\r\n\r\nx\r\ny\r\n',
    };
    for (const [id, body] of Object.entries(expected)) {
      expect(show((await driver.readMessage(['INBOX'], id)).body)).toBe(show(latin1(body)));
      const [described] = await driver.describeMessages(['INBOX'], [id]);
      expect(described?.size).toBe(body.length);
    }
    expect(listing.messages.find((m) => m.id.includes('M1P1'))?.size).toBe(20);
  });

  it('reads a Dovecot file saved with mail_save_crlf (CRLF on disk, W = S) as it is', async () => {
    await mkdir(join(root, 'cur'), { recursive: true });
    const body = 'Subject: c\r\n\r\nz\r\n';
    const id = `1700000002.M1P1.host,S=${body.length},W=${body.length}`;
    await writeFile(join(root, 'cur', `${id}:2,S`), body);
    const driver = await MaildirDriver.open({ root });
    expect(show((await driver.readMessage(['INBOX'], id)).body)).toBe(show(latin1(body)));
  });
});
