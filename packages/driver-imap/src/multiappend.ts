import type { ImapFlow } from 'imapflow';
import type { Attribute, Exec, TaggedAnswer } from './imapflow-internals.js';

/**
 * MULTIAPPEND (RFC 3502): several messages stored by one APPEND command, as one transaction.
 *
 * Why: Dovecot opens the target mailbox, syncs its index and commits for every APPEND command, so one
 * command per message costs it about ten times the CPU of the same messages in commands of 50 (6,046
 * corpus messages into one folder: 9.3 s of server CPU one by one, 0.8 s in commands of 100; see
 * bench/README.md). imapflow 2.10 sends one message per APPEND and has no MULTIAPPEND, so the command is
 * built here and sent through imapflow's internal `exec` (as `mailbox-ids.ts` and `watch.ts` do for
 * theirs): imapflow queues it, reads the answer and keeps the session's state, and on a server with
 * LITERAL+ the command's bytes are written here (see {@link multiAppend}).
 */

/** One message of a {@link multiAppend}: flags must be atoms (system flags or valid keywords). */
export interface AppendItem {
  body: Uint8Array;
  flags: readonly string[];
  /** INTERNALDATE, ms since the epoch. */
  internalDate?: number | undefined;
}

/** What the tagged OK said: the APPENDUID code (RFC 4315), when there was one that could be read. */
export interface MultiAppendAnswer {
  uidValidity?: string;
  /** One UID per message, in order; absent when the answer had none or one that does not fit. */
  uids?: number[];
}

/**
 * A refused MULTIAPPEND, shaped as imapflow's errors are (`responseStatus`, `responseText`,
 * `serverResponseCode`), so the driver's checks for a server's answer read it as one.
 */
export class MultiAppendRefused extends Error {
  override name = 'MultiAppendRefused';
  constructor(
    readonly responseStatus: string,
    readonly responseText: string,
    readonly serverResponseCode: string | undefined,
  ) {
    super(`APPEND refused: ${[serverResponseCode, responseText].filter(Boolean).join(' ')}`);
  }
}

/** The defaults of {@link appendChunks}: what one MULTIAPPEND command may carry. */
export const MULTIAPPEND_LIMITS = {
  /** A drop mid-command leaves every message of it unconfirmed, so a command stays this small. */
  maxBytes: 1024 * 1024,
  maxMessages: 100,
} as const;

/**
 * Groups message indices, in order, into runs for one MULTIAPPEND each: at most `maxMessages` and
 * `maxBytes` (a message larger than that alone). A message `alone` says must travel by itself (over
 * the server's APPENDLIMIT, or one whose bytes a plain literal cannot carry) gets a run of its own.
 */
export function appendChunks(
  sizes: readonly number[],
  alone: (index: number) => boolean,
  limits: { maxBytes: number; maxMessages: number } = MULTIAPPEND_LIMITS,
): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length) chunks.push(current);
    current = [];
    bytes = 0;
  };
  for (const [index, size] of sizes.entries()) {
    if (alone(index)) {
      flush();
      chunks.push([index]);
      continue;
    }
    if (current.length && (bytes + size > limits.maxBytes || current.length >= limits.maxMessages)) flush();
    current.push(index);
    bytes += size;
  }
  flush();
  return chunks;
}

/**
 * The UIDs of an APPENDUID uid-set (`7`, `5:9`, `1,3:4`) in the order written, or undefined for text
 * that is not one, or a range written high to low: RFC 4315 lets `9:5` mean the same set as `5:9`, which
 * says nothing about which message got which UID, so such an answer is not taken as the server's word.
 */
