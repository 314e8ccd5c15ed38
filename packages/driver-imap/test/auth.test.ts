import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DovecotServer, startDovecot } from '@twinbox/test-dovecot';
import { dovecot, newUser } from '@twinbox/test-dovecot/inject';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ImapAccountOptions,
  ImapDriver,
  type OAuth2Options,
  parseFingerprint,
  resolveAuth,
} from '../src/index.js';

/** Connects, lists the inbox and closes: the account works. */
async function works(options: ImapAccountOptions): Promise<void> {
  const driver = await ImapDriver.connect(options);
  try {
    expect((await driver.listMessages(['INBOX'], {})).kind).toBe('full');
  } finally {
    await driver.close();
  }
}

/** The error `connect` rejects with, checked to hold none of the secrets. */
async function refusal(options: ImapAccountOptions, secrets: string[]): Promise<Error & { code?: string }> {
  const error = await ImapDriver.connect(options).then(
    async (driver) => {
      await driver.close();
      throw new Error('connect should have failed');
    },
    (err: unknown) => err as Error & { code?: string },
  );
  const text = `${error.message} ${String(error.stack)} ${JSON.stringify(error)}`;
  for (const secret of secrets) expect(text).not.toContain(secret);
  return error;
}

async function base() {
  const info = dovecot();
  const { user, password } = await newUser();
  const account = { host: 'localhost', port: info.tlsPort, tls: 'implicit' as const, ca: info.ca, user };
  return { account, password };
}

describe('password sources', () => {
  it('takes the first line printed by passwordCommand, run through a shell', async () => {
    const { account, password } = await base();
    await works({ ...account, passwordCommand: `printf '%s\\n' '${password}' 'second line' | cat` });
  });

  it('fails with PASSWORD_COMMAND_FAILED when the command exits non-zero, without its output', async () => {
    const { account, password } = await base();
    const error = await refusal(
      { ...account, passwordCommand: `echo '${password}'; echo oops >&2; exit 3` },
      [password],
    );
    expect(error).toMatchObject({ name: 'StoreError', code: 'PASSWORD_COMMAND_FAILED' });
    expect(error.message).toMatch(/exited with code 3/);
    const empty = await refusal({ ...account, passwordCommand: 'true' }, [password]);
    expect(empty.message).toMatch(/printed no password/);
  });

  it('reads passwordEnv, and says which variable is missing', async () => {
    const { account, password } = await base();
    const name = `TWINBOX_TEST_PASSWORD_${process.pid}`;
    process.env[name] = password;
    try {
      await works({ ...account, passwordEnv: name });
    } finally {
      delete process.env[name];
    }
    const error = await refusal({ ...account, passwordEnv: name }, [password]);
    expect(error).toMatchObject({ code: 'AUTH_CONFIG' });
    expect(error.message).toContain(name);
  });

  it('wants exactly one source', async () => {
    const { account, password } = await base();
    expect(await refusal(account, [])).toMatchObject({ code: 'AUTH_CONFIG' });
    const two = await refusal({ ...account, password, passwordEnv: 'HOME' }, [password]);
    expect(two).toMatchObject({ code: 'AUTH_CONFIG' });
    expect(two.message).toMatch(/only one of password, passwordEnv/);
  });

  it('reports a refused login as AUTH_FAILED without the password', async () => {
    const { account } = await base();
    const wrong = 'not-the-Password-123';
    expect(await refusal({ ...account, password: wrong }, [wrong])).toMatchObject({ code: 'AUTH_FAILED' });
  });
});

describe('certificate pinning', () => {
  const pinOf = (pem: string) => `sha256:${new X509Certificate(pem).fingerprint256}`;

  it('connects when the pin matches, in either spelling, over IMAPS and STARTTLS', async () => {
    const { account, password } = await base();
    const pin = pinOf(account.ca);
    await works({ ...account, password, fingerprint: pin });
    await works({
      ...account,
      password,
      fingerprint: pin.toLowerCase().replace(/:/g, '').replace('sha256', 'sha256:'),
    });
    await works({ ...account, password, port: dovecot().port, tls: 'starttls', fingerprint: pin });
  });

  it('refuses a server whose certificate is not the pinned one, saying both fingerprints', async () => {
    const { account, password } = await base();
    const wrong = `sha256:${'AB:'.repeat(31)}AB`;
    const error = await refusal({ ...account, password, fingerprint: wrong }, [password]);
    expect(error).toMatchObject({ name: 'StoreError', code: 'CERT_PIN_MISMATCH' });
    expect(error.message).toContain(pinOf(account.ca));
    expect(error.message).toContain(parseFingerprint(wrong));
    expect(await refusal({ ...account, password, fingerprint: 'md5:00' }, [password])).toMatchObject({
      code: 'AUTH_CONFIG',
    });
  });
});

