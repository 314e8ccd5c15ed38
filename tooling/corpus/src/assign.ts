import { createHash } from 'node:crypto';

/**
 * The folders the corpus is spread over, `/` between levels. They exercise what a sync engine gets
 * wrong: nesting, non-ASCII names (modified UTF-7 over IMAP, UTF-8 on disk), spaces, `&` (which
 * modified UTF-7 must escape), special-use folders.
 */
export const CORPUS_FOLDERS = [
  'INBOX',
  'Archiv',
  'Archiv/Übersicht',
  'Lists/exmh',
  'Lists/Spam-Talk',
  'Reisen 2002/Überblick & Notizen',
  'Drafts',
  'Junk',
] as const;

export type CorpusFolder = (typeof CORPUS_FOLDERS)[number];

/** A folder name as the list of its levels, e.g. `['Archiv', 'Übersicht']`. */
export function folderPath(folder: string): string[] {
  return folder.split('/');
}

/**
 * Every folder to create, parents before children: `Lists` and `Reisen 2002` hold no messages but are
 * real folders, as a mail client creates them, rather than being left for the server to invent.
 */
export function folderTree(): string[] {
  const all = new Set<string>();
  for (const folder of CORPUS_FOLDERS) {
    const levels = folderPath(folder);
    for (let i = 1; i <= levels.length; i++) all.add(levels.slice(0, i).join('/'));
  }
  return [...all];
}

/** The one custom keyword, stored by Dovecot as Maildir letter `a`. */
export const CORPUS_KEYWORD = '$label1';

export interface AssignInput {
  key: string;
  group: string;
  /** The List-Id header: mailing-list mail goes to its list folder, as a filter rule would file it. */
  listId?: string | undefined;
}

export interface Assignment {
  folder: CorpusFolder;
  flags: string[];
}

/** Uniform numbers in [0, 1) derived from the key alone, so every run and every machine agrees. */
function rolls(key: string): number[] {
  const digest = createHash('sha256').update(key).digest();
  return Array.from({ length: 8 }, (_, i) => digest.readUInt32BE(i * 4) / 2 ** 32);
}

/**
 * Folder and flags of a message, from its key (and list header) only. Proportions over the whole
 * corpus: about 70 % \Seen, 8 % \Answered (always also \Seen), 5 % \Flagged, 3 % `$label1`;
 * \Draft only in Drafts; \Deleted never, since a loader that stored deleted mail would have the next
 * EXPUNGE remove it, and a sync test would see that as data loss.
 */
export function assignMessage({ key, group, listId }: AssignInput): Assignment {
  const [folderRoll, seenRoll, answeredRoll, flaggedRoll, keywordRoll] = rolls(key) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const folder = pickFolder(group, listId, folderRoll);
  const flags: string[] = [];
  if (folder === 'Drafts') {
    flags.push('\\Seen', '\\Draft');
  } else {
    const seen = seenRoll < 0.7;
    if (seen) flags.push('\\Seen');
    // 8 % of all messages, drawn from the seen ones: nobody answers mail they have not read.
    if (seen && answeredRoll < 0.08 / 0.7) flags.push('\\Answered');
    if (flaggedRoll < 0.05) flags.push('\\Flagged');
  }
  if (keywordRoll < 0.03) flags.push(CORPUS_KEYWORD);
  return { folder, flags };
}

function pickFolder(group: string, listId: string | undefined, roll: number): CorpusFolder {
  if (group.startsWith('spam')) {
    if (roll < 0.85) return 'Junk';
    // Spam the filter missed, some of it never cleaned up.
    return roll < 0.95 ? 'INBOX' : 'Archiv';
  }
  const list = listId?.toLowerCase() ?? '';
  if (list.includes('exmh')) return 'Lists/exmh';
  if (list.includes('spamassassin-talk')) return 'Lists/Spam-Talk';
  if (roll < 0.02) return 'Drafts';
  // Ham the filter got wrong.
  if (roll < 0.05) return 'Junk';
  if (roll < 0.3) return 'Archiv';
  if (roll < 0.42) return 'Archiv/Übersicht';
  if (roll < 0.5) return 'Reisen 2002/Überblick & Notizen';
  return 'INBOX';
}
