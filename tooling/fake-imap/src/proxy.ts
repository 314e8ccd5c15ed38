import { connect, createServer, type Server, type Socket } from 'node:net';

/** Which way bytes flow through the proxy: from the client to the server (`up`) or back (`down`). */
export type Direction = 'up' | 'down';

/**
 * A network fault, armed once: after `afterBytes` more bytes have passed in `direction` (over every
 * connection), the connection carrying them is cut (`cut`: both sockets destroyed, as by a reset) or
 * goes silent (`stall`: nothing more is forwarded either way, the sockets stay open). Connections
 * made after it fired pass normally.
 */
export interface NetworkFault {
  kind: 'cut' | 'stall';
  direction: Direction;
  afterBytes: number;
}

/**
 * A TCP proxy on loopback that injects one {@link NetworkFault} at a chosen byte: a deterministic
 * stand-in for a flaky network in front of a real server, whatever the protocol (TLS passes through).
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #fault: (NetworkFault & { seen: number }) | undefined;
  #refuseUntil = 0;
  /** Set once the armed fault fired. */
  fired = false;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  /** Arms a fault (replacing one that has not fired). */
  arm(fault: NetworkFault): void {
    this.#fault = { ...fault, seen: 0 };
    this.fired = false;
  }

  /**
   * What a server restart looks like from the client: every connection is cut now, and new ones are
   * refused (closed at once) for `ms`.
   */
  restart(ms: number): void {
    this.#refuseUntil = Date.now() + ms;
    for (const s of this.#sockets) s.destroy();
  }

  #accept(client: Socket): void {
    if (Date.now() < this.#refuseUntil) {
      client.on('error', () => {});
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => this.#sockets.delete(s));
    }
    let stalled = false;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', cut);
    upstream.on('close', cut);
    const forward = (direction: Direction, to: Socket) => (chunk: Buffer) => {
      if (stalled) return;
      const fault = this.#fault;
      if (fault && fault.direction === direction && fault.seen + chunk.length > fault.afterBytes) {
        const keep = Math.max(0, fault.afterBytes - fault.seen);
        this.#fault = undefined;
        this.fired = true;
        if (keep > 0) to.write(chunk.subarray(0, keep));
        if (fault.kind === 'cut') cut();
        else stalled = true;
        return;
      }
      if (fault && fault.direction === direction) fault.seen += chunk.length;
      to.write(chunk);
    };
    client.on('data', forward('up', upstream));
    upstream.on('data', forward('down', client));
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
