import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
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

async function connectOnce(options: ImapAccountOptions, auth: ImapAuth, pin: string | undefined) {
  const tls = options.tls ?? 'implicit';
  const client = new ImapFlow({
    host: options.host,
    port: options.port ?? (tls === 'implicit' ? 993 : 143),
    secure: tls === 'implicit',
    doSTARTTLS: tls === 'starttls' ? true : tls === 'none' ? false : undefined,
    tls: {
      rejectUnauthorized: true,
      ...(options.ca ? { ca: Array.isArray(options.ca) ? options.ca : [options.ca] } : {}),
      ...(pin ? { checkServerIdentity: pinnedIdentity(pin) } : {}),
    },
    auth,
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
