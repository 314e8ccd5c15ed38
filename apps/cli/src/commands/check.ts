import { createHash } from 'node:crypto';
import { FolderRenames, folderMatcher, openDriver, policyOf, RenamedDriver } from '@twinbox/config';
import {
  type Driver,
  type FolderInfo,
  type FolderPath,
  flagsEqual,
  isRefusedFolder,
  type ListedFolder,
  type ListedMessage,
} from '@twinbox/core';
import type { Command } from 'commander';
import { contextOf, selectPairs } from '../context.js';
import { EXIT } from '../exit-codes.js';

export interface FolderDifference {
  folder: string;
  /** Set when the folder exists on one side only. */
  onlyOn?: 'left' | 'right';
  onlyLeft: string[];
  onlyRight: string[];
  /** Messages on both sides whose flags differ. */
  flags: { message: string; left: string[]; right: string[] }[];
  /** Messages on one side only that the pair's limits hold back (max-size, max-age): not differences. */
  heldBack: number;
}

/** What the pair's limits let through: a message on one side only that fails them is no difference. */
interface Limits {
  maxSize?: number | undefined;
  /** Arrival time before which a new message is held back. */
  oldest?: number | undefined;
}

function heldBack(m: ListedMessage, limits: Limits): boolean {
  if (limits.maxSize !== undefined && (m.size ?? 0) > limits.maxSize) return true;
  return limits.oldest !== undefined && m.date !== undefined && m.date < limits.oldest;
}

/** A message's identity across stores: Message-ID and size, or a body hash when it has no Message-ID. */
async function fingerprints(
  driver: Driver,
  path: FolderPath,
  dates: boolean,
): Promise<Map<string, ListedMessage[]>> {
  const listing = await driver.listMessages(path, { dates });
  if (listing.kind !== 'full') throw new Error('a listing without a marker must be full');
  const ids = listing.messages.map((m) => m.id);
  const dateOf = new Map(listing.messages.map((m) => [m.id, m.date]));
  const byKey = new Map<string, ListedMessage[]>();
  for (let i = 0; i < ids.length; i += 500) {
    for (const m of await driver.describeMessages(path, ids.slice(i, i + 500))) {
      let key: string;
      if (m.messageId) key = `${m.messageId} (${m.size} bytes)`;
      else {
        const { body } = await driver.readMessage(path, m.id);
        key = `no Message-ID, sha256 ${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
      }
      const list = byKey.get(key) ?? [];
      const date = dateOf.get(m.id);
      list.push(date === undefined ? m : { ...m, date });
      byKey.set(key, list);
    }
  }
  return byKey;
}

async function compareFolder(
  left: Driver,
  right: Driver,
  path: FolderPath,
  limits: Limits,
  empty?: 'left' | 'right',
): Promise<FolderDifference> {
  const none = async () => new Map<string, ListedMessage[]>();
  const dates = limits.oldest !== undefined;
  const [l, r] = await Promise.all([
    empty === 'left' ? none() : fingerprints(left, path, dates),
    empty === 'right' ? none() : fingerprints(right, path, dates),
  ]);
  const keywords = left.capabilities.keywords && right.capabilities.keywords;
  const visible = (flags: readonly string[]) =>
    keywords ? [...flags] : flags.filter((f) => f.startsWith('\\'));
  const diff: FolderDifference = {
    folder: path.join('/'),
    onlyLeft: [],
    onlyRight: [],
    flags: [],
    heldBack: 0,
  };
  for (const key of new Set([...l.keys(), ...r.keys()])) {
    const a = l.get(key) ?? [];
    const b = r.get(key) ?? [];
    for (let i = b.length; i < a.length; i++)
      if (heldBack(a[i]!, limits)) diff.heldBack++;
      else diff.onlyLeft.push(key);
    for (let i = a.length; i < b.length; i++)
      if (heldBack(b[i]!, limits)) diff.heldBack++;
      else diff.onlyRight.push(key);
    if (a.length === 1 && b.length === 1 && !flagsEqual(visible(a[0]!.flags), visible(b[0]!.flags)))
      diff.flags.push({ message: key, left: visible(a[0]!.flags), right: visible(b[0]!.flags) });
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
      '\nExit code 0 when both sides hold the same messages with the same flags, 6 when not. A message on one side only that the max-size or max-age of the pair holds back is no difference.\n\nExamples:\n  twinbox check\n  twinbox check work --folder INBOX\n  twinbox check --json',
    )
    .action(async (pairs: string[], options: { folder?: string[] }, command: Command) => {
      const ctx = contextOf(command);
      const loaded = await ctx.load();
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
        const left = await openDriver(loaded.config.accounts[pair.left]!);
        let right: Driver | undefined;
        try {
          const inner = await openDriver(loaded.config.accounts[pair.right]!);
          const renames = new FolderRenames(pair.rename);
          right = renames.empty ? inner : new RenamedDriver(inner, renames);
          // Names a side refused cannot be compared; the sync reports them.
          const usable = (list: ListedFolder[]) => list.filter((f): f is FolderInfo => !isRefusedFolder(f));
          const [lf, rf] = (await Promise.all([left.listFolders(), right.listFolders()])).map(usable) as [
            FolderInfo[],
            FolderInfo[],
          ];
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
          const differences: FolderDifference[] = [];
          const all = [...new Set([...ls, ...rs])].sort();
          for (const key of all) {
            const path = key.split('\u0000');
            if (!rs.has(key) || !ls.has(key)) {
              const parentOnly = ls.has(key) ? rnames.has(key) : lnames.has(key);
              if (parentOnly) {
                const diff = await compareFolder(left, right, path, limits, ls.has(key) ? 'right' : 'left');
                held += diff.heldBack;
                if (diff.onlyLeft.length || diff.onlyRight.length) differences.push(diff);
                continue;
              }
              differences.push({
                folder: path.join('/'),
                onlyOn: ls.has(key) ? 'left' : 'right',
                onlyLeft: [],
                onlyRight: [],
                flags: [],
                heldBack: 0,
              });
              continue;
            }
            const diff = await compareFolder(left, right, path, limits);
            held += diff.heldBack;
            if (diff.onlyLeft.length || diff.onlyRight.length || diff.flags.length) differences.push(diff);
          }
          results.push({ pair: name, differences, folders: all.length, heldBack: held });
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
          }
        }
      }
      process.exitCode = differ ? EXIT.DIFFERENCES : EXIT.OK;
    });
}
