import type { Notes } from './notes.js';
import type { Operation, PairDraft } from './render.js';

/** The message operations, each of which may flow left to right, right to left, or both. */
export type MessageOperation = 'new' | 'flags' | 'deletions';
const MESSAGE_OPERATIONS: readonly MessageOperation[] = ['new', 'flags', 'deletions'];

/** What the other program does, per direction: "to right" is left (server) to right (local). */
export interface Flows {
  toRight: ReadonlySet<MessageOperation>;
  toLeft: ReadonlySet<MessageOperation>;
  /** Missing folders are created on the right / on the left. */
  createOn: { right: boolean; left: boolean };
  /** Folders deleted on one side are deleted on the right / on the left. */
  removeOn: { right: boolean; left: boolean };
}

/** How the source names the sides and the options, for the notes. */
export interface FlowWords {
  left: string;
  right: string;
  /** Note keys: where each of these came from. */
  keys: { sync: string; create: string; remove: string };
}

/**
 * Twinbox's `direction` and `sync` for per-direction operations. Twinbox has one set of operations and
 * a direction, so where the source propagates something one way only in a two-way pair, the result
 * never does more than the source did with messages (the operation is left out, with a warning). For
 * folder creation, which deletes nothing, it does more rather than less (with a warning): leaving it
 * out would leave new server folders unsynced.
 */
export function decideSync(
  flows: Flows,
  words: FlowWords,
  notes: Notes,
): Pick<PairDraft, 'direction' | 'sync'> {
  const { toRight, toLeft } = flows;
  const direction: PairDraft['direction'] =
    toRight.size && toLeft.size
      ? 'both'
      : toRight.size
        ? 'left-to-right'
        : toLeft.size
          ? 'right-to-left'
          : flows.createOn.right && !flows.createOn.left
            ? 'left-to-right'
            : flows.createOn.left && !flows.createOn.right
              ? 'right-to-left'
              : 'both';
  const sync: Operation[] = [];
  for (const op of MESSAGE_OPERATIONS) {
    const r = toRight.has(op);
    const l = toLeft.has(op);
    if (direction === 'both') {
      if (r && l) sync.push(op);
      else if (r || l)
        notes.warn(
          words.keys.sync,
          `"${op}" propagates only from ${r ? words.left : words.right} to ${r ? words.right : words.left} here, while the pair is two-way. Twinbox propagates an operation in the pair's direction or not at all, so "${op}" is left out: add it to sync to have it both ways.`,
        );
    } else if (direction === 'left-to-right' ? r : l) sync.push(op);
  }
  if (!toRight.size && !toLeft.size)
    notes.info(
      words.keys.sync,
      'no message operation propagates (Sync None): sync has no message operation.',
    );

  const folder = (
    op: 'folder-creation' | 'folder-deletion',
    on: { right: boolean; left: boolean },
    key: string,
    verb: string,
  ) => {
    if (!on.right && !on.left) return;
    if (direction === 'both') {
      if (on.right && on.left) sync.push(op);
      else if (op === 'folder-creation') {
        sync.push(op);
        notes.warn(
          key,
          `folders are ${verb} only on ${on.right ? words.right : words.left} here; Twinbox ${verb.replace(/d$/, '')}s them on both sides, so a folder made only on ${on.right ? words.right : words.left} will be created on ${on.right ? words.left : words.right} too. Exclude such folders with "!" patterns if that is unwanted.`,
        );
      } else
        notes.warn(
          key,
          `folders are ${verb} only on ${on.right ? words.right : words.left} here; Twinbox does it on both sides or not at all, so folder-deletion is left out (a folder deleted on one side is brought back).`,
        );
    } else {
      const target = direction === 'left-to-right' ? on.right : on.left;
      if (target) sync.push(op);
      else
        notes.info(
          key,
          `folders ${verb} on ${on.right ? words.right : words.left} only, against the pair's direction: Twinbox cannot do that, so ${op} is left out.`,
        );
    }
  };
  folder('folder-creation', flows.createOn, words.keys.create, 'created');
  folder('folder-deletion', flows.removeOn, words.keys.remove, 'deleted');
  return { direction, sync };
}
