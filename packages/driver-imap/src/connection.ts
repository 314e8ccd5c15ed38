import { isIP } from 'node:net';
import * as nodeTls from 'node:tls';
import { checkServerIdentity, type PeerCertificate, type SecureContext } from 'node:tls';
import { StoreError } from '@twinbox/core';
import { ImapFlow } from 'imapflow';
import { type CredentialSources, credentialSource, type ImapAuth, resolveAuth } from './auth.js';

/**
 * How to reach one IMAP account. TLS is verified by default; plaintext is an explicit choice, and even
 * then a password is only sent in the clear to a loopback host unless `allowPlaintextPassword` says so.
 * The secret comes from exactly one of `password`, `passwordCommand`, `passwordEnv` and `oauth2`
 * (see {@link CredentialSources}); it never appears in an error message or a log.
 */
export interface ImapAccountOptions extends CredentialSources {
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
  /**
   * Pins the server certificate: `sha256:` and the SHA-256 of the certificate (DER) in hex, colons
   * optional (`openssl x509 -noout -fingerprint -sha256`). Checked in addition to the usual
   * verification, not instead of it: for a self-signed server, also give its certificate as `ca`.
   */
  fingerprint?: string;
  user: string;
  /** Opt-in for `tls: 'none'` to a host that is not loopback. */
  allowPlaintextPassword?: boolean;
  /**
   * How long the server may stay silent while a command (or the connection's set-up) waits for its
   * answer, in ms, before the connection is given up as stalled; default {@link DEFAULT_TIMEOUT_MS}
   * (mbsync's default). A long FETCH that keeps sending is never cut: only silence counts.
   */
  timeoutMs?: number;
}

/** 20 s, as mbsync's `Timeout`: long enough for a busy server, short enough for a sync to end. */
export const DEFAULT_TIMEOUT_MS = 20_000;

/** The command each client was waiting on when its server went silent, for the error that says so. */
const stalls = new WeakMap<ImapFlow, string>();

/**
 * The command a client's connection stalled on, if it did (its server stayed silent past the
 * timeout, and imapflow closed the connection). Undefined for a connection that dropped otherwise.
 */
export function stalledCommand(client: ImapFlow): string | undefined {
  return stalls.get(client);
}

/**
 * The command in flight, named for an error message only. imapflow keeps it in an internal field
 * (`currentRequest`); nothing but this diagnostic reads it, so a change there costs a vaguer message.
 */
function commandInFlight(client: ImapFlow): string {
  const request = (client as unknown as { currentRequest?: { command?: unknown } }).currentRequest;
  return typeof request?.command === 'string' ? request.command : 'the command in flight';
}

/** A stalled connection's set-up, as a StoreError the session will not retry (it would stall again). */
export class StalledError extends Error {
  override name = 'StalledError';
  readonly code = 'SERVER_STALLED';
  constructor(readonly command: string) {
    super(`no answer to ${command}`);
  }
}

/**
 * Thrown before connecting when the settings would send a password in the clear (`tls: 'none'` to a
 * host that is not this machine, without `allowPlaintextPassword`), or pin a certificate without TLS.
 */
export class InsecureTransportError extends Error {
  override name = 'InsecureTransportError';
  readonly code = 'INSECURE_TRANSPORT';
}

/** Whether `host` names this machine (localhost, 127.0.0.0/8, ::1), where no network can listen in. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/** Refuses, before any byte is sent, a configuration that would send a password in the clear. */
export function checkTransportSecurity(options: ImapAccountOptions): void {
  if ((options.tls ?? 'implicit') !== 'none') return;
  if (options.fingerprint !== undefined) {
    throw new InsecureTransportError(
      `A certificate fingerprint is pinned for ${options.user} at ${options.host}, but tls is 'none': there is no certificate to check. Use tls = 'implicit' or 'starttls'.`,
    );
  }
  if (isLoopbackHost(options.host) || options.allowPlaintextPassword) return;
  throw new InsecureTransportError(
    `Refusing to send the password for ${options.user} to ${options.host} without TLS. ` +
      "Use tls = 'implicit' or 'starttls'; if the network is trusted, set allowPlaintextPassword to opt in.",
  );
}

/** `sha256:AB:CD…` (any case, colons optional) as Node prints it: `AB:CD:…`. */
export function parseFingerprint(pin: string): string {
  const match = /^sha256:((?:[0-9a-f]{2}:?){32})$/i.exec(pin.trim());
  if (!match) {
    throw new StoreError(
      `The certificate fingerprint ${JSON.stringify(pin)} is not of the form sha256:AB:CD:… (32 bytes in hex).`,
      { code: 'AUTH_CONFIG' },
    );
  }
  const hex = match[1]!.replace(/:/g, '').toUpperCase();
  return hex.match(/../g)!.join(':');
}

/** The server's certificate does not have the pinned SHA-256 fingerprint: the login is refused. */
export class CertificatePinError extends Error {
  override name = 'CertificatePinError';
  readonly code = 'CERT_PIN_MISMATCH';
}

