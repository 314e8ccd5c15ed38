import type { ActionOutcome, CopyItem, SideController } from './controller.js';
import { isReadFailure, type ReadResult } from './driver.js';
import { errorScope } from './errors.js';
import { flagsEqual } from './flags.js';
import { type FolderDecision, planFolders } from './folder-merge.js';
import {
  type FolderInfo,
  type FolderPath,
  folderKey,
  isRefusedFolder,
  type ListedFolder,
  quoteName,
} from './folders.js';
import { keptOnConflict, mergeFolder } from './merge.js';
import { type ListedMessage, otherSide, type PairRef, type Side, type SideChanges } from './model.js';
import {
  type DetectedMove,
  type MoveSource,
  type MoveTarget,
  matchMoves,
  moveCandidates,
  movedFlags,
  moveHashNeeds,
} from './moves.js';
import { type Candidate, contentPairingNeeds } from './pairing.js';
import { type CopyAction, type FolderPlan, isEmptyFolderPlan, type MoveAction } from './plan.js';
import { DEFAULT_POLICY, flowsFrom, type SyncPolicy } from './policy.js';
import {
  chooseRenames,
  idRenameProof,
  type RenameCandidate,
  renameCandidates,
  renamedPairs,
  renameProof,
} from './renames.js';
import { largestFirst, messageCounts, pairCount } from './schedule.js';
import type { FolderPairRecord } from './state.js';

/** How {@link sync} runs: the policy, a dry run, which folders, how many at once, a stop signal, progress. */
export interface SyncOptions {
  policy?: SyncPolicy;
  /** Plan only: nothing is written to either store or to the state; the plans are returned. */
  dryRun?: boolean;
  /** Only folders whose key passes (`folderKey(path)`). */
  folders?: (key: string) => boolean;
  /**
   * Messages read and written per copy batch: bounds the bodies held in memory at once. Default 100:
   * each batch costs an IMAP FETCH or APPEND command (and a SELECT where folders share a session),
   * and a state transaction; 100 halves those against 50 for about 0.5 MB of bodies per batch (the
   * SpamAssassin corpus averages 5.4 KB a message).
   */
  copyBatch?: number;
  /** Folders synced at once. */
  concurrency?: number;
  onEvent?: (event: SyncEvent) => void;
  /**
   * Stops the sync early (Ctrl-C): no folder starts after it fires, and a folder in progress stops
   * between copy batches. What was written is recorded; a folder left unfinished keeps its old marker,
   * so the next sync lists it again and finishes it. The report then has `aborted: true`.
   */
  signal?: AbortSignal;
  /** What the policy's `maxMessageAge` counts back from, ms since the epoch; by default, the sync's start. */
  now?: number;
  /**
   * How long the batch in flight may take to finish after `signal` fired before both sides are
   * interrupted ({@link SideController.interrupt}): a stalled server then cannot hold the stop up.
   * Default 2000 ms.
   */
  interruptAfterMs?: number;
}

/**
 * Progress of a sync, given to `onEvent` as it happens: a folder started, planned (with its plan),
 * copies landed, a folder done (with its report). The CLI's bars and the daemon's metrics use these.
 */
export type SyncEvent =
  | { type: 'folder-start'; key: string }
  | { type: 'folder-planned'; key: string; plan: FolderPlan }
  | { type: 'copied'; key: string; to: Side; count: number; bytes: number }
  | { type: 'folder-done'; key: string; report: FolderReport };

/** What a sync did in one folder pair: counts of what it wrote, and the errors that skipped messages. */
export interface FolderReport {
  /**
   * The folder pair's key; for a name a side refused (see `refused`), that name quoted as by
   * `quoteName`, which is no folder key.
   */
  key: string;
  /** Set for a name a side listed and refused: which side, and the name exactly as it was listed. */
  refused?: { side: Side; name: string };
  /** What happened to the folder itself. */
  action: 'synced' | 'created' | 'deleted' | 'recreated' | 'renamed' | 'forgotten' | 'skipped' | 'failed';
  /**
   * Set for a folder the user renamed on one side (`key` is its new name): its old key, the side on
   * which the sync renamed it the same way, and how many folder pairs the rename carried (the folder
   * and the known folders below it). Its messages are then synced under the new name, in a report of
   * their own.
   */
  renamed?: { from: string; on: Side; folders: number };
  copied: { toLeft: number; toRight: number };
  /**
   * Messages moved into this folder from another folder of the same side (the store's own move, no
   * body copied), because the user moved them so on the other side: `toRight` moved on the right.
   */
  moved: { toLeft: number; toRight: number };
  flagged: { left: number; right: number };
  deleted: { left: number; right: number };
  /** Messages found on both sides and paired by content rather than copied. */
  paired: number;
  conflicts: number;
  /** Messages not copied because they are larger than the policy's `maxMessageSize`. */
  tooLarge: number;
  /** Messages not copied because they arrived before the policy's `maxMessageAge`. */
  tooOld: number;
  errors: { scope: 'message' | 'folder'; code: string; message: string }[];
}

/** What {@link sync} did: each folder pair's report, the totals, and with `dryRun` the plans. */
export interface SyncReport {
  /** Set when `signal` stopped the sync before every folder was done. */
  aborted: boolean;
  folders: FolderReport[];
  /** With `dryRun`, and for folders that changed: the plans. */
  plans: FolderPlan[];
  totals: {
    copied: number;
    /** Messages moved between folders rather than copied and deleted (see {@link FolderReport.moved}). */
    moved: number;
    flagged: number;
    deleted: number;
    paired: number;
    conflicts: number;
    /** Messages held back by `maxMessageSize`. */
    tooLarge: number;
    /** Messages held back by `maxMessageAge`. */
    tooOld: number;
    errors: number;
    foldersCreated: number;
    foldersDeleted: number;
    /** Folders renamed rather than copied and deleted (see {@link FolderReport.renamed}). */
    foldersRenamed: number;
  };
}

/** Folder-list passes per sync; each one after the first only follows up implicit changes. */
const MAX_FOLDER_PASSES = 3;

/** Passes per sync that may rename folders (each is followed by one on fresh listings). */
const MAX_RENAME_ROUNDS = 2;

/** Pairs of a renamed folder described on both sides to check that its ids still name its messages. */
const RENAME_SAMPLE = 32;

const EMPTY_MARKER = { epoch: '', value: '' };

function emptyChanges(side: Side): SideChanges {
  return { side, added: [], removed: [], flagged: [], reset: false, orphaned: [], marker: EMPTY_MARKER };
}

function newReport(key: string, action: FolderReport['action']): FolderReport {
  return {
    key,
    action,
    copied: { toLeft: 0, toRight: 0 },
    moved: { toLeft: 0, toRight: 0 },
    flagged: { left: 0, right: 0 },
    deleted: { left: 0, right: 0 },
    paired: 0,
    conflicts: 0,
    tooLarge: 0,
    tooOld: 0,
    errors: [],
  };
}

/**
 * The engine: syncs every folder pair of two sides. Per folder it asks both sides for their changes
 * concurrently, merges them into a plan (pure, see `mergeFolder`), and has each side apply its half.
 * Where a folder pair synced before takes part, every folder of the pass is listed first, so that a
 * message the user moved between folders on one side is moved on the other (see `moveCandidates` and
 * {@link SideController.applyMoves}) rather than deleted there and copied again.
 *
 * `left` must be the controller built for the left side (`left.side === 'left'`) and `right` the one
 * for the right side: each records its pairs and markers under its own side in the shared state, so
 * swapped or doubled controllers would sync nothing, or copy one way and duplicate messages on every
 * run. `sync` rejects such a call with a `TypeError` before it calls either controller.
 *
 * Errors: a message error is counted and the folder goes on; a folder error skips that folder (its
 * marker is not recorded, so it is listed in full next time); a store error, or any error the engine
 * cannot classify, stops the sync and rejects.
 */
