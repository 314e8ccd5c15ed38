import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import {
  CONTROL_PROTOCOL,
  type ControlReply,
  encodeLine,
  type HelloReply,
  LineSplitter,
  MAX_REQUEST_LINE,
  type PairStatus,
  SYNC_EVENTS,
  type SyncEvents,
  type SyncReply,
  type SyncRequest,
  wantsEvent,
} from './protocol.js';
import { checkControlDir } from './socket-path.js';

/** What a daemon offers its control socket: it implements this, {@link serveControl} does the rest. */
export interface ControlTarget {
  /** The config file it serves (named in the hello line). */
  readonly configFile: string;
  readonly version: string;
  /**
   * Runs a sync request (its pairs exist: the server checked them against {@link status}), calling
   * `send` with each pair's start, events and end, and resolves once every pair is done (`send` drops
   * the events `request.events` leaves out; a target may skip making them); the server
   * then sends `end`. A rejection is sent as an `error` line. `signal` aborts when the client goes
   * away: the daemon may stop or finish the sync in flight, its call. `send` is a no-op once the client
   * is gone.
   */
  sync(request: SyncRequest, send: (reply: SyncReply) => void, signal: AbortSignal): Promise<void>;
  /** Every pair's live state. */
  status(): PairStatus[];
}

/** Options of {@link serveControl}. */
export interface ServeControlOptions {
  /** The socket's path: {@link controlSocketPath} of the config. */
  path: string;
  /** Where to say what happened (a client sent garbage, a connection failed); nothing by default. */
  log?: (message: string) => void;
  /** How often a heartbeat goes to a client waiting for a sync; 5000 ms by default. */
  heartbeatMs?: number;
}

/** A control socket being served. */
export interface ControlServer {
  /** The socket's path. */
  readonly path: string;
  /**
   * Stops serving: ends every connection (their syncs' signals abort) and removes the socket file.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** How long a live daemon has to say hello to a new server probing its socket. */
const PROBE_MS = 2000;

/**
 * Serves `target` on a Unix socket at `options.path` (newline-delimited JSON, see {@link ControlRequest}
 * and {@link ControlReply}): the socket is 0600 in a 0700 directory of the user's own (created if
 * missing, refused if anyone else can get in). A socket left by a daemon that died (no one listens) is
 * replaced; one a live daemon listens on makes this reject, naming that daemon's pid, so two daemons
 * never serve one config. A bad request (not JSON, an unknown op, a line over 1 MiB) is answered with
 * an `error` line and the connection ended; nothing a client sends can throw here.
 */
export async function serveControl(
  target: ControlTarget,
  options: ServeControlOptions,
): Promise<ControlServer> {
  const { path } = options;
  const log = options.log ?? (() => {});
  const heartbeatMs = options.heartbeatMs ?? 5000;
  checkControlDir(path, true);
  const connections = new Set<{ socket: Socket; abort: AbortController }>();
  const server = createServer((socket) => {
    const entry = { socket, abort: new AbortController() };
    connections.add(entry);
    socket.on('close', () => {
      connections.delete(entry);
      entry.abort.abort();
    });
    handle(target, socket, entry.abort.signal, log, heartbeatMs);
  });
  server.on('error', (err) => log(`control socket ${path}: ${err.message}`));
  await listen(server, path);
  // The directory is private already; the mode keeps the socket so if it is ever moved out of it.
  if (process.platform !== 'win32') chmodSync(path, 0o600);
  let closed: Promise<void> | undefined;
  return {
    path,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const { socket, abort } of connections) {
          abort.abort();
          socket.destroy();
        }
      }).then(() => {
        try {
          unlinkSync(path);
        } catch {
          // Removed with the server already.
        }
      });
      return closed;
    },
  };
}

function listen(server: Server, path: string): Promise<void> {
  const attempt = () =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(path);
    });
  return attempt().catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    if (!lstatSync(path).isSocket())
      throw new Error(`${path}: exists and is not a socket; remove it so that the daemon can serve there.`);
    const other = await probe(path);
    if (other.kind === 'hello')
      throw new Error(
        `another twinboxd (pid ${other.hello.pid}) serves ${other.hello.config} on ${path}: stop it first (kill ${other.hello.pid}).`,
      );
    if (other.kind === 'silent')
      throw new Error(
        `${path}: a process listens there but does not answer; if no twinboxd runs for this config, remove the file.`,
      );
    // Left behind by a daemon that died: no one listens.
    unlinkSync(path);
    await attempt();
  });
}

type Probe = { kind: 'hello'; hello: HelloReply } | { kind: 'silent' } | { kind: 'stale' };

