import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twinbox } from './helpers.js';

const good = `[accounts.remote]
type = "imap"
host = "imap.example.com"
user = "me"
password-env = "PW"

[accounts.local]
type = "maildir"
path = "Mail"

[pairs.mail]
left = "remote"
right = "local"
`;

/** Kinds of broken config: each must exit 2 and name the file, the line and the key. */
const cases: [string, string, RegExp][] = [
  ['not TOML at all', 'this is not toml', /config\.toml:1: not valid TOML/],
  ['an unclosed table header', '[accounts.remote\n', /config\.toml:1: not valid TOML/],
  ['a duplicate table', `${good}[pairs.mail]\nleft = "remote"\n`, /config\.toml:\d+: not valid TOML/],
  [
    'a misspelt key',
    good.replace('host =', 'hostname ='),
    /config\.toml:3: accounts\.remote\.hostname: unknown key "hostname"/,
  ],
  [
    'a missing required key',
    good.replace('user = "me"\n', ''),
    /config\.toml:1: accounts\.remote\.user: missing/,
  ],
  [
    'a wrong type',
    good.replace('path = "Mail"', 'path = 42'),
    /config\.toml:9: accounts\.local\.path: .*expected string/,
  ],
  [
    'a port out of range',
    good.replace('user = "me"', 'port = 0\nuser = "me"'),
    /config\.toml:4: accounts\.remote\.port: .*>=1/,
  ],
  [
    'an unknown TLS mode',
    good.replace('user = "me"', 'tls = "ssl"\nuser = "me"'),
    /config\.toml:4: accounts\.remote\.tls: .*"implicit"\|"starttls"\|"none"/,
  ],
  [
    'no credentials',
    good.replace('password-env = "PW"\n', ''),
    /accounts\.remote: an IMAP account needs one of password/,
  ],
  [
    'two sources of the OAuth2 refresh token',
    good.replace(
      'password-env = "PW"\n',
      '[accounts.remote.oauth2]\ntoken-url = "https://auth.example.com/token"\nclient-id = "c"\nrefresh-token-command = "pass rt"\nrefresh-token-env = "RT"\n',
    ),
    /config\.toml:9: accounts\.remote\.oauth2\.refresh-token-env: only one of refresh-token, refresh-token-command, refresh-token-env/,
  ],
  [
    'an OAuth2 table without a refresh token',
    good.replace(
      'password-env = "PW"\n',
      '[accounts.remote.oauth2]\ntoken-url = "https://auth.example.com/token"\nclient-id = "c"\nclient-secret-env = "CS"\n',
    ),
    /config\.toml:5: accounts\.remote\.oauth2: oauth2 needs one of refresh-token, refresh-token-command or refresh-token-env/,
  ],
  [
    'an unknown account type',
    good.replace('type = "maildir"', 'type = "mh"'),
    /config\.toml:8: accounts\.local\.type: type must be "imap" or "maildir"/,
  ],
  [
    'a pair naming a missing account',
    good.replace('right = "local"', 'right = "lokal"'),
    /config\.toml:13: pairs\.mail\.right: no account named "lokal"/,
  ],
  [
    'an unknown sync operation',
    `${good}sync = ["new", "expunge"]\n`,
    /config\.toml:14: pairs\.mail\.sync\.1: /,
  ],
  [
    'a bad layout',
    good.replace('path = "Mail"', 'path = "Mail"\nlayout = "flat"'),
    /config\.toml:10: accounts\.local\.layout: .*"maildir\+\+"\|"fs"/,
  ],
  ['a top-level typo', `worker = "threads"\n${good}`, /config\.toml:1: worker: unknown key "worker"/],
];

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinbox-badcfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('twinbox with a bad config', () => {
  for (const [i, [what, text, expected]] of cases.entries()) {
    it(`${what}: exit 2 and the file, line and key`, async () => {
      const file = join(dir, `case${i}`, 'config.toml');
      await rm(join(dir, `case${i}`), { recursive: true, force: true });
      await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, `case${i}`)));
      await writeFile(file, text);
      const result = await twinbox(['-c', file, 'sync']);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(expected);
      expect(result.stderr.startsWith(`twinbox: ${file}`)).toBe(true);
    });
  }

  it('a missing config file: exit 2, and says how to make one', async () => {
    const result = await twinbox(['-c', join(dir, 'none.toml'), 'sync']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no such file\. Write a starter config with `twinbox init`/);
  });

  it('--json reports a config error as JSON on stdout', async () => {
    const file = join(dir, 'json.toml');
    await writeFile(file, good.replace('host =', 'hots ='));
    const result = await twinbox(['-c', file, '--json', 'sync']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ type: 'error', code: 'CONFIG_INVALID' });
  });
});
