import { createServer, type Server, type Socket } from 'node:net';
import { astring, CommandReader, inSet, type RawCommand, type Token, textOf, tokenize } from './wire.js';

/** One message of a fake folder. */
export interface FakeMessage {
  uid: number;
  flags: string[];
  body: Buffer;
  internalDate?: Date;
  /**
   * Sent verbatim between the parentheses of `FLAGS (…)` instead of `flags`: for flag lists a client
   * cannot take (8-bit bytes, `]`, `\`, thousands of keywords). Searches still use `flags`.
   */
  rawFlags?: Buffer;
}

/** One folder; `name` is its name on the wire (modified UTF-7 already, or hostile bytes as latin1). */
export interface FakeFolder {
  name: string;
  uidValidity: number;
  uidNext: number;
  messages: FakeMessage[];
  /** LIST attributes, e.g. `\Noselect`. */
  attributes?: string[];
  /**
   * The STATUS item MAILBOXID (RFC 8474), sent verbatim between its parentheses when asked for (so a
   * test can send a malformed one); without it the item is left out of the answer.
   */
  mailboxId?: string;
}

/** A command as the script sees it. */
export interface CommandInfo {
  /** This connection's number, from 1, in the order the server accepted them. */
  connection: number;
  tag: string;
  /** Upper case; `UID FETCH`, `UID STORE`… for UID commands. */
  name: string;
  /** The argument text (latin1; a literal shows as `\0<index>\0`). */
  args: string;
  /** The selected folder's wire name, if any. */
  selected: string | undefined;
}

/**
 * What the server does instead of answering a command normally:
 * - `stall`: nothing, ever; the connection stays open (the client must give up by itself).
 * - `close`: drops the connection without a word; `bye` says `* BYE` first.
 * - `send`: these bytes instead of the answer (build them from `answer()` to cut or bend the real
 *   one), then, by `after`: close the connection, stall, or go on reading commands (`done`).
 */
export type Reaction =
  | { stall: true }
  | { close: true }
  | { bye: string }
  | { send: Buffer | string; after: 'close' | 'stall' | 'done' };

/**
 * The script: called for every command. Return nothing for the normal answer. `answer()` renders the
 * normal answer (untagged lines and the tagged completion) and applies its effects on the folders, so
 * a script can send part of it.
 */
export type Script = (command: CommandInfo, answer: () => Buffer) => Reaction | undefined;

export interface FakeImapOptions {
  user?: string;
  password?: string;
  /** Default `IMAP4rev1 LITERAL+ UIDPLUS NAMESPACE ID`. */
  capabilities?: string[];
  delimiter?: string;
  folders?: FakeFolder[];
  /** The greeting line after `* `; `null` sends none (a server that accepts and stalls at once). */
  greeting?: string | null;
  script?: Script;
}

const SYSTEM = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/**
 * A small IMAP4rev1 server for tests, in memory, scriptable to misbehave on cue. It implements what
 * Twinbox's driver (imapflow) uses: LOGIN, CAPABILITY, ID, NAMESPACE, ENABLE, LIST (with LIST-STATUS's
 * `RETURN (STATUS (…))` where a test advertises it), LSUB, STATUS, SELECT/EXAMINE, FETCH, SEARCH, STORE,
 * APPEND (several messages at once where a test advertises MULTIAPPEND), EXPUNGE, CREATE, DELETE,
 * (UN)SUBSCRIBE, NOOP, CLOSE, UNSELECT, LOGOUT, with UIDPLUS. No
 * CONDSTORE: every listing is a full one.
 */
