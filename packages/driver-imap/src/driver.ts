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
import { connectionError, folderError, isConnectionLoss, serverAnswered, serverText } from './errors.js';
import { type ReconnectOptions, Session } from './session.js';
import { isUid, uidSet } from './uids.js';

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

/** Options of {@link ImapDriver.connect}: the account, and how a dropped connection is reopened. */
export interface ImapDriverOptions extends ImapAccountOptions {
  reconnect?: ReconnectOptions;
}

/** What an append batch needs to find a message whose APPEND was not confirmed with its UID. */
interface AppendBatch {
  /** UIDNEXT before the batch: every message it stores gets a UID at least this. */
  uidNext: number;
  epoch: string;
  /** UIDPLUS advertised: an APPENDUID answer is the server's word for the new UID. */
  uidplus: boolean;
  /** UIDs this batch already reported, so no two of its messages get the same one. */
  claimed: Set<number>;
}

/**
 * The IMAP driver: one authenticated imapflow session, reopened with backoff when it drops. Ids are
 * UIDs (decimal strings) under the folder's UIDVALIDITY, which is the marker's epoch; the marker's
 * value is HIGHESTMODSEQ, so with CONDSTORE an unchanged folder costs one STATUS, and with QRESYNC a
 * changed one costs one `UID FETCH … (CHANGEDSINCE … VANISHED)`. Without CONDSTORE every listing is full.
 *
 * One driver is one IMAP connection, and IMAP runs one command at a time on it: calls on different
 * folders are queued, not run in parallel. To work on several folders at once, open several drivers
 * (the engine does, one per folder it runs in parallel); servers limit connections per user (Dovecot:
 * 10 per IP by default), so keep that number small.
 *
 * Folder paths map to the server's names by joining levels with its hierarchy delimiter; a level that
 * contains the delimiter cannot be represented and is refused. Names travel as modified UTF-7 and are
 * UTF-8 in every path the driver takes or gives. Keywords are assumed storable (PERMANENTFLAGS `\*`, as
 * on Dovecot and most servers); a server that refuses one fails that message.
 *
 * Without UIDPLUS, a new message's UID is found after its APPEND among the UIDs from the folder's
 * UIDNEXT before the batch, by Message-ID and size; and deletion is `\Deleted` and a plain EXPUNGE,
 * which also removes messages another client had marked `\Deleted` in that folder.
 */
export class ImapDriver implements Driver {
  readonly capabilities: DriverCapabilities = { keywords: true };
  readonly #session: Session;
  readonly #delimiter: string;
  /** UIDVALIDITY of each folder at its last listing: ids are only used within it. */
  readonly #epochs = new Map<string, string>();

  private constructor(session: Session, delimiter: string) {
    this.#session = session;
    this.#delimiter = delimiter;
  }

  /** Connects and logs in (see {@link ImapAccountOptions} for the TLS and credential rules). */
  static async connect(options: ImapDriverOptions): Promise<ImapDriver> {
    const open = () => openSession(options);
    const client = await open();
    const session = new Session(client, open, options.reconnect);
    const delimiter = client.namespace?.delimiter ?? (await client.list())[0]?.delimiter ?? '/';
    return new ImapDriver(session, delimiter);
  }