/** Who listens on `path`: a daemon (its hello), something that says nothing, or no one. */
function probe(path: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const lines = new LineSplitter(64 * 1024);
    const done = (result: Probe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ kind: 'silent' }), PROBE_MS);
    socket.on('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? { kind: 'stale' } : { kind: 'silent' }),
    );
    socket.on('data', (chunk) => {
      try {
        const first = lines.push(chunk)[0];
        if (first === undefined) return;
        const hello = JSON.parse(first) as HelloReply;
        done(hello.type === 'hello' ? { kind: 'hello', hello } : { kind: 'silent' });
      } catch {
        done({ kind: 'silent' });
      }
    });
  });
}

/** Serves one connection: requests one after another, each answered in full before the next is read. */
function handle(
  target: ControlTarget,
  socket: Socket,
  signal: AbortSignal,
  log: (message: string) => void,
  heartbeatMs: number,
): void {
  // Lines are gathered and written once per turn of the event loop: a sync's events come one by one,
  // and a write each (a system call, and a wake-up of the client) cost the daemon's main thread, where
  // the engine runs, more than the events themselves.
  let pending: string[] = [];
  const flush = () => {
    const data = pending.join('');
    pending = [];
    if (data !== '' && !socket.destroyed && socket.writable) socket.write(data);
  };
  const send = (reply: ControlReply) => {
    if (socket.destroyed || !socket.writable) return;
    if (pending.length === 0) setImmediate(flush);
    pending.push(encodeLine(reply));
  };
  const end = () => {
    flush();
    socket.end();
  };
  const fail = (message: string, code: string) => {
    send({ type: 'error', message, code });
    end();
  };
  socket.on('error', (err) => log(`control connection: ${err.message}`));
  send({
    type: 'hello',
    protocol: CONTROL_PROTOCOL,
    version: target.version,
    pid: process.pid,
    config: target.configFile,
  });
  const lines = new LineSplitter(MAX_REQUEST_LINE);
  let queue = Promise.resolve();
  socket.on('data', (chunk) => {
    let received: string[];
    try {
      received = lines.push(chunk);
    } catch (err) {
      log(`control connection: ${(err as Error).message}; ended`);
      socket.removeAllListeners('data');
      fail(`${(err as Error).message}: ended`, 'BAD_REQUEST');
      return;
    }
    for (const line of received) {
      if (line.trim() === '') continue;
      queue = queue.then(() => (signal.aborted ? undefined : answer(line)));
    }
  });

  async function answer(line: string): Promise<void> {
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      log('control connection: a line that is not JSON; ended');
      return fail('not JSON: each request is one JSON object on a line', 'BAD_REQUEST');
    }
    const problem = invalid(request);
    if (problem) {
      log(`control connection: ${problem}; ended`);
      return fail(problem, 'BAD_REQUEST');
    }
    const req = request as SyncRequest | { op: 'status' };
    try {
      if (req.op === 'status') {
        send({ type: 'status', pairs: target.status() });
        return;
      }
      const known = target.status().map((p) => p.name);
      const unknown = req.pairs.find((p) => !known.includes(p));
      if (unknown !== undefined)
        return fail(
          `${target.configFile}: no pair named ${JSON.stringify(unknown)} (pairs: ${known.join(', ')}).`,
          'UNKNOWN_PAIR',
        );
      const heartbeat = setInterval(() => send({ type: 'heartbeat' }), heartbeatMs);
      // Events the client did not ask for are dropped here, so every target honours `events`.
      const events = req.events;
      const sendReply =
        events === undefined || events === 'all'
          ? send
          : (reply: SyncReply) => {
              if (reply.type !== 'event' || wantsEvent(events, reply.event)) send(reply);
            };
      try {
        await target.sync(req, sendReply, signal);
      } finally {
        clearInterval(heartbeat);
      }
      send({ type: 'end' });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      send({ type: 'error', message: (err as Error).message, ...(typeof code === 'string' ? { code } : {}) });
      end();
    }
  }
}

/** What is wrong with a request, or undefined. By hand: a client must not load zod to talk here. */
function invalid(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    return 'a request is a JSON object';
  const r = request as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (r.op === 'status') return undefined;
  if (r.op !== 'sync') return `unknown op ${JSON.stringify(r.op)} (sync, status)`;
  if (!strings(r.pairs)) return 'sync: pairs must be an array of pair names ([] for all)';
  if (r.folders !== undefined && !strings(r.folders)) return 'sync: folders must be an array of patterns';
  if (r.dryRun !== undefined && typeof r.dryRun !== 'boolean') return 'sync: dryRun must be true or false';
  if (r.events !== undefined && !SYNC_EVENTS.includes(r.events as SyncEvents))
    return `sync: events must be one of ${SYNC_EVENTS.join(', ')}`;
  return undefined;
}
