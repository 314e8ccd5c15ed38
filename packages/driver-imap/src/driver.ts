import {
  type Driver,
  type DriverCapabilities,
  displayFolder,
  type FlagOutcome,
  type FlagUpdate,
  FolderError,
  type FolderInfo,
  type FolderMarker,
  type FolderPath,
  isInbox,
  type ListedMessage,
  type Listing,
  type ListRequest,
  type MessageContent,
  MessageError,
  normalizeFlags,
  StoreError,
  type WriteOutcome,
} from '@twinbox/core';
import type { ImapFlow } from 'imapflow';
import { type ImapAccountOptions, openImap } from './connection.js';

/** Marker value of a server without CONDSTORE: it never proves a folder unchanged, so every listing is full. */
const NO_MODSEQ = 'nomodseq';

/** The Message-ID header in a header block, unfolded; null when there is none. */
export function messageIdFromHeaders(headers: Uint8Array | string | undefined): string | null {
  if (!headers) return null;
  const text = typeof headers === 'string' ? headers : new TextDecoder('latin1').decode(headers);
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  const match = /^message-id:[ \t]*(.*)$/im.exec(unfolded);
  const value = match?.[1]?.trim();
  return value ? value : null;
}

/**
 * The HIGHESTMODSEQ of `since` when a listing can be answered against it: same epoch (UIDVALIDITY),
 * and both markers from a server with CONDSTORE. Undefined means only a full listing will do.
 */
function sinceModseq(since: FolderMarker | undefined, now: FolderMarker): bigint | undefined {
  if (!since || since.epoch !== now.epoch || now.value === NO_MODSEQ) return undefined;
  if (!/^\d{1,20}$/.test(since.value)) return undefined;
  return BigInt(since.value);
}

function uidSet(ids: readonly string[]): string {
  return ids.join(',');
}

function isUid(id: string): boolean {
  return /^[1-9]\d{0,9}$/.test(id);
}

/**
 * The IMAP driver: one authenticated imapflow session. Ids are UIDs (decimal strings) under the
 * folder's UIDVALIDITY, which is the marker's epoch; the marker's value is HIGHESTMODSEQ, so with
 * CONDSTORE an unchanged folder costs one STATUS command.
 *
 * Folder paths map to the server's names by joining levels with its hierarchy delimiter; a level that
 * contains the delimiter cannot be represented and is refused. Keywords are assumed storable
 * (PERMANENTFLAGS `\*`, as on Dovecot and most servers); a server that refuses one fails that message.
 */
export class ImapDriver implements Driver {
  readonly capabilities: DriverCapabilities = { keywords: true };
  readonly #client: ImapFlow;
  readonly #delimiter: string;
  /** UIDVALIDITY of each folder at its last listing: ids are only used within it. */
  readonly #epochs = new Map<string, string>();

  private constructor(client: ImapFlow, delimiter: string) {
    this.#client = client;
    this.#delimiter = delimiter;
  }

  /** Connects and logs in (see {@link ImapAccountOptions} for the TLS rules). */
  static async connect(options: ImapAccountOptions): Promise<ImapDriver> {
    let client: ImapFlow;
    try {
      client = await openImap(options);
    } catch (err) {
      if ((err as { code?: string }).code === 'INSECURE_TRANSPORT') throw err;
      const reason = (err as { authenticationFailed?: boolean }).authenticationFailed
        ? 'the server refused the login'
        : (err as Error).message;
      throw new StoreError(`Cannot open the IMAP account ${options.user} at ${options.host}: ${reason}.`, {
        code: (err as { authenticationFailed?: boolean }).authenticationFailed
          ? 'AUTH_FAILED'
          : 'CONNECT_FAILED',
        cause: err,
      });
    }
    const delimiter = client.namespace?.delimiter ?? (await client.list())[0]?.delimiter ?? '/';
    return new ImapDriver(client, delimiter);
  }

  #name(path: FolderPath): string {
    if (isInbox(path)) return 'INBOX';
    for (const level of path) {
      if (level === '' || level.includes(this.#delimiter)) {
        throw new FolderError(
          `The folder ${JSON.stringify(displayFolder(path))} cannot exist on this server: a level is empty or holds its hierarchy delimiter ${JSON.stringify(this.#delimiter)}.`,
          { code: 'FOLDER_NAME_UNSAFE' },
        );
      }
    }
    return path.join(this.#delimiter);
  }

  #path(name: string, delimiter: string | null | undefined): FolderPath {
    if (name.toUpperCase() === 'INBOX') return ['INBOX'];
    return delimiter ? name.split(delimiter) : [name];
  }

