import type { Listing } from '@twinbox/core';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import type { ImapFlow } from 'imapflow';
import { afterEach } from 'vitest';
import { type ImapAccountOptions, ImapDriver, type ImapDriverOptions, openImap } from '../src/index.js';

/** A fresh user on the shared fixture, over IMAPS with the fixture's CA. */
export async function freshAccount(): Promise<ImapAccountOptions & { password: string }> {
  const info = dovecot();
  const { user, password } = await newUser();
  return { host: 'localhost', port: info.tlsPort, tls: 'implicit', ca: info.ca, user, password };
}

export function connectDriver(account: ImapDriverOptions): Promise<ImapDriver> {
  return ImapDriver.connect(account);
}

/** Another program working on the same account: a plain imapflow session of its own. */
export function otherClient(account: ImapAccountOptions): Promise<ImapFlow> {
  return openImap(account);
}

let counter = 0;

/** A small CRLF message with a unique Message-ID. */
export function mail(tag: string, extra = ''): { body: Uint8Array; messageId: string } {
  counter++;
  const messageId = `<${tag}.${Date.now().toString(36)}.${counter}@twinbox.test>`;
  const text =
    `From: a@twinbox.test\r\nTo: b@twinbox.test\r\nSubject: ${tag}\r\nMessage-ID: ${messageId}\r\n` +
    `Date: Thu, 06 May 2021 07:08:09 +0000\r\n\r\nBody of ${tag}.\r\n${extra}`;
  return { body: new TextEncoder().encode(text), messageId };
}

export function fullOf(listing: Listing): Extract<Listing, { kind: 'full' }> {
  if (listing.kind !== 'full') throw new Error(`Expected a full listing, got '${listing.kind}'.`);
  return listing;
}

export function deltaOf(listing: Listing): Extract<Listing, { kind: 'delta' }> {
  if (listing.kind !== 'delta') throw new Error(`Expected a delta listing, got '${listing.kind}'.`);
  return listing;
}

export async function appendAll(driver: ImapDriver, folder: string[], tags: string[]): Promise<string[]> {
  const outcomes = await driver.appendMessages(
    folder,
    tags.map((t) => ({ body: mail(t).body, flags: [] })),
  );
  return outcomes.map((o) => {
    if (!o.ok) throw new Error(`append failed: ${o.code} ${o.message}`);
    return o.id;
  });
}

/**
 * For a test file, called at its top level: `setup()` opens a fresh account with a driver and another
 * program's session on it, and `keep()` takes anything else to close; all are closed after each test.
 */
export function accountsClosedAfterEach() {
  const open: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });
  const keep = <T extends { close(): Promise<unknown> }>(closable: T): T => {
    open.push(closable);
    return closable;
  };
  const setup = async () => {
    const account = await freshAccount();
    const driver = keep(await connectDriver(account));
    const other = await otherClient(account);
    keep({ close: () => other.logout().catch(() => other.close()) });
    return { account, driver, other };
  };
  return { setup, keep };
}
