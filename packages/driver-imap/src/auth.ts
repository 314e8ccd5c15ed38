import { StoreError } from '@twinbox/core';
import { AUTH_ERROR_CODES } from './auth-codes.js';

/**
 * OAuth2 for XOAUTH2/OAUTHBEARER: an access token, refreshed from the refresh token at `tokenUrl`
 * (RFC 6749 section 6) when there is none yet, when it expired, or when the server refused it.
 */
export interface OAuth2Options {
  /** The provider's token endpoint, e.g. `https://oauth2.googleapis.com/token`. */
  tokenUrl: string;
  clientId: string;
  /**
   * The refresh token: exactly one of `refreshToken` (the token itself), `refreshTokenCommand` (a shell
   * command printing it on its first line, run like `passwordCommand`) or `refreshTokenEnv` (the name of
   * an environment variable holding it). Read when a refresh is first needed, a command once per driver.
   */
  refreshToken?: string;
  refreshTokenCommand?: string;
  refreshTokenEnv?: string;
  /**
   * For confidential clients (public, installed clients have none): at most one of `clientSecret`,
   * `clientSecretCommand` and `clientSecretEnv`, read like the refresh token.
   */
  clientSecret?: string;
  clientSecretCommand?: string;
  clientSecretEnv?: string;
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
  /** The OAuth2 secrets, once read (a command is not run again on a refresh or a reconnect). */
  refreshToken?: string;
  clientSecret?: string;
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
  return new StoreError(`The IMAP account ${user} is misconfigured: ${what}`, {
    code: AUTH_ERROR_CODES.config,
  });
}

/** The OAuth2 secrets that may come from a command or the environment, as their keys name them. */
type OAuth2Secret = 'refreshToken' | 'clientSecret';

/** Which of a secret's sources are set (their names, never their values). */
function secretSources(oauth: OAuth2Options, secret: OAuth2Secret): string[] {
  return ([secret, `${secret}Command`, `${secret}Env`] as const).filter((key) => oauth[key] !== undefined);
}

/** Checks that the refresh token has exactly one source and the client secret at most one. */
function checkOAuth2Sources(user: string, oauth: OAuth2Options): void {
  const refresh = secretSources(oauth, 'refreshToken');
  if (refresh.length !== 1)
    throw configError(
      user,
      refresh.length === 0
        ? 'set one of oauth2.refreshToken, oauth2.refreshTokenCommand or oauth2.refreshTokenEnv.'
        : `set only one of ${refresh.map((k) => `oauth2.${k}`).join(', ')}.`,
    );
  const secret = secretSources(oauth, 'clientSecret');
  if (secret.length > 1)
    throw configError(user, `set only one of ${secret.map((k) => `oauth2.${k}`).join(', ')}.`);
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
  if (set[0] === 'oauth2') checkOAuth2Sources(user, sources.oauth2!);
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
      cached.password ??= await runSecretCommand(user, sources.passwordCommand!, PASSWORD_COMMAND);
      return { user, pass: cached.password };
    case 'oauth2': {
      const oauth = sources.oauth2!;
      if (cached.accessToken === undefined && oauth.accessToken && !options.refresh) {
        cached.accessToken = oauth.accessToken;
      }
      const stale = cached.expiresAt !== undefined && Date.now() > cached.expiresAt;
      if (options.refresh || stale || cached.accessToken === undefined) {
        const fresh = await refreshAccessToken(user, oauth, cached);
        cached.accessToken = fresh.accessToken;
        cached.expiresAt = fresh.expiresAt;
      }
      return { user, accessToken: cached.accessToken };
    }
  }
}

/** Which secret a command prints, for its errors: the key that set it, what it prints, the code. */
interface SecretCommand {
  key: string;
  noun: string;
  code: string;
}

const PASSWORD_COMMAND: SecretCommand = {
  key: 'passwordCommand',
  noun: 'password',
  code: AUTH_ERROR_CODES.passwordCommand,
};

