import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  applyFlagDelta,
  type Driver,
  type FlagOutcome,
  type FlagUpdate,
  FolderError,
  type FolderPath,
  isInbox,
  type ListedFolder,
  type ListedMessage,
  type Listing,
  type ListRequest,
  type MessageContent,
  MessageError,
  messageIdFromHeaders,
  normalizeFlags,
  type WriteOutcome,
} from '@twinbox/core';

/** One folder's file: its path, so the file name need not encode it, and its messages. */
interface FolderFile {
  path: string[];
  /** Made when the folder is created: ids are valid only within it (the marker's epoch). */
  epoch: string;
  /** Bumped by every write: the marker's value, so an unchanged folder is answered as such. */
  version: number;
  /** The next message id: ids are never reused within an epoch. */
  next: number;
  messages: { id: string; flags: string[]; date: number; body: string }[];
}

/**
 * A third party's store for Twinbox, written only against `@twinbox/core`'s public interfaces: a
 * directory holding one JSON file per folder, each message's body in base64. It passes core's driver
 * conformance suite unchanged (see test/), which is what makes it usable on either side of `sync`.
 */
export class JsonDirDriver implements Driver {
  readonly capabilities = { keywords: true };

  private constructor(private readonly root: string) {}

  /** Opens (and creates, with its inbox) the directory. */
  static async open(root: string): Promise<JsonDirDriver> {
    await mkdir(root, { recursive: true });
    const driver = new JsonDirDriver(root);
    await driver.createFolder(['INBOX']);
    return driver;
  }

  async listFolders(): Promise<ListedFolder[]> {
    const out: ListedFolder[] = [];
    for (const name of (await readdir(this.root)).filter((n) => n.endsWith('.json'))) {
      try {
        const folder = JSON.parse(await readFile(join(this.root, name), 'utf8')) as FolderFile;
        out.push({ path: folder.path, selectable: true });
      } catch (err) {
        // Never left out: a folder that vanished from the listing would read as deleted by the user.
        out.push({ refused: name, code: 'FOLDER_UNREADABLE', message: `${name}: ${(err as Error).message}` });
      }
    }
    return out;
  }

  async createFolder(path: FolderPath): Promise<void> {
    // The parents too, as the contract asks: each level is a folder of its own.
    for (let depth = 1; depth <= path.length; depth++) {
      const level = path.slice(0, depth);
      if (await this.#read(level)) continue;
      await this.#write({ path: [...level], epoch: randomUUID(), version: 0, next: 1, messages: [] });
    }
  }

  async deleteFolder(path: FolderPath): Promise<void> {
    await rm(this.#file(path), { force: true });
  }

  async listMessages(path: FolderPath, request: ListRequest): Promise<Listing> {
    const folder = await this.#folder(path);
    const marker = { epoch: folder.epoch, value: String(folder.version) };
    const { since } = request;
    if (since && since.epoch === marker.epoch && since.value === marker.value)
      return { kind: 'unchanged', marker };
    // No log of changes is kept, so anything else is a full listing, which the contract always allows.
    const messages = folder.messages.map(
      (m): ListedMessage => ({
        id: m.id,
        flags: m.flags,
        size: Buffer.byteLength(m.body, 'base64'),
        ...(request.dates ? { date: m.date } : {}),
      }),
    );
    return { kind: 'full', marker, messages };
  }

  async describeMessages(path: FolderPath, ids: readonly string[]): Promise<ListedMessage[]> {
    const wanted = new Set(ids);
    return (await this.#folder(path)).messages
      .filter((m) => wanted.has(m.id))
      .map((m) => {
        const body = Buffer.from(m.body, 'base64');
        return { id: m.id, flags: m.flags, size: body.length, messageId: messageIdFromHeaders(body) };
      });
  }

  async readMessage(path: FolderPath, id: string): Promise<MessageContent> {
    const m = (await this.#folder(path)).messages.find((x) => x.id === id);
    if (!m) throw new MessageError(`Message ${id} is gone from ${path.join('/')}.`, { code: 'MESSAGE_GONE' });
    return { body: new Uint8Array(Buffer.from(m.body, 'base64')), flags: m.flags, internalDate: m.date };
  }

  async appendMessages(path: FolderPath, messages: readonly MessageContent[]): Promise<WriteOutcome[]> {
    if (messages.length === 0) return [];
    const folder = await this.#folder(path);
    const outcomes: WriteOutcome[] = [];
    for (const m of messages) {
      const id = String(folder.next++);
      folder.messages.push({
        id,
        flags: normalizeFlags(m.flags),
        date: m.internalDate ?? Date.now(),
        body: Buffer.from(m.body).toString('base64'),
      });
      outcomes.push({ ok: true, id });
    }
    await this.#commit(folder);
    return outcomes;
  }

  async setFlags(path: FolderPath, updates: readonly FlagUpdate[]): Promise<FlagOutcome[]> {
    const folder = await this.#folder(path);
    const outcomes = updates.map((u): FlagOutcome => {
      const m = folder.messages.find((x) => x.id === u.id);
      if (!m) return { id: u.id, ok: false, gone: true, message: `Message ${u.id} is gone.` };
      m.flags = applyFlagDelta(m.flags, { added: [...u.add], removed: [...u.remove] });
      return { id: u.id, ok: true };
    });
    await this.#commit(folder);
    return outcomes;
  }

  async deleteMessages(path: FolderPath, ids: readonly string[]): Promise<void> {
    const folder = await this.#folder(path);
    const doomed = new Set(ids);
    folder.messages = folder.messages.filter((m) => !doomed.has(m.id));
    await this.#commit(folder);
  }

  async close(): Promise<void> {
    // Every write is on disk when its call resolves: nothing is pending.
  }

  /** A folder's file name: a hash of its path, so any name is a valid file name. */
  #file(path: FolderPath): string {
    const name = isInbox(path) ? 'INBOX' : createHash('sha256').update(JSON.stringify(path)).digest('hex');
    return join(this.root, `${name.slice(0, 32)}.json`);
  }

  async #read(path: FolderPath): Promise<FolderFile | undefined> {
    try {
      return JSON.parse(await readFile(this.#file(path), 'utf8')) as FolderFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #folder(path: FolderPath): Promise<FolderFile> {
    const folder = await this.#read(path);
    if (!folder) throw new FolderError(`No folder ${path.join('/')}.`, { code: 'FOLDER_MISSING' });
    return folder;
  }

  async #commit(folder: FolderFile): Promise<void> {
    folder.version++;
    await this.#write(folder);
  }

  /** Written whole or not at all: a new file, flushed to disk, then renamed over the old one. */
  async #write(folder: FolderFile): Promise<void> {
    const file = this.#file(folder.path);
    const tmp = `${file}.${randomUUID()}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(folder));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  }
}
