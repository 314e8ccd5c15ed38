import { describeDriverConformance } from '@twinbox/core/testing';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { describe, expect, it } from 'vitest';
import { ImapDriver, messageIdFromHeaders } from '../src/index.js';

async function connect() {
  const info = dovecot();
  const { user, password } = await newUser();
  return ImapDriver.connect({
    host: 'localhost',
    port: info.tlsPort,
    tls: 'implicit',
    ca: info.ca,
    user,
    password,
  });
}

describeDriverConformance('ImapDriver against Dovecot', async () => ({ driver: await connect() }));

describe('ImapDriver', () => {
  it('answers "unchanged" from one STATUS when HIGHESTMODSEQ did not move, and a full listing after a change', async () => {
    const driver = await connect();
    try {
      const body = new TextEncoder().encode('Message-ID: <m1@x>\r\nSubject: a\r\n\r\nhello\r\n');
      await driver.appendMessages(['INBOX'], [{ body, flags: ['\\Seen'] }]);
      const first = await driver.listMessages(['INBOX'], {});
      expect(first.kind).toBe('full');
      const again = await driver.listMessages(['INBOX'], { since: first.marker });
      expect(again).toEqual({ kind: 'unchanged', marker: first.marker });
      const [m] = first.kind === 'full' ? first.messages : [];
      await driver.setFlags(['INBOX'], [{ id: m!.id, add: ['\\Flagged'], remove: [] }]);
      const after = await driver.listMessages(['INBOX'], { since: first.marker });
      expect(after.kind).not.toBe('unchanged');
      expect(after.marker.epoch).toBe(first.marker.epoch);
    } finally {
      await driver.close();
    }
  });

  it('refuses a folder name holding the server delimiter rather than creating a different folder', async () => {
    const driver = await connect();
    try {
      await expect(driver.createFolder(['a/b'])).rejects.toMatchObject({ code: 'FOLDER_NAME_UNSAFE' });
    } finally {
      await driver.close();
    }
  });

  it('reads Message-ID from a folded header block', () => {
    expect(messageIdFromHeaders('Message-ID:\r\n <x@y>\r\n')).toBe('<x@y>');
    expect(messageIdFromHeaders('Subject: none\r\n')).toBeNull();
  });
});