/**
 * Opens an authenticated imapflow session. Never logs: imapflow's logger is off, since its debug
 * output would carry the LOGIN command. With OAuth2, a refused access token is refreshed once.
 */
export async function openImap(options: ImapAccountOptions): Promise<ImapFlow> {
  checkTransportSecurity(options);
  credentialSource(options.user, options);
  const pin = options.fingerprint === undefined ? undefined : parseFingerprint(options.fingerprint);
  const auth = await resolveAuth(options.user, options);
  try {
    return await connectOnce(options, auth, pin);
  } catch (err) {
    const refused = (err as { authenticationFailed?: boolean }).authenticationFailed === true;
    if (!refused || !options.oauth2) throw err;
    return connectOnce(options, await resolveAuth(options.user, options, { refresh: true }), pin);
  }
}

/** One context per set of extra CAs, made once: see {@link trustedContext}. */
const contexts = new Map<string, SecureContext>();

/**
 * A TLS context that trusts `ca` in addition to the CAs Node trusts by default. Why not `ca` itself:
 * Node's `ca` option replaces the default CAs, where this account's `ca` (and mbsync's CertificateFile,
 * which the importer maps to it) adds to them. Made once per CA text, and by adding `ca` to a context
 * made with the defaults: Node keeps those parsed once per process, where listing them all in `ca` had
 * each of ~140 PEM texts parsed again (a one-shot sync with a `ca-file`: 23 ms against 4-7 ms).
 */
function trustedContext(ca: string | readonly string[]): SecureContext {
  const extra = typeof ca === 'string' ? [ca] : [...ca];
  const key = extra.join('\n');
  let context = contexts.get(key);
  if (!context) {
    context = nodeTls.createSecureContext();
    // The native context's addCACert, which Node's own `ca` option calls for each CA: not part of
    // Node's documented API, so used only where it is there, else the slower documented way.
    const native = (context as { context?: { addCACert?: unknown } }).context;
    if (native && typeof native.addCACert === 'function') {
      for (const pem of extra) (native.addCACert as (pem: string) => void).call(native, pem);
    } else {
      // The default list: Node's bundled CAs, those of NODE_EXTRA_CA_CERTS, and the system's when
      // Node was told to use them (Node 22.15 and later; before, the bundled ones).
      const defaults = nodeTls.getCACertificates?.('default') ?? nodeTls.rootCertificates;
      context = nodeTls.createSecureContext({ ca: [...defaults, ...extra] });
    }
    contexts.set(key, context);
  }
  return context;
}

async function connectOnce(options: ImapAccountOptions, auth: ImapAuth, pin: string | undefined) {
  const tls = options.tls ?? 'implicit';
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new ImapFlow({
    host: options.host,
    port: options.port ?? (tls === 'implicit' ? 993 : 143),
    secure: tls === 'implicit',
    doSTARTTLS: tls === 'starttls' ? true : tls === 'none' ? false : undefined,
    tls: {
      rejectUnauthorized: true,
      ...(options.ca ? { secureContext: trustedContext(options.ca) } : {}),
      ...(pin ? { checkServerIdentity: pinnedIdentity(pin) } : {}),
    },
    auth,
    logger: false,
    disableAutoIdle: true,
    // One deadline for every wait on the server: the greeting, the connection and any command (the
    // socket's inactivity timer, which imapflow turns into an error when a command is in flight).
    socketTimeout: timeout,
    greetingTimeout: timeout,
    connectionTimeout: timeout,
    // QRESYNC lets a listing ask for the messages changed and the UIDs expunged since a HIGHESTMODSEQ.
    qresync: true,
  });
  // Errors surface through the rejected promises of the calls; an unhandled 'error' event would crash.
  // A timeout is noted with the command it cut, since the call it fails only hears "no connection".
  client.on('error', (err: { code?: unknown }) => {
    if (err?.code === 'ETIMEOUT' && !stalls.has(client)) stalls.set(client, commandInFlight(client));
  });
  try {
    await client.connect();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (
      code === 'ETIMEOUT' ||
      code === 'CONNECT_TIMEOUT' ||
      code === 'GREETING_TIMEOUT' ||
      code === 'UPGRADE_TIMEOUT'
    ) {
      const request = (client as unknown as { currentRequest?: unknown }).currentRequest;
      throw new StalledError(request ? commandInFlight(client) : 'the connection (greeting)');
    }
    throw err;
  }
  return client;
}

/** Node's host name check, then the pin. Runs only for a chain that verified (rejectUnauthorized). */
function pinnedIdentity(pin: string) {
  return (host: string, cert: PeerCertificate): Error | undefined => {
    const error = checkServerIdentity(host, cert);
    if (error) return error;
    if (cert.fingerprint256?.toUpperCase() !== pin) {
      return new CertificatePinError(
        `The certificate of ${host} has the fingerprint sha256:${cert.fingerprint256}, not the pinned sha256:${pin}. ` +
          'If the server renewed its certificate, check the new one out of band and update the pin.',
      );
    }
    return undefined;
  };
}