  /** The current imapflow client; after a drop, {@link #run} replaces it. */
  get #client(): ImapFlow {
    return this.#session.client;
  }

  /**
   * Runs `op` on a live session. If the connection drops during it, the session is reopened (with
   * backoff) and `op` runs once more: only for operations that are safe to repeat (reads, flag deltas,
   * deletions, folder creation); APPEND has its own recovery in {@link appendMessages}.
   */
  async #run<T>(path: FolderPath, op: () => Promise<T>): Promise<T> {
    await this.#session.ready();
    try {
      return await op();
    } catch (err) {
      if (!isConnectionLoss(err, this.#session.usable)) throw err;
      await this.#session.reopen();
      try {
        return await op();
      } catch (again) {
        throw isConnectionLoss(again, this.#session.usable) ? connectionError(path, again) : again;
      }
    }
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
    // imapflow decodes modified UTF-7 names, so `box.path` is UTF-8.
    const boxes = await this.#run([], () => this.#client.list());
    return boxes.map((box) => ({
      path: this.#path(box.path, box.delimiter),
      ...(box.specialUse && box.specialUse !== '\\Inbox' ? { specialUse: box.specialUse } : {}),
      selectable: !box.flags.has('\\Noselect') && !box.flags.has('\\NonExistent'),
    }));
  }

  async createFolder(path: FolderPath): Promise<void> {
    if (isInbox(path)) return;
    const names = path.map((_, i) => this.#name(path.slice(0, i + 1)));
    const target = names[names.length - 1]!;
    await this.#run(path, async () => {
      const listed = new Map((await this.#client.list()).map((b) => [b.path, b.flags]));
      // Parents first, as the contract asks, for servers that do not create them implicitly. A parent
      // listed at all will do; the folder itself must hold messages, so a name another client left
      // holding only folders (\Noselect, \NonExistent: `A` of `A/B`) is created too.
      for (const name of names) {
        const flags = listed.get(name);
        const nameOnly = flags !== undefined && (flags.has('\\Noselect') || flags.has('\\NonExistent'));
        if (flags !== undefined && !(name === target && nameOnly)) continue;
        let exists: string | undefined;
        try {
          // imapflow answers ALREADYEXISTS (RFC 5530) with `created: false` rather than an error.
          const result = await this.#client.mailboxCreate(name);
          if (result && !result.created) exists = 'ALREADYEXISTS';
        } catch (err) {
          if (!/ALREADYEXISTS|already exists/i.test(serverText(err))) throw folderError('create', path, err);
          exists = serverText(err);
        }
        if (exists !== undefined && name === target && nameOnly) {
          throw new FolderError(
            `The server keeps ${JSON.stringify(displayFolder(path))} as a name that only holds other folders (\\Noselect), and did not make it a folder of its own (${exists}), so it cannot receive messages. Exclude it from the pair, or move its messages on the other side to another folder.`,
            { code: 'FOLDER_CREATE_FAILED' },
          );
        }
      }
    });
  }

  async deleteFolder(path: FolderPath): Promise<void> {
    const name = this.#name(path);
    await this.#run(path, async () => {
      try {
        await this.#client.mailboxDelete(name);
      } catch (err) {
        if (!/NONEXISTENT|doesn't exist|does not exist|not found/i.test(serverText(err))) {
          throw folderError('delete', path, err);
        }
      }
    });
    this.#epochs.delete(name);
  }

  async listMessages(path: FolderPath, request: ListRequest): Promise<Listing> {
    const name = this.#name(path);
    return this.#run(path, async () => {
      const status = await this.#status(path, name);
      const marker: FolderMarker = {
        epoch: String(status.uidValidity),
        value: status.highestModseq === undefined ? NO_MODSEQ : String(status.highestModseq),
      };
      this.#epochs.set(name, marker.epoch);
      const since = sinceModseq(request.since, marker);
      if (since !== undefined && since === BigInt(marker.value)) return { kind: 'unchanged', marker };
      // The marker was read before the listing, so a change made while we list shows up next time.
      return this.#withFolder(path, name, async (): Promise<Listing> => {
        const mailbox = this.#client.mailbox || undefined;
        // A delta needs both halves: CHANGEDSINCE for the changed messages and QRESYNC's VANISHED for
        // the expunged ones. With CONDSTORE alone the expunged UIDs cannot be known without the old
        // set, which the driver does not keep, so the answer is a full listing.
        if (
          since !== undefined &&
          since < BigInt(marker.value) &&
          this.#client.enabled.has('QRESYNC') &&
          mailbox &&
          !mailbox.noModseq
        ) {
          return { kind: 'delta', marker, ...(await this.#changedSince(since, request.dates === true)) };
        }
        const messages: ListedMessage[] = [];
        if ((mailbox || { exists: 0 }).exists === 0) return { kind: 'full', marker, messages };
        // One FETCH for the whole folder, streamed: no round trip per message.
        const query = { uid: true, flags: true, size: true, internalDate: request.dates === true };
        for await (const msg of this.#client.fetch('1:*', query)) messages.push(listedOf(msg));
        return { kind: 'full', marker, messages };
      });
    });
  }

  /**
   * `UID FETCH 1:* (FLAGS RFC822.SIZE [INTERNALDATE]) (CHANGEDSINCE m VANISHED)` on the selected folder: the server
   * answers with the messages whose MODSEQ is above `m` (added or flags changed) and one
   * `VANISHED (EARLIER)` line for the UIDs expunged since, which imapflow hands out as `expunge` events.
   */
  async #changedSince(
    since: bigint,
    dates: boolean,
  ): Promise<{ changed: ListedMessage[]; vanished: string[] }> {
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
      const query = { uid: true, flags: true, size: true, internalDate: dates };
      for await (const msg of client.fetch('1:*', query, { uid: true, changedSince: since })) {
        changed.push(listedOf(msg));
      }
    } finally {
      client.off('expunge', onExpunge);
    }
    for (const m of changed) vanished.delete(m.id);
    return { changed, vanished: [...vanished] };
  }

  async #status(path: FolderPath, name: string) {
    let status: Awaited<ReturnType<ImapFlow['status']>> | undefined;
    try {
      // Dovecot answers STATUS of the selected folder from the session's view, which only catches up
      // with other sessions' changes at the next command on it: a NOOP first, or the marker is stale.
      if (this.#client.mailbox && this.#client.mailbox.path === name) await this.#client.noop();
      status = await this.#client.status(name, {
        uidValidity: true,
        highestModseq: true,
        uidNext: true,
        messages: true,
      });
    } catch (err) {
      throw folderError('list', path, err, 'FOLDER_GONE');
    }
    if (status && status.uidValidity !== undefined) return status as typeof status & { uidValidity: bigint };
    if (!this.#session.usable) throw connectionError(path, new Error('the connection closed during STATUS'));
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
      if (listed !== undefined && epoch !== listed) throw epochChanged(path, listed, epoch);
      return await body();
    } finally {
      lock.release();
    }
  }

  async describeMessages(path: FolderPath, ids: readonly string[]): Promise<ListedMessage[]> {
    const wanted = [...new Set(ids)].filter(isUid);
    if (wanted.length === 0) return [];
    const name = this.#name(path);
    return this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        const out: ListedMessage[] = [];
        // One FETCH for all of them, with only the Message-ID header: no bodies, no round trip each.
        const query = { uid: true, flags: true, size: true, headers: ['message-id'] };
        for await (const msg of this.#client.fetch(uidSet(wanted), query, { uid: true })) {
          out.push({
            id: String(msg.uid),
            flags: normalizeFlags(msg.flags ?? []),
            size: msg.size ?? 0,
            messageId: messageIdFromHeaders(msg.headers),
          });
        }
        return out;
      }),
    );
  }

  async readMessage(path: FolderPath, id: string): Promise<MessageContent> {
    const name = this.#name(path);
    const gone = () =>
      new MessageError(`Message ${id} is no longer in ${displayFolder(path)}.`, { code: 'MESSAGE_GONE' });
    if (!isUid(id)) throw gone();
    return this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        let msg: Awaited<ReturnType<ImapFlow['fetchOne']>>;
        try {
          msg = await this.#client.fetchOne(
            id,
            { uid: true, source: true, flags: true, internalDate: true },
            { uid: true },
          );
        } catch (err) {
          if (!serverAnswered(err)) throw err;
          throw new MessageError(
            `The server refused to read message ${id} of ${displayFolder(path)}: ${serverText(err)}`,
            { code: 'READ_REFUSED', cause: err },
          );
        }
        if (msg === false || !msg.source) throw gone();
        return contentOf(msg as FetchedBody);
      }),
    );
  }

  /** One UID FETCH for the whole batch, bodies included; a UID the server no longer has gives null. */
  async readMessages(path: FolderPath, ids: readonly string[]): Promise<(MessageContent | null)[]> {
    const wanted = [...new Set(ids)].filter(isUid);
    if (wanted.length === 0) return ids.map(() => null);
    const name = this.#name(path);
    const found = await this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        const byUid = new Map<string, MessageContent>();
        try {
          const query = { uid: true, source: true, flags: true, internalDate: true };
          for await (const msg of this.#client.fetch(uidSet(wanted), query, { uid: true })) {
            if (!msg.source) continue;
            byUid.set(String(msg.uid), contentOf(msg as FetchedBody));
          }
        } catch (err) {
          if (!serverAnswered(err)) throw err;
          throw new FolderError(
            `The server refused to read messages of ${displayFolder(path)}: ${serverText(err)}`,
            {
              code: 'READ_REFUSED',
              cause: err,
            },
          );
        }
        return byUid;
      }),
    );
    return ids.map((id) => found.get(id) ?? null);
  }

  /**
   * Appends one message at a time. A message is reported `ok` only with a UID the server confirmed:
   * from APPENDUID (UIDPLUS), or found after the APPEND by Message-ID and size among the UIDs from
   * UIDNEXT before the batch. If the connection drops during an APPEND, the session is reopened, the
   * message is looked for the same way, and never sent a second time: if it is not found, its outcome
   * is `APPEND_UNCONFIRMED`, and the engine finds it by content next time if it was stored after all.
   */
  async appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]> {
    if (messages.length === 0) return [];
    const name = this.#name(path);
    const status = await this.#run(path, () => this.#status(path, name));
    const epoch = String(status.uidValidity);
    const listed = this.#epochs.get(name);
    // Ids are returned: a batch for a folder whose epoch moved since its listing must not start.
    if (listed !== undefined && listed !== epoch) throw epochChanged(path, listed, epoch);
    const batch: AppendBatch = {
      uidNext: status.uidNext ?? 1,
      epoch,
      uidplus: this.#client.capabilities.has('UIDPLUS'),
      claimed: new Set(),
    };
    const outcomes: WriteOutcome[] = [];
    for (const [index, message] of messages.entries()) {
      outcomes.push(await this.#appendOne(path, name, message, describeInBatch(message, index), batch));
    }
    return outcomes;
  }

  async #appendOne(
    path: FolderPath,
    name: string,
    message: MessageContent,
    label: string,
    batch: AppendBatch,
  ): Promise<WriteOutcome> {
    const folder = displayFolder(path);
    const flags = normalizeFlags(message.flags).filter((f) => f !== '\\Recent');
    const date = message.internalDate === undefined ? undefined : new Date(message.internalDate);
    const bytes = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
    let result: Awaited<ReturnType<ImapFlow['append']>>;
    try {
      await this.#session.ready();
      result = await this.#client.append(name, bytes, flags, date);
    } catch (err) {
      if (serverAnswered(err) || (err as { serverResponseCode?: string }).serverResponseCode) {
        return refused(folder, label, err);
      }
      if (!isConnectionLoss(err, this.#session.usable)) throw err;
      // The server may or may not have stored it: look, on a new session, rather than send it again.
      await this.#session.reopen();
      const uid = await this.#findAppended(path, name, message.body, batch);
      if (uid !== undefined) return { ok: true, id: String(uid) };
      return {
        ok: false,
        code: 'APPEND_UNCONFIRMED',
        message: `The connection dropped while appending ${label} to ${folder}, and the message is not there. It was not sent again; the next sync appends it.`,
      };
    }
    if (result === false) {
      return {
        ok: false,
        code: 'APPEND_UNCONFIRMED',
        message: `The session was not ready to append ${label} to ${folder}; it was not sent, and the next sync appends it.`,
      };
    }
    if (batch.uidplus && result.uid && result.uidValidity !== undefined) {
      if (String(result.uidValidity) !== batch.epoch) {
        return {
          ok: false,
          code: 'EPOCH_CHANGED',
          message: `The UIDVALIDITY of ${folder} changed during the sync; ${label} was stored and is paired by content next time.`,
        };
      }
      batch.claimed.add(result.uid);
      return { ok: true, id: String(result.uid) };
    }
    // No APPENDUID (or a server that does not advertise UIDPLUS, whose answer we do not rely on).
    const uid = await this.#findAppended(path, name, message.body, batch);
    if (uid !== undefined) return { ok: true, id: String(uid) };
    return {
      ok: false,
      code: 'UID_UNKNOWN',
      message: `${capitalize(label)} was stored in ${folder}, but the server did not say its UID and it could not be told apart from other new messages; it is paired by content next time.`,
    };
  }

  /**
   * The UID of a message this batch appended, found by content: among UIDs from the batch's UIDNEXT,
   * not yet claimed by the batch, the one whose RFC822.SIZE and Message-ID match. Undefined unless
   * exactly one matches, so a guess never becomes an id.
   */
  async #findAppended(
    path: FolderPath,
    name: string,
    body: Uint8Array,
    batch: AppendBatch,
  ): Promise<number | undefined> {
    const messageId = messageIdFromHeaders(headerBlock(body));
    const matches = await this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        const mailbox = this.#client.mailbox;
        if (!mailbox || String(mailbox.uidValidity) !== batch.epoch) return [];
        const found: number[] = [];
        const query = { uid: true, size: true, headers: ['message-id'] };
        // `n:*` also names the highest UID when it is below n, hence the check of each UID.
        for await (const msg of this.#client.fetch(`${batch.uidNext}:*`, query, { uid: true })) {
          if (msg.uid < batch.uidNext || batch.claimed.has(msg.uid)) continue;
          if (msg.size !== body.byteLength) continue;
          if (messageIdFromHeaders(msg.headers) !== messageId) continue;
          found.push(msg.uid);
        }
        return found;
      }),
    );
    if (matches.length !== 1) return undefined;
    batch.claimed.add(matches[0]!);
    return matches[0];
  }

  async setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]> {
    if (updates.length === 0) return [];
    const name = this.#name(path);
    // Flag deltas are idempotent, so the whole call may run again after a reconnect.
    return this.#run(path, () =>
      this.#withFolder(path, name, async () => {
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
            if (!serverAnswered(err)) throw err;
            for (const id of group.ids) {
              outcomes.set(id, {
                id,
                ok: false,
                gone: false,
                message: `The server refused to change the flags of message ${id} in ${displayFolder(path)}: ${serverText(err)}`,
              });
            }
          }
        }
        return updates.map((u) => outcomes.get(u.id)!);
      }),
    );
  }

  async deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void> {
    const wanted = [...new Set(ids)].filter(isUid);
    if (wanted.length === 0) return;
    const name = this.#name(path);
    await this.#run(path, () =>
      this.#withFolder(path, name, async () => {
        // imapflow marks \Deleted and, with UIDPLUS, expunges only these UIDs (UID EXPUNGE).
        const done = await this.#client.messageDelete(uidSet(wanted), { uid: true });
        if (done === false) {
          if (!this.#session.usable) throw connectionError(path, new Error('the connection closed'));
          throw new FolderError(
            `The server refused to delete messages ${uidSet(wanted)} in ${displayFolder(path)} (STORE \\Deleted or EXPUNGE failed).`,
            { code: 'DELETE_REFUSED' },
          );
        }
      }),
    );
  }

  async close(): Promise<void> {
    await this.#session.close();
  }
}

