import { createHash } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import { CORPUS_KEYWORD, type CorpusMessage, folderTree, loadIntoImap, readCorpus } from '../src/index.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('loadIntoImap', () => {
  it('stores a 300-message sample byte for byte, with its folders, flags, keyword and INTERNALDATE', async () => {
    const info = dovecot();
    const { user, password } = await newUser();
    const limit = 300;
    const expected = new Map<string, CorpusMessage>();
    for await (const m of readCorpus({ limit })) expected.set(sha(m.raw), m);
    expect(expected.size).toBe(limit);

    const done: number[] = [];
    const report = await loadIntoImap(
      { host: info.host, port: info.tlsPort, secure: true, ca: info.ca, user, password },
      { limit, connections: 3, onProgress: (n) => done.push(n) },
    );
    expect(report.failed).toEqual([]);
    expect(report.appended).toBe(limit);
    expect(done.at(-1)).toBe(limit);
    const expectedCounts: Record<string, number> = Object.fromEntries(folderTree().map((f) => [f, 0]));
    for (const m of expected.values()) expectedCounts[m.folder]! += 1;
    expect(report.folders).toEqual(expectedCounts);

    const client = new ImapFlow({
      host: info.host,
      port: info.tlsPort,
      secure: true,
      tls: { ca: [info.ca], rejectUnauthorized: true },
      auth: { user, pass: password },
      logger: false,
    });
    await client.connect();
    try {
      const listed = new Set((await client.list()).map((m) => m.path));
      for (const folder of folderTree()) expect(listed, folder).toContain(folder);
      expect(listed).toContain('Archiv/Übersicht');

      const seen = new Set<string>();
      let keywords = 0;
      let datesChecked = 0;
      for (const folder of folderTree()) {
        const status = await client.status(folder, { messages: true });
        expect(status ? status.messages : undefined, folder).toBe(expectedCounts[folder]);
        if (!expectedCounts[folder]) continue;
        const lock = await client.getMailboxLock(folder, { readOnly: true });
        try {
          for await (const msg of client.fetch('1:*', { source: true, flags: true, internalDate: true })) {
            const hash = sha(msg.source!);
            const m = expected.get(hash);
            expect(m, `${folder}: a message that is not in the sample`).toBeDefined();
            seen.add(hash);
            expect(m!.folder).toBe(folder);
            const flags = [...(msg.flags ?? [])].filter((f) => f !== '\\Recent');
            expect(flags.sort(), m!.key).toEqual([...m!.flags].sort());
            if (flags.includes(CORPUS_KEYWORD)) keywords++;
            if (m!.date) {
              expect(new Date(msg.internalDate!).getTime(), m!.key).toBe(m!.date.getTime());
              datesChecked++;
            }
          }
        } finally {
          lock.release();
        }
      }
      expect(seen.size).toBe(limit);
      expect(keywords).toBe([...expected.values()].filter((m) => m.flags.includes(CORPUS_KEYWORD)).length);
      expect(keywords).toBeGreaterThan(0);
      expect(datesChecked).toBeGreaterThan(limit * 0.9);
    } finally {
      await client.logout();
    }
  });

  it('records the messages the server refuses, with its reason, and loads the rest', async () => {
    const info = dovecot();
    const { user, password, maildir } = await newUser();
    const target = { host: info.host, port: info.port, secure: false, ca: info.ca, user, password };
    // A real refusal: Dovecot cannot write into Junk's tmp/, so every APPEND to Junk fails on the server.
    const setup = new ImapFlow({
      host: info.host,
      port: info.port,
      secure: false,
      doSTARTTLS: true,
      tls: { ca: [info.ca] },
      auth: { user, pass: password },
      logger: false,
    });
    await setup.connect();
    await setup.mailboxCreate('Junk');
    await setup.status('Junk', { messages: true });
    await setup.logout();
    const junkTmp = join(maildir, '.Junk', 'tmp');
    await chmod(junkTmp, 0o500);
    try {
      const sample: CorpusMessage[] = [];
      for await (const m of readCorpus({ limit: 40 })) sample.push(m);
      const toJunk = sample.filter((m) => m.folder === 'Junk').map((m) => m.key);
      expect(toJunk.length).toBeGreaterThan(0);

      // Over STARTTLS on the plain port this time, verifying the same certificate.
      const report = await loadIntoImap(target, { limit: 40, connections: 2 });
      expect(report.failed.map((f) => f.key).sort()).toEqual(toJunk.sort());
      for (const f of report.failed) expect(f.error).toMatch(/internal error|permission/i);
      expect(report.appended).toBe(40 - toJunk.length);
      expect(report.folders.Junk).toBe(0);
    } finally {
      await chmod(junkTmp, 0o700);
    }
  });
});
