import { StringDecoder } from 'node:string_decoder';
import type { SyncEvent, SyncReport, WatchStatus } from '@twinbox/core';
import type { LastSync } from '../last-sync.js';

/**
 * The version of the control protocol, sent in {@link HelloReply}. A client refuses a daemon speaking
 * another one (a daemon still running after an upgrade) rather than misread it.
 */
export const CONTROL_PROTOCOL = 1;

/**
 * The longest request line a daemon reads (1 MiB): a request is a few names and patterns, so a longer
 * line is a mistake or an attack, and the connection is ended rather than the line buffered.
 */
export const MAX_REQUEST_LINE = 1024 * 1024;

/**
 * The longest reply line a client reads (256 MiB): a dry run's plans in an event or a report can be
 * large (a message reference per copy), but a daemon sending more than this is broken.
 */
export const MAX_REPLY_LINE = 256 * 1024 * 1024;

/**
 * Which of a sync's {@link SyncReply} `event` lines a client wants: `all` of them (progress bars, JSON
 * output); only each folder's end (`folders`: the `folder-done` events, with the folder's report,
 * which is all a plain summary prints); or `none`. The pair's start and end are sent whatever it says.
 * A batch's plans and per-message progress are the bulk of a busy sync's replies: a client that shows
 * none of them does not make the daemon encode and send them.
 */
export type SyncEvents = 'all' | 'folders' | 'none';

/** The values of {@link SyncEvents}, for checking a request. */
export const SYNC_EVENTS: readonly SyncEvents[] = ['all', 'folders', 'none'];

/**
 * Sync now, as `twinbox sync` would: the pairs named (every pair when empty), only the folders matching
 * `folders` (patterns as `--folder` takes them), or a dry run; `events` says which events the client
 * wants (`all` when absent, as before the field existed).
 */
export interface SyncRequest {
  op: 'sync';
  pairs: string[];
  folders?: string[];
  dryRun?: boolean;
  events?: SyncEvents;
}

/** Whether a sync's `event` reply goes to a client that asked for `events` (see {@link SyncEvents}). */
export function wantsEvent(events: SyncEvents | undefined, event: SyncEvent): boolean {
  if (events === undefined || events === 'all') return true;
  return events === 'folders' && event.type === 'folder-done';
}

/** Each pair's live state. */
export interface StatusRequest {
  op: 'status';
}

/** What a client sends: one JSON object per line. */
export type ControlRequest = SyncRequest | StatusRequest;

/** The daemon's first line on every connection. */
export interface HelloReply {
  type: 'hello';
  /** {@link CONTROL_PROTOCOL} of the daemon. */
  protocol: number;
  /** The daemon's version. */
  version: string;
  pid: number;
  /** The config file the daemon serves. */
  config: string;
}

/**
 * What the daemon sends while it runs a {@link SyncRequest}: per pair `pair-start`, its `event`s and
 * `pair-done` or `pair-error`; `heartbeat` every few seconds so that a client tells a long quiet
 * listing from a daemon that stopped answering; `end` once every pair is done, or `error` when the
 * request could not be run (nothing follows either).
 */
export type SyncReply =
  | {
      type: 'pair-start';
      pair: string;
      /** `left ⇄ right`, the pair's accounts, as `twinbox sync` prints them. */
      title: string;
    }
  | { type: 'event'; pair: string; event: SyncEvent }
  | { type: 'pair-done'; pair: string; report: SyncReport; seconds: number }
  | {
      type: 'pair-error';
      pair: string;
      message: string;
      /** The error's `code` (`AUTH_FAILED`, `STATE_LOCKED`, `CONFIG_INVALID`…), for the exit code. */
      code?: string;
    };

/** A reply the daemon sends about the connection itself rather than a pair. */
export type ConnectionReply =
  | { type: 'heartbeat' }
  | { type: 'end' }
  | {
      type: 'error';
      message: string;
      /** `BAD_REQUEST`, `UNKNOWN_PAIR`, or the code of the error that ended the request. */
      code?: string;
    };

/** What the daemon sends: one JSON object per line. */
export type ControlReply = HelloReply | SyncReply | ConnectionReply | { type: 'status'; pairs: PairStatus[] };

/**
 * What a pair of a daemon is doing: `opening` its stores, `watching` them for changes (push),
 * `polling` them on a timer (no push), `syncing`, `backing-off` after a failure until
 * `nextAttemptAt`, or `stopped`.
 */
export type PairState = 'opening' | 'watching' | 'polling' | 'syncing' | 'backing-off' | 'stopped';

/** A pair as a daemon sees it, for `twinbox status`. */
export interface PairStatus {
  name: string;
  /** The accounts of its two sides. */
  left: string;
  right: string;
  state: PairState;
  /** Since when the pair is in `state`, ISO 8601. */
  since: string;
  lastSync?: LastSync;
  lastError?: { at: string; message: string; code?: string };
  /** When the daemon tries again (`backing-off`) or next polls, ISO 8601. */
  nextAttemptAt?: string;
  /** Failures in a row; 0 after a sync that succeeded. */
  failures: number;
  /** How each side is watched, when it is. */
  watch?: { left?: WatchStatus; right?: WatchStatus };
}

/**
 * Splits a stream of bytes into lines of UTF-8 text, each at most `max` bytes: a longer line throws
 * rather than grows the buffer. Node's readline has no such bound, hence this.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';
  #pendingBytes = 0;
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The complete lines in `chunk` (with what came before it); throws when a line is too long. */
  push(chunk: Buffer): string[] {
    const text = this.#decoder.write(chunk);
    const parts = text.split('\n');
    const last = parts.pop() ?? '';
    const lines: string[] = [];
    for (const part of parts) {
      const line = this.#pending + part;
      this.#pending = '';
      this.#pendingBytes = 0;
      if (Buffer.byteLength(line) > this.#max) throw new Error(`a line longer than ${this.#max} bytes`);
      lines.push(line);
    }
    this.#pending += last;
    this.#pendingBytes += Buffer.byteLength(last);
    if (this.#pendingBytes > this.#max) throw new Error(`a line longer than ${this.#max} bytes`);
    return lines;
  }
}

/** One message as a line. */
export function encodeLine(message: ControlRequest | ControlReply): string {
  return `${JSON.stringify(message)}\n`;
}