  async listFolders(): Promise<FolderInfo[]> {
    const boxes = await this.#client.list();
    return boxes.map((box) => ({
      path: this.#path(box.path, box.delimiter),
      ...(box.specialUse && box.specialUse !== '\\Inbox' ? { specialUse: box.specialUse } : {}),
      selectable: !box.flags.has('\\Noselect') && !box.flags.has('\\NonExistent'),
    }));
  }

  async createFolder(path: FolderPath): Promise<void> {
    if (isInbox(path)) return;
    const existing = new Set((await this.#client.list()).map((b) => b.path));
    // Parents first, as the contract asks, for servers that do not create them implicitly.
    for (let depth = 1; depth <= path.length; depth++) {
      const name = this.#name(path.slice(0, depth));
      if (existing.has(name)) continue;
      try {
        await this.#client.mailboxCreate(name);
      } catch (err) {
        if (!/ALREADYEXISTS|already exists/i.test(serverText(err))) throw folderError('create', path, err);
      }
    }
  }

  async deleteFolder(path: FolderPath): Promise<void> {
    const name = this.#name(path);
    try {
      await this.#client.mailboxDelete(name);
    } catch (err) {
      if (!/NONEXISTENT|doesn't exist|does not exist|not found/i.test(serverText(err))) {
        throw folderError('delete', path, err);
      }
    }
    this.#epochs.delete(name);
  }

  async listMessages(path: FolderPath, request: ListRequest): Promise<Listing> {
    const name = this.#name(path);
    const status = await this.#status(path, name);
    const marker: FolderMarker = {
      epoch: String(status.uidValidity),
      value: status.highestModseq === undefined ? NO_MODSEQ : String(status.highestModseq),
    };
    this.#epochs.set(name, marker.epoch);
    const since = sinceModseq(request.since, marker);
    if (since !== undefined && since === BigInt(marker.value)) return { kind: 'unchanged', marker };
    // The marker was read before the listing, so a change made while we list shows up next time.
    return this.#withFolder(path, name, async () => {
      const mailbox = this.#client.mailbox || undefined;
      // A delta needs both halves: CHANGEDSINCE for the changed messages and QRESYNC's VANISHED for
      // the expunged ones. With CONDSTORE alone the expunged UIDs cannot be known without the old set,
      // which the driver does not keep, so the answer is a full listing.
      if (
        since !== undefined &&
        since < BigInt(marker.value) &&
        this.#client.enabled.has('QRESYNC') &&
        mailbox &&
        !mailbox.noModseq
      ) {
        return { kind: 'delta', marker, ...(await this.#changedSince(since)) };
      }
      const messages: ListedMessage[] = [];
      if ((mailbox || { exists: 0 }).exists === 0) return { kind: 'full', marker, messages };
      for await (const msg of this.#client.fetch('1:*', { uid: true, flags: true, size: true })) {
        messages.push({ id: String(msg.uid), flags: normalizeFlags(msg.flags ?? []), size: msg.size ?? 0 });
      }
      return { kind: 'full', marker, messages };
    });
  }

  /**
   * `UID FETCH 1:* (FLAGS RFC822.SIZE) (CHANGEDSINCE m VANISHED)` on the selected folder: the server
   * answers with the messages whose MODSEQ is above `m` (added or flags changed) and one
   * `VANISHED (EARLIER)` line for the UIDs expunged since, which imapflow hands out as `expunge` events.
   */
  async #changedSince(since: bigint): Promise<{ changed: ListedMessage[]; vanished: string[] }> {
    const client = this.#client;
    const selected = client.mailbox ? client.mailbox.path : undefined;
    const changed: ListedMessage[] = [];
    const vanished = new Set<string>();
    const onExpunge = (event: { path: string; uid?: number; vanished: boolean }) => {
      if (event.vanished && event.uid !== undefined && event.path === selected)
        vanished.add(String(event.uid));
    };
    client.on('expunge', onExpunge);
    try {
      const query = { uid: true, flags: true, size: true };
      for await (const msg of client.fetch('1:*', query, { uid: true, changedSince: since })) {
        changed.push({ id: String(msg.uid), flags: normalizeFlags(msg.flags ?? []), size: msg.size ?? 0 });
      }
    } finally {
      client.off('expunge', onExpunge);
    }
    for (const m of changed) vanished.delete(m.id);
    return { changed, vanished: [...vanished] };
  }

  async #status(path: FolderPath, name: string) {
    try {
      // Dovecot answers STATUS of the selected folder from the session's view, which only catches up
      // with other sessions' changes at the next command on it: a NOOP first, or the marker is stale.
      if (this.#client.mailbox && this.#client.mailbox.path === name) await this.#client.noop();
      const status = await this.#client.status(name, {
        uidValidity: true,
        highestModseq: true,
        messages: true,
      });
      if (status && status.uidValidity !== undefined)
        return status as typeof status & { uidValidity: bigint };
    } catch (err) {
      throw folderError('list', path, err, 'FOLDER_GONE');
    }
    // imapflow answers a refused STATUS (a folder that does not exist) with no status at all.
    throw new FolderError(`The IMAP folder ${displayFolder(path)} does not exist (STATUS was refused).`, {
      code: 'FOLDER_GONE',
    });
  }

  /** Runs `body` with the folder selected, after checking its UIDVALIDITY is the one last listed. */
  async #withFolder<T>(path: FolderPath, name: string, body: () => Promise<T>): Promise<T> {
    let lock: Awaited<ReturnType<ImapFlow['getMailboxLock']>>;
    try {
      lock = await this.#client.getMailboxLock(name);
    } catch (err) {
      throw folderError('open', path, err, 'FOLDER_GONE');
    }
    try {
      const mailbox = this.#client.mailbox;
      const epoch = mailbox ? String(mailbox.uidValidity) : undefined;
      const listed = this.#epochs.get(name);
      if (listed !== undefined && epoch !== listed) {
        throw new FolderError(
          `The UIDVALIDITY of ${displayFolder(path)} changed (${listed} became ${epoch}) since it was listed; ` +
            'the folder is skipped and paired again by content on the next sync.',
          { code: 'EPOCH_CHANGED' },
        );
      }
      return await body();
    } finally {
      lock.release();
    }
  }

  async describeMessages(path: FolderPath, ids: readonly string[]): Promise<ListedMessage[]> {
    const wanted = [...new Set(ids)].filter(isUid);
    if (wanted.length === 0) return [];
    const name = this.#name(path);
    const out: ListedMessage[] = [];
    await this.#withFolder(path, name, async () => {
      const query = { uid: true, flags: true, size: true, headers: ['message-id'] };
      for await (const msg of this.#client.fetch(uidSet(wanted), query, { uid: true })) {
        out.push({
          id: String(msg.uid),
          flags: normalizeFlags(msg.flags ?? []),
          size: msg.size ?? 0,
          messageId: messageIdFromHeaders(msg.headers),
        });
      }
    });
    return out;
  }

  async readMessage(path: FolderPath, id: string): Promise<MessageContent> {
    const name = this.#name(path);
    const gone = () =>
      new MessageError(`Message ${id} is no longer in ${displayFolder(path)}.`, { code: 'MESSAGE_GONE' });
    if (!isUid(id)) throw gone();
    return this.#withFolder(path, name, async () => {
      const msg = await this.#client.fetchOne(
        id,
        { uid: true, source: true, flags: true, internalDate: true },
        { uid: true },
      );
      if (msg === false || !msg.source) throw gone();
      const content: MessageContent = {
        body: new Uint8Array(msg.source),
        flags: normalizeFlags(msg.flags ?? []),
      };
      const date =
        msg.internalDate instanceof Date
          ? msg.internalDate
          : msg.internalDate
            ? new Date(msg.internalDate)
            : undefined;
      if (date && !Number.isNaN(date.getTime())) content.internalDate = date.getTime();
      return content;
    });
  }

  async appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]> {
    const name = this.#name(path);
    const listed = this.#epochs.get(name);
    const outcomes: WriteOutcome[] = [];
    for (const message of messages) {
      try {
        const flags = normalizeFlags(message.flags).filter((f) => f !== '\\Recent');
        const date = message.internalDate === undefined ? undefined : new Date(message.internalDate);
        const result = await this.#client.append(name, Buffer.from(message.body), flags, date);
        if (result === false || !result.uid) {
          outcomes.push({
            ok: false,
            code: 'NO_UIDPLUS',
            message: `The server stored the message in ${displayFolder(path)} without saying its UID (no UIDPLUS); it is paired by content next time.`,
          });
        } else if (
          listed !== undefined &&
          result.uidValidity !== undefined &&
          String(result.uidValidity) !== listed
        ) {
          outcomes.push({
            ok: false,
            code: 'EPOCH_CHANGED',
            message: `The UIDVALIDITY of ${displayFolder(path)} changed during the sync; the message was stored and is paired by content next time.`,
          });
        } else {
          outcomes.push({ ok: true, id: String(result.uid) });
        }
      } catch (err) {
        if (!serverAnswered(err)) throw connectionError(path, err);
        outcomes.push({
          ok: false,
          code: 'APPEND_REFUSED',
          message: `The server refused a message for ${displayFolder(path)}: ${serverText(err)}`,
        });
      }
    }
    return outcomes;
  }

  async setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]> {
    if (updates.length === 0) return [];
    const name = this.#name(path);
    return this.#withFolder(path, name, async () => {
      const candidates = [...new Set(updates.map((u) => u.id))].filter(isUid);
      const present = new Set(
        candidates.length === 0
          ? []
          : ((await this.#client.search({ uid: uidSet(candidates) }, { uid: true })) || []).map(String),
      );
      // One STORE per distinct delta, over all the UIDs that share it: few round trips for many messages.
      const groups = new Map<string, { add: string[]; remove: string[]; ids: string[] }>();
      const outcomes = new Map<string, FlagOutcome>();
      for (const u of updates) {
        if (!present.has(u.id)) {
          outcomes.set(u.id, {
            id: u.id,
            ok: false,
            gone: true,
            message: `Message ${u.id} is no longer in ${displayFolder(path)}.`,
          });
          continue;
        }
        const add = normalizeFlags(u.add);
        const remove = normalizeFlags(u.remove);
        const key = `${add.join(' ')}|${remove.join(' ')}`;
        const group = groups.get(key) ?? { add, remove, ids: [] };
        group.ids.push(u.id);
        groups.set(key, group);
      }
      for (const group of groups.values()) {
        try {
          if (group.add.length)
            await this.#client.messageFlagsAdd(uidSet(group.ids), group.add, { uid: true, silent: true });
          if (group.remove.length) {
            await this.#client.messageFlagsRemove(uidSet(group.ids), group.remove, {
              uid: true,
              silent: true,
            });
          }
          for (const id of group.ids) outcomes.set(id, { id, ok: true });
        } catch (err) {
          if (!serverAnswered(err)) throw connectionError(path, err);
          for (const id of group.ids)
            outcomes.set(id, { id, ok: false, gone: false, message: serverText(err) });
        }
      }
      return updates.map((u) => outcomes.get(u.id)!);
    });
  }

  async deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void> {
    const wanted = [...new Set(ids)].filter(isUid);
    if (wanted.length === 0) return;
    const name = this.#name(path);
    await this.#withFolder(path, name, async () => {
      // imapflow marks \Deleted and, with UIDPLUS, expunges only these UIDs (UID EXPUNGE).
      await this.#client.messageDelete(uidSet(wanted), { uid: true });
    });
  }

  async close(): Promise<void> {
    try {
      await this.#client.logout();
    } catch {
      this.#client.close();
    }
  }
}

