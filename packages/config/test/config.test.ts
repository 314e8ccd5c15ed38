import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  FolderRenames,
  folderMatcher,
  openDriver,
  parseAge,
  parseSize,
  policyOf,
  starterConfig,
} from '../src/index.js';
import { configJsonSchema, parseConfig } from '../src/schema-entry.js';

const good = `
[accounts.remote]
type = "imap"
host = "imap.example.com"
user = "me"
password-env = "PW"

[accounts.local]
type = "maildir"
path = "~/Mail"

[pairs.main]
left = "remote"
right = "local"
`;

/** `good` with an [oauth2] table in place of the password: its keys start on line 7. */
const oauth = (keys: string) =>
  good.replace(
    'password-env = "PW"\n',
    `[accounts.remote.oauth2]\ntoken-url = "https://auth.example.com/token"\nclient-id = "twinbox"\n${keys}`,
  );

function problems(text: string) {
  try {
    parseConfig(text, '/etc/twinbox.toml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('parseConfig', () => {
  it('accepts a minimal config and fills in the defaults', () => {
    const config = parseConfig(good, '/home/u/.config/twinbox/config.toml');
    expect(config.workers).toBe('auto');
    expect(config.concurrency).toBe(8);
    expect(config.accounts.remote).toMatchObject({
      type: 'imap',
      tls: 'implicit',
      'watch-poll': 0.5,
      'watch-quiet-poll': 2,
      connections: 4,
    });
    expect(
      parseConfig(good.replace('user = "me"', 'user = "me"\nwatch-poll = 0.25'), '/c.toml').accounts.remote,
    ).toMatchObject({ 'watch-poll': 0.25 });
    expect(
      parseConfig(good.replace('user = "me"', 'user = "me"\nwatch-quiet-poll = 30'), '/c.toml').accounts
        .remote,
    ).toMatchObject({ 'watch-quiet-poll': 30 });
    expect(config.accounts.local).toMatchObject({ type: 'maildir', layout: 'maildir++', fsync: true });
    expect(config.pairs.main).toMatchObject({ folders: ['*'], direction: 'both' });
    expect(policyOf(config.pairs.main!).propagate.deletions).toBe(true);
  });

  it('the starter config of `twinbox init` is valid as written', () => {
    const config = parseConfig(starterConfig(), '/x/config.toml');
    expect(Object.keys(config.pairs)).toEqual(['work']);
  });

  it("the starter config's OAuth2 table is valid once uncommented in place of the password", () => {
    const text = starterConfig()
      .replace(/^password-command = .*\n/m, '')
      .replace(/^# (\[accounts\.work\.oauth2\]|token-url|client-id|refresh-token|client-secret)/gm, '$1');
    expect(parseConfig(text, '/x/config.toml').accounts.work).toMatchObject({
      oauth2: { 'refresh-token-command': 'pass show oauth/work', 'client-secret-env': 'WORK_CLIENT_SECRET' },
    });
  });

  const bad: [string, string, { line?: number; key: string; message: RegExp }][] = [
    ['broken TOML', 'accounts = [\n', { line: 2, key: '', message: /not valid TOML/ }],
    [
      'a duplicate key',
      `${good}\n[accounts.local]\ntype = "maildir"\npath = "x"\n`,
      { key: '', message: /not valid TOML/ },
    ],
    [
      'a misspelt key',
      good.replace('host =', 'hots ='),
      { line: 4, key: 'accounts.remote.hots', message: /unknown key "hots"/ },
    ],
    [
      'a missing host',
      good.replace('host = "imap.example.com"\n', ''),
      { line: 2, key: 'accounts.remote.host', message: /missing/ },
    ],
    [
      'a port that is text',
      good.replace('user = "me"', 'port = "993x"\nuser = "me"'),
      { line: 5, key: 'accounts.remote.port', message: /number/ },
    ],
    [
      'a port out of range',
      good.replace('user = "me"', 'port = 70000\nuser = "me"'),
      { line: 5, key: 'accounts.remote.port', message: /65535/ },
    ],
    [
      'an unknown TLS mode',
      good.replace('user = "me"', 'tls = "maybe"\nuser = "me"'),
      { line: 5, key: 'accounts.remote.tls', message: /implicit/ },
    ],
    [
      'no password source',
      good.replace('password-env = "PW"\n', ''),
      { key: 'accounts.remote', message: /needs one of password/ },
    ],
    [
      'two password sources',
      good.replace('password-env = "PW"', 'password-env = "PW"\npassword = "x"'),
      { key: 'accounts.remote.password-env', message: /only one of/ },
    ],
    [
      'an oauth2 table without a refresh token',
      oauth('client-secret-env = "SECRET"\n'),
      {
        line: 6,
        key: 'accounts.remote.oauth2',
        message: /needs one of refresh-token, refresh-token-command or refresh-token-env/,
      },
    ],
    [
      'two sources of the refresh token',
      oauth('refresh-token = "rt"\nrefresh-token-env = "RT"\n'),
      { line: 10, key: 'accounts.remote.oauth2.refresh-token-env', message: /only one of refresh-token,/ },
    ],
    [
      'two sources of the client secret',
      oauth('refresh-token-env = "RT"\nclient-secret = "s"\nclient-secret-command = "pass s"\n'),
      {
        line: 11,
        key: 'accounts.remote.oauth2.client-secret-command',
        message: /only one of client-secret, client-secret-command, client-secret-env/,
      },
    ],
    [
      'an empty refresh token command',
      oauth('refresh-token-command = ""\n'),
      { line: 9, key: 'accounts.remote.oauth2.refresh-token-command', message: /1 character/ },
    ],
    [
      'an unknown account type',
      good.replace('type = "maildir"', 'type = "mbox"'),
      { line: 9, key: 'accounts.local.type', message: /imap" or "maildir/ },
    ],
    [
      'a pair naming a missing account',
      good.replace('right = "local"', 'right = "locla"'),
      { line: 14, key: 'pairs.main.right', message: /no account named "locla"/ },
    ],
    [
      'a pair of one account with itself',
      good.replace('right = "local"', 'right = "remote"'),
      { line: 14, key: 'pairs.main.right', message: /two different accounts/ },
    ],
    [
      'an unknown direction',
      `${good}direction = "sideways"\n`,
      { line: 15, key: 'pairs.main.direction', message: /both/ },
    ],
    [
      'an unknown sync operation',
      `${good}sync = ["new", "expunge"]\n`,
      { line: 15, key: 'pairs.main.sync.1', message: /flags/ },
    ],
    [
      'a bad account name',
      good
        .replace('[accounts.local]', '["accounts"."bad name"]')
        .replace('right = "local"', 'right = "remote2"'),
      { key: 'accounts.bad name', message: /letters, digits/ },
    ],
    [
      'a negative watch-poll',
      good.replace('user = "me"', 'user = "me"\nwatch-poll = -1'),
      { line: 6, key: 'accounts.remote.watch-poll', message: /0/ },
    ],
    [
      'a watch-quiet-poll of 0',
      good.replace('user = "me"', 'user = "me"\nwatch-quiet-poll = 0'),
      { line: 6, key: 'accounts.remote.watch-quiet-poll', message: /0\.1/ },
    ],
    [
      'no connections',
      good.replace('user = "me"', 'user = "me"\nconnections = 0'),
      { line: 6, key: 'accounts.remote.connections', message: /1/ },
    ],
    [
      'a non-boolean fsync',
      good.replace('path = "~/Mail"', 'path = "~/Mail"\nfsync = "no"'),
      { line: 11, key: 'accounts.local.fsync', message: /boolean/ },
    ],
  ];

  for (const [what, text, expected] of bad) {
    it(`rejects ${what}, naming file, line and key`, () => {
      const found = problems(text);
      const problem = found.find((p) => p.key === expected.key) ?? found[0]!;
      expect(problem.file).toBe('/etc/twinbox.toml');
      expect(problem.key).toBe(expected.key);
      expect(problem.message).toMatch(expected.message);
      if (expected.line !== undefined) expect(problem.line).toBe(expected.line);
    });
  }

  it('says every problem at once, each on its own line', () => {
    const text = good.replace('host =', 'hots =').replace('user = "me"', 'user = "me"\nport = 0');
    const error = (() => {
      try {
        parseConfig(text, '/c.toml');
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(error?.message.split('\n').sort()).toEqual([
      expect.stringMatching(/^\/c\.toml:2: accounts\.remote\.host: missing/),
      expect.stringMatching(/^\/c\.toml:4: accounts\.remote\.hots: unknown key "hots"/),
      expect.stringMatching(/^\/c\.toml:6: accounts\.remote\.port: .*1/),
    ]);
  });

  it('takes the OAuth2 secrets from a command or the environment, and hands them to the driver', async () => {
    const config = parseConfig(
      oauth('refresh-token-command = "pass show oauth/work"\nclient-secret-env = "SECRET"\n'),
      '/c.toml',
    );
    expect(config.accounts.remote).toMatchObject({
      oauth2: { 'refresh-token-command': 'pass show oauth/work', 'client-secret-env': 'SECRET' },
    });
    // The driver reads the secrets before it connects: what it says shows which sources reached it.
    const unset = `TWINBOX_TEST_UNSET_${process.pid}`;
    const failing = parseConfig(
      oauth(`refresh-token-env = "${unset}"\nclient-secret-command = "exit 7"\n`),
      '/c.toml',
    );
    await expect(openDriver(failing.accounts.remote!)).rejects.toMatchObject({
      code: 'AUTH_CONFIG',
      message: expect.stringContaining(unset),
    });
    const command = parseConfig(oauth('refresh-token-command = "echo rt-secret; exit 7"\n'), '/c.toml');
    const error = await openDriver(command.accounts.remote!).catch((e: Error) => e);
    expect(error).toMatchObject({
      code: 'SECRET_COMMAND_FAILED',
      message: expect.stringContaining('code 7'),
    });
    expect(String((error as Error).message)).not.toContain('rt-secret');
  });

  it('makes Maildir paths absolute: "~" is home, relative paths are against the config file', () => {
    const config = parseConfig(good.replace('"~/Mail"', '"mail/here"'), '/home/u/cfg/config.toml');
    expect(config.accounts.local).toMatchObject({ path: '/home/u/cfg/mail/here' });
  });
});

describe('max-size', () => {
  it('reads bytes or sizes with units into the policy, and refuses nonsense', () => {
    expect(parseSize('10MB')).toBe(10 * 1024 * 1024);
    expect(parseSize('500k')).toBe(500 * 1024);
    expect(parseSize(2048)).toBe(2048);
    const config = parseConfig(`${good}max-size = "1.5m"\n`, '/c.toml');
    expect(policyOf(config.pairs.main!).maxMessageSize).toBe(1.5 * 1024 * 1024);
    expect(problems(`${good}max-size = "big"\n`)[0]).toMatchObject({ key: 'pairs.main.max-size', line: 15 });
  });
});

describe('max-age', () => {
  it('reads days, weeks or years into the policy, and refuses what is not an age', () => {
    const day = 86_400_000;
    expect(parseAge(30)).toBe(30 * day);
    expect(parseAge('90d')).toBe(90 * day);
    expect(parseAge(' 12W ')).toBe(84 * day);
    expect(parseAge('1y')).toBe(365 * day);
    const config = parseConfig(`${good}max-age = "2w"\n`, '/c.toml');
    expect(policyOf(config.pairs.main!).maxMessageAge).toBe(14 * day);
    expect(policyOf(parseConfig(good, '/c.toml').pairs.main!).maxMessageAge).toBeUndefined();
    for (const bad of ['"3 months"', '"10m"', '0', '-5', '"d"']) {
      const [problem] = problems(`${good}max-age = ${bad}\n`);
      expect(problem, bad).toMatchObject({ key: 'pairs.main.max-age', line: 15 });
    }
  });
});

describe('folder patterns and renames', () => {
  it('follows mbsync: * anything, % one level, ! excludes, the last match wins', () => {
    const m = folderMatcher(['*', '!Trash', '!Archive/%', 'Archive/2024']);
    expect(m(['INBOX'])).toBe(true);
    expect(m(['Trash'])).toBe(false);
    expect(m(['Archive'])).toBe(true);
    expect(m(['Archive', '2023'])).toBe(false);
    expect(m(['Archive', '2024'])).toBe(true);
    expect(m(['Archive', '2023', 'Q1'])).toBe(true);
    expect(folderMatcher(['INBOX'])(['Sent'])).toBe(false);
    expect(folderMatcher(['a.b'])(['aXb']), 'regex characters are literal').toBe(false);
  });

  it('matches names with line breaks too, so none is left out of a sync without a word (issue 15, item 4)', () => {
    const m = folderMatcher(['*', '!Trash']);
    for (const name of ['cr\rname', 'lf\nname', '\r\n', 'a\u2028b'])
      expect(m([name]), JSON.stringify(name)).toBe(true);
    expect(folderMatcher(['%'])(['lf\nname'])).toBe(true);
    expect(folderMatcher(['a*'])(['a\nb', 'c'])).toBe(true);
    expect(folderMatcher(['!*'])(['a\nb'])).toBe(false);
  });

  it('renames a folder and its subfolders both ways, the longest match first', () => {
    const r = new FolderRenames({ 'Sent Items': 'Sent', 'Sent Items/Old': 'Archive/Sent' });
    expect(r.toRight(['Sent Items'])).toEqual(['Sent']);
    expect(r.toRight(['Sent Items', 'Old', 'x'])).toEqual(['Archive', 'Sent', 'x']);
    expect(r.toLeft(['Archive', 'Sent', 'x'])).toEqual(['Sent Items', 'Old', 'x']);
    expect(r.toLeft(['Sent', '2024'])).toEqual(['Sent Items', '2024']);
    expect(r.toLeft(['INBOX'])).toEqual(['INBOX']);
  });
});

describe('JSON Schema', () => {
  it('describes accounts and pairs for editors', () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['accounts', 'pairs', 'state', 'workers', 'concurrency']),
    );
    expect(JSON.stringify(schema)).toContain('password-command');
    for (const key of [
      'refresh-token-command',
      'refresh-token-env',
      'client-secret-command',
      'client-secret-env',
    ])
      expect(JSON.stringify(schema)).toContain(key);
  });
});
