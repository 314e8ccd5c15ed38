import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';
import type { DaemonHealth, DaemonMetrics, PairHealth } from './metrics.js';

/** What {@link serveMetrics} serves. */
export interface ServeMetricsOptions {
  metrics: DaemonMetrics;
  /**
   * The daemon's health, asked at each `/healthz` request: 200 when `ok`, else 503. Only the fields of
   * {@link PairHealth} are served, so nothing else put on a pair's object can leak out. `metrics.health()`
   * is a ready-made one: ok unless every pair is failing.
   */
  health: () => DaemonHealth;
}

/** A running listener: its base URL (`http://127.0.0.1:9464/`), and how to stop it. */
export interface MetricsServer {
  url: string;
  /** Stops listening and ends open connections (a scraper's keep-alive would otherwise hold it open). */
  close(): Promise<void>;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * Splits `HOST:PORT` (`[::1]:PORT` for IPv6) and refuses anything but a loopback host: the listener has
 * no authentication, and its pair names and error codes are nobody else's business.
 */
function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address.trim());
  if (!match) {
    throw new RangeError(
      `The metrics address ${JSON.stringify(address)} is not HOST:PORT; give one such as 127.0.0.1:9464 or [::1]:9464.`,
    );
  }
  const host = (match[1] ?? match[2] ?? '').toLowerCase();
  const port = Number(match[3]);
  if (port > 65535) {
    throw new RangeError(
      `The metrics address ${address} has port ${port}; give a port from 1 to 65535 (0 picks a free one).`,
    );
  }
  const family = isIP(host);
  const isLoopback =
    host === 'localhost' ||
    (family === 4 && loopback.check(host, 'ipv4')) ||
    (family === 6 && loopback.check(host, 'ipv6'));
  if (!isLoopback) {
    throw new RangeError(
      `The metrics listener must be on a loopback address (127.0.0.0/8, ::1 or localhost), not ${address}: ` +
        'it has no authentication, and pair names tell which accounts are synced. ' +
        'Listen on 127.0.0.1 and let Prometheus scrape through an SSH tunnel or an authenticating reverse proxy.',
    );
  }
  return { host, port };
}

function pickPair(h: PairHealth): PairHealth {
  return {
    ...(h.state !== undefined ? { state: h.state } : {}),
    ...(h.lastOutcome !== undefined ? { lastOutcome: h.lastOutcome } : {}),
    ...(h.lastSuccess !== undefined ? { lastSuccess: h.lastSuccess } : {}),
    consecutiveFailures: h.consecutiveFailures,
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : body);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: ServeMetricsOptions,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz') {
    send(
      res,
      404,
      'text/plain; charset=utf-8',
      'Not found: try /metrics or /healthz.\n',
      req.method === 'HEAD',
    );
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', `${path} answers GET and HEAD only.\n`, false);
    return;
  }
  const head = req.method === 'HEAD';
  if (path === '/metrics') {
    const { registry } = options.metrics;
    send(res, 200, registry.contentType, await registry.metrics(), head);
    return;
  }
  let health: DaemonHealth;
  try {
    health = options.health();
  } catch {
    // The error's text is not served: it may quote anything the daemon holds.
    send(res, 503, 'application/json', '{"ok":false,"pairs":{}}\n', head);
    return;
  }
  const pairs = Object.fromEntries(Object.entries(health.pairs).map(([name, h]) => [name, pickPair(h)]));
  const body = `${JSON.stringify({ ok: health.ok === true, pairs })}\n`;
  send(res, health.ok === true ? 200 : 503, 'application/json', body, head);
}

/**
 * The daemon's optional loopback HTTP listener: `GET /metrics` (Prometheus text format) and
 * `GET /healthz` (JSON, 200 when the daemon's health is ok, 503 when not); 404 for any other path, 405
 * for another method. `address` is `HOST:PORT` with a loopback host (127.0.0.0/8, `[::1]`, `localhost`);
 * anything else is refused with a `RangeError` that says why. Port 0 picks a free port (see `url`).
 * Rejects when the port cannot be listened on (in use, not allowed), naming the address.
 */
export async function serveMetrics(address: string, options: ServeMetricsOptions): Promise<MetricsServer> {
  const { host, port } = parseAddress(address);
  const server = createServer((req, res) => {
    handle(req, res, options).catch(() => {
      // A collector that threw: answer rather than hang the scrape; nothing of the error is served.
      if (!res.headersSent)
        send(res, 500, 'text/plain; charset=utf-8', 'Collecting metrics failed.\n', false);
      else res.destroy();
    });
  });
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new Error(
      `The metrics listener cannot listen on ${address}${typeof code === 'string' ? ` (${code})` : ''}: ` +
        'choose another port, or stop whatever holds this one.',
      { cause: err },
    );
  }
  const bound = server.address();
  if (bound === null || typeof bound === 'string')
    throw new Error('The metrics listener has no TCP address.');
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}/`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
