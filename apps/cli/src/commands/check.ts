import { createHash } from 'node:crypto';
import {
  type Driver,
  type FolderInfo,
  type FolderPath,
  flagsEqual,
  isReadFailure,
  isRefusedFolder,
  type ListedFolder,
  type ListedMessage,
  messageIdFromHeaders,
  type ReadResult,
} from '@twinbox/core';
import type { Command } from 'commander';
import { contextOf, selectPairs } from '../context.js';
import { EXIT } from '../exit-codes.js';

type Side = 'left' | 'right';

export interface FolderDifference {
  folder: string;
  /** Set when the folder exists on one side only. */
  onlyOn?: Side;
  onlyLeft: string[];
  onlyRight: string[];
  /** Messages on both sides whose flags differ. */
  flags: { message: string; left: string[]; right: string[] }[];
  /** Messages with the same Message-ID on both sides whose bytes differ. */
  bodies: { message: string; left: string; right: string }[];
  /** Messages a side listed but could not read: they were not compared. */
  unreadable: { side: Side; message: string }[];
  /** A side whose store reports another number of messages than the listing gave to compare. */
  gaps: { side: Side; stored: number; compared: number }[];
  /** Messages on one side only that the pair's limits hold back (max-size, max-age): not differences. */
  heldBack: number;
}

/** What the pair's limits let through: a message on one side only that fails them is no difference. */
interface Limits {
  maxSize?: number | undefined;
  /** Arrival time before which a new message is held back. */
  oldest?: number | undefined;
}

/** One message as check compares it: its bytes' hash, and what the listing said of its flags and date. */
interface Compared {
  flags: string[];
  size: number;
  date?: number | undefined;
  sha256: string;
  /** How the message is named in a report. */
  label: string;
}

interface SideContents {
  /** By Message-ID, or by body hash for a message without one. */
  byKey: Map<string, Compared[]>;
  unreadable: string[];
  /** The store's own count (undefined: the driver cannot count), and how many the listing gave. */
  stored: number | undefined;
  listed: number;
}

function heldBack(m: Compared, limits: Limits): boolean {
  if (limits.maxSize !== undefined && m.size > limits.maxSize) return true;
  return limits.oldest !== undefined && m.date !== undefined && m.date < limits.oldest;
}

/** Bodies read per call: each is held until its batch is hashed. */
const READ_BATCH = 50;

function readBatch(driver: Driver, path: FolderPath, ids: string[]): Promise<ReadResult[]> {
  if (driver.readMessages) return driver.readMessages(path, ids);
  return Promise.all(
    ids.map((id) =>
      driver.readMessage(path, id).catch((err: unknown): ReadResult => {
        if ((err as { code?: unknown }).code === 'MESSAGE_GONE') return null;
        throw err;
      }),
    ),
  );
}

/**
 * Every message of one side of a folder, read whole and hashed: the same Message-ID and size is not
 * the same message (a body altered in place keeps both). Flags and dates come from the listing, which
 * recovers flags a FETCH answer garbled; the store's own count is taken apart from it, so a message
 * the listing left out is a gap in the report rather than a message nobody looked at.
 */
async function contentsOf(driver: Driver, path: FolderPath, dates: boolean): Promise<SideContents> {
  const listing = await driver.listMessages(path, { dates });
  if (listing.kind !== 'full') throw new Error('a listing without a marker must be full');
  const stored = driver.countMessages ? await driver.countMessages(path) : undefined;
  const byKey = new Map<string, Compared[]>();
  const unreadable: string[] = [];
  const messages = listing.messages;
  for (let i = 0; i < messages.length; i += READ_BATCH) {
    const batch = messages.slice(i, i + READ_BATCH);
    const read = await readBatch(
      driver,
      path,
      batch.map((m) => m.id),
    );
    batch.forEach((m: ListedMessage, k) => {
      const entry = read[k];
      if (entry === null || entry === undefined) {
        unreadable.push(`message ${m.id} was listed but is gone`);
        return;
      }
      if (isReadFailure(entry)) {
        unreadable.push(entry.failed.message);
        return;
      }
      const sha256 = createHash('sha256').update(entry.body).digest('hex');
      const messageId = messageIdFromHeaders(entry.body);
      const key = messageId ?? `no Message-ID, sha256 ${sha256.slice(0, 16)}`;
      const label = messageId ? `${messageId} (${entry.body.byteLength} bytes)` : key;
      const list = byKey.get(key) ?? [];
      list.push({ flags: [...m.flags], size: entry.body.byteLength, date: m.date, sha256, label });
      byKey.set(key, list);
    });
  }
  return { byKey, unreadable, stored, listed: messages.length };
}

const nothing = async (): Promise<SideContents> => ({
  byKey: new Map(),
  unreadable: [],
  stored: undefined,
  listed: 0,
});