export async function sync(
  left: SideController,
  right: SideController,
  options: SyncOptions = {},
): Promise<SyncReport> {
  checkSides(left, right);
  const policy = options.policy ?? DEFAULT_POLICY;
  const sides = { left, right };
  const report: SyncReport = {
    aborted: false,
    folders: [],
    plans: [],
    totals: {
      copied: 0,
      moved: 0,
      flagged: 0,
      deleted: 0,
      paired: 0,
      conflicts: 0,
      tooLarge: 0,
      tooOld: 0,
      errors: 0,
      foldersCreated: 0,
      foldersDeleted: 0,
      foldersRenamed: 0,
    },
  };
  const run = new FolderRun(sides, policy, options, report);
  const interrupting = interruptOnAbort(sides, options);
  try {
    await folderPasses(left, right, run, options, report);
  } catch (err) {
    // Once stopping, a call cut short by the interruption is the stop itself, not a failure.
    if (!run.aborted) throw err;
  } finally {
    interrupting.dispose();
  }
  report.aborted = run.stopped;
  for (const f of report.folders) {
    report.totals.copied += f.copied.toLeft + f.copied.toRight;
    report.totals.moved += f.moved.toLeft + f.moved.toRight;
    report.totals.flagged += f.flagged.left + f.flagged.right;
    report.totals.deleted += f.deleted.left + f.deleted.right;
    report.totals.paired += f.paired;
    report.totals.conflicts += f.conflicts;
    report.totals.tooLarge += f.tooLarge;
    report.totals.tooOld += f.tooOld;
    report.totals.errors += f.errors.length;
    if (f.action === 'created' || f.action === 'recreated') report.totals.foldersCreated++;
    if (f.action === 'deleted') report.totals.foldersDeleted++;
    if (f.action === 'renamed') report.totals.foldersRenamed++;
  }
  return report;
}

/**
 * The types cannot tell the two places apart (both are `SideController`), and a proxy for a controller
 * in a worker thread carries no `side` unless the caller gives it one: so the places are checked here,
 * before anything is read or written.
 */
function checkSides(left: SideController, right: SideController): void {
  const given = { left, right };
  const wrong = (['left', 'right'] as const).flatMap((place) => {
    const side: unknown = given[place]?.side;
    if (side === place) return [];
    return [`the ${place} argument has ${side === undefined ? 'no side' : `side ${JSON.stringify(side)}`}`];
  });
  if (wrong.length === 0) return;
  throw new TypeError(
    `sync(left, right) needs the left side's controller first and the right side's second, but ${wrong.join(' and ')}. ` +
      "Pass the controller built with side 'left' as the first argument and the one built with side 'right' as the second; " +
      "a controller in a worker thread needs its side on the object passed here ({ ...handle.api, side: 'left' }).",
  );
}

/**
 * When `signal` fires, the engine stops between batches; a batch still in flight after the grace
 * period (a stalled server, a huge message) is cut by interrupting both sides.
 */
