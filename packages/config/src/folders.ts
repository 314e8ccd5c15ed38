import {
  type ChangeNotice,
  type DescribeRequest,
  type Driver,
  displayFolder,
  errorScope,
  type FlagUpdate,
  type FolderPath,
  isRefusedFolder,
  type ListedFolder,
  type ListRequest,
  type MessageContent,
  type MoveOutcome,
  type ReadResult,
  type WatchRequest,
  type WatchStatus,
} from '@twinbox/core';

/**
 * Folder patterns as mbsync writes them: `*` matches anything, `%` anything but the level separator
 * `/`, a leading `!` excludes, and the last pattern that matches a name decides (none: excluded).
 */
export function folderMatcher(patterns: readonly string[]): (path: FolderPath) => boolean {
  const compiled = patterns.map((pattern) => {
    const negative = pattern.startsWith('!');
    const body = negative ? pattern.slice(1) : pattern;
    const source = [...body]
      .map((c) => (c === '*' ? '.*' : c === '%' ? '[^/]*' : c.replace(/[\\^$.|?+()[\]{}]/g, '\\$&')))
      .join('');
    // `s`: `*` matches CR and LF too. Without it a folder named with a line break matched no pattern
    // and was left out of the sync without a word.
    return { negative, regex: new RegExp(`^${source}$`, 'su') };
  });
  return (path) => {
    const name = displayFolder(path);
    let included = false;
    for (const { negative, regex } of compiled) if (regex.test(name)) included = !negative;
    return included;
  };
}

const split = (name: string): FolderPath => name.split('/');

function startsWith(path: FolderPath, prefix: FolderPath): boolean {
  return prefix.length <= path.length && prefix.every((level, i) => path[i] === level);
}

/**
 * Folder names that differ between the sides: `rename` maps a left name to the right one (and their
 * subfolders with them). Applied by wrapping the right side's driver, so the engine sees one name.
 */
export class FolderRenames {
  /** Longest left name first, so `A/B = X` wins over `A = Y` for `A/B/C`. */
  readonly #pairs: { left: FolderPath; right: FolderPath }[];
  /** The same, longest right name first, for the way back. */
  readonly #byRight: { left: FolderPath; right: FolderPath }[];

  constructor(rename: Readonly<Record<string, string>>) {
    const pairs = Object.entries(rename).map(([left, right]) => ({ left: split(left), right: split(right) }));
    this.#pairs = [...pairs].sort((a, b) => b.left.length - a.left.length);
    this.#byRight = [...pairs].sort((a, b) => b.right.length - a.right.length);
  }

  get empty(): boolean {
    return this.#pairs.length === 0;
  }

  /** The right side's own name of a folder the engine names `path`. */
  toRight(path: FolderPath): FolderPath {
    const hit = this.#pairs.find((p) => startsWith(path, p.left));
    return hit ? [...hit.right, ...path.slice(hit.left.length)] : path;
  }

  /** The engine's (left) name of a right folder. */
  toLeft(path: FolderPath): FolderPath {
    const hit = this.#byRight.find((p) => startsWith(path, p.right));
    return hit ? [...hit.left, ...path.slice(hit.right.length)] : path;
  }
}

/** A driver seen through folder renames: every path in and out is translated. */
export class RenamedDriver implements Driver {
  readonly #inner: Driver;
  readonly #renames: FolderRenames;

  /** Present only when the inner driver can count: a caller tells "cannot count" from a count. */
  readonly countMessages?: (path: FolderPath) => Promise<number>;
  /**
   * Present only when the inner driver can move ({@link Driver.moveMessages}): both folders are
   * renamed, and a caller without it falls back to copy and delete.
   */
  readonly moveMessages?: (
    from: FolderPath,
    to: FolderPath,
    ids: readonly string[],
  ) => Promise<MoveOutcome[]>;
  /**
   * Present only when the inner driver can rename folders ({@link Driver.renameFolder}): both names
   * are translated, so a folder the config maps can be renamed too (the mapping then names a folder
   * that is no longer there, and the renamed one syncs under its new name on both sides).
   */
  readonly renameFolder?: (from: FolderPath, to: FolderPath) => Promise<void>;
  /**
   * Present only when the inner driver can be watched (all three or none, as the `Driver` contract
   * says): the folders asked for are the inner driver's names, the folders reported the engine's.
   */
  readonly watch?: (request: WatchRequest) => Promise<WatchStatus>;
  /** See {@link RenamedDriver.watch}. */
  readonly nextChange?: (signal?: AbortSignal) => Promise<ChangeNotice>;
  /** See {@link RenamedDriver.watch}. */
  readonly unwatch?: () => Promise<void>;

