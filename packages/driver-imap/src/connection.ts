import { isIP } from 'node:net';
import { ImapFlow } from 'imapflow';

/**
 * How to reach one IMAP account. TLS is verified by default; plaintext is an explicit choice, and even
 * then a password is only sent in the clear to a loopback host unless `allowPlaintextPassword` says so.
 */
export interface ImapAccountOptions {
  host: string;
  /** Default 993 for `tls: 'implicit'`, 143 otherwise. */
  port?: number;
  /**
   * `implicit` (IMAPS, the default), `starttls` (required: a server that does not offer it fails the
   * connection rather than falling back to plaintext), or `none`.
   */
  tls?: 'implicit' | 'starttls' | 'none';
  /** PEM certificate(s) to trust in addition to the system's, for a private CA or self-signed server. */
  ca?: string | string[];
  user: string;
  password: string;
  /** Opt-in for `tls: 'none'` to a host that is not loopback. */
  allowPlaintextPassword?: boolean;
}

export class InsecureTransportError extends Error {
  override name = 'InsecureTransportError';
  readonly code = 'INSECURE_TRANSPORT';
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/** Refuses, before any byte is sent, a configuration that would send a password in the clear. */
export function checkTransportSecurity(options: ImapAccountOptions): void {
  if ((options.tls ?? 'implicit') !== 'none') return;
  if (isLoopbackHost(options.host) || options.allowPlaintextPassword) return;
  throw new InsecureTransportError(
    `Refusing to send the password for ${options.user} to ${options.host} without TLS. ` +
      "Use tls = 'implicit' or 'starttls'; if the network is trusted, set allowPlaintextPassword to opt in.",
  );
}

/**
 * Opens an authenticated imapflow session. Never logs: imapflow's logger is off, since its debug
 * output would carry the LOGIN command.
 */
export async function openImap(options: ImapAccountOptions): Promise<ImapFlow> {
  checkTransportSecurity(options);
  const tls = options.tls ?? 'implicit';
  const client = new ImapFlow({
    host: options.host,
    port: options.port ?? (tls === 'implicit' ? 993 : 143),
    secure: tls === 'implicit',
    doSTARTTLS: tls === 'starttls' ? true : tls === 'none' ? false : undefined,
    tls: {
      rejectUnauthorized: true,
      ...(options.ca ? { ca: Array.isArray(options.ca) ? options.ca : [options.ca] } : {}),
    },
    auth: { user: options.user, pass: options.password },
    logger: false,
    disableAutoIdle: true,
    // QRESYNC lets a listing ask for the messages changed and the UIDs expunged since a HIGHESTMODSEQ.
    qresync: true,
  });
  // Errors surface through the rejected promises of the calls; an unhandled 'error' event would crash.
  client.on('error', () => {});
  await client.connect();
  return client;
}