/** Opens one session, with its failures as store errors that say what to do. */
async function openSession(options: ImapAccountOptions): Promise<ImapFlow> {
  try {
    return await openImap(options);
  } catch (err) {
    if (err instanceof StoreError || (err as { code?: string }).code === 'INSECURE_TRANSPORT') throw err;
    if ((err as { code?: string }).code === 'CERT_PIN_MISMATCH') {
      throw new StoreError(`Cannot open the IMAP account ${options.user}: ${(err as Error).message}`, {
        code: 'CERT_PIN_MISMATCH',
        cause: err,
      });
    }
    const authFailed = (err as { authenticationFailed?: boolean }).authenticationFailed === true;
    const reason = authFailed ? 'the server refused the login' : (err as Error).message;
    throw new StoreError(`Cannot open the IMAP account ${options.user} at ${options.host}: ${reason}.`, {
      code: authFailed ? 'AUTH_FAILED' : 'CONNECT_FAILED',
      cause: err,
    });
  }
}

function epochChanged(path: FolderPath, listed: string, now: string | undefined): FolderError {
  return new FolderError(
    `The UIDVALIDITY of ${displayFolder(path)} changed (${listed} became ${now}) since it was listed; ` +
      'the folder is skipped and paired again by content on the next sync.',
    { code: 'EPOCH_CHANGED' },
  );
}