export class FakeImapServer {
  readonly folders: FakeFolder[];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #options: Required<Omit<FakeImapOptions, 'greeting' | 'script' | 'folders'>> & {
    greeting: string | null;
  };
  /** Replaceable while the server runs. */
  script: Script | undefined;
  /** Connections accepted so far. */
  connections = 0;
  /** Every command received, in order, for assertions. */
  readonly log: CommandInfo[] = [];
  port = 0;

  private constructor(options: FakeImapOptions) {
    this.folders = options.folders ?? [];
    if (!this.folders.some((f) => f.name.toUpperCase() === 'INBOX')) {
      this.folders.unshift({ name: 'INBOX', uidValidity: 1, uidNext: 1, messages: [] });
    }
    this.#options = {
      user: options.user ?? 'user',
      password: options.password ?? 'pass',
      capabilities: options.capabilities ?? ['IMAP4rev1', 'LITERAL+', 'UIDPLUS', 'NAMESPACE', 'ID'],
      delimiter: options.delimiter ?? '/',
      greeting: options.greeting === undefined ? 'OK fake IMAP ready' : options.greeting,
    };
    this.script = options.script;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  static async start(options: FakeImapOptions = {}): Promise<FakeImapServer> {
    const server = new FakeImapServer(options);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    const address = server.#server.address();
    server.port = typeof address === 'object' && address ? address.port : 0;
    return server;
  }

  /** The account options a driver needs to reach this server (plaintext on loopback). */
  get account() {
    return {
      host: '127.0.0.1',
      port: this.port,
      tls: 'none' as const,
      user: this.#options.user,
      password: this.#options.password,
    };
  }

  folder(name: string): FakeFolder | undefined {
    return this.folders.find((f) => f.name === name || (isInbox(f.name) && isInbox(name)));
  }

  /** Adds a message to a folder (made if missing) with the next UID; returns it. */
  add(folderName: string, body: Buffer | string, flags: string[] = [], extra: Partial<FakeMessage> = {}) {
    let folder = this.folder(folderName);
    if (!folder) {
      folder = { name: folderName, uidValidity: 1, uidNext: 1, messages: [] };
      this.folders.push(folder);
    }
    const message: FakeMessage = {
      uid: folder.uidNext++,
      flags,
      body: typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
      internalDate: new Date(Date.UTC(2026, 0, 1)),
      ...extra,
    };
    folder.messages.push(message);
    return message;
  }

  /**
   * What a server that lost its index does: a new UIDVALIDITY for the folder, and every message a new
   * UID, from 1 (the messages and their flags stay).
   */
  renumber(folderName: string): void {
    const folder = this.folder(folderName);
    if (!folder) return;
    folder.uidValidity++;
    folder.uidNext = 1;
    for (const m of folder.messages) m.uid = folder.uidNext++;
  }

  /** Ends every connection and stops listening. */
  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const connection = ++this.connections;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    const session = new Session(this, socket, connection);
    if (this.#options.greeting === null) return;
    socket.write(`* ${this.#options.greeting}\r\n`);
    const reader = new CommandReader(
      (command) => session.handle(command),
      () => socket.write('+ go ahead\r\n'),
    );
    socket.on('data', (chunk: Buffer) => {
      if (!session.stalled) reader.push(chunk);
    });
  }

  /** @internal */
  get options() {
    return this.#options;
  }
}

/** `* STATUS` of `folder` with the items asked for that this server knows. */
function statusLine(folder: FakeFolder, asked: Token[]): string {
  const values: Record<string, number | string> = {
    MESSAGES: folder.messages.length,
    UIDNEXT: folder.uidNext,
    UIDVALIDITY: folder.uidValidity,
    UNSEEN: folder.messages.filter((m) => !m.flags.includes('\\Seen')).length,
    RECENT: 0,
  };
  if (folder.mailboxId !== undefined) values.MAILBOXID = `(${folder.mailboxId})`;
  const items = asked.map((t) => textOf(t).toUpperCase());
  const parts = items.filter((i) => i in values).map((i) => `${i} ${values[i]}`);
  return `* STATUS ${astring(folder.name)} (${parts.join(' ')})\r\n`;
}

function isInbox(name: string): boolean {
  return name.toUpperCase() === 'INBOX';
}

class Session {
  stalled = false;
  #selected: FakeFolder | undefined;
  #readOnly = false;

  constructor(
    private readonly server: FakeImapServer,
    private readonly socket: Socket,
    private readonly connection: number,
  ) {}

