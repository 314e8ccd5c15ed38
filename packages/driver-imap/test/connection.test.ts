import * as tls from 'node:tls';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { describe, expect, it } from 'vitest';
import { checkTransportSecurity, InsecureTransportError, listFolders, openImap } from '../src/index.js';

describe('openImap against the Dovecot fixture', () => {
  it('connects over IMAPS, verifying the certificate against the given CA', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const client = await openImap({
      host: 'localhost',
      port: info.tlsPort,
      tls: 'implicit',
      ca: info.ca,
      user,
      password,
    });
    expect(client.secureConnection).toBe(true);
    expect(client.authenticated).toBeTruthy();
    await client.logout();
  });

  it('upgrades with STARTTLS on the plain port when asked to', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const client = await openImap({
      host: 'localhost',
      port: info.port,
      tls: 'starttls',
      ca: info.ca,
      user,
      password,
    });
    expect(client.secureConnection).toBe(true);
    await client.logout();
  });

  it('refuses a server whose certificate it cannot verify (no CA given)', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    await expect(openImap({ host: 'localhost', port: info.tlsPort, user, password })).rejects.toThrow(
      /self[- ]signed|certificate/i,
    );
  });

  it('trusts a given CA in addition to the default ones, not instead of them', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    // The fixture's CA stands in for the system's; the account names another CA (its own private one).
    const other = tls.rootCertificates[0]!;
    const account = { host: 'localhost', port: info.tlsPort, tls: 'implicit' as const, user, password };
    // The control: trusting only the other CA, the fixture's certificate is refused (its text made
    // different by a newline: a context is made once per CA text, and this one predates the defaults).
    await expect(openImap({ ...account, ca: [`${other}\n`] })).rejects.toThrow(/certificate/i);
    const defaults = tls.getCACertificates('default');
    tls.setDefaultCACertificates([info.ca]);
    try {
      const client = await openImap({ ...account, ca: other });
      expect(client.secureConnection).toBe(true);
      await client.logout();
    } finally {
      tls.setDefaultCACertificates(defaults);
    }
  });

  it('lists folders in UTF-8 with the delimiter and special use', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const client = await openImap({ host: info.host, port: info.port, tls: 'none', user, password });
    try {
      await client.mailboxCreate(['Archiv', 'Übersicht']);
      const folders = await listFolders(client);
      const byPath = new Map(folders.map((f) => [f.path, f]));
      expect(byPath.get('Archiv/Übersicht')).toMatchObject({ delimiter: '/', selectable: true });
      expect(byPath.get('Sent')?.specialUse).toBe('\\Sent');
      expect(byPath.get('Trash')?.specialUse).toBe('\\Trash');
      expect(byPath.get('INBOX')).toMatchObject({ selectable: true });
    } finally {
      await client.logout();
    }
  });
});

describe('checkTransportSecurity', () => {
  const base = { user: 'me', password: 'hunter2' };

  it('refuses plaintext to a non-loopback host, without leaking the password', () => {
    let error: unknown;
    try {
      checkTransportSecurity({ ...base, host: 'imap.example.org', tls: 'none' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InsecureTransportError);
    expect(String((error as Error).message)).toMatch(/imap\.example\.org.*allowPlaintextPassword/);
    expect(String((error as Error).message)).not.toContain('hunter2');
  });

  it('allows plaintext to loopback, and elsewhere only with the opt-in', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) {
      expect(() => checkTransportSecurity({ ...base, host, tls: 'none' })).not.toThrow();
    }
    expect(() =>
      checkTransportSecurity({
        ...base,
        host: 'imap.example.org',
        tls: 'none',
        allowPlaintextPassword: true,
      }),
    ).not.toThrow();
    expect(() => checkTransportSecurity({ ...base, host: 'imap.example.org' })).not.toThrow();
  });
});