  constructor(inner: Driver, renames: FolderRenames) {
    this.#inner = inner;
    this.#renames = renames;
    const count = inner.countMessages?.bind(inner);
    if (count) this.countMessages = (path) => count(this.#renames.toRight(path));
    const move = inner.moveMessages?.bind(inner);
    if (move) {
      this.moveMessages = (from, to, ids) =>
        move(this.#renames.toRight(from), this.#renames.toRight(to), ids);
    }
    const rename = inner.renameFolder?.bind(inner);
    if (rename)
      this.renameFolder = (from, to) => rename(this.#renames.toRight(from), this.#renames.toRight(to));
    if (inner.watch && inner.nextChange && inner.unwatch) {
      const toRight = (path: FolderPath) => this.#renames.toRight(path);
      const toLeft = (path: FolderPath) => this.#renames.toLeft(path);
      const watch = inner.watch.bind(inner);
      const nextChange = inner.nextChange.bind(inner);
      this.watch = async (request) => {
        const folders = request.folders === 'all' ? 'all' : request.folders.map(toRight);
        const status = await watch({ ...request, folders });
        return {
          ...status,
          watched: status.watched === 'all' ? 'all' : status.watched.map(toLeft),
          unwatched: status.unwatched.map(toLeft),
        };
      };
      this.nextChange = async (signal) => {
        const notice = await nextChange(signal);
        return { ...notice, folders: notice.folders.map(toLeft) };
      };
      this.unwatch = inner.unwatch.bind(inner);
    }
  }

  get capabilities() {
    return this.#inner.capabilities;
  }

  async listFolders(): Promise<ListedFolder[]> {
    // A refused name has no path to rename: it is passed on as listed.
    return (await this.#inner.listFolders()).map((f) =>
      isRefusedFolder(f) ? f : { ...f, path: this.#renames.toLeft(f.path) },
    );
  }
  createFolder(path: FolderPath) {
    return this.#inner.createFolder(this.#renames.toRight(path));
  }
  deleteFolder(path: FolderPath) {
    return this.#inner.deleteFolder(this.#renames.toRight(path));
  }
  listMessages(path: FolderPath, request: ListRequest) {
    return this.#inner.listMessages(this.#renames.toRight(path), request);
  }
  describeMessages(path: FolderPath, ids: readonly string[], request?: DescribeRequest) {
    return this.#inner.describeMessages(this.#renames.toRight(path), ids, request);
  }
  readMessage(path: FolderPath, id: string) {
    return this.#inner.readMessage(this.#renames.toRight(path), id);
  }
  readMessages(path: FolderPath, ids: readonly string[]): Promise<ReadResult[]> {
    const right = this.#renames.toRight(path);
    if (this.#inner.readMessages) return this.#inner.readMessages(right, ids);
    // The inner driver reads one at a time: so does this one, with the same outcomes per message.
    return Promise.all(
      ids.map((id) =>
        this.#inner.readMessage(right, id).catch((err: unknown): ReadResult => {
          const code = (err as { code?: unknown }).code;
          if (code === 'MESSAGE_GONE') return null;
          if (errorScope(err) !== 'message') throw err;
          return {
            failed: {
              code: typeof code === 'string' ? code : 'MESSAGE_BAD',
              message: (err as Error).message,
            },
          };
        }),
      ),
    );
  }
  appendMessages(path: FolderPath, messages: readonly MessageContent[]) {
    return this.#inner.appendMessages(this.#renames.toRight(path), messages);
  }
  setFlags(path: FolderPath, updates: readonly FlagUpdate[]) {
    return this.#inner.setFlags(this.#renames.toRight(path), updates);
  }
  deleteMessages(path: FolderPath, ids: readonly string[]) {
    return this.#inner.deleteMessages(this.#renames.toRight(path), ids);
  }
  interrupt() {
    this.#inner.interrupt?.();
  }
  close() {
    return this.#inner.close();
  }
}