  handle(raw: RawCommand): void {
    if (this.stalled || this.socket.destroyed) return;
    const firstSpace = raw.text.indexOf(' ');
    const tag = raw.text.slice(0, firstSpace);
    let rest = raw.text.slice(firstSpace + 1);
    let name = rest.split(' ', 1)[0]!.toUpperCase();
    rest = rest.slice(name.length + 1);
    if (name === 'UID') {
      const sub = rest.split(' ', 1)[0]!.toUpperCase();
      name = `UID ${sub}`;
      rest = rest.slice(sub.length + 1);
    }
    const info: CommandInfo = {
      connection: this.connection,
      tag,
      name,
      args: rest,
      selected: this.#selected?.name,
    };
    this.server.log.push(info);
    let rendered: Buffer | undefined;
    const answer = () => {
      rendered ??= this.#answer(info, tokenize(rest, raw.literals));
      return rendered;
    };
    const reaction = this.server.script?.(info, answer);
    if (!reaction) {
      this.socket.write(answer());
      if (name === 'LOGOUT') this.socket.end();
      return;
    }
    if ('stall' in reaction) {
      this.stalled = true;
    } else if ('close' in reaction) {
      this.socket.destroy();
    } else if ('bye' in reaction) {
      this.socket.end(`* BYE ${reaction.bye}\r\n`);
    } else {
      this.socket.write(reaction.send);
      if (reaction.after === 'close') this.socket.end();
      if (reaction.after === 'stall') this.stalled = true;
    }
  }

