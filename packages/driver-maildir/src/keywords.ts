import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from './durable.js';

/**
 * Keywords (custom flags) in Dovecot's `dovecot-keywords` file: one line `<index> <keyword>` per
 * keyword, and the lower-case letter `a` + index in a file name's info. Dovecot, and through it any
 * IMAP client, reads it; mutt and notmuch ignore those letters but keep them when renaming, so nothing
 * is lost. Only 26 letters exist per folder, as in Dovecot.
 */
export const KEYWORDS_FILE = 'dovecot-keywords';
const LETTERS = 26;

export class KeywordMap {
  /** Keyword by index; holes are unused slots. */
  readonly #byIndex: (string | undefined)[];
  readonly #byLower = new Map<string, number>();

  constructor(byIndex: (string | undefined)[] = []) {
    this.#byIndex = byIndex;
    byIndex.forEach((keyword, i) => {
      if (keyword !== undefined) this.#byLower.set(keyword.toLowerCase(), i);
    });
  }

  static parse(text: string): KeywordMap {
    const byIndex: (string | undefined)[] = [];
    for (const line of text.split('\n')) {
      const match = /^(\d+) (\S+)$/.exec(line.trim());
      if (!match) continue;
      const index = Number(match[1]);
      if (index < LETTERS && byIndex[index] === undefined) byIndex[index] = match[2]!;
    }
    return new KeywordMap(byIndex);
  }

  keywordOf(letter: string): string | undefined {
    return this.#byIndex[letter.charCodeAt(0) - 97];
  }

  letterOf(keyword: string): string | undefined {
    const index = this.#byLower.get(keyword.toLowerCase());
    return index === undefined ? undefined : String.fromCharCode(97 + index);
  }

  /** A copy with `keywords` added in free slots; the keywords that found no slot are returned apart. */
  with(keywords: Iterable<string>): { map: KeywordMap; full: string[] } {
    const byIndex = [...this.#byIndex];
    const full: string[] = [];
    const known = new Set(this.#byLower.keys());
    for (const keyword of keywords) {
      if (known.has(keyword.toLowerCase())) continue;
      let slot = byIndex.indexOf(undefined);
      if (slot < 0) slot = byIndex.length;
      if (slot >= LETTERS) {
        full.push(keyword);
        continue;
      }
      byIndex[slot] = keyword;
      known.add(keyword.toLowerCase());
    }
    return { map: new KeywordMap(byIndex), full };
  }

  get size(): number {
    return this.#byLower.size;
  }

  serialize(): string {
    return this.#byIndex.map((k, i) => (k === undefined ? '' : `${i} ${k}\n`)).join('');
  }
}

export async function readKeywords(dir: string): Promise<KeywordMap> {
  try {
    return KeywordMap.parse(await readFile(join(dir, KEYWORDS_FILE), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new KeywordMap();
    throw err;
  }
}

/**
 * Replaces the folder's keyword file atomically (a temporary file renamed over it) and durably: a file
 * name may use a new letter only once the letter's meaning is on disk.
 */
export async function writeKeywords(dir: string, map: KeywordMap, fsync: boolean): Promise<void> {
  const target = join(dir, KEYWORDS_FILE);
  const temp = join(dir, 'tmp', `${KEYWORDS_FILE}.${process.pid}.${Date.now()}`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(map.serialize());
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  if (fsync) await fsyncDir(dir);
}
