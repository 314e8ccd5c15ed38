import { ImapFlow } from 'imapflow';
import { folderPath, folderTree } from './assign.js';
import { type CorpusMessage, type CorpusOptions, readCorpus } from './corpus.js';

export interface ImapTarget {
  host: string;
  port: number;
  /** Implicit TLS (IMAPS). On a plain port, STARTTLS is used when `ca` is given, plain IMAP otherwise. */
  secure: boolean;
  /** PEM of the CA (or self-signed certificate) to trust; the certificate is always verified. */
  ca?: string | undefined;
  user: string;
  password: string;
}

export interface LoadOptions extends CorpusOptions {
  /** Parallel IMAP connections, each taking the next message from one shared queue (default 4). */
  connections?: number;
  /** Called after each message, appended or failed, with the number done so far. */
  onProgress?: (done: number) => void;
}

export interface LoadReport {
  appended: number;
  /** Messages the server refused, with its response text; the load goes on without them. */
  failed: { key: string; error: string }[];
  /** Messages stored per folder (`/` between levels); created folders that hold none are listed with 0. */
  folders: Record<string, number>;
  seconds: number;
}

function newClient(target: ImapTarget): ImapFlow {
  const client = new ImapFlow({
    host: target.host,
    port: target.port,
    secure: target.secure,
    doSTARTTLS: target.secure ? undefined : target.ca !== undefined,
    ...(target.ca ? { tls: { ca: [target.ca], rejectUnauthorized: true } } : {}),
    auth: { user: target.user, pass: target.password },
    logger: false,
    // Nothing here waits for new mail; IDLE between appends would only add round trips.
    disableAutoIdle: true,
  });
  // A dropped connection also surfaces as the failure of the command in flight, which is handled there;
  // without a listener the 'error' event would crash the process.
  client.on('error', () => {});
  return client;
}

async function connect(target: ImapTarget): Promise<ImapFlow> {
  const client = newClient(target);
  await client.connect();
  return client;
}

/** The hierarchy separator the server uses in the personal namespace (NAMESPACE, else LIST of ""). */
async function serverDelimiter(client: ImapFlow): Promise<string> {
  let delimiter = client.namespace?.delimiter;
  if (!delimiter) {
    const listed = await client.list();
    delimiter = listed.find((m) => m.delimiter)?.delimiter;
  }
  if (!delimiter)
    throw new Error('The server reports no hierarchy separator; the corpus needs nested folders.');
  return delimiter;
}

function errorText(err: unknown): string {
  const e = err as { responseText?: string; message?: string; code?: string };
  return e.responseText || e.message || e.code || String(err);
}

/**
 * APPENDs the corpus with its folders, flags and INTERNALDATEs. A message the server refuses is
 * recorded in the report and the load goes on; only a failure to log in or create the folders aborts.
 */
export async function loadIntoImap(target: ImapTarget, options: LoadOptions = {}): Promise<LoadReport> {
  const started = performance.now();
  const connections = Math.max(1, Math.floor(options.connections ?? 4));
  const first = await connect(target);
  const clients: ImapFlow[] = [first];
  try {
    const delimiter = await serverDelimiter(first);
    const serverName = (folder: string) =>
      folder === 'INBOX' ? 'INBOX' : folderPath(folder).join(delimiter);
    const folders: Record<string, number> = {};
    for (const folder of folderTree()) {
      folders[folder] = 0;
      if (folder !== 'INBOX') await first.mailboxCreate(serverName(folder));
    }
    while (clients.length < connections) clients.push(await connect(target));

    const report: LoadReport = { appended: 0, failed: [], folders, seconds: 0 };
    const queue = readCorpus(options);
    let done = 0;
    let fatal: unknown;
    // One generator feeds every connection: next() calls on an async generator are served in turn,
    // so each message goes to exactly one connection and at most one per connection is in memory.
    const worker = async (slot: number) => {
      while (fatal === undefined) {
        const next = await queue.next();
        if (next.done) return;
        const message: CorpusMessage = next.value;
        try {
          const result = await clients[slot]!.append(
            serverName(message.folder),
            message.raw,
            message.flags,
            message.date,
          );
          if (!result) throw new Error('The connection was not in the authenticated state');
          report.appended++;
          folders[message.folder] = (folders[message.folder] ?? 0) + 1;
        } catch (err) {
          report.failed.push({ key: message.key, error: errorText(err) });
          // A refusal leaves the session usable; a dropped connection is replaced for the next message.
          if (!clients[slot]!.usable) {
            clients[slot]!.close();
            try {
              clients[slot] = await connect(target);
            } catch (reconnectError) {
              // Without a connection every remaining message would fail the same way: stop them all.
              fatal ??= reconnectError;
            }
          }
        }
        done++;
        options.onProgress?.(done);
      }
    };
    await Promise.all(clients.map((_, slot) => worker(slot)));
    if (fatal !== undefined) throw fatal;
    report.seconds = (performance.now() - started) / 1000;
    return report;
  } finally {
    await Promise.all(clients.map((c) => (c.usable ? c.logout().catch(() => c.close()) : c.close())));
  }
}