export function uidSetOrder(text: string): number[] | undefined {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const match = /^([1-9]\d{0,9})(?::([1-9]\d{0,9}))?$/.exec(part);
    if (!match) return undefined;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    if (to < from || from > 0xffffffff || to > 0xffffffff) return undefined;
    // A set far larger than any batch is not an answer to it.
    if (out.length + (to - from) > 100_000) return undefined;
    for (let uid = from; uid <= to; uid++) out.push(uid);
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An IMAP date-time (`"06-May-2021 07:08:09 +0000"`, without the quotes), in UTC. */
export function imapDateTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** The parts of imapflow 2.10's connection the LITERAL+ writer below takes over for one command. */
interface Internals {
  exec: Exec;
  send(data: { tag: string; command: string; attributes: unknown }): Promise<void>;
  write(chunk: Buffer): void;
  commandParts: unknown[];
  rawSensitiveCommand?: boolean;
  currentRequest?: { tag?: string; sent?: boolean } | false;
}

/** The bytes of each command the writer sends itself, by the attributes object it was queued with. */
const written = new WeakMap<object, Buffer>();
const hooked = new WeakSet<object>();

/**
 * Lets `client` send commands whose bytes were built here, queued like any other with `exec` (so they
 * wait their turn and their answer is read by imapflow). Why: imapflow's compiler makes every literal
 * over 4 KiB synchronising, even on a server with LITERAL+, so a MULTIAPPEND of 50 messages would wait
 * for up to 50 continuations, each only as fast as this process's event loop answers it while it
 * also parses the other side's FETCH. The hook wraps `send` (which writes a queued command when its
 * turn comes) once per client: a command registered in {@link written} goes out as its bytes with
 * the tag in front and CRLF after, marked sent as imapflow marks its own; every other command goes
 * through imapflow's own `send` untouched.
 */
function hook(client: ImapFlow): void {
  if (hooked.has(client)) return;
  hooked.add(client);
  const internal = client as unknown as Internals;
  const send = internal.send;
  // Async like imapflow's own: a write to a closed socket then rejects instead of throwing.
  internal.send = async function (this: Internals, data) {
    const bytes = written.get(data.attributes as object);
    if (!bytes) return send.call(this, data);
    this.rawSensitiveCommand = false;
    // Nothing is left to answer a continuation with; write() ends the command with CRLF.
    this.commandParts = [];
    this.write(Buffer.concat([Buffer.from(`${data.tag} ${data.command} `), bytes]));
    if (this.currentRequest && this.currentRequest.tag === data.tag) this.currentRequest.sent = true;
  };
}

/** A mailbox name as an IMAP atom or quoted string; undefined when it needs a literal. */
function nameToken(name: string): string | undefined {
  if (/^[\x21-\x7e]+$/.test(name) && !/[(){%*"\\\]]/.test(name)) return name;
  if (/[\r\n\0]/.test(name)) return undefined;
  return `"${name.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * The arguments of a MULTIAPPEND with every literal non-synchronising (`{n+}`), as bytes; undefined
 * when the mailbox name needs a literal of its own (then imapflow's compiler builds the command).
 */
function literalPlusCommand(
  wireName: string,
  items: readonly AppendItem[],
  binary: boolean,
): Buffer | undefined {
  const name = nameToken(wireName);
  if (name === undefined) return undefined;
  const parts: Buffer[] = [Buffer.from(name)];
  for (const item of items) {
    const date =
      item.internalDate !== undefined && !Number.isNaN(item.internalDate)
        ? ` "${imapDateTime(item.internalDate)}"`
        : '';
    const bytes = Buffer.from(item.body.buffer, item.body.byteOffset, item.body.byteLength);
    const eight = binary && bytes.includes(0) ? '~' : '';
    parts.push(Buffer.from(` (${item.flags.join(' ')})${date} ${eight}{${bytes.byteLength}+}\r\n`), bytes);
  }
  return Buffer.concat(parts);
}

/**
 * Sends one `APPEND name (flags) "date" {n}… (flags) "date" {n}…` for `items` to the mailbox `wireName`
 * (as it goes on the wire: modified UTF-7 unless UTF-8 was enabled). On a server with LITERAL+ (RFC
 * 7888) the whole command goes out at once, every literal non-synchronising; otherwise through
 * imapflow's compiler, which waits for a continuation before each literal over 4 KiB. Resolves with
 * the APPENDUID the server answered; rejects with {@link MultiAppendRefused} when it answered NO or BAD
 * (then, by RFC 3502, none of the messages was stored), and with imapflow's error when the connection
 * failed.
 */
export async function multiAppend(
  client: ImapFlow,
  wireName: string,
  items: readonly AppendItem[],
): Promise<MultiAppendAnswer> {
  const binary = client.capabilities.has('BINARY');
  const internal = client as unknown as Internals;
  const exec = internal.exec.bind(client);
  const raw = client.capabilities.has('LITERAL+') ? literalPlusCommand(wireName, items, binary) : undefined;
  let attributes: Attribute[];
  if (raw) {
    hook(client);
    attributes = [];
    written.set(attributes, raw);
  } else {
    attributes = [{ type: 'ATOM', value: wireName }];
    for (const item of items) {
      attributes.push(item.flags.map((value) => ({ type: 'ATOM', value })));
      if (item.internalDate !== undefined && !Number.isNaN(item.internalDate)) {
        attributes.push({ type: 'STRING', value: imapDateTime(item.internalDate) });
      }
      const bytes = Buffer.from(item.body.buffer, item.body.byteOffset, item.body.byteLength);
      // A NUL byte may only travel in a literal8 (RFC 3516), as imapflow's own APPEND does it.
      attributes.push({ type: 'LITERAL', value: bytes, isLiteral8: binary && bytes.includes(0) });
    }
  }
  let answer: TaggedAnswer;
  try {
    answer = await exec('APPEND', attributes);
  } catch (err) {
    throw refusal(err) ?? err;
  } finally {
    written.delete(attributes);
  }
  const section = answer.response?.attributes?.[0]?.section;
  answer.next();
  const words = (section ?? []).map((s) => (typeof s?.value === 'string' ? s.value : ''));
  if (words[0]?.toUpperCase() !== 'APPENDUID' || !/^\d+$/.test(words[1] ?? '')) return {};
  const uids = uidSetOrder(words[2] ?? '');
  return uids && uids.length === items.length ? { uidValidity: words[1]!, uids } : { uidValidity: words[1]! };
}

/** The server's NO or BAD as a {@link MultiAppendRefused}; undefined for any other failure. */
function refusal(err: unknown): MultiAppendRefused | undefined {
  const e = err as {
    responseStatus?: string;
    responseText?: string;
    response?: { attributes?: { section?: { value?: unknown }[] }[] };
  };
  if (e.responseStatus !== 'NO' && e.responseStatus !== 'BAD') return undefined;
  const code = e.response?.attributes?.[0]?.section?.[0]?.value;
  return new MultiAppendRefused(
    e.responseStatus,
    e.responseText ?? '',
    typeof code === 'string' ? code.toUpperCase() : undefined,
  );
}
