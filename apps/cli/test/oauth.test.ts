import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twinbox } from './helpers.js';

/*
 * A failed OAuth2 refresh, end to end: the built binary against a token endpoint on loopback (a plain
 * node:http server: msw intercepts fetch in this process only, and the refresh happens in a worker
 * thread of another one). The driver refreshes before it connects, so no IMAP server is needed: the
 * account's port is never reached.
 */

const refreshToken = 'refresh-Token-e2e-very-secret';
const clientSecret = 'client-Secret-e2e-42';

let dir = '';
let server: Server;
let tokenUrl = '';
/** The forms the token endpoint was sent. */
const requests: URLSearchParams[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-oauth-'));
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push(new URLSearchParams(Buffer.concat(chunks).toString()));
      // Google's answer to a revoked refresh token (RFC 6749 5.2), echoing nothing secret.
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});

afterAll(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('twinbox with an OAuth2 account whose refresh token was revoked', () => {
  it('exits 3 (authentication failure), says why, and shows neither secret', async () => {
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      `[state]
dir = "${join(dir, 'state')}"

[accounts.remote]
type = "imap"
host = "127.0.0.1"
port = 9
user = "me@example.com"

[accounts.remote.oauth2]
token-url = "${tokenUrl}"
client-id = "twinbox-e2e"
refresh-token-env = "TWINBOX_E2E_REFRESH_TOKEN"
client-secret-command = "echo '${clientSecret}'"

[accounts.local]
type = "maildir"
path = "Mail"

[pairs.mail]
left = "remote"
right = "local"
`,
    );
    const env = { TWINBOX_E2E_REFRESH_TOKEN: refreshToken, XDG_STATE_HOME: join(dir, 'xdg-state') };

    const result = await twinbox(['-c', config, 'sync'], env);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/OAuth2 access token of the IMAP account me@example\.com/);
    expect(result.stderr).toMatch(/HTTP 400 invalid_grant .*authorise the account again/);
    // The secrets reached the endpoint from the variable and the command, and nowhere else.
    expect(requests.map((r) => [r.get('refresh_token'), r.get('client_secret')])).toContainEqual([
      refreshToken,
      clientSecret,
    ]);
    for (const secret of [refreshToken, clientSecret]) {
      expect(result.stderr).not.toContain(secret);
      expect(result.stdout).not.toContain(secret);
    }

    const json = await twinbox(['-c', config, '--json', 'sync'], env);
    expect(json.code, json.stderr).toBe(3);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code?: string });
    expect(lines).toContainEqual(expect.objectContaining({ code: 'OAUTH2_REFRESH_FAILED' }));
    expect(json.stdout + json.stderr).not.toContain(refreshToken);
  });
});