/** An append the server refused, as the outcome of that message only. */
function refused(folder: string, label: string, err: unknown): WriteOutcome {
  const responseCode = ((err as { serverResponseCode?: string }).serverResponseCode ?? '').toUpperCase();
  const code =
    responseCode === 'OVERQUOTA' || /quota/i.test(serverText(err))
      ? 'OVER_QUOTA'
      : responseCode === 'TRYCREATE'
        ? 'FOLDER_GONE'
        : responseCode === 'APPENDLIMIT' || responseCode === 'TOOBIG'
          ? 'MESSAGE_TOO_BIG'
          : 'APPEND_REFUSED';
  return {
    ok: false,
    code,
    message: `The server refused ${label} for ${folder}: ${serverText(err)}`,
  };
}

/** "message 3 of the batch (Message-ID <x@y>)": enough to find it, nothing of its content. */
function describeInBatch(message: MessageContent, index: number): string {
  const id = messageIdFromHeaders(headerBlock(message.body));
  return `message ${index + 1} of the batch (${id ? `Message-ID ${id}` : 'no Message-ID'}, ${message.body.byteLength} bytes)`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The header block of a raw message (up to the first empty line), or all of it if there is none. */
function headerBlock(body: Uint8Array): Uint8Array {
  for (let i = 0; i + 3 < body.length; i++) {
    if (body[i] === 13 && body[i + 1] === 10 && body[i + 2] === 13 && body[i + 3] === 10) {
      return body.subarray(0, i + 2);
    }
  }
  return body;
}

/**
 * The bytes as a Uint8Array of their own: a large message already has its own memory and is not
 * copied; a small one may sit in Node's shared Buffer pool, which a worker transfer would copy whole.
 */
function ownBytes(source: Buffer): Uint8Array {
  if (source.byteOffset === 0 && source.byteLength === source.buffer.byteLength) {
    return new Uint8Array(source.buffer, 0, source.byteLength);
  }
  return new Uint8Array(source);
}

/** What a FETCH of BODY[], FLAGS and INTERNALDATE gives for one message. */
interface FetchedBody {
  source: Buffer;
  flags?: Set<string>;
  internalDate?: Date | string;
}

/** A fetched message as the driver contract hands it out: own bytes, normalised flags, the date in ms. */
function contentOf(msg: FetchedBody): MessageContent {
  const content: MessageContent = { body: ownBytes(msg.source), flags: normalizeFlags(msg.flags ?? []) };
  const date = msOf(msg.internalDate);
  if (date !== undefined) content.internalDate = date;
  return content;
}

/** A listed message from a FETCH of UID, FLAGS, RFC822.SIZE and, when asked, INTERNALDATE. */
function listedOf(msg: {
  uid: number;
  flags?: Set<string>;
  size?: number;
  internalDate?: Date | string;
}): ListedMessage {
  const listed: ListedMessage = {
    id: String(msg.uid),
    flags: normalizeFlags(msg.flags ?? []),
    size: msg.size ?? 0,
  };
  const date = msOf(msg.internalDate);
  if (date !== undefined) listed.date = date;
  return listed;
}

/** An INTERNALDATE as ms since the epoch; undefined for none, or for one the server garbled. */
function msOf(value: Date | string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = (value instanceof Date ? value : new Date(value)).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}