/**
 * Runs the command of a secret through `/bin/sh` and takes the first line it prints. Its errors never
 * hold the output: a command that printed the secret and then failed must not put it on the screen or
 * in a log.
 */
async function runSecretCommand(
  user: string,
  command: string,
  { key, noun, code }: SecretCommand,
): Promise<string> {
  // Loaded only here: node:child_process and what it pulls in cost every thread that opens an IMAP
  // account a few milliseconds, and most accounts have no command.
  const { execFile } = await import('node:child_process');
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
            `The ${key} for the IMAP account ${user} ${how}. Run it in a shell to see why; its output is not shown here.`,
            { code },
          ),
        );
        return;
      }
      const line = stdout.split(/\r?\n/, 1)[0] ?? '';
      if (!line) {
        reject(new StoreError(`The ${key} for the IMAP account ${user} printed no ${noun}.`, { code }));
        return;
      }
      resolve(line);
    });
  });
}

/**
 * An OAuth2 secret from whichever source is set, or undefined when none is (a public client's secret).
 * A token or client secret never holds white space, so what a command or variable gives is trimmed:
 * a helper that pads its output would otherwise send a token the provider refuses.
 */
async function readOAuth2Secret(
  user: string,
  oauth: OAuth2Options,
  secret: OAuth2Secret,
): Promise<string | undefined> {
  const command = oauth[`${secret}Command`];
  if (command !== undefined) {
    const which: SecretCommand = {
      key: `oauth2.${secret}Command`,
      noun: secret === 'refreshToken' ? 'refresh token' : 'client secret',
      code: AUTH_ERROR_CODES.secretCommand,
    };
    const value = (await runSecretCommand(user, command, which)).trim();
    if (!value)
      throw new StoreError(`The ${which.key} for the IMAP account ${user} printed no ${which.noun}.`, {
        code: which.code,
      });
    return value;
  }
  const env = oauth[`${secret}Env`];
  if (env !== undefined) {
    const value = process.env[env]?.trim();
    if (!value) throw configError(user, `the environment variable ${env} is not set or empty.`);
    return value;
  }
  return oauth[secret];
}

/** A minute's margin, so a token is not refused for expiring between refresh and login. */
const EXPIRY_MARGIN_MS = 60_000;

async function refreshAccessToken(
  user: string,
  oauth: OAuth2Options,
  cached: Cached,
): Promise<{ accessToken: string; expiresAt?: number }> {
  cached.refreshToken ??= await readOAuth2Secret(user, oauth, 'refreshToken');
  cached.clientSecret ??= await readOAuth2Secret(user, oauth, 'clientSecret');
  const { refreshToken, clientSecret } = cached;
  // credentialSource checked that one source is set, and each source gives a value or throws.
  const form = new URLSearchParams({
    grant_type: 'refresh_token',
    refresh_token: refreshToken!,
    client_id: oauth.clientId,
  });
  if (clientSecret !== undefined) form.set('client_secret', clientSecret);
  // The provider's words are shown, but some echo what they were sent ("invalid token rt-…"): the
  // secrets are cut out of them first.
  const secrets = [refreshToken!, clientSecret].filter((s): s is string => !!s);
  const redact = (text: string) => secrets.reduce((t, secret) => t.split(secret).join('[secret]'), text);
  const failed = (why: string, cause?: unknown) =>
    new StoreError(
      `Cannot refresh the OAuth2 access token of the IMAP account ${user} at ${safeUrl(oauth.tokenUrl)}: ${why}`,
      { code: AUTH_ERROR_CODES.oauth2Refresh, ...(cause ? { cause } : {}) },
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
    throw failed(`${redact((err as Error).message)}. Check the network and tokenUrl.`);
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
    const code = typeof body.error === 'string' ? redact(body.error).slice(0, 64) : undefined;
    const description =
      typeof body.error_description === 'string' ? ` (${redact(body.error_description).slice(0, 200)})` : '';
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