describe('OAuth2 (XOAUTH2) with a refreshed access token', () => {
  const tokenUrl = 'https://auth.twinbox.test/oauth2/token';
  const clientSecret = 'client-Secret-42';
  const refreshToken = 'refresh-Token-1-very-secret';
  let server: DovecotServer;
  let requests: URLSearchParams[] = [];
  /** What the token endpoint hands out next; Dovecot takes the user's password as the bearer token. */
  let answer: () => Response;
  const msw = setupServer(
    http.post(tokenUrl, async ({ request }) => {
      requests.push(new URLSearchParams(await request.text()));
      return answer();
    }),
  );

  beforeAll(async () => {
    // Dovecot's XOAUTH2 mechanism checks the token against the passdb like a password.
    server = await startDovecot({ extraConfig: 'auth_mechanisms = plain login xoauth2 oauthbearer' });
    msw.listen({ onUnhandledFrame: 'error' });
  });
  afterEach(() => {
    requests = [];
  });
  afterAll(async () => {
    msw.close();
    await server?.stop();
  });

  async function oauthAccount(accessToken?: string) {
    const { user, password } = await server.addUser();
    const { info } = server;
    const options: ImapAccountOptions = {
      host: 'localhost',
      port: info.tlsPort,
      ca: info.ca,
      user,
      oauth2: {
        tokenUrl,
        clientId: 'twinbox-test',
        clientSecret,
        refreshToken,
        ...(accessToken ? { accessToken } : {}),
      },
    };
    return { options, token: password };
  }

  it('gets an access token from the refresh token and logs in with it', async () => {
    const { options, token } = await oauthAccount();
    answer = () => HttpResponse.json({ access_token: token, expires_in: 3600, token_type: 'Bearer' });
    await works(options);
    expect(requests).toHaveLength(1);
    expect(Object.fromEntries(requests[0]!)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'twinbox-test',
      client_secret: clientSecret,
    });
  });

  it('uses a given access token, and refreshes it once when the server refuses it', async () => {
    const { options, token } = await oauthAccount('expired-Access-Token');
    answer = () => HttpResponse.json({ access_token: token, expires_in: 3600 });
    await works(options);
    expect(requests).toHaveLength(1);
  });

  it('fails with OAUTH2_REFRESH_FAILED naming the provider error, and no secret', async () => {
    const { options, token } = await oauthAccount();
    answer = () =>
      HttpResponse.json(
        { error: 'invalid_grant', error_description: 'Token has been revoked.' },
        { status: 400 },
      );
    const error = await refusal(options, [refreshToken, clientSecret, token]);
    expect(error).toMatchObject({ name: 'StoreError', code: 'OAUTH2_REFRESH_FAILED' });
    expect(error.message).toMatch(
      /HTTP 400 invalid_grant \(Token has been revoked\.\).*authorise the account again/,
    );
    expect(error.message).toContain('https://auth.twinbox.test/oauth2/token');
  });

  /** The account with its secrets from `secrets` instead of written in (both, unless given again). */
  async function withSecrets(secrets: Partial<OAuth2Options>) {
    const { options, token } = await oauthAccount();
    const { refreshToken: _token, clientSecret: _secret, ...rest } = options.oauth2!;
    return { options: { ...options, oauth2: { ...rest, ...secrets } }, token };
  }

  /** Sets environment variables for the length of `body`. */
  async function withEnv(vars: Record<string, string>, body: () => Promise<void>): Promise<void> {
    Object.assign(process.env, vars);
    try {
      await body();
    } finally {
      for (const name of Object.keys(vars)) delete process.env[name];
    }
  }

  const refreshEnv = `TWINBOX_TEST_REFRESH_TOKEN_${process.pid}`;
  const secretEnv = `TWINBOX_TEST_CLIENT_SECRET_${process.pid}`;
  const sentSecrets = (request: URLSearchParams | undefined) => ({
    refresh_token: request?.get('refresh_token'),
    client_secret: request?.get('client_secret'),
  });

  it('reads the refresh token from a command (first line, trimmed) and the client secret from the environment', async () => {
    const { options, token } = await withSecrets({
      refreshTokenCommand: `printf '  %s \\n' '${refreshToken}' 'second line'`,
      clientSecretEnv: secretEnv,
    });
    answer = () => HttpResponse.json({ access_token: token, expires_in: 3600 });
    await withEnv({ [secretEnv]: clientSecret }, () => works(options));
    expect(requests.map(sentSecrets)).toEqual([{ refresh_token: refreshToken, client_secret: clientSecret }]);
  });

  it('runs a secret command once per driver, not on every refresh', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'twinbox-auth-'));
    try {
      const runs = join(dir, 'runs');
      const { options } = await withSecrets({
        refreshTokenEnv: refreshEnv,
        clientSecretCommand: `echo run >> '${runs}'; echo '${clientSecret}'`,
      });
      answer = () => HttpResponse.json({ access_token: 'some-Access-Token', expires_in: 3600 });
      await withEnv({ [refreshEnv]: refreshToken }, async () => {
        await resolveAuth(options.user, options, { refresh: true });
        await resolveAuth(options.user, options, { refresh: true });
      });
      expect(requests.map(sentSecrets)).toEqual([
        { refresh_token: refreshToken, client_secret: clientSecret },
        { refresh_token: refreshToken, client_secret: clientSecret },
      ]);
      expect(await readFile(runs, 'utf8')).toBe('run\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with SECRET_COMMAND_FAILED when a secret command fails or prints nothing, without its output', async () => {
    const failing = await withSecrets({
      refreshTokenCommand: `echo '${refreshToken}'; echo '${refreshToken}' >&2; exit 3`,
    });
    const error = await refusal(failing.options, [refreshToken]);
    expect(error).toMatchObject({ name: 'StoreError', code: 'SECRET_COMMAND_FAILED' });
    expect(error.message).toMatch(/oauth2\.refreshTokenCommand .* exited with code 3/);
    const blank = await withSecrets({ refreshToken, clientSecretCommand: "printf '  \\n'" });
    const empty = await refusal(blank.options, [refreshToken]);
    expect(empty).toMatchObject({ code: 'SECRET_COMMAND_FAILED' });
    expect(empty.message).toMatch(/oauth2\.clientSecretCommand .* printed no client secret/);
    expect(requests, 'no refresh is tried without the secrets').toEqual([]);
  });

  it('wants exactly one source for the refresh token and at most one for the client secret', async () => {
    const none = await withSecrets({});
    const noneError = await refusal(none.options, []);
    expect(noneError).toMatchObject({ code: 'AUTH_CONFIG' });
    expect(noneError.message).toMatch(/set one of oauth2\.refreshToken, oauth2\.refreshTokenCommand/);
    const two = await withSecrets({ refreshToken, refreshTokenEnv: refreshEnv });
    const twoError = await refusal(two.options, [refreshToken]);
    expect(twoError).toMatchObject({ code: 'AUTH_CONFIG' });
    expect(twoError.message).toMatch(/only one of oauth2\.refreshToken, oauth2\.refreshTokenEnv/);
    const secrets = await withSecrets({ refreshToken, clientSecret, clientSecretCommand: 'false' });
    const secretsError = await refusal(secrets.options, [refreshToken, clientSecret]);
    expect(secretsError).toMatchObject({ code: 'AUTH_CONFIG' });
    expect(secretsError.message).toMatch(/only one of oauth2\.clientSecret, oauth2\.clientSecretCommand/);
    const unset = await withSecrets({ refreshTokenEnv: refreshEnv });
    const unsetError = await refusal(unset.options, []);
    expect(unsetError).toMatchObject({ code: 'AUTH_CONFIG' });
    expect(unsetError.message).toContain(refreshEnv);
    expect(requests).toEqual([]);
  });

  it('names no secret in a failed refresh, from any source, even when the provider echoes it', async () => {
    answer = () =>
      HttpResponse.json(
        {
          error: 'invalid_grant',
          error_description: `Bad refresh token ${refreshToken} for client secret ${clientSecret}.`,
        },
        { status: 400 },
      );
    const written = await oauthAccount();
    const error = await refusal(written.options, [refreshToken, clientSecret]);
    expect(error).toMatchObject({ code: 'OAUTH2_REFRESH_FAILED' });
    expect(error.message).toMatch(/HTTP 400 invalid_grant \(Bad refresh token \[secret\] for client/);
    const fromSources = await withSecrets({
      refreshTokenCommand: `echo '${refreshToken}'`,
      clientSecretEnv: secretEnv,
    });
    await withEnv({ [secretEnv]: clientSecret }, async () => {
      const failed = await refusal(fromSources.options, [refreshToken, clientSecret]);
      expect(failed).toMatchObject({ code: 'OAUTH2_REFRESH_FAILED' });
    });
    expect(requests.map(sentSecrets)).toEqual([
      { refresh_token: refreshToken, client_secret: clientSecret },
      { refresh_token: refreshToken, client_secret: clientSecret },
    ]);
  });

  it('does not retry a token the server refuses right after a refresh', async () => {
    const { options, token } = await oauthAccount();
    answer = () => HttpResponse.json({ access_token: 'wrong-Fresh-Token', expires_in: 3600 });
    const error = await refusal(options, [refreshToken, clientSecret, token, 'wrong-Fresh-Token']);
    expect(error).toMatchObject({ code: 'AUTH_FAILED' });
    expect(requests.length).toBeLessThanOrEqual(2);
  });
});