/** The server's own words for a refused command (imapflow keeps them on the error). */
function serverText(err: unknown): string {
  const e = err as { responseText?: string; serverResponseCode?: string; message?: string };
  return [e.serverResponseCode, e.responseText ?? e.message].filter(Boolean).join(' ');
}

/** True when the server answered NO/BAD (the command failed, the connection is fine). */
function serverAnswered(err: unknown): boolean {
  const e = err as { responseStatus?: string; responseText?: string; response?: unknown; code?: string };
  if (e.responseStatus === 'BYE') return false;
  return (
    e.responseStatus === 'NO' ||
    e.responseStatus === 'BAD' ||
    e.responseText !== undefined ||
    // imapflow's own answer to a refused STATUS/SELECT of a missing mailbox.
    e.code === 'NotFound'
  );
}

function folderError(what: string, path: FolderPath, err: unknown, code = 'FOLDER_BAD'): FolderError {
  if (err instanceof FolderError) return err;
  if (!serverAnswered(err)) return connectionError(path, err) as unknown as FolderError;
  return new FolderError(`Cannot ${what} the IMAP folder ${displayFolder(path)}: ${serverText(err)}`, {
    code,
    cause: err,
  });
}

function connectionError(path: FolderPath, err: unknown): StoreError {
  return new StoreError(
    `The IMAP connection failed while working on ${displayFolder(path)}: ${(err as Error).message}. Check the network and the server; the next sync resumes where this one stopped.`,
    { code: 'CONNECTION_LOST', cause: err },
  );
}
