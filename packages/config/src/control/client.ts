import { createConnection } from 'node:net';
import {
  CONTROL_PROTOCOL,
  type ControlReply,
  type ControlRequest,
  encodeLine,
  type HelloReply,
  LineSplitter,
  MAX_REPLY_LINE,
  type PairStatus,
  type SyncReply,
  type SyncRequest,
} from './protocol.js';
import { checkControlDir } from './socket-path.js';

/** Options of {@link connectControl}. */
export interface ConnectControlOptions {
  /** How long a daemon has to say hello once connected; 2000 ms by default. */
  timeoutMs?: number;
  /**
   * How long a daemon may stay silent while it runs a request (it sends a heartbeat every 5 s); 30000
   * ms by default. Past it the request rejects: the daemon is stuck.
   */
  idleTimeoutMs?: number;
}

/** A connection to a daemon's control socket. */
export interface ControlClient {
  /** What the daemon said when the connection opened. */
  readonly hello: HelloReply;
  /**
   * Asks the daemon to sync now and calls `onReply` with each pair's start, events and end, as they
   * come. Resolves when the daemon says the request is done; rejects with its `error` (the `code` as
   * the error's), when it goes away or stays silent too long, or with an `AbortError` when `signal`
   * aborts (the connection is closed then; the daemon decides whether the sync in flight goes on).
   */
  sync(
    request: Omit<SyncRequest, 'op'>,
    onReply: (reply: SyncReply) => void,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Every pair's live state. */
  status(signal?: AbortSignal): Promise<PairStatus[]>;
  /** Closes the connection. */
  close(): void;
}

/** An error a daemon answered with, or a failure to talk to it; `code` as the daemon gave it. */
export class ControlError extends Error {
  override name = 'ControlError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Connects to the daemon's control socket at `path` ({@link controlSocketPath}) and waits for its
 * hello. Resolves to undefined, quickly, when no daemon is there (no socket, or no one listening on
 * it): the caller then does the work itself. Rejects when something is there but it cannot be
 * trusted or used: a socket directory others can write to, a listener that does not say hello within
 * `timeoutMs`, a daemon speaking another protocol version.
 */
export async function connectControl(
  path: string,
  options: ConnectControlOptions = {},
): Promise<ControlClient | undefined> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  if (!checkControlDir(path, false)) return undefined;
  const socket = createConnection(path);
  const lines = new LineSplitter(MAX_REPLY_LINE);
  // Replies go to whoever waits: first the hello, then the request in flight.
  let listener: ((reply: ControlReply) => void) | undefined;
  let failure: ((err: Error) => void) | undefined;
  const fail = (err: Error) => {
    socket.destroy();
    const f = failure;
    failure = undefined;
    listener = undefined;
    f?.(err);
  };
  socket.on('data', (chunk) => {
    let received: string[];
    try {
      received = lines.push(chunk);
    } catch (err) {
      return fail(new ControlError(`the daemon on ${path} sent ${(err as Error).message}`));
    }
    for (const line of received) {
      let reply: ControlReply;
      try {
        reply = JSON.parse(line) as ControlReply;
      } catch {
        return fail(new ControlError(`the daemon on ${path} sent a line that is not JSON`));
      }
      listener?.(reply);
    }
  });
  socket.on('close', () => fail(new ControlError(`the daemon on ${path} closed the connection`)));

  const hello = await new Promise<HelloReply | undefined>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        fail(
          new ControlError(
            `${path}: the daemon there did not answer within ${timeoutMs} ms; it may be stuck (restart it).`,
          ),
        ),
      timeoutMs,
    );
    const settle = () => {
      clearTimeout(timer);
      socket.off('error', onConnectError);
    };
    const onConnectError = (err: NodeJS.ErrnoException) => {
      settle();
      failure = undefined;
      socket.destroy();
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(new ControlError(`${path}: ${err.message}`, err.code));
    };
    socket.once('error', onConnectError);
    failure = (err) => {
      settle();
      reject(err);
    };
    listener = (reply) => {
      settle();
      listener = undefined;
      failure = undefined;
      if (reply.type !== 'hello') reject(new ControlError(`${path}: the daemon did not begin with hello`));
      else resolve(reply);
    };
  });
  if (!hello) return undefined;
  // Later socket errors end the request in flight through 'close'.
  socket.on('error', () => {});
  if (hello.protocol !== CONTROL_PROTOCOL) {
    socket.destroy();
    throw new ControlError(
      `twinboxd (pid ${hello.pid}) speaks control protocol ${hello.protocol}, this twinbox ${CONTROL_PROTOCOL}: restart twinboxd after an upgrade.`,
      'PROTOCOL_MISMATCH',
    );
  }

  let busy = false;
  /** Sends `request` and feeds replies to `onReply` until it returns a value or throws. */
  function request<T>(
    message: ControlRequest,
    onReply: (reply: ControlReply) => { done: T } | undefined,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    if (busy) return Promise.reject(new Error('one request at a time on a control connection'));
    if (socket.destroyed)
      return Promise.reject(new ControlError(`the daemon on ${path} closed the connection`));
    busy = true;
    return new Promise<T>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(
          () =>
            fail(
              new ControlError(
                `twinboxd (pid ${hello!.pid}) sent nothing for ${idleTimeoutMs < 1000 ? `${idleTimeoutMs} ms` : `${Math.round(idleTimeoutMs / 1000)} s`}; it may be stuck (restart it).`,
                'DAEMON_STUCK',
              ),
            ),
          idleTimeoutMs,
        );
      };
      const onAbort = () => {
        const err = new Error('stopped waiting for the daemon');
        err.name = 'AbortError';
        fail(err);
      };
      const finish = () => {
        clearTimeout(idle);
        signal?.removeEventListener('abort', onAbort);
        busy = false;
        listener = undefined;
        failure = undefined;
      };
      failure = (err) => {
        finish();
        reject(err);
      };
      listener = (reply) => {
        arm();
        if (reply.type === 'heartbeat') return;
        if (reply.type === 'error') {
          finish();
          reject(new ControlError(reply.message, reply.code));
          return;
        }
        let outcome: { done: T } | undefined;
        try {
          outcome = onReply(reply);
        } catch (err) {
          fail(err as Error);
          return;
        }
        if (outcome) {
          finish();
          resolve(outcome.done);
        }
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      arm();
      socket.write(encodeLine(message));
    });
  }

  return {
    hello,
    sync: (req, onReply, signal) =>
      request<void>(
        { op: 'sync', ...req },
        (reply) => {
          if (reply.type === 'end') return { done: undefined };
          if (
            reply.type === 'pair-start' ||
            reply.type === 'event' ||
            reply.type === 'pair-done' ||
            reply.type === 'pair-error'
          )
            onReply(reply);
          return undefined;
        },
        signal,
      ),
    status: (signal) =>
      request<PairStatus[]>(
        { op: 'status' },
        (reply) => (reply.type === 'status' ? { done: reply.pairs } : undefined),
        signal,
      ),
    close: () => {
      failure = undefined;
      listener = undefined;
      socket.destroy();
    },
  };
}