  #answer(info: CommandInfo, args: Token[]): Buffer {
    const out: (string | Buffer)[] = [];
    const ok = (text = `${info.name} completed`) => out.push(`${info.tag} OK ${text}\r\n`);
    const no = (text: string) => out.push(`${info.tag} NO ${text}\r\n`);
    const opts = this.server.options;
    const caps = opts.capabilities.join(' ');
    switch (info.name) {
      case 'CAPABILITY':
        out.push(`* CAPABILITY ${caps}\r\n`);
        ok();
        break;
      case 'NOOP':
      case 'CHECK':
        ok();
        break;
      case 'ID':
        out.push('* ID NIL\r\n');
        ok();
        break;
      case 'LOGIN':
        if (textOf(args[0]) === opts.user && textOf(args[1]) === opts.password)
          ok(`[CAPABILITY ${caps}] Logged in`);
        else no('[AUTHENTICATIONFAILED] Authentication failed.');
        break;
      case 'NAMESPACE':
        out.push(`* NAMESPACE (("" ${JSON.stringify(opts.delimiter)})) NIL NIL\r\n`);
        ok();
        break;
      case 'ENABLE': {
        const wanted = args.map(textOf).filter((c) => opts.capabilities.includes(c.toUpperCase()));
        out.push(`* ENABLED${wanted.map((c) => ` ${c}`).join('')}\r\n`);
        ok();
        break;
      }
      case 'LIST':
      case 'LSUB': {
        // LIST-STATUS (RFC 5819): `LIST "" pattern RETURN (STATUS (items))`, a STATUS after each LIST.
        const returnAt = args.findIndex((t) => !Array.isArray(t) && t.kind === 'atom' && t.text === 'RETURN');
        const options = returnAt < 0 ? [] : ((args[returnAt + 1] as Token[] | undefined) ?? []);
        const statusAt = options.findIndex((t) => textOf(t).toUpperCase() === 'STATUS');
        const statusItems = statusAt < 0 ? undefined : options[statusAt + 1];
        const pattern = textOf(args[returnAt < 0 ? args.length - 1 : returnAt - 1]);
        if (pattern === '') {
          out.push(`* ${info.name} (\\Noselect) "${opts.delimiter}" ""\r\n`);
        } else {
          const match = globOf(pattern, opts.delimiter);
          for (const f of this.server.folders) {
            if (!match(f.name)) continue;
            out.push(
              `* ${info.name} (${(f.attributes ?? []).join(' ')}) "${opts.delimiter}" ${astring(f.name)}\r\n`,
            );
            if (Array.isArray(statusItems) && !f.attributes?.includes('\\Noselect')) {
              out.push(statusLine(f, statusItems));
            }
          }
        }
        ok();
        break;
      }
      case 'STATUS': {
        const folder = this.server.folder(textOf(args[0]));
        if (!folder) {
          no('[NONEXISTENT] Mailbox does not exist');
          break;
        }
        out.push(statusLine(folder, Array.isArray(args[1]) ? args[1] : []));
        ok();
        break;
      }
      case 'SELECT':
      case 'EXAMINE': {
        const folder = this.server.folder(textOf(args[0]));
        this.#selected = undefined;
        if (!folder || folder.attributes?.includes('\\Noselect')) {
          no('[NONEXISTENT] Mailbox does not exist');
          break;
        }
        this.#selected = folder;
        this.#readOnly = info.name === 'EXAMINE';
        const keywords = [...new Set(folder.messages.flatMap((m) => m.flags))].filter(
          (f) => !f.startsWith('\\'),
        );
        out.push(`* FLAGS (${[...SYSTEM, ...keywords].join(' ')})\r\n`);
        out.push(`* OK [PERMANENTFLAGS (${[...SYSTEM, ...keywords, '\\*'].join(' ')})] Flags permitted.\r\n`);
        out.push(`* ${folder.messages.length} EXISTS\r\n`, '* 0 RECENT\r\n');
        out.push(`* OK [UIDVALIDITY ${folder.uidValidity}] UIDs valid\r\n`);
        out.push(`* OK [UIDNEXT ${folder.uidNext}] Predicted next UID\r\n`);
        ok(`[${this.#readOnly ? 'READ-ONLY' : 'READ-WRITE'}] Select completed`);
        break;
      }
      case 'CLOSE':
      case 'UNSELECT':
        this.#selected = undefined;
        ok();
        break;
      case 'CREATE': {
        const name = textOf(args[0]);
        if (this.server.folder(name)) no('[ALREADYEXISTS] Mailbox already exists');
        else {
          this.server.folders.push({ name, uidValidity: Date.now() % 1e9, uidNext: 1, messages: [] });
          ok();
        }
        break;
      }
      case 'DELETE': {
        const folder = this.server.folder(textOf(args[0]));
        if (!folder) no('[NONEXISTENT] Mailbox does not exist');
        else {
          this.server.folders.splice(this.server.folders.indexOf(folder), 1);
          ok();
        }
        break;
      }
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE':
        ok();
        break;
      case 'APPEND': {
        // One message, or several with MULTIAPPEND (RFC 3502), each `(flags) ["date"] literal`: a
        // string followed by another string is a date, so every message but the first needs its list.
        const folder = this.server.folder(textOf(args[0]));
        const messages: { flags: string[]; body: Buffer }[] = [];
        for (let k = 1; k < args.length; ) {
          const flags = Array.isArray(args[k]) ? (args[k++] as Token[]).map(textOf) : [];
          if (k + 1 < args.length && !Array.isArray(args[k]) && !Array.isArray(args[k + 1])) k++;
          const literal = args[k++];
          const body =
            literal && !Array.isArray(literal) && literal.kind === 'string' ? literal.bytes : undefined;
          messages.push({ flags, body: Buffer.from(body ?? Buffer.alloc(0)) });
        }
        if (messages.length > 1 && !opts.capabilities.includes('MULTIAPPEND')) {
          out.push(`${info.tag} BAD MULTIAPPEND is not supported\r\n`);
          break;
        }
        if (!folder) {
          no('[TRYCREATE] Mailbox does not exist');
          break;
        }
        const uids = messages.map((m) => this.server.add(folder.name, m.body, m.flags).uid);
        const set = uids.length === 1 ? `${uids[0]}` : `${uids[0]}:${uids[uids.length - 1]}`;
        ok(`[APPENDUID ${folder.uidValidity} ${set}] Append completed`);
        break;
      }
      case 'FETCH':
      case 'UID FETCH':
      case 'SEARCH':
      case 'UID SEARCH':
      case 'STORE':
      case 'UID STORE':
      case 'EXPUNGE':
      case 'UID EXPUNGE': {
        const folder = this.#selected;
        if (!folder) {
          out.push(`${info.tag} BAD No mailbox selected\r\n`);
          break;
        }
        const uid = info.name.startsWith('UID ');
        const verb = uid ? info.name.slice(4) : info.name;
        if (verb === 'FETCH') this.#fetch(out, folder, uid, textOf(args[0]), args.slice(1));
        else if (verb === 'SEARCH') this.#search(out, folder, uid, args);
        else if (verb === 'STORE') this.#store(out, folder, uid, args);
        else this.#expunge(out, folder, uid ? textOf(args[0]) : undefined);
        ok();
        break;
      }
      case 'LOGOUT':
        out.push('* BYE Logging out\r\n');
        ok();
        break;
      default:
        out.push(`${info.tag} BAD Unknown command ${info.name}\r\n`);
    }
    return Buffer.concat(out.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
  }