function differs(d: FolderDifference): boolean {
  return (
    d.onlyOn !== undefined ||
    d.onlyLeft.length + d.onlyRight.length + d.flags.length + d.bodies.length > 0 ||
    d.unreadable.length + d.gaps.length > 0
  );
}

async function compareFolder(
  left: Driver,
  right: Driver,
  path: FolderPath,
  limits: Limits,
  empty?: Side,
): Promise<FolderDifference> {
  const dates = limits.oldest !== undefined;
  const [l, r] = await Promise.all([
    empty === 'left' ? nothing() : contentsOf(left, path, dates),
    empty === 'right' ? nothing() : contentsOf(right, path, dates),
  ]);
  const keywords = left.capabilities.keywords && right.capabilities.keywords;
  const visible = (flags: readonly string[]) =>
    keywords ? [...flags] : flags.filter((f) => f.startsWith('\\'));
  const diff: FolderDifference = {
    folder: path.join('/'),
    onlyLeft: [],
    onlyRight: [],
    flags: [],
    bodies: [],
    unreadable: [
      ...l.unreadable.map((message) => ({ side: 'left' as const, message })),
      ...r.unreadable.map((message) => ({ side: 'right' as const, message })),
    ],
    gaps: [],
    heldBack: 0,
  };
  for (const [side, c] of [
    ['left', l],
    ['right', r],
  ] as const) {
    if (c.stored !== undefined && c.stored !== c.listed)
      diff.gaps.push({ side, stored: c.stored, compared: c.listed });
  }
  const compareFlags = (a: Compared, b: Compared) => {
    if (!flagsEqual(visible(a.flags), visible(b.flags)))
      diff.flags.push({ message: a.label, left: visible(a.flags), right: visible(b.flags) });
  };
  for (const key of new Set([...l.byKey.keys(), ...r.byKey.keys()])) {
    const a = [...(l.byKey.get(key) ?? [])];
    const b = [...(r.byKey.get(key) ?? [])];
    // The same bytes first: duplicates of one message pair with each other, whatever their order.
    for (let i = a.length - 1; i >= 0; i--) {
      const j = b.findIndex((m) => m.sha256 === a[i]!.sha256);
      if (j < 0) continue;
      compareFlags(a[i]!, b[j]!);
      a.splice(i, 1);
      b.splice(j, 1);
    }
    // What is left under one Message-ID on both sides is one message whose bytes changed.
    while (a.length > 0 && b.length > 0) {
      const x = a.shift()!;
      const y = b.shift()!;
      const form = (m: Compared) => `${m.size} bytes, sha256 ${m.sha256.slice(0, 16)}`;
      diff.bodies.push({ message: key, left: form(x), right: form(y) });
      compareFlags(x, y);
    }
    for (const m of a)
      if (heldBack(m, limits)) diff.heldBack++;
      else diff.onlyLeft.push(m.label);
    for (const m of b)
      if (heldBack(m, limits)) diff.heldBack++;
      else diff.onlyRight.push(m.label);
  }
  return diff;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('Compare both sides of pairs message by message and report differences; changes nothing.')
    .argument('[pair...]', 'pairs to check (all when none is named)')
    .option('-f, --folder <pattern...>', 'only folders matching these patterns')
    .addHelpText(
      'after',
      '\nEvery message is read whole on both sides and compared by Message-ID and content, with its flags and keywords; the message count each store reports (IMAP STATUS, the files of a Maildir folder) is checked against what was compared. Both stores are opened read-only: nothing is changed, created or cleaned up.\n\nExit code 0 when both sides hold the same messages with the same flags, 6 when not (a message that could not be read, or a count that does not match, is a difference too). A message on one side only that the max-size or max-age of the pair holds back is no difference.\n\nExamples:\n  twinbox check\n  twinbox check work --folder INBOX\n  twinbox check --json',
    )
    .action(async (pairs: string[], options: { folder?: string[] }, command: Command) => {
      const ctx = await contextOf(command);
      const loaded = await ctx.load();
      const { FolderRenames, folderMatcher, openDriver, policyOf, RenamedDriver } = await import(
        '@twinbox/config'
      );
      const extra = options.folder?.length ? folderMatcher(options.folder) : () => true;
      const results: { pair: string; differences: FolderDifference[]; folders: number; heldBack: number }[] =
        [];
      for (const name of selectPairs(loaded, pairs)) {
        const pair = loaded.config.pairs[name]!;
        const policy = policyOf(pair);
        const limits: Limits = {
          maxSize: policy.maxMessageSize,
          oldest: policy.maxMessageAge === undefined ? undefined : Date.now() - policy.maxMessageAge,
        };
        let held = 0;
        const matches = folderMatcher(pair.folders);
        // Read-only: check must not change what it inspects (no SELECT, no mkdir, no tmp/ cleanup).
        const left = await openDriver(loaded.config.accounts[pair.left]!, { readOnly: true });
        let right: Driver | undefined;
        try {
          const inner = await openDriver(loaded.config.accounts[pair.right]!, { readOnly: true });
          const renames = new FolderRenames(pair.rename);
          right = renames.empty ? inner : new RenamedDriver(inner, renames);
          const listed = await Promise.all([left.listFolders(), right.listFolders()]);
          // A name a side refused (it does not map back exactly) cannot be compared: it is a difference,
          // said by the name as the store gave it, never skipped without a word. The pair's patterns see
          // it as a one-level name, as the sync's do.
          const refused: FolderDifference[] = [];
          listed.forEach((list, i) => {
            const side: Side = i === 0 ? 'left' : 'right';
            for (const f of list) {
              if (!isRefusedFolder(f) || !matches([f.refused]) || !extra([f.refused])) continue;
              refused.push({
                folder: JSON.stringify(f.refused),
                onlyOn: side,
                onlyLeft: [],
                onlyRight: [],
                flags: [],
                bodies: [],
                unreadable: [
                  {
                    side,
                    message: `a folder name that cannot be mapped exactly, not compared: ${f.message}`,
                  },
                ],
                gaps: [],
                heldBack: 0,
              });
            }
          });
          const usable = (list: ListedFolder[]) => list.filter((f): f is FolderInfo => !isRefusedFolder(f));
          const [lf, rf] = listed.map(usable) as [FolderInfo[], FolderInfo[]];
          const selectable = (list: typeof lf) =>
            new Set(
              list
                .filter((f) => f.selectable && matches(f.path) && extra(f.path))
                .map((f) => f.path.join('\u0000')),
            );
          const ls = selectable(lf);
          const rs = selectable(rf);
          // A folder that only holds folders on one side (an IMAP \\Noselect parent) compares as empty.
          const names = (list: typeof lf) => new Set(list.map((f) => f.path.join('\u0000')));
          const lnames = names(lf);
          const rnames = names(rf);
          const differences: FolderDifference[] = [...refused];
          const all = [...new Set([...ls, ...rs])].sort();
          for (const key of all) {
            const path = key.split('\u0000');
            if (!rs.has(key) || !ls.has(key)) {
              const parentOnly = ls.has(key) ? rnames.has(key) : lnames.has(key);
              if (parentOnly) {
                const diff = await compareFolder(left, right, path, limits, ls.has(key) ? 'right' : 'left');
                held += diff.heldBack;
                if (differs(diff)) differences.push(diff);
                continue;
              }
              differences.push({
                folder: path.join('/'),
                onlyOn: ls.has(key) ? 'left' : 'right',
                onlyLeft: [],
                onlyRight: [],
                flags: [],
                bodies: [],
                unreadable: [],
                gaps: [],
                heldBack: 0,
              });
              continue;
            }
            const diff = await compareFolder(left, right, path, limits);
            held += diff.heldBack;
            if (differs(diff)) differences.push(diff);
          }
          results.push({ pair: name, differences, folders: all.length + refused.length, heldBack: held });
        } finally {
          await left.close();
          await right?.close();
        }
      }
      const differ = results.some((r) => r.differences.length > 0);
      if (ctx.options.json) process.stdout.write(`${JSON.stringify(results)}\n`);
      else {
        for (const r of results) {
          const held = r.heldBack
            ? ` (${r.heldBack} messages on one side only are held back by max-size or max-age)`
            : '';
          if (r.differences.length === 0) {
            process.stdout.write(`${r.pair}: ${r.folders} folders, no difference${held}\n`);
            continue;
          }
          process.stdout.write(`${r.pair}: ${r.differences.length} of ${r.folders} folders differ${held}\n`);
          for (const d of r.differences) {
            if (d.onlyOn) process.stdout.write(`  ${d.folder}: only on the ${d.onlyOn}\n`);
            for (const m of d.onlyLeft) process.stdout.write(`  ${d.folder}: only on the left: ${m}\n`);
            for (const m of d.onlyRight) process.stdout.write(`  ${d.folder}: only on the right: ${m}\n`);
            for (const f of d.flags)
              process.stdout.write(
                `  ${d.folder}: flags differ for ${f.message}: left [${f.left.join(' ')}], right [${f.right.join(' ')}]\n`,
              );
            for (const b of d.bodies)
              process.stdout.write(
                `  ${d.folder}: content differs for ${b.message}: left ${b.left}, right ${b.right}\n`,
              );
            for (const u of d.unreadable)
              process.stdout.write(
                `  ${d.folder}: not compared, unreadable on the ${u.side}: ${u.message}\n`,
              );
            for (const g of d.gaps)
              process.stdout.write(
                `  ${d.folder}: the ${g.side} store reports ${g.stored} messages, but ${g.compared} were listed and compared\n`,
              );
          }
        }
      }
      process.exitCode = differ ? EXIT.DIFFERENCES : EXIT.OK;
    });
}
