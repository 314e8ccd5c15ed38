import { execFile } from 'node:child_process';
import { StoreError } from '@twinbox/core';

/**
 * OAuth2 for XOAUTH2/OAUTHBEARER: an access token, refreshed from the refresh token at `tokenUrl`
 * (RFC 6749 section 6) when there is none yet, when it expired, or when the server refused it.
 */
export interface OAuth2Options {
  /** The provider's token endpoint, e.g. `https://oauth2.googleapis.com/token`. */
  tokenUrl: string;
  clientId: string;
  /** For confidential clients; public (installed) clients have none. */
  clientSecret?: string;
  refreshToken: string;
  /** A current access token, if one is at hand; refreshed when the server refuses it. */
  accessToken?: string;
}

/** Where the secret comes from: exactly one of these is set. */
export interface CredentialSources {
  password?: string;
  /**
   * A shell command whose first line of output is the password (like mbsync's PassCmd), e.g.
   * `pass show mail/work` or `secret-tool lookup host imap.example.org`. Run once per driver; a
   * non-zero exit fails the connection. Its output is never logged nor put into an error.
   */
  passwordCommand?: string;
  /** Name of an environment variable holding the password. */
  passwordEnv?: string;
  oauth2?: OAuth2Options;
}

/** What imapflow's `auth` takes. */
export type ImapAuth = { user: string; pass: string } | { user: string; accessToken: string };

interface Cached {
  password?: string;
  accessToken?: string;
  /** ms since the epoch after which the access token is refreshed before use. */
  expiresAt?: number;
}

/**
 * Resolved secrets per account options object, so a reconnect neither runs the password command again
 * nor refreshes a token that is still good. Weak: they go when the options do.
 */
const cache = new WeakMap<object, Cached>();

function configError(user: string, what: string): StoreError {
  return new StoreError(`The IMAP account ${user} is misconfigured: ${what}`, { code: 'AUTH_CONFIG' });
}

/** Checks that exactly one credential source is set; says which are, never their values. */
export function credentialSource(
  user: string,
  sources: CredentialSources,
): 'password' | 'passwordCommand' | 'passwordEnv' | 'oauth2' {
  const set = (['password', 'passwordCommand', 'passwordEnv', 'oauth2'] as const).filter(
    (key) => sources[key] !== undefined,
  );
  if (set.length !== 1) {
    throw configError(
      user,
      set.length === 0
        ? 'set one of password, passwordCommand, passwordEnv or oauth2.'
        : `set only one of ${set.join(', ')}.`,
    );
  }
  return set[0]!;
}

/**
 * The credentials for one login. `refresh` forces a new OAuth2 access token (after the server refused
 * the one we had); it has no effect for passwords.
 */
export async function resolveAuth(
  user: string,
  sources: CredentialSources,
  options: { refresh?: boolean } = {},
): Promise<ImapAuth> {
  const source = credentialSource(user, sources);
  let cached = cache.get(sources);
  if (!cached) {
    cached = {};
    cache.set(sources, cached);
  }
  switch (source) {
    case 'password':
      return { user, pass: sources.password! };
    case 'passwordEnv': {
      const value = process.env[sources.passwordEnv!];
      if (!value)
        throw configError(user, `the environment variable ${sources.passwordEnv} is not set or empty.`);
      return { user, pass: value };
    }
    case 'passwordCommand':
      cached.password ??= await runPasswordCommand(user, sources.passwordCommand!);
      return { user, pass: cached.password };
    case 'oauth2': {
      const oauth = sources.oauth2!;
      if (cached.accessToken === undefined && oauth.accessToken && !options.refresh) {
        cached.accessToken = oauth.accessToken;
      }
      const stale = cached.expiresAt !== undefined && Date.now() > cached.expiresAt;
      if (options.refresh || stale || cached.accessToken === undefined) {
        const fresh = await refreshAccessToken(user, oauth);
        cached.accessToken = fresh.accessToken;
        cached.expiresAt = fresh.expiresAt;
      }
      return { user, accessToken: cached.accessToken };
    }
  }
}

function runPasswordCommand(user: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: 60_000, maxBuffer: 64 * 1024 }, (err, stdout) => {
      if (err) {
        const how =
          typeof err.code === 'number'
            ? `exited with code ${err.code}`
            : err.killed
              ? 'was stopped (it ran for more than 60 s)'
              : `could not run (${err.code ?? err.message.split('\n')[0]})`;
        reject(
          new StoreError(
            `The passwordCommand for the IMAP account ${user} ${how}. Run it in a shell to see why; its output is not shown here.`,
            { code: 'PASSWORD_COMMAND_FAILED' },
          ),
        );
        return;
      }
      const line = stdout.split(/\r?\n/, 1)[0] ?? '';
      if (!line) {
        reject(
          new StoreError(`The passwordCommand for the IMAP account ${user} printed no password.`, {
            code: 'PASSWORD_COMMAND_FAILED',
          }),
        );
        return;
      }
      resolve(line);
    });
  });
}

/** A minute's margin, so a token is not refused for expiring between refresh and login. */
const EXPIRY_MARGIN_MS = 60_000;

async function refreshAccessToken(
  user: string,
  oauth: OAuth2Options,
): Promise<{ accessToken: string; expiresAt?: number }> {
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: oauth.refreshToken,
    client_id: oauth.clientId,
  });
  if (oauth.clientSecret !== undefined) form.set('client_secret', oauth.clientSecret);
  const failed = (why: string, cause?: unknown) =>
    new StoreError(
      `Cannot refresh the OAuth2 access token of the IMAP account ${user} at ${safeUrl(oauth.tokenUrl)}: ${why}`,
      { code: 'OAUTH2_REFRESH_FAILED', ...(cause ? { cause } : {}) },
    );
  let response: Response;
  try {
    response = await fetch(oauth.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw failed(`${(err as Error).message}. Check the network and tokenUrl.`);
  }
  let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    body = {};
  }
  if (!response.ok || typeof body.access_token !== 'string' || body.access_token === '') {
    // The provider's error code (RFC 6749 5.2) is safe to show and says what to do: `invalid_grant`
    // means the refresh token was revoked or expired, and the account must be authorised again.
    const code = typeof body.error === 'string' ? body.error.slice(0, 64) : undefined;
    const description =
      typeof body.error_description === 'string' ? ` (${body.error_description.slice(0, 200)})` : '';
    throw failed(
      response.ok
        ? 'the answer held no access_token.'
        : `HTTP ${response.status}${code ? ` ${code}${description}` : ''}.${code === 'invalid_grant' ? ' The refresh token is no longer valid: authorise the account again.' : ''}`,
    );
  }
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in);
  return {
    accessToken: body.access_token,
    ...(Number.isFinite(expiresIn) && expiresIn > 0
      ? { expiresAt: Date.now() + expiresIn * 1000 - EXPIRY_MARGIN_MS }
      : {}),
  };
}

/** The URL without query or credentials, fit for an error message. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(an invalid tokenUrl)';
  }
}