  #matching(folder: FakeFolder, uid: boolean, set: string): [number, FakeMessage][] {
    const highest = uid ? (folder.messages.at(-1)?.uid ?? 0) : folder.messages.length;
    const has = inSet(set, highest);
    return folder.messages
      .map((m, i) => [i + 1, m] as [number, FakeMessage])
      .filter(([seq, m]) => has(uid ? m.uid : seq));
  }

  #fetch(out: (string | Buffer)[], folder: FakeFolder, uid: boolean, set: string, itemTokens: Token[]) {
    const items = itemTokens.flatMap((t) => (Array.isArray(t) ? t : [t])).map((t) => textOf(t).toUpperCase());
    for (const [seq, m] of this.#matching(folder, uid, set)) {
      const parts: (string | Buffer)[] = [`UID ${m.uid}`];
      for (const item of items) {
        if (item === 'FLAGS') {
          parts.push(
            Buffer.concat([
              Buffer.from('FLAGS ('),
              m.rawFlags ?? Buffer.from(m.flags.join(' '), 'latin1'),
              Buffer.from(')'),
            ]),
          );
        } else if (item === 'RFC822.SIZE') {
          parts.push(`RFC822.SIZE ${m.body.length}`);
        } else if (item === 'INTERNALDATE') {
          parts.push(`INTERNALDATE "${imapDate(m.internalDate ?? new Date(0))}"`);
        } else if (item === 'BODY.PEEK[]' || item === 'BODY[]' || item === 'RFC822') {
          parts.push(Buffer.concat([Buffer.from(`BODY[] {${m.body.length}}\r\n`), m.body]));
          if (item !== 'BODY.PEEK[]' && !m.flags.includes('\\Seen') && !this.#readOnly)
            m.flags.push('\\Seen');
        } else if (item.startsWith('BODY.PEEK[HEADER.FIELDS') || item.startsWith('BODY[HEADER.FIELDS')) {
          const names = /\(([^)]*)\)/.exec(item)?.[1]?.split(' ') ?? [];
          const header = headerFields(m.body, names);
          parts.push(
            Buffer.concat([
              Buffer.from(`BODY[HEADER.FIELDS (${names.join(' ')})] {${header.length}}\r\n`),
              header,
            ]),
          );
        } else if (item === 'BODY.PEEK[HEADER]' || item === 'BODY[HEADER]') {
          const header = headerBlock(m.body);
          parts.push(Buffer.concat([Buffer.from(`BODY[HEADER] {${header.length}}\r\n`), header]));
        }
      }
      const joined: Buffer[] = [];
      parts.forEach((p, i) => {
        if (i > 0) joined.push(Buffer.from(' '));
        joined.push(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
      });
      out.push(Buffer.concat([Buffer.from(`* ${seq} FETCH (`), ...joined, Buffer.from(')\r\n')]));
    }
  }

  #search(out: (string | Buffer)[], folder: FakeFolder, uid: boolean, args: Token[]) {
    let candidates = folder.messages.map((m, i) => [i + 1, m] as [number, FakeMessage]);
    const words = args.map(textOf);
    for (let i = 0; i < words.length; i++) {
      const key = words[i]!.toUpperCase();
      const has = (flag: string) => (m: FakeMessage) =>
        m.flags.some((f) => f.toLowerCase() === flag.toLowerCase());
      let keep: ((entry: [number, FakeMessage]) => boolean) | undefined;
      if (key === 'ALL') continue;
      if (key === 'UID') {
        const set = words[++i]!;
        const ids = new Set(this.#matching(folder, true, set).map(([, m]) => m.uid));
        keep = ([, m]) => ids.has(m.uid);
      } else if (key === 'KEYWORD' || key === 'UNKEYWORD') {
        const test = has(words[++i]!);
        keep = key === 'KEYWORD' ? ([, m]) => test(m) : ([, m]) => !test(m);
      } else if (['SEEN', 'ANSWERED', 'FLAGGED', 'DELETED', 'DRAFT'].includes(key)) {
        const test = has(`\\${key}`);
        keep = ([, m]) => test(m);
      } else if (['UNSEEN', 'UNANSWERED', 'UNFLAGGED', 'UNDELETED', 'UNDRAFT'].includes(key)) {
        const test = has(`\\${key.slice(2)}`);
        keep = ([, m]) => !test(m);
      } else if (/^[\d:*,]+$/.test(key)) {
        const seqs = new Set(this.#matching(folder, false, key).map(([s]) => s));
        keep = ([s]) => seqs.has(s);
      }
      if (keep) candidates = candidates.filter(keep);
    }
    out.push(`* SEARCH${candidates.map(([seq, m]) => ` ${uid ? m.uid : seq}`).join('')}\r\n`);
  }

  #store(out: (string | Buffer)[], folder: FakeFolder, uid: boolean, args: Token[]) {
    const mode = textOf(args[1]).toUpperCase();
    const flags = (Array.isArray(args[2]) ? args[2] : args.slice(2)).map(textOf);
    for (const [seq, m] of this.#matching(folder, uid, textOf(args[0]))) {
      const lower = new Set(flags.map((f) => f.toLowerCase()));
      if (mode.startsWith('+'))
        m.flags = [
          ...m.flags,
          ...flags.filter((f) => !m.flags.some((g) => g.toLowerCase() === f.toLowerCase())),
        ];
      else if (mode.startsWith('-')) m.flags = m.flags.filter((f) => !lower.has(f.toLowerCase()));
      else m.flags = [...flags];
      if (!mode.endsWith('.SILENT'))
        out.push(`* ${seq} FETCH (UID ${m.uid} FLAGS (${m.flags.join(' ')}))\r\n`);
    }
  }

  #expunge(out: (string | Buffer)[], folder: FakeFolder, uidSet: string | undefined) {
    const has = uidSet === undefined ? () => true : inSet(uidSet, folder.messages.at(-1)?.uid ?? 0);
    for (let i = folder.messages.length - 1; i >= 0; i--) {
      const m = folder.messages[i]!;
      if (m.flags.includes('\\Deleted') && has(m.uid)) {
        folder.messages.splice(i, 1);
        out.push(`* ${i + 1} EXPUNGE\r\n`);
      }
    }
  }
}

function globOf(pattern: string, delimiter: string): (name: string) => boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const source = escaped
    .replace(/\*/g, '[\\s\\S]*')
    .replace(/%/g, `[^${delimiter.replace(/[\\\]]/g, '\\$&')}]*`);
  const re = new RegExp(`^${source}$`, 'i');
  return (name) => re.test(name);
}

function headerBlock(body: Buffer): Buffer {
  const end = body.indexOf('\r\n\r\n');
  return end < 0 ? body : body.subarray(0, end + 4);
}

function headerFields(body: Buffer, names: string[]): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const text = headerBlock(body).toString('latin1');
  const fields = text
    .split(/\r\n(?![ \t])/)
    .filter((f) => wanted.has(f.split(':', 1)[0]!.trim().toLowerCase()));
  return Buffer.from(`${fields.map((f) => `${f}\r\n`).join('')}\r\n`, 'latin1');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function imapDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}