function interruptOnAbort(sides: Record<Side, SideController>, options: SyncOptions): { dispose(): void } {
  const signal = options.signal;
  if (!signal) return { dispose() {} };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => {
    timer = setTimeout(() => {
      for (const side of [sides.left, sides.right]) void side.interrupt?.().catch(() => {});
    }, options.interruptAfterMs ?? 2000);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  return {
    dispose() {
      signal.removeEventListener('abort', onAbort);
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

async function folderPasses(
  left: SideController,
  right: SideController,
  run: FolderRun,
  options: SyncOptions,
  report: SyncReport,
): Promise<void> {
  // Creating `A/B` may create its parent `A` on a store, and deleting a folder may take others with
  // it, so a pass that changed a folder list is followed by another on fresh listings, until the lists
  // hold still. A later pass only handles what is new or still differs; folders synced stay synced.
  const handled = new Set<string>();
  const refusedSeen = new Set<string>();
  // A pass that renamed folders is followed by one on fresh listings, and does not count as a pass:
  // the renamed folders are synced there. Bounded, so a store that keeps changing cannot loop.
  let renameRounds = 0;
  for (let pass = 0; pass < MAX_FOLDER_PASSES; pass++) {
    const [leftFolders, rightFolders, known] = await Promise.all([
      left.listFolders(),
      right.listFolders(),
      left.folderPairs(),
    ]);
    reportRefused({ left: leftFolders, right: rightFolders }, refusedSeen, options, report);
    // A folder that failed in this sync is not tried again in a later pass: its error would be
    // reported twice, and what failed once (a refused CREATE, a full disk) fails the same way again.
    const failed = new Set(
      report.folders.filter((f) => f.action === 'failed' && !f.refused).map((f) => f.key),
    );
    const planned = planFolders({
      left: leftFolders,
      right: rightFolders,
      known,
      policy: run.policy,
    });
    run.known = new Map(known.map((r) => [r.key, r]));
    run.ids = { left: folderIds(leftFolders), right: folderIds(rightFolders) };
    // A folder created in an earlier pass is listed on both sides only now: its new id is recorded
    // here, or a rename on that side before the next sync could not be told by the id.
    for (const d of planned) {
      if (d.kind === 'sync' && handled.has(d.key) && !failed.has(d.key)) await run.recordIds(d.key);
    }
    let decisions = planned.filter(
      (d) =>
        (!options.folders || options.folders(d.key)) &&
        !failed.has(d.key) &&
        !run.renameFailed.has(d.key) &&
        !(handled.has(d.key) && (d.kind === 'sync' || d.kind === 'skip')),
    );
    if (decisions.length === 0 || run.aborted) break;
    if (renameRounds < MAX_RENAME_ROUNDS) {
      const renamed = await run.renames(decisions, { left: leftFolders, right: rightFolders });
      if (renamed.applied) {
        renameRounds++;
        pass--;
        continue;
      }
      if (renamed.covered.size > 0) {
        decisions = decisions.filter((d) => !renamed.covered.has(d.key));
      }
    }
    const before = report.folders.length;
    // Decisions start largest first (a first sync must not end on a big folder started last), each
    // after its ancestors, so a parent is reached before its children. Folders run at once
    // (`concurrency`) may create or delete folders while others are listed or written: the Driver
    // contract has each driver keep such calls from disturbing each other (see `Driver`).
    // Every folder of the pass is listed before any is applied: a message the user moved between two
    // folders shows as a deletion in one and a new message in the other, and only both change sets
    // together tell a move, whichever folder comes first.
    // Waiting for every listing has a price: a folder whose listing stalls holds up the others, and a
    // sync stopped meanwhile has applied nothing. So it is paid only where a move can be found: one
    // needs a message pair recorded by an earlier sync, which only a folder pair synced before holds.
    // A first sync (the longest) still applies each folder as soon as it is listed.
    const counts = { left: messageCounts(leftFolders), right: messageCounts(rightFolders) };
    decisions = largestFirst(decisions, (d) => ('left' in d ? pairCount(counts, d) : undefined));
    const movesPossible = decisions.some((d) => d.kind === 'sync' && !d.isNew && d.selectable);
    const jobs: FolderJob[] = [];
    await runLimited(decisions, options.concurrency ?? 1, async (d) => {
      const job = await run.begin(d);
      if (!job) return;
      if (movesPossible) jobs.push(job);
      else await run.finish(job);
    });
    jobs.sort((a, b) => (a.folder.key < b.folder.key ? -1 : a.folder.key > b.folder.key ? 1 : 0));
    await run.moves(jobs);
    await runLimited(jobs, options.concurrency ?? 1, (job) => run.finish(job));
    for (const d of decisions) handled.add(d.key);
    const changedLists = report.folders
      .slice(before)
      .some((f) => ['created', 'recreated', 'deleted'].includes(f.action));
    // A dry run changes nothing, so a second pass would only repeat the first.
    if (!changedLists || options.dryRun) break;
  }
}

/**
 * Each name a side refused, reported once per sync as a failed folder of its own: nothing is created,
 * synced or deleted for it. The folder filter sees it as a one-level folder named as listed, so a
 * pattern can exclude it (`!/etc/passwd`) until it is renamed on its store.
 */
function reportRefused(
  lists: Record<Side, readonly ListedFolder[]>,
  seen: Set<string>,
  options: SyncOptions,
  report: SyncReport,
): void {
  for (const side of ['left', 'right'] as const) {
    for (const folder of lists[side]) {
      if (!isRefusedFolder(folder)) continue;
      const id = `${side}\u0000${folder.refused}`;
      if (seen.has(id) || (options.folders && !options.folders(folderKey([folder.refused])))) continue;
      seen.add(id);
      const done = newReport(quoteName(folder.refused), 'failed');
      done.refused = { side, name: folder.refused };
      done.errors.push({ scope: 'folder', code: folder.code, message: folder.message });
      report.folders.push(done);
      options.onEvent?.({ type: 'folder-done', key: done.key, report: done });
    }
  }
}

/** The ids a side's folders are listed with ({@link FolderInfo.id}), by key. */
function folderIds(list: readonly ListedFolder[]): Map<string, string> {
  const ids = new Map<string, string>();
  for (const f of list) if (!isRefusedFolder(f) && f.id !== undefined) ids.set(folderKey(f.path), f.id);
  return ids;
}

/** The policy's limits as the state records them with a folder that holds messages back. */
function limitsOf(policy: SyncPolicy): string {
  return `size<=${policy.maxMessageSize ?? '*'} age<=${policy.maxMessageAge ?? '*'}`;
}

/**
 * Like Promise.all, but settled, not raced: when one rejects, the others are waited for before its
 * error is thrown, so no call is left running on a folder the caller goes on to use.
 */
async function allOrThrow<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

/** A batch of copies whose bodies are being read from the side they come from. */
interface PendingRead {
  slice: CopyAction[];
  reading: Promise<ReadResult[]>;
}

/** A folder pair listed in this pass, waiting for the moves of the pass and then for its own merge. */
interface FolderJob {
  folder: FolderReport;
  left: FolderPath;
  right: FolderPath;
  /** Synced as it stands on both sides (not recreated, not reset): a move may come from it or go into it. */
  movable: boolean;
  heldBefore: string | undefined;
  limits: string;
  lc: SideChanges;
  rc: SideChanges;
  /** Sides whose marker must not be committed after this sync, whatever the plan says, because of a move. */
  hold: Set<Side>;
  /** The moves made into this folder, by the side that made them. */
  moves: Record<Side, MoveAction[]>;
  /** Sides on which a move wrote in this folder (into it or out of it), so their marker is committed. */
  movedOn: Set<Side>;
}

const samePair = (a: { left: string; right: string }, b: { left: string; right: string }) =>
  a.left === b.left && a.right === b.right;

function changesOf(job: FolderJob, side: Side): SideChanges {
  return side === 'left' ? job.lc : job.rc;
}

function setChanges(job: FolderJob, changes: SideChanges): void {
  if (changes.side === 'left') job.lc = changes;
  else job.rc = changes;
}

function pathOfRecord(record: FolderPairRecord, side: Side): FolderPath {
  return side === 'left' ? record.left : record.right;
}

function pathOf(job: FolderJob, side: Side): FolderPath {
  return side === 'left' ? job.left : job.right;
}

/** Items grouped by a key, in the order each key was first seen. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): [string, T[]][] {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return [...out];
}

class FolderRun {
  constructor(
    private readonly sides: Record<Side, SideController>,
    readonly policy: SyncPolicy,
    private readonly options: SyncOptions,
    private readonly report: SyncReport,
  ) {
    const age = policy.maxMessageAge;
    this.oldest = age === undefined ? undefined : (options.now ?? Date.now()) - age;
    this.dates = age === undefined ? undefined : true;
  }

  /** The folder pairs the state held when this pass began, by key. */
  known = new Map<string, FolderPairRecord>();

  /** Each side's folder ids ({@link FolderInfo.id}) by key, as listed at the start of this pass. */
  ids: Record<Side, Map<string, string>> = { left: new Map(), right: new Map() };

  /**
   * The folder pair record for `key` with the ids listed now, as the state should hold it: `base`
   * (the known record, or the paths of a new pair) with `ids` set, or left out when neither side has one.
   */
  recordOf(base: FolderPairRecord): FolderPairRecord {
    const { ids: _, ...rest } = base;
    const left = this.ids.left.get(base.key);
    const right = this.ids.right.get(base.key);
    if (left === undefined && right === undefined) return rest;
    return {
      ...rest,
      ids: { ...(left === undefined ? {} : { left }), ...(right === undefined ? {} : { right }) },
    };
  }

  /** Records `key`'s folder ids when they differ from what the state holds (once per folder, in practice). */
  async recordIds(key: string): Promise<void> {
    const known = this.known.get(key);
    if (!known || this.dry) return;
    const wanted = this.recordOf(known);
    if (JSON.stringify(wanted.ids ?? null) === JSON.stringify(known.ids ?? null)) return;
    await this.sides.left.recordFolderPair(wanted);
    this.known.set(key, wanted);
  }

  /** Arrival time before which a new message is held back, if the policy has an age limit. */
  private readonly oldest: number | undefined;
  /** Whether listings must give dates: only when the policy needs them, as a store may pay for them. */
  private readonly dates: true | undefined;

  get dry() {
    return this.options.dryRun === true;
  }

  /** Set when the signal left work undone. */
  stopped = false;

  get aborted(): boolean {
    if (this.options.signal?.aborted) this.stopped = true;
    return this.stopped;
  }

  /**
   * Starts a folder decision: whatever the folder itself needs (created, deleted, forgotten), then, for
   * a folder whose messages are synced, both sides' listings, returned for {@link finish} once every
   * folder of the pass is listed. A folder that ends here is reported at once.
   */
  async begin(d: FolderDecision): Promise<FolderJob | undefined> {
    if (this.aborted) return undefined;
    const { left } = this.sides;
    // The report of the folder in progress, so what was done before an interruption is still counted.
    let folder: FolderReport | undefined;
    try {
      switch (d.kind) {
        case 'skip':
          folder = newReport(d.key, 'skipped');
          break;
        case 'forget':
          folder = newReport(d.key, 'forgotten');
          if (!this.dry) await left.forgetFolderPair(d.key);
          break;
        case 'create':
          folder = newReport(d.key, 'created');
          if (!this.dry) {
            await this.sides[d.on].createFolder(d.on === 'left' ? d.left : d.right);
            await left.recordFolderPair(this.recordOf({ key: d.key, left: d.left, right: d.right }));
          }
          if (d.selectable) return await this.list(folder, d.left, d.right, true, d.on);
          break;
        case 'sync':
          folder = newReport(d.key, 'synced');
          if (d.isNew && !this.dry) {
            await left.recordFolderPair(this.recordOf({ key: d.key, left: d.left, right: d.right }));
          } else {
            await this.recordIds(d.key);
          }
          if (d.selectable) return await this.list(folder, d.left, d.right, true);
          break;
        case 'deleted': {
          const outcome = await this.deletedOnOneSide(d);
          if ('lc' in outcome) return outcome;
          folder = outcome;
          break;
        }
      }
    } catch (err) {
      folder = this.failed(d.key, folder, err);
    }
    this.done(folder);
    return undefined;
  }

  /** Merges and applies a listed folder (see {@link begin}), and reports it. */
  async finish(job: FolderJob): Promise<void> {
    let folder = job.folder;
    try {
      if (!this.aborted) await this.syncListed(job);
    } catch (err) {
      folder = this.failed(job.folder.key, job.folder, err);
    }
    this.done(folder);
  }

  private done(folder: FolderReport): void {
    this.report.folders.push(folder);
    this.options.onEvent?.({ type: 'folder-done', key: folder.key, report: folder });
  }

  /** The report of a folder that failed; rethrows what is not the folder's alone (a store error, the stop). */
  private failed(key: string, folder: FolderReport | undefined, err: unknown): FolderReport {
    if (this.aborted) {
      // Cut short by the stop: what was done is counted, the rest is done next time.
      if (folder) this.report.folders.push(folder);
      throw err;
    }
    // A message error that escaped a batch's outcomes still only concerns this folder.
    if (errorScope(err) === 'store') throw err;
    const failed = newReport(key, 'failed');
    failed.errors.push({ scope: 'folder', code: codeOf(err), message: (err as Error).message });
    return failed;
  }

  /**
   * The user deleted the folder on one side. Delete it on the other too only if nothing in it changed
   * since the last sync (every message there was also in the deleted folder, unchanged); otherwise
   * bring it back and sync it afresh, forgetting the old pairs, which would read as deletions.
   */
  private async deletedOnOneSide(
    d: Extract<FolderDecision, { kind: 'deleted' }>,
  ): Promise<FolderReport | FolderJob> {
    const present = otherSide(d.missingOn);
    const presentPath = present === 'left' ? d.left : d.right;
    const mayDelete = this.policy.propagate.folderDeletion && flowsFrom(this.policy, d.missingOn);
    let unchanged = true;
    if (mayDelete && d.selectable) {
      try {
        // A full listing, not one since the marker: "unchanged since the last sync" does not mean that
        // every message in it is paired (a policy or a failed copy can leave one unpaired).
        const changes = await this.sides[present].changes(d.key, presentPath, {
          dryRun: this.dry,
          full: true,
          dates: this.dates,
        });
        unchanged = changes.added.length === 0 && changes.flagged.length === 0 && !changes.reset;
        // Deleting a folder deletes its messages: without message deletions, only an empty one goes.
        if (!this.policy.propagate.deletions && changes.listed !== 0) unchanged = false;
      } catch (err) {
        // Gone on this side too since the folder list was read (deleted along with its parent, or by
        // another program): deleted on both sides, so only the state forgets it.
        if ((err as { code?: unknown }).code !== 'FOLDER_GONE') throw err;
        if (!this.dry) await this.sides.left.forgetFolderPair(d.key);
        return newReport(d.key, 'forgotten');
      }
    }
    if (mayDelete && unchanged) {
      if (!this.dry) {
        await this.sides[present].deleteFolder(presentPath);
        await this.sides.left.forgetFolderPair(d.key);
      }
      return newReport(d.key, 'deleted');
    }
    if (!flowsFrom(this.policy, present)) {
      // Nothing may flow into the side that lost the folder (a one-way pair): leave both as they are,
      // and forget the pair, so the folder is simply not synced any more.
      if (!this.dry) await this.sides.left.forgetFolderPair(d.key);
      return newReport(d.key, 'forgotten');
    }
    const folder = newReport(d.key, 'recreated');
    if (!this.dry) {
      await this.sides.left.forgetFolderPair(d.key);
      await this.sides[d.missingOn].createFolder(d.missingOn === 'left' ? d.left : d.right);
      await this.sides.left.recordFolderPair(this.recordOf({ key: d.key, left: d.left, right: d.right }));
    }
    // Its pairs were forgotten: it is synced afresh, and takes no part in moves.
    if (d.selectable) return await this.list(folder, d.left, d.right, false, d.missingOn);
    return folder;
  }

  /**
   * Lists both sides of a folder whose messages are synced. `movable`: the folder is synced as it
   * stands on both sides, so a move may come from it or go into it. `absentOn`: in a dry run, the side
   * where the folder does not exist yet (so it is not listed).
   */
  private async list(
    folder: FolderReport,
    lp: FolderPath,
    rp: FolderPath,
    movable: boolean,
    absentOn?: Side,
  ): Promise<FolderJob> {
    const { left, right } = this.sides;
    const key = folder.key;
    this.options.onEvent?.({ type: 'folder-start', key });
    const skipListing = (side: Side) => this.dry && absentOn === side;
    // Messages held back under other limits than today's may pass now: only a full listing shows them.
    const heldBefore = this.known.get(key)?.heldBack;
    const limits = limitsOf(this.policy);
    const request = {
      dryRun: this.dry,
      dates: this.dates,
      full: heldBefore !== undefined && heldBefore !== limits,
    };
    let [lc, rc] = await Promise.all([
      skipListing('left') ? emptyChanges('left') : left.changes(key, lp, request),
      skipListing('right') ? emptyChanges('right') : right.changes(key, rp, request),
    ]);
    // After one side's ids changed, all its messages are new and pair by content with the other side:
    // with every message there no pair knows too (mail that a one-way pair never sent back, or that a
    // limit held back), not only with the halves of the old pairs, or one of those would be copied
    // onto itself. An incremental listing leaves them out, so that side is listed in full (rare). The
    // side that was reset is listed again at the same moment: two listings taken one after the other
    // would leave a window in which mail another program puts on both sides is seen on one side only,
    // and copied onto the other, which already has it.
    if (lc.reset !== rc.reset && (lc.reset ? rc : lc).listed === undefined) {
      const again = { ...request, full: true };
      [lc, rc] = await Promise.all([
        skipListing('left') ? lc : left.changes(key, lp, again),
        skipListing('right') ? rc : right.changes(key, rp, again),
      ]);
    }
    for (const problem of [...(lc.problems ?? []), ...(rc.problems ?? [])]) {
      folder.errors.push({ scope: 'message', code: problem.code, message: problem.message });
    }
    return {
      folder,
      left: lp,
      right: rp,
      movable,
      heldBefore,
      limits,
      lc,
      rc,
      hold: new Set(),
      moves: { left: [], right: [] },
      movedOn: new Set(),
    };
  }

  /** The rest of a folder's sync once every folder of the pass is listed and the moves are done. */
  private async syncListed(job: FolderJob): Promise<void> {
    const { left, right } = this.sides;
    const { folder, heldBefore, limits } = job;
    const key = folder.key;
    const lp = job.left;
    const rp = job.right;
    const plan = await this.plan(job);
    // What is left of the listings once they are merged: the markers and whether they were full. The
    // messages themselves (a first sync's whole folder) are in the plan now, and let go before it is
    // applied, the longest part of a sync.
    const { lc, rc } = job;
    if (this.aborted) return;
    if (this.dry) {
      folder.copied = { toLeft: plan.toLeft.copies.length, toRight: plan.toRight.copies.length };
      folder.flagged = { left: plan.toLeft.flags.length, right: plan.toRight.flags.length };
      folder.deleted = { left: plan.toLeft.deletes.length, right: plan.toRight.deletes.length };
      return;
    }
    const failures = await this.apply(folder, plan);
    if (failures !== 0) return;
    const hold = new Set([...plan.hold, ...job.hold]);
    // Messages held back stay unpaired, and a listing since the marker would not show them again. The
    // limits they were held under are recorded before the marker, so changing them (raising a limit)
    // lists the folder in full and brings them over, while keeping them costs nothing.
    const held = folder.tooLarge + folder.tooOld > 0;
    const record = this.recordOf({ key, left: lp, right: rp });
    if (held && heldBefore !== limits) await left.recordFolderPair({ ...record, heldBack: limits });
    // A side that listed the folder just as the state has it and was not written to in it has nothing
    // to commit (its controller would find the same marker and write nothing): no round trip for it.
    const idle = isEmptyFolderPlan(plan);
    const commits = (side: Side, changes: SideChanges) =>
      !hold.has(side) && !(idle && changes.current === true && !job.movedOn.has(side));
    await Promise.all([
      commits('left', lc) ? left.commit(key, lc.marker) : undefined,
      commits('right', rc) ? right.commit(key, rc.marker) : undefined,
    ]);
    // Only a full listing of both sides proves that nothing is held back any more.
    if (!held && heldBefore !== undefined && lc.listed !== undefined && rc.listed !== undefined) {
      await left.recordFolderPair(record);
    }
  }

  /**
   * Merges a listed folder's two change sets into its plan (describing and hashing what pairing by
   * content needs), reports it, and leaves the job only the listings' markers.
   */
  private async plan(job: FolderJob): Promise<FolderPlan> {
    const { left, right } = this.sides;
    const { folder } = job;
    const key = folder.key;
    const lp = job.left;
    const rp = job.right;
    let { lc, rc } = job;
    const paths = { left: lp, right: rp };

    // The surviving halves of pairs orphaned by an epoch change, described by their side.
    const orphans: { left: Candidate[]; right: Candidate[] } = { left: [], right: [] };
    for (const [reset, survivor] of [
      [lc, 'right'],
      [rc, 'left'],
    ] as const) {
      const other = survivor === 'left' ? lc : rc;
      if (!reset.reset || other.reset) continue;
      orphans[survivor] = await this.describeHalves(survivor, paths[survivor], reset.orphaned);
    }
    // Messages kept on a delete-vs-change conflict, described so they pair by content with an earlier
    // copy-back that was written but never recorded, instead of being copied back twice.
    const kept = keptOnConflict(lc, rc, this.policy);
    const restores = {
      left: await this.describeHalves('left', paths.left, kept.left),
      right: await this.describeHalves('right', paths.right, kept.right),
    };
    // New messages are described (size, Message-ID) only where that can matter: pairing by content needs
    // candidates on both sides, holding back by size needs the size. So a first sync into an empty
    // folder reads no headers, which on IMAP was a FETCH of every message's header before any copy.
    const pairing =
      lc.added.length + orphans.left.length + restores.left.length > 0 &&
      rc.added.length + orphans.right.length + restores.right.length > 0;
    [lc, rc] = await Promise.all([this.fingerprint(lc, lp, pairing), this.fingerprint(rc, rp, pairing)]);
    const leftCands = [...lc.added, ...orphans.left, ...restores.left];
    const rightCands = [...rc.added, ...orphans.right, ...restores.right];
    const needs = contentPairingNeeds(leftCands, rightCands);
    const [lh, rh] = await Promise.all([
      needs.left.length > 0 ? left.hashes(lp, needs.left) : {},
      needs.right.length > 0 ? right.hashes(rp, needs.right) : {},
    ]);
    const plan = mergeFolder({
      key,
      left: lp,
      right: rp,
      leftChanges: lc,
      rightChanges: rc,
      orphans,
      restores,
      hashes: { left: lh, right: rh },
      policy: this.policy,
    });
    for (const side of ['left', 'right'] as const) {
      if (job.moves[side].length > 0) (side === 'left' ? plan.toLeft : plan.toRight).moves = job.moves[side];
    }
    folder.conflicts = plan.conflicts.length;
    folder.paired = plan.record.length;
    this.holdBack(folder, plan, lc, rc);
    if (!isEmptyFolderPlan(plan)) {
      this.report.plans.push(plan);
      this.options.onEvent?.({ type: 'folder-planned', key, plan });
    }
    job.lc = { ...lc, added: [], removed: [], flagged: [], orphaned: [] };
    job.rc = { ...rc, added: [], removed: [], flagged: [], orphaned: [] };
    return plan;
  }

  /** Whether each side's controller can rename folders, once asked (see {@link SideController.renameFolder}). */
  private readonly canRename: Partial<Record<Side, boolean>> = {};

  /**
   * Keys of a rename that failed in this sync: not tried again, and left alone for the rest of the
   * sync, so the old folder is not deleted on the side that still has it while the new one waits.
   */
  readonly renameFailed = new Set<string>();

  private async renameSupported(side: Side): Promise<boolean> {
    const known = this.canRename[side];
    if (known !== undefined) return known;
    const controller = this.sides[side];
    this.canRename[side] = controller.renameFolder ? await controller.renameFolder([], [], []) : false;
    return this.canRename[side];
  }

  /**
   * Finds the folders the user renamed on one side since the last sync (a known folder gone from that
   * side, and a new one there holding its messages: see {@link renameProof}) and renames each the same
   * way on the other side, with the store's own rename and the state's pairs along, so that no message
   * is copied. Returns the keys the renames stand for, which a dry run leaves out of the rest of the
   * pass, and whether anything was written (or may have been, by a rename that failed): the pass is
   * then done again on fresh listings, where the renamed folders are synced under their new names.
   */
  async renames(
    decisions: readonly FolderDecision[],
    lists: Record<Side, readonly ListedFolder[]>,
  ): Promise<{ applied: boolean; covered: Set<string> }> {
    const covered = new Set<string>();
    if (this.aborted) return { applied: false, covered };
    const keysOf = (list: readonly ListedFolder[]) =>
      new Set(list.flatMap((f) => (isRefusedFolder(f) ? [] : [folderKey(f.path)])));
    const listed = { left: keysOf(lists.left), right: keysOf(lists.right) };
    const candidates: RenameCandidate[] = [];
    for (const c of renameCandidates(decisions, this.known, listed, this.policy, this.ids)) {
      if (this.renameFailed.has(c.from.key) || this.renameFailed.has(c.to.key)) continue;
      if (await this.renameSupported(otherSide(c.on))) candidates.push(c);
    }
    if (candidates.length === 0) return { applied: false, covered };
    // Each folder listed once, in full, under the new folder's key, which no pair knows yet: so every
    // message comes as new, and is described for its fingerprint. Nothing is recorded (a dry listing).
    const contents = new Map<string, Promise<ListedMessage[]>>();
    const content = (side: Side, probe: string, path: FolderPath) => {
      const id = `${side}\u0000${folderKey(path)}`;
      let listing = contents.get(id);
      if (!listing) {
        listing = this.sides[side]
          .changes(probe, path, { dryRun: true, full: true })
          .then((changes) => this.fingerprint(changes, path, true))
          .then((changes) => changes.added);
        contents.set(id, listing);
      }
      return listing;
    };
    // Proofs from the cheapest: the folder ids, then the ids the messages kept, then, for what those
    // leave open, the contents. A folder proven renamed is no other folder's rename, so nothing more
    // is listed or described for it.
    const proven: RenameCandidate[] = candidates.filter((c) => c.byId);
    const settled = new Set<string>();
    const settle = () => {
      for (const c of proven) settled.add(c.from.key).add(c.to.key);
    };
    const isSettled = (c: RenameCandidate) => settled.has(c.from.key) || settled.has(c.to.key);
    settle();
    const open: RenameCandidate[] = [];
    for (const c of candidates) {
      if (c.byId || isSettled(c)) continue;
      try {
        const byIds = await this.idProof(c);
        if (byIds === true) proven.push(c);
        if (byIds === undefined) open.push(c);
      } catch (err) {
        if (errorScope(err) === 'store' || this.aborted) throw err;
      }
    }
    settle();
    for (const c of open) {
      if (isSettled(c)) continue;
      const stays = otherSide(c.on);
      try {
        const [before, after] = await Promise.all([
          content(stays, c.to.key, pathOfRecord(c.from, stays)),
          content(c.on, c.to.key, c.to.path),
        ]);
        if (renameProof(before, after).proven) proven.push(c);
      } catch (err) {
        // Gone again, or unreadable now: not a rename this time; the pass deals with both folders.
        if (errorScope(err) === 'store' || this.aborted) throw err;
      }
    }
    let applied = false;
    for (const c of chooseRenames(proven)) {
      if (this.aborted) break;
      const renaming = otherSide(c.on);
      const pairs = renamedPairs(c, this.known.values());
      let folder = newReport(c.to.key, 'renamed');
      folder.renamed = { from: c.from.key, on: renaming, folders: pairs.length };
      if (!this.dry) {
        try {
          const done = await this.sides[renaming].renameFolder!(
            pathOfRecord(c.from, renaming),
            c.to.path,
            pairs,
          );
          if (!done) {
            this.canRename[renaming] = false;
            continue;
          }
        } catch (err) {
          folder = this.failed(c.to.key, folder, err);
          for (const p of pairs) {
            this.renameFailed.add(p.from);
            this.renameFailed.add(p.to.key);
          }
        }
        applied = true;
      }
      for (const p of pairs) {
        covered.add(p.from);
        covered.add(p.to.key);
      }
      this.done(folder);
    }
    return { applied, covered };
  }

  /**
   * The cheap proof of a rename (see {@link idRenameProof}): the new folder listed on the renaming side
   * against the old one's pairs, and {@link RENAME_SAMPLE} of the pairs found described on both sides,
   * rather than every message of both folders. `undefined` where it cannot tell: the ids changed epoch
   * (a store that renumbers on a rename), the controller cannot give its pairs, or no sampled message
   * has a Message-ID.
   */
  private async idProof(c: RenameCandidate): Promise<boolean | undefined> {
    const renamer = this.sides[c.on];
    const stays = otherSide(c.on);
    if (!renamer.pairs) return undefined;
    const [listed, pairs] = await Promise.all([
      renamer.changes(c.from.key, c.to.path, { dryRun: true, full: true }),
      renamer.pairs(c.from.key),
    ]);
    if (listed.reset || listed.listed === undefined) return undefined;
    const missing = new Set(listed.removed.map((p) => p[c.on]));
    const found = pairs.filter((p) => !missing.has(p[c.on]));
    const step = Math.max(1, Math.floor(found.length / RENAME_SAMPLE));
    const sample = found.filter((_, i) => i % step === 0).slice(0, RENAME_SAMPLE);
    const [renamed, kept] = await Promise.all([
      sample.length
        ? renamer.describe(
            c.to.path,
            sample.map((p) => p[c.on]),
          )
        : [],
      sample.length
        ? this.sides[stays].describe(
            pathOfRecord(c.from, stays),
            sample.map((p) => p[stays]),
          )
        : [],
    ]);
    const renamedById = new Map(renamed.map((m) => [m.id, m]));
    const keptById = new Map(kept.map((m) => [m.id, m]));
    return idRenameProof(
      { listed: listed.listed, added: listed.added.length, missing: listed.removed.length },
      sample.map((p) => [renamedById.get(p[c.on]), keptById.get(p[stays])] as const),
    );
  }

  /** Whether each side's controller can move messages, once asked (see {@link SideController.applyMoves}). */
  private readonly canMove: Partial<Record<Side, boolean>> = {};

  /**
   * Finds the messages the user moved between folders on either side since the last sync, and moves
   * them the same way on the other side, before any folder is applied. Each folder's change sets are
   * then what remains: a move is neither a deletion in the folder it left nor a new message in the
   * one it went to, and its flags are merged in the folder it went to. A move that cannot be proven,
   * or made, stays the deletion and the new message it looked like.
   */
  async moves(jobs: readonly FolderJob[]): Promise<void> {
    const movable = jobs.filter((j) => j.movable);
    if (movable.length < 2) return;
    for (const mover of ['left', 'right'] as const) {
      if (this.aborted) return;
      let detected: DetectedMove[];
      try {
        detected = await this.detectMoves(mover, movable);
      } catch (err) {
        if (this.aborted || errorScope(err) === 'store') throw err;
        // A folder that fails to describe or hash (gone since it was listed) fails in its own sync:
        // here it only means no moves.
        continue;
      }
      if (detected.length > 0) await this.makeMoves(mover, detected, movable);
    }
  }

  /** The moves `mover` made, proven by body hashes; the other side must be able to make them. */
  private async detectMoves(mover: Side, jobs: readonly FolderJob[]): Promise<DetectedMove[]> {
    const other = otherSide(mover);
    const folders = jobs.map((j) => ({ key: j.folder.key, left: j.lc, right: j.rc }));
    const candidates = moveCandidates(folders, mover, this.policy);
    if (candidates.sources.length === 0) return [];
    if (!(await this.movesSupported(other))) return [];
    const byKey = new Map(jobs.map((j) => [j.folder.key, j]));
    // The plausible new messages of the target folders are described on both sides, into the folders'
    // own change sets (their merge needs the same descriptions): the mover's as candidates, the other
    // side's as the rivals a candidate must not be moved beside.
    const describeTargets = (side: Side, keys: readonly string[], only?: (m: ListedMessage) => boolean) =>
      allOrThrow(
        keys.map(async (key) => {
          const job = byKey.get(key)!;
          setChanges(job, await this.fingerprint(changesOf(job, side), pathOf(job, side), true, only));
        }),
      );
    const arrivalKeys = [...new Set(candidates.targets.map((t) => t.key))];
    // A new message whose listing gave no size (a Maildir file named without one, as most mail clients
    // write them) is a plausible target whatever the sources' sizes, so it is described whatever they
    // are: first, so that every new message has its size before the sources are described.
    const sizeless = (m: ListedMessage) => m.size === undefined;
    await describeTargets(
      mover,
      arrivalKeys.filter((key) => changesOf(byKey.get(key)!, mover).added.some(sizeless)),
      sizeless,
    );
    // A move keeps a message's size: the halves whose size no new message has need no Message-ID (a
    // Maildir then reads no file for them, an IMAP server sends no header).
    const arrived = arrivalKeys.flatMap((key) => changesOf(byKey.get(key)!, mover).added);
    const request = arrived.every((m) => m.size !== undefined)
      ? { sizes: [...new Set(arrived.map((m) => m.size!))] }
      : undefined;
    // The other side describes its halves of the pairs that left a folder on the mover's side.
    const sources = (
      await allOrThrow(
        groupBy(candidates.sources, (c) => c.key).map(async ([key, list]) => {
          const job = byKey.get(key)!;
          const ids = list.map((c) => c.pair[other]);
          const described = new Map(
            (await this.sides[other].describe(pathOf(job, other), ids, request)).map((m) => [m.id, m]),
          );
          return list.flatMap((c): MoveSource[] => {
            const d = described.get(c.pair[other]);
            return d ? [{ ...c, size: d.size, messageId: d.messageId ?? null }] : [];
          });
        }),
      )
    ).flat();
    // A move keeps a message's size, and a fingerprint holds it: a new message whose size no source has
    // cannot be one, and is not described for it (on a server batch, where mail arrives and other mail
    // is expunged, that is usually every new message). Every new message has its size by now, from its
    // listing or its description above; one that still has none (a driver that gave none) is described.
    const sourceSizes = new Set(sources.map((s) => s.size).filter((n) => n !== undefined));
    if (sourceSizes.size === 0) return [];
    const plausible = (m: ListedMessage) => m.size === undefined || sourceSizes.has(m.size);
    // The candidates are every new message of their folders: a folder is a target if one is plausible.
    const targetKeys = arrivalKeys.filter((key) => changesOf(byKey.get(key)!, mover).added.some(plausible));
    if (targetKeys.length === 0) return [];
    await allOrThrow([describeTargets(mover, targetKeys, plausible), describeTargets(other, targetKeys)]);
    const targets: MoveTarget[] = targetKeys.flatMap((key) =>
      changesOf(byKey.get(key)!, mover)
        .added.filter(plausible)
        .map((m) => ({
          key,
          id: m.id,
          flags: m.flags,
          size: m.size,
          messageId: m.messageId,
        })),
    );
    const rivals = new Map<string, (number | undefined)[]>();
    for (const key of targetKeys) {
      const job = byKey.get(key)!;
      const sizes: (number | undefined)[] = changesOf(job, other).added.map((m) => m.size);
      // A message kept on a delete-vs-change conflict there pairs by content too: the folder is left alone.
      if (keptOnConflict(job.lc, job.rc, this.policy)[other].length > 0) sizes.push(undefined);
      if (sizes.length > 0) rivals.set(key, sizes);
    }
    // No hash needed is the usual case (every move proven by a Message-ID and size alone), not "no
    // moves": matchMoves decides either way, and hashing an empty list reads nothing.
    const needs = moveHashNeeds(sources, targets);
    const hashed = async (side: Side, list: { key: string; id: string }[]) => {
      const out = new Map<string, string>();
      await Promise.all(
        groupBy(list, (c) => c.key).map(async ([key, items]) => {
          const hashes = await this.sides[side].hashes(
            pathOf(byKey.get(key)!, side),
            items.map((i) => i.id),
          );
          for (const [id, h] of Object.entries(hashes)) out.set(`${key}\u0000${id}`, h);
        }),
      );
      return out;
    };
    const [sourceHashes, targetHashes] = await Promise.all([
      hashed(
        other,
        needs.sources.map((s) => ({ key: s.key, id: s.pair[other] })),
      ),
      hashed(mover, needs.targets),
    ]);
    return matchMoves(
      sources.map((s) => ({ ...s, hash: sourceHashes.get(`${s.key}\u0000${s.pair[other]}`) })),
      targets.map((t) => ({ ...t, hash: targetHashes.get(`${t.key}\u0000${t.id}`) })),
      rivals,
    );
  }

  /** Whether `side` can move messages: asked once per sync, with an empty call. */
  private async movesSupported(side: Side): Promise<boolean> {
    const known = this.canMove[side];
    if (known !== undefined) return known;
    const controller = this.sides[side];
    const answer = controller.applyMoves ? await controller.applyMoves('', [], '', [], []) : null;
    this.canMove[side] = answer !== null;
    return this.canMove[side];
  }

  /**
   * Makes the moves `mover` made on the other side, folder pair by folder pair, and takes them out of
   * the folders' change sets. Each message's outcome decides: moved (the pair is in the target folder
   * now, its flags merged there), refused (the deletion and the new message it looked like), gone or
   * uncertain (nothing copied or deleted for it now; the folders are not committed, so the next sync
   * looks again and finds it moved, or not).
   */
  private async makeMoves(mover: Side, detected: readonly DetectedMove[], jobs: readonly FolderJob[]) {
    const other = otherSide(mover);
    const byKey = new Map(jobs.map((j) => [j.folder.key, j]));
    const keepsKeywords = (await this.sides[mover].capabilities()).keywords;
    for (const [, group] of groupBy(detected, (m) => `${m.from}\u0000${m.to}`)) {
      if (this.aborted) return;
      const from = byKey.get(group[0]!.from)!;
      const to = byKey.get(group[0]!.to)!;
      const actions: MoveAction[] = group.map((m) => ({ from: m.from, pair: m.pair, id: m.id }));
      let outcomes: ActionOutcome[] | null;
      if (this.dry) {
        // Planned, not made: the other side's id stands in for the one the move would give.
        outcomes = actions.map((a) => ({ ok: true, id: a.pair[other], newId: a.pair[other] }));
      } else {
        from.movedOn.add(other);
        to.movedOn.add(other);
        try {
          outcomes = await this.sides[other].applyMoves!(
            from.folder.key,
            pathOf(from, other),
            to.folder.key,
            pathOf(to, other),
            actions,
          );
        } catch (err) {
          if (this.aborted || errorScope(err) === 'store') throw err;
          // The move may have happened, in part or in whole: every message of it is uncertain.
          const code = codeOf(err) === 'MOVE_FAILED' ? 'FOLDER_BAD' : codeOf(err);
          const message = (err as Error).message;
          outcomes = actions.map((a) => ({ ok: false, id: a.pair[other], code, message }));
        }
      }
      if (outcomes === null) {
        this.canMove[other] = false;
        return;
      }
      const byId = new Map(outcomes.map((o) => [o.id, o]));
      group.forEach((m, i) => {
        this.settleMove(mover, m, actions[i]!, byId.get(m.pair[other]), from, to, keepsKeywords);
      });
    }
  }

  private settleMove(
    mover: Side,
    move: DetectedMove,
    action: MoveAction,
    outcome: ActionOutcome | undefined,
    from: FolderJob,
    to: FolderJob,
    keepsKeywords: boolean,
  ): void {
    const other = otherSide(mover);
    const { pair } = move;
    const leftFrom = () => {
      const gone = changesOf(from, mover);
      const kept = changesOf(from, other);
      setChanges(from, { ...gone, removed: gone.removed.filter((p) => !samePair(p, pair)) });
      setChanges(from, { ...kept, flagged: kept.flagged.filter((f) => !samePair(f.pair, pair)) });
    };
    const arrived = () => {
      const added = changesOf(to, mover);
      setChanges(to, { ...added, added: added.added.filter((m) => m.id !== move.id) });
    };
    if (outcome?.ok) {
      const otherFlags =
        changesOf(from, other).flagged.find((f) => samePair(f.pair, pair))?.flags ?? pair.base;
      leftFrom();
      arrived();
      to.folder.moved[other === 'left' ? 'toLeft' : 'toRight']++;
      to.moves[other].push(action);
      if (outcome.newId === undefined) {
        // Moved where the store did not say its new id: the two are paired by content next time,
        // which only a listing of the folder since its last marker on both sides shows.
        to.hold.add('left');
        to.hold.add('right');
        return;
      }
      // The pair now lives in the target folder with its old base; each side's flags that differ from
      // it go through the folder's flag merge, as a flag change on a known pair would.
      const moved: PairRef =
        mover === 'left'
          ? { left: move.id, right: outcome.newId, base: pair.base }
          : { left: outcome.newId, right: move.id, base: pair.base };
      const flags = { [mover]: movedFlags(move.flags, pair.base, keepsKeywords), [other]: otherFlags };
      for (const side of [mover, other]) {
        const changes = changesOf(to, side);
        const now = flags[side]!;
        if (!flagsEqual(now, pair.base)) {
          setChanges(to, { ...changes, flagged: [...changes.flagged, { pair: moved, flags: now }] });
        }
      }
      return;
    }
    if (outcome?.code === 'MOVE_FAILED') {
      // The store refused to move this one and said so: nothing moved, so it is the deletion and
      // the new message it looked like.
      return;
    }
    arrived();
    to.hold.add('left');
    to.hold.add('right');
    if (outcome?.code === 'MESSAGE_GONE') {
      // Gone from its folder on the other side since the listing (another program): that folder's merge
      // forgets the pair. The new message waits for the next sync, which sees where the other went.
      return;
    }
    // Uncertain (the call failed, or the move was made and not recorded): nothing is deleted or copied
    // for it now, and neither folder is committed, so the next sync lists both again and finds the
    // message moved (then paired by content) or not (then moved again).
    leftFrom();
    from.hold.add('left');
    from.hold.add('right');
    to.folder.errors.push({
      scope: 'message',
      code: outcome?.code ?? 'MOVE_UNANSWERED',
      message:
        outcome?.message ??
        `The ${other} side gave no outcome for moving message ${pair[other]} into ${to.folder.key}; the next sync looks again.`,
    });
  }

  /**
   * Fills in the size and Message-ID of new messages that need them (of those `only` accepts, when
   * given); ones vanished since are dropped.
   */
  private async fingerprint(
    changes: SideChanges,
    path: FolderPath,
    pairing: boolean,
    only?: (m: ListedMessage) => boolean,
  ): Promise<SideChanges> {
    const sizes = this.policy.maxMessageSize !== undefined;
    const missing = changes.added
      .filter(
        (m) =>
          (!only || only(m)) &&
          ((pairing && (m.messageId === undefined || m.size === undefined)) ||
            (sizes && m.size === undefined)),
      )
      .map((m) => m.id);
    if (missing.length === 0) return changes;
    const described = new Map((await this.sides[changes.side].describe(path, missing)).map((m) => [m.id, m]));
    const wanted = new Set(missing);
    const added = changes.added.flatMap((m) => {
      if (!wanted.has(m.id)) return [m];
      const d = described.get(m.id);
      // Vanished since the listing (another program): no longer new here.
      return d ? [{ ...m, size: d.size, messageId: d.messageId ?? null }] : [];
    });
    return { ...changes, added };
  }

  /**
   * Takes copies of new messages over the size limit, or older than the age limit, out of the plan and
   * counts them. Only new messages are held back: they stay unpaired on their side, so nothing is lost
   * and nothing reads as deleted.
   */
  private holdBack(folder: FolderReport, plan: FolderPlan, lc: SideChanges, rc: SideChanges): void {
    const maxSize = this.policy.maxMessageSize;
    const oldest = this.oldest;
    if (maxSize === undefined && oldest === undefined) return;
    for (const [copies, source] of [
      [plan.toRight, lc],
      [plan.toLeft, rc],
    ] as const) {
      const added = new Map(source.added.map((m) => [m.id, m]));
      copies.copies = copies.copies.filter((c) => {
        const m = added.get(c.from);
        if (maxSize !== undefined && (m?.size ?? 0) > maxSize) {
          folder.tooLarge++;
          return false;
        }
        if (oldest !== undefined && m?.date !== undefined && m.date < oldest) {
          folder.tooOld++;
          return false;
        }
        return true;
      });
    }
  }

  /**
   * One side's halves of known pairs as pairing candidates: described by that side now (vanished ones
   * are left out), with the pair's last synced flags as their base.
   */
  private async describeHalves(
    side: Side,
    path: FolderPath,
    pairs: readonly PairRef[],
  ): Promise<Candidate[]> {
    if (pairs.length === 0) return [];
    const base = new Map<string, PairRef>(pairs.map((p) => [p[side], p]));
    const described = await this.sides[side].describe(path, [...base.keys()]);
    return described.map((m) => ({ ...m, base: base.get(m.id)!.base }));
  }

  /**
   * Applies a plan; returns how many actions did not succeed. A message that vanished meanwhile (another
   * program) is not an error, but it still counts: its other half may now be unpaired, and the folder's
   * marker must not be committed over it, or an incremental listing would never show it again.
   */
  private async apply(folder: FolderReport, plan: FolderPlan): Promise<number> {
    const { left, right } = this.sides;
    const key = plan.key;
    let failures = 0;
    const count = (outcomes: ActionOutcome[]) => {
      let ok = 0;
      for (const o of outcomes) {
        if (o.ok) {
          ok++;
          continue;
        }
        failures++;
        if (o.code !== 'MESSAGE_GONE') {
          folder.errors.push({ scope: 'message', code: o.code ?? 'MESSAGE_BAD', message: o.message ?? o.id });
        }
      }
      return ok;
    };

    for (const f of plan.forget) if (f.ids.length > 0) await this.sides[f.side].applyState(key, f.ids, []);
    if (plan.record.length > 0) await left.applyState(key, [], plan.record);

    // A side is called only with something to do: with its controller in a worker thread, each call
    // is a round trip, and an unchanged folder would pay four of them for nothing.
    const none: ActionOutcome[] = [];
    // The first batch of bodies is read while the other side applies flags and deletions, where the
    // side read from writes nothing in this folder itself (one call per folder at a time, see Driver):
    // on a server batch the bodies come over the network while the Maildir renames and unlinks.
    const early = {
      left: this.quietWhileApplying(plan, 'left') ? this.readCopies(plan, 'left', 0) : undefined,
      right: this.quietWhileApplying(plan, 'right') ? this.readCopies(plan, 'right', 0) : undefined,
    };
    try {
      // Flags: the left first; the right only for pairs whose left write (if any) succeeded.
      const leftFlags = plan.toLeft.flags.length
        ? await left.applyFlags(key, plan.left, plan.toLeft.flags)
        : none;
      folder.flagged.left = count(leftFlags);
      const failedLeft = new Set(leftFlags.filter((o) => !o.ok).map((o) => o.id));
      const rightActions = plan.toRight.flags.filter((a) => !failedLeft.has(a.pair.left));
      const rightFlags = rightActions.length ? await right.applyFlags(key, plan.right, rightActions) : none;
      folder.flagged.right = count(rightFlags);

      const [leftDeletes, rightDeletes] = await Promise.all([
        plan.toLeft.deletes.length ? left.applyDeletes(key, plan.left, plan.toLeft.deletes) : none,
        plan.toRight.deletes.length ? right.applyDeletes(key, plan.right, plan.toRight.deletes) : none,
      ]);
      folder.deleted = { left: count(leftDeletes), right: count(rightDeletes) };
    } catch (err) {
      // No call left running on a folder the caller may go on to use: the reads end first.
      await Promise.allSettled([early.left?.reading, early.right?.reading]);
      throw err;
    }

    // Counted batch by batch into the report, so a sync stopped midway still says what it copied.
    await Promise.all([
      this.copy(plan, 'left', count, folder, early.left),
      this.copy(plan, 'right', count, folder, early.right),
    ]);
    return failures;
  }

  /** Whether the side `to` copies from has no flags or deletions of its own to apply in this folder. */
  private quietWhileApplying(plan: FolderPlan, to: Side): boolean {
    const copies = to === 'left' ? plan.toLeft.copies : plan.toRight.copies;
    const own = to === 'left' ? plan.toRight : plan.toLeft;
    return copies.length > 0 && own.flags.length === 0 && own.deletes.length === 0;
  }

  /**
   * Starts reading the batch of bodies at `start` of the copies to `to`, from the other side. A read
   * that fails is only awaited (and thrown) in its turn.
   */
  private readCopies(plan: FolderPlan, to: Side, start: number): PendingRead {
    const from = otherSide(to);
    const actions = to === 'left' ? plan.toLeft.copies : plan.toRight.copies;
    const slice = actions.slice(start, start + this.copyBatch);
    const reading = this.sides[from].read(
      from === 'left' ? plan.left : plan.right,
      slice.map((a) => a.from),
    );
    reading.catch(() => {});
    return { slice, reading };
  }

  private get copyBatch(): number {
    return Math.max(1, this.options.copyBatch ?? 100);
  }

  private async copy(
    plan: FolderPlan,
    to: Side,
    count: (o: ActionOutcome[]) => number,
    folder: FolderReport,
    first: PendingRead | undefined,
  ): Promise<void> {
    const actions = to === 'left' ? plan.toLeft.copies : plan.toRight.copies;
    const paths = { left: plan.left, right: plan.right };
    const batch = this.copyBatch;
    const copied = to === 'left' ? 'toLeft' : 'toRight';
    // The next batch is read while this one is written: both sides work at once, and at most two
    // batches of bodies are held.
    const readBatch = (start: number) => this.readCopies(plan, to, start);
    let next = first ?? (actions.length > 0 ? readBatch(0) : undefined);
    for (let i = 0; i < actions.length; i += batch) {
      if (this.aborted) {
        // Not an error: the rest is copied next time. Counted as not done, so no marker is committed.
        for (const a of actions.slice(i)) count([{ ok: false, id: a.from, code: 'MESSAGE_GONE' }]);
        break;
      }
      const { slice, reading } = next!;
      const contents = await reading;
      next = i + batch < actions.length ? readBatch(i + batch) : undefined;
      const items: CopyItem[] = [];
      slice.forEach((action, j) => {
        const content = contents[j];
        if (isReadFailure(content)) {
          // There but unreadable for now (the connection kept dropping): reported, copied next time.
          count([{ ok: false, id: action.from, code: content.failed.code, message: content.failed.message }]);
        } else if (content) {
          items.push({ action, content: { ...content, flags: action.flags } });
        } else {
          // Vanished from its side since the listing (another program): nothing to copy, nothing lost;
          // but the folder is not committed, so the next listing looks again.
          count([{ ok: false, id: action.from, code: 'MESSAGE_GONE' }]);
        }
      });
      if (items.length === 0) continue;
      // Counted before the call: a side in a worker may take the bodies' buffers (moved, not copied).
      const bytes = items.reduce((n, it) => n + it.content.body.byteLength, 0);
      const outcomes = await this.sides[to].applyCopies(plan.key, paths[to], items);
      const ok = count(outcomes);
      folder.copied[copied] += ok;
      this.options.onEvent?.({ type: 'copied', key: plan.key, to, count: ok, bytes });
    }
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'FOLDER_BAD';
}
