import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the fixture's plain IMAP port that can cut connections at a chosen moment,
 * the way a network failure or a killed server process would: deterministic, unlike killing a process.
 */
export class CuttingProxy {
  readonly #server: Server;
  readonly #target: number;
  readonly #pairs = new Set<[Socket, Socket]>();
  #refuse = false;
  #clientRule: { pattern: string; after: number; seen: number; armed: boolean } | undefined;
  #serverRule: string | undefined;
  #rewrite: ((lines: string) => string) | undefined;
  /** What clients sent, as latin1 text, while {@link record} is on. */
  recorded = '';
  #recording = false;
  /** Bytes the clients sent, and the server sent them, since the start or {@link resetBytes}. */
  bytesUp = 0;
  bytesDown = 0;
  /** Connections accepted so far (refused ones not counted). */
  connections = 0;
  port = 0;

  private constructor(target: number) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(targetPort: number): Promise<CuttingProxy> {
    const proxy = new CuttingProxy(targetPort);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  #accept(client: Socket) {
    client.on('error', () => {});
    if (this.#refuse) {
      client.destroy();
      return;
    }
    this.connections++;
    const upstream = connect(this.#target, '127.0.0.1');
    upstream.on('error', () => {});
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const cut = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on('close', cut);
    upstream.on('close', cut);
    client.on('data', (chunk: Buffer) => {
      this.bytesUp += chunk.length;
      if (this.#recording) this.recorded += chunk.toString('latin1');
      const rule = this.#clientRule;
      if (rule) {
        if (!rule.armed) {
          const at = chunk.indexOf(rule.pattern, 0, 'latin1');
          if (at >= 0) {
            rule.armed = true;
            rule.seen = chunk.length - at;
          }
        } else {
          rule.seen += chunk.length;
        }
        if (rule.armed && rule.seen >= rule.after) {
          this.#clientRule = undefined;
          // Forward only part of this chunk: the server gets a literal it never sees the end of.
          upstream.write(chunk.subarray(0, Math.max(0, chunk.length - (rule.seen - rule.after))), cut);
          return;
        }
      }
      upstream.write(chunk);
    });
    let pending: Buffer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      this.bytesDown += chunk.length;
      const rewrite = this.#rewrite;
      if (rewrite || pending.length > 0) {
        // Whole lines only, so a pattern split across two chunks is still found.
        const data: Buffer = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
        const at = data.lastIndexOf('\r\n');
        if (at < 0) {
          pending = data;
          return;
        }
        pending = data.subarray(at + 2);
        const lines = data.subarray(0, at + 2).toString('latin1');
        client.write(Buffer.from(rewrite ? rewrite(lines) : lines, 'latin1'));
        return;
      }
      if (this.#serverRule && chunk.includes(this.#serverRule, 0, 'latin1')) {
        this.#serverRule = undefined;
        cut(); // the answer is lost on the way: the server acted, the client never hears it
        return;
      }
      client.write(chunk);
    });
  }

  /** Cuts the connection once the client has sent `after` bytes from the start of `pattern`. */
  cutClientAfter(pattern: string, after: number): void {
    this.#clientRule = { pattern, after, seen: 0, armed: false };
  }

  /** Cuts the connection instead of delivering the first server chunk containing `pattern`. */
  cutOnServerText(pattern: string): void {
    this.#serverRule = pattern;
  }

  /**
   * Passes what the server sends through `rewrite` (whole lines, as latin1 text) on every connection
   * until it is cleared (undefined): a server that answers oddly.
   */
  rewriteServer(rewrite: ((lines: string) => string) | undefined): void {
    this.#rewrite = rewrite;
  }

  /** Starts (clearing what was recorded) or stops recording what clients send. */
  record(on: boolean): void {
    if (on) this.recorded = '';
    this.#recording = on;
  }

  /** The commands clients sent while recording (`FETCH`, `UID FETCH`, `STATUS`, …), one per tagged line. */
  commands(): string[] {
    return [...this.recorded.matchAll(/^[A-Za-z0-9.]+ ((?:UID )?[A-Z]+)/gm)].map((m) => m[1]!);
  }

  /** Starts counting {@link bytesUp} and {@link bytesDown} from zero. */
  resetBytes(): void {
    this.bytesUp = 0;
    this.bytesDown = 0;
  }

  cutAll(): void {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
  }

  /** While true, new connections are closed at once, as by a server that is down. */
  refuse(on: boolean): void {
    this.#refuse = on;
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
