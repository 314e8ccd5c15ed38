import { randomBytes } from 'node:crypto';
import { mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CORPUS_KEYWORD, folderPath, folderTree } from './assign.js';
import { type CorpusMessage, type CorpusOptions, readCorpus } from './corpus.js';
import type { LoadReport } from './imap.js';

export interface MaildirOptions extends CorpusOptions {
  /** Called after each message with the number written so far. */
  onProgress?: (done: number) => void;
}

/** Maildir info letters ("2," semantics), as Dovecot, mutt and mbsync write them. */
const FLAG_LETTERS: Readonly<Record<string, string>> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  $Forwarded: 'P',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};

/**
 * Dovecot keeps keywords in a per-folder `dovecot-keywords` file (`<index> <name>` lines) and writes
 * the index as letter `a` + index in the file name. The corpus has one keyword, so it is always `a`.
 */
const KEYWORD_LETTERS: Readonly<Record<string, string>> = { [CORPUS_KEYWORD]: 'a' };
const DOVECOT_KEYWORDS = `0 ${CORPUS_KEYWORD}\n`;

/** Maildir++: INBOX is the root itself, `A/B` is the directory `.A.B`. */
export function maildirFolderDir(root: string, folder: string): string {
  return folder === 'INBOX' ? root : join(root, `.${folderPath(folder).join('.')}`);
}

/** `unique:2,LETTERS`, letters in ASCII order as the Maildir spec asks (upper-case flags, then keywords). */
export function maildirInfo(flags: readonly string[]): string {
  const letters = flags.map((f) => FLAG_LETTERS[f] ?? KEYWORD_LETTERS[f]).filter((l) => l !== undefined);
  return `:2,${[...new Set(letters)].sort().join('')}`;
}

// `/` and `:` cannot appear in the host part of a Maildir name (the spec's \057 and \072 escapes).
const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');

/**
 * Writes the same messages, folders and flags `loadIntoImap` would store into a Maildir++ tree, as
 * Dovecot would have written it: UTF-8 folder names (Dovecot's `mail_location = maildir:~/Maildir:UTF-8`;
 * without `:UTF-8` Dovecot expects modified UTF-7 on disk), files 0600, directories 0700, the file
 * mtime set to the Date header so Dovecot reports it as INTERNALDATE. The message bytes are
 * `CorpusMessage.raw`, CRLF line endings included, so both targets hold byte-identical messages.
 */
export async function writeMaildir(root: string, options: MaildirOptions = {}): Promise<LoadReport> {
  const started = performance.now();
  const folders: Record<string, number> = {};
  for (const folder of folderTree()) {
    const dir = maildirFolderDir(root, folder);
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
    if (folder !== 'INBOX') await writeFile(join(dir, 'maildirfolder'), '', { mode: 0o600 });
    await writeFile(join(dir, 'dovecot-keywords'), DOVECOT_KEYWORDS, { mode: 0o600 });
    folders[folder] = 0;
  }

  // Unique per process and run: pid, a random run id and a counter, so two runs into one tree never collide.
  const run = randomBytes(4).toString('hex');
  let sequence = 0;
  let done = 0;
  const write = async (message: CorpusMessage) => {
    const dir = maildirFolderDir(root, message.folder);
    const seconds = Math.floor((message.date?.getTime() ?? Date.now()) / 1000);
    const unique = `${seconds}.P${process.pid}R${run}Q${++sequence}.${host}`;
    const tmp = join(dir, 'tmp', unique);
    await writeFile(tmp, message.raw, { mode: 0o600 });
    if (message.date) await utimes(tmp, message.date, message.date);
    // The rename is what makes the message appear: a reader never sees a half-written file in cur/.
    await rename(tmp, join(dir, 'cur', unique + maildirInfo(message.flags)));
    folders[message.folder] = (folders[message.folder] ?? 0) + 1;
    // Not inside the optional call: without a callback its argument is never evaluated.
    done++;
    options.onProgress?.(done);
  };

  const queue = readCorpus(options);
  // A few writes in flight hide the file system's latency; the generator hands each message out once.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let next = await queue.next(); !next.done; next = await queue.next()) await write(next.value);
    }),
  );
  return { appended: done, failed: [], folders, seconds: (performance.now() - started) / 1000 };
}
