import { readFileSync } from 'node:fs';
import { parseConfig } from '@twinbox/config/schema';
import { describe, expect, it } from 'vitest';
import { type ImportNote, importMbsync, importOfflineImap } from '../src/index.js';
import { syncMatrix } from '../src/mbsync.js';
import { readMbsyncrc, splitLine } from '../src/mbsyncrc.js';
import { folderFilter, nameTrans } from '../src/python.js';

const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
const HOME = '/home/jane';
const file = `${HOME}/.config/twinbox/config.toml`;

/** The note for a key (exactly one), for asserting it was reported. */
function note(notes: ImportNote[], key: string, level?: ImportNote['level']): ImportNote {
  const found = notes.filter((n) => n.key === key && (!level || n.level === level));
  if (found.length === 0)
    throw new Error(`no ${level ?? ''} note for ${key}; notes: ${notes.map((n) => n.key).join(' | ')}`);
  return found[0]!;
}

describe('the mbsyncrc reader', () => {
  it('splits like isync: quotes mid-word, backslash escapes, # only where an argument starts', () => {
    expect(splitLine('Pass "se\\"cret # not a comment"').args).toEqual(['Pass', 'se"cret # not a comment']);
    expect(splitLine('Patterns a"b c"d  # comment').args).toEqual(['Patterns', 'ab cd']);
    expect(splitLine('Path ~/Mail/a#b').args).toEqual(['Path', '~/Mail/a#b']);
    expect(splitLine('Pass "open').problem).toMatch(/quote/);
  });

  it('ends a section at an empty line, not at a comment line; Channel inside a Group is a member', () => {
    const rc = readMbsyncrc(
      'IMAPStore a\nHost h\n# note\nPort 1\n\nSync Pull\nGroup g\nChannel x\nChannels y z\n',
    );
    expect(rc.sections.map((s) => [s.kind, s.name, s.directives.map((d) => d.keyword)])).toEqual([
      ['imapstore', 'a', ['host', 'port']],
      ['group', 'g', ['channel', 'channels']],
    ]);
    expect(rc.globals.map((d) => d.keyword)).toEqual(['sync']);
  });

  it('reads the Sync matrix in both styles', () => {
    const cells = (args: string[]) => {
      const m = syncMatrix(args);
      if (typeof m === 'string') return m;
      return { pull: [...m.pull].sort(), push: [...m.push].sort() };
    };
    const all = ['delete', 'flags', 'new', 'renew'];
    expect(cells(['All'])).toEqual({ pull: all, push: all });
    expect(cells(['Pull'])).toEqual({ pull: all, push: [] });
    expect(cells(['Pull', 'New', 'Flags'])).toEqual({ pull: ['flags', 'new'], push: [] });
    expect(cells(['New', 'Delete'])).toEqual({ pull: ['delete', 'new'], push: ['delete', 'new'] });
    expect(cells(['PullNew', 'PullDelete', 'Push'])).toEqual({ pull: ['delete', 'new'], push: all });
    expect(cells(['None'])).toEqual({ pull: [], push: [] });
    expect(cells(['PullNew', 'Pull'])).toMatch(/conflicting/);
    expect(cells(['Sideways'])).toMatch(/unknown/);
  });
});

describe('importMbsync', () => {
  const result = importMbsync(fixture('import-mbsyncrc'), { file: '~/.mbsyncrc' });
  const config = parseConfig(result.config, file);

  it('writes a config that parses, naming its source and repeating the warnings at the top', () => {
    expect(result.config).toMatch(/^# Imported by `twinbox import mbsync` from ~\/\.mbsyncrc\./);
    expect(result.config).toContain('# - Channel home-lists: MaxMessages:');
    expect(Object.keys(config.accounts).sort()).toEqual([
      'home-local',
      'home-remote',
      'old',
      'work-local',
      'work-remote',
    ]);
    expect(Object.keys(config.pairs)).toEqual(['work', 'home-inbox', 'home-lists', 'legacy']);
  });

  it('an IMAPAccount + IMAPStore: host, port, tls, user, PassCmd without its "+", CertificateFile', () => {
    expect(config.accounts['work-remote']).toEqual({
      type: 'imap',
      host: 'imap.work.example',
      timeout: 60,
      'watch-connections': 4,
      'watch-poll': 0.5,
      'watch-quiet-poll': 2,
      port: 993,
      tls: 'implicit',
      user: 'jane.doe@work.example',
      'password-command': 'gpg -q --decrypt ~/.work-pass.gpg',
      'ca-file': '/etc/ssl/certs/work-ca.pem',
      'allow-plaintext-password': false,
      connections: 4,
    });
    expect(note(result.notes, 'IMAPAccount work / IMAPStore work-remote: PassCmd', 'info').message).toMatch(
      /"\+"/,
    );
  });

  it('SSLType None, a quoted Pass with an escaped quote, UserCmd reported', () => {
    expect(config.accounts['home-remote']).toMatchObject({
      tls: 'none',
      port: 1143,
      password: 'se"cret # not a comment',
      user: 'REPLACE-ME',
      'allow-plaintext-password': false,
    });
    expect(
      note(result.notes, 'IMAPAccount home / IMAPStore home-remote: UserCmd', 'warning').message,
    ).toContain('pass show mail/home-user');
    expect(
      note(result.notes, 'IMAPAccount home / IMAPStore home-remote: SSLType', 'warning').message,
    ).toMatch(/in clear/);
  });

  it('MaildirStores: Verbatim -> fs at Path, Maildir++ -> maildir++ at Inbox, FSync no -> fsync false', () => {
    expect(config.accounts['work-local']).toEqual({
      type: 'maildir',
      path: `${process.env.HOME ?? ''}/Mail/work`.replace(/^\/\//, '/'),
      layout: 'fs',
      separator: '.',
      fsync: false,
      'folder-names': 'modified-utf-7',
    });
    expect(config.accounts['home-local']).toMatchObject({ layout: 'maildir++', fsync: false });
    expect(result.config).toContain('path = "~/Mail/home"');
    expect(result.config).toContain('path = "~/old-mail"');
  });

  it('a Channel: far on the left, Patterns as folders, Create/Expunge/Sync as direction and sync', () => {
    expect(config.pairs.work).toMatchObject({
      left: 'work-remote',
      right: 'work-local',
      folders: ['*', '!Trash', '!Deleted Items', 'Sent Items'],
      direction: 'both',
      sync: ['new', 'flags', 'deletions', 'folder-creation'],
    });
    expect(note(result.notes, 'Channel work: CopyArrivalDate', 'info').message).toMatch(/arrival date/);
    expect(note(result.notes, 'Channel work: Expunge', 'info').message).toMatch(/never expunges/);
  });

  it('Master/Slave, no Patterns (INBOX only), Sync Pull with the global Expunge None: no deletions', () => {
    expect(config.pairs['home-inbox']).toMatchObject({
      folders: ['INBOX'],
      direction: 'left-to-right',
      sync: ['new', 'flags', 'folder-creation'],
    });
    expect(note(result.notes, 'Channel home-inbox: Master', 'info').message).toMatch(/old name of Far/);
    expect(note(result.notes, 'Channel home-inbox: Expunge', 'warning').message).toMatch(/only marks/);
  });

  it('a far mailbox prefix under an IMAP Path "INBOX.": literal patterns renamed; one-way cells reported', () => {
    expect(config.pairs['home-lists']).toMatchObject({
      folders: ['INBOX/Lists/dev', 'INBOX/Lists/announce'],
      rename: { 'INBOX/Lists/dev': 'dev', 'INBOX/Lists/announce': 'announce' },
      direction: 'both',
      sync: ['flags', 'folder-creation'],
    });
    expect(note(result.notes, 'Channel home-lists: Sync', 'warning').message).toContain('"new"');
    expect(note(result.notes, 'Channel home-lists: MaxMessages', 'warning').message).toMatch(/expire/);
  });

  it('reports by name what it does not translate', () => {
    for (const key of [
      'IMAPStore work-remote: MaxSize',
      'MaildirStore work-local: Trash',
      'MaildirStore old: SubFolders',
      'MaildirStore old: Flatten',
      'Channel legacy: Patterns',
      'Group everything',
    ])
      expect(note(result.notes, key, 'warning').message.length).toBeGreaterThan(10);
    expect(note(result.notes, 'Channel work: SyncState', 'info').message).toMatch(/own state/);
    // A size limit exists, on the pair: the warning says where it goes.
    expect(note(result.notes, 'IMAPStore work-remote: MaxSize', 'warning').message).toMatch(/max-size/);
  });

  it("translates Timeout into timeout, keeping a deadline where mbsync's 0 had none", () => {
    expect(config.accounts['work-remote']).toMatchObject({ timeout: 60 });
    expect(config.accounts['home-remote']).toMatchObject({ timeout: 3600 });
    expect(
      note(result.notes, 'IMAPAccount home / IMAPStore home-remote: Timeout', 'warning').message,
    ).toMatch(/always keeps one/);
  });

  it('resolves relative paths against home when given', () => {
    const withHome = importMbsync(fixture('import-mbsyncrc'), { home: HOME });
    expect(parseConfig(withHome.config, file).accounts.old).toMatchObject({ path: `${HOME}/old-mail` });
  });

  it('AuthMechs LOGIN with SSLType None allows the plaintext password, with a warning; unknown options are reported', () => {
    const r = importMbsync(
      'IMAPStore s\nHost mail.lan\nUser u\nPassCmd "pass x"\nSSLType None\nAuthMechs LOGIN\nFrobnicate yes\n\nMaildirStore m\nPath ~/M/\nInbox ~/M/INBOX\nSubFolders Verbatim\n\nChannel c\nFar :s:\nNear :m:\nPatterns *\nSync None\n',
    );
    const c = parseConfig(r.config, file);
    expect(c.accounts.s).toMatchObject({ tls: 'none', 'allow-plaintext-password': true });
    expect(c.accounts.m).not.toHaveProperty('inbox');
    expect(c.pairs.c).toMatchObject({ sync: [], direction: 'both' });
    expect(note(r.notes, 'IMAPStore s: Frobnicate', 'warning').message).toMatch(/unknown option/);
    expect(note(r.notes, 'IMAPStore s: SSLType', 'warning').message).toMatch(
      /allow-plaintext-password = true/,
    );
  });

  it('a channel naming a missing store is reported and left out', () => {
    const r = importMbsync('MaildirStore m\nPath ~/M/\n\nChannel c\nFar :nowhere:\nNear :m:\n');
    expect(parseConfig(r.config, file).pairs).toEqual({});
    expect(note(r.notes, 'Channel c: Far', 'warning').message).toMatch(/nowhere/);
  });
});

describe('the OfflineIMAP lambdas', () => {
  it('recognises the common folderfilter shapes', () => {
    expect(folderFilter("lambda f: f in ['INBOX', 'Sent']")?.patterns).toEqual(['INBOX', 'Sent']);
    expect(folderFilter('lambda folder: folder not in ["Trash",\n    "Spam",]')?.patterns).toEqual([
      '*',
      '!Trash',
      '!Spam',
    ]);
    expect(folderFilter("lambda f: f != 'Trash'")?.patterns).toEqual(['*', '!Trash']);
    expect(folderFilter("lambda f: f == 'INBOX'")?.patterns).toEqual(['INBOX']);
    expect(folderFilter("lambda name: not re.search('(^Trash$|Del)', name)")).toBeUndefined();
    expect(folderFilter("lambda name: not re.search('^Trash$|^Lists/', name)")?.patterns).toEqual([
      '*',
      '!Trash',
      '!Lists/*',
    ]);
    expect(folderFilter("lambda f: f.startswith('x')")).toBeUndefined();
  });

  it('recognises an identity or dict nametrans', () => {
    expect(nameTrans('lambda f: f')).toEqual({});
    expect(nameTrans("lambda f: {'[Gmail]/All Mail': 'all', \"Sent\": 'sent'}.get(f, f)")).toEqual({
      '[Gmail]/All Mail': 'all',
      Sent: 'sent',
    });
    expect(nameTrans("lambda f: re.sub('^INBOX\\.', '', f)")).toBeUndefined();
  });
});

describe('importOfflineImap', () => {
  const result = importOfflineImap(fixture('import-offlineimaprc'), { file: '~/.offlineimaprc', home: HOME });
  const config = parseConfig(result.config, file);

  it('imports the accounts listed in [general], each a pair of its two repositories', () => {
    expect(Object.keys(config.pairs)).toEqual(['Personal', 'Gmail', 'Backup']);
    expect(config.pairs.Personal).toMatchObject({ left: 'personal-remote', right: 'personal-local' });
    expect(note(result.notes, '[Account Unused]', 'info').message).toMatch(/not imported/);
  });

  it('an IMAP repository: interpolation, %% , ; and # kept in a password, STARTTLS, sha256 fingerprint', () => {
    expect(config.accounts['personal-remote']).toEqual({
      type: 'imap',
      host: 'mail.example.org',
      timeout: 20,
      'watch-connections': 4,
      'watch-poll': 0.5,
      'watch-quiet-poll': 2,
      port: 143,
      tls: 'starttls',
      user: 'me@example.org',
      password: 'p%ss;word#1',
      fingerprint:
        'sha256:2F:3A:1B:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66',
      'allow-plaintext-password': false,
      connections: 4,
    });
    expect(note(result.notes, '[Repository personal-remote]: cert_fingerprint', 'warning').message).toMatch(
      /1 other/,
    );
    expect(note(result.notes, '[Repository personal-remote]: maxconnections', 'warning').message).toMatch(
      /"lots" is not a number of connections.*connections = 4/,
    );
  });

  it('a Maildir repository: localfolders from %(mailroot)s, sep / -> fs exactly, fsync = false', () => {
    expect(config.accounts['personal-local']).toEqual({
      type: 'maildir',
      path: `${process.env.HOME ?? ''}/Mail/personal`.replace(/^\/\//, '/'),
      layout: 'fs',
      separator: '.',
      fsync: false,
      'folder-names': 'utf-8',
    });
    expect(config.accounts['backup-local']).toMatchObject({ 'folder-names': 'modified-utf-7' });
    expect(result.notes.some((n) => n.key === '[Repository personal-local]: sep')).toBe(false);
  });

  it('folderfilter over several lines -> folders; createfolders = False on the server reported', () => {
    expect(config.pairs.Personal).toMatchObject({
      folders: ['*', '!Trash', '!Spam', '!Junk E-mail'],
      direction: 'both',
      sync: ['new', 'flags', 'deletions', 'folder-creation'],
    });
    expect(note(result.notes, '[Account Personal]: createfolders', 'warning').message).toMatch(/created/);
  });

  it('Gmail: defaults, remotepasseval reported, nametrans dict -> rename, nested names -> sep directories', () => {
    expect(config.accounts['gmail-remote']).toMatchObject({
      connections: 2,
      host: 'imap.gmail.com',
      tls: 'implicit',
      'password-env': 'GMAIL_REMOTE_PASSWORD',
      'ca-file': '/etc/ssl/certs/ca-certificates.crt',
    });
    expect(note(result.notes, '[Repository gmail-remote]: remotepasseval', 'warning').message).toContain(
      'get_pass("gmail")',
    );
    expect(config.pairs.Gmail).toMatchObject({
      folders: ['INBOX', '[Gmail]/Sent Mail', 'Projects/2024'],
      rename: { '[Gmail]/Sent Mail': 'sent', 'Projects/2024': 'Projects.2024' },
      sync: ['new', 'flags', 'folder-creation'],
    });
    expect(note(result.notes, '[Account Gmail]: sync_deletes', 'warning').message).toContain('"deletions"');
    expect(note(result.notes, '[Repository gmail-local]: sep', 'warning').message).toMatch(/Archive\.2024/);
    expect(config.pairs.Gmail).toMatchObject({ 'max-age': 30, 'max-size': '2000000' });
    expect(note(result.notes, '[Account Gmail]: maxage', 'info').message).toMatch(/more than 30 days ago/);
  });

  it('readonly server -> left-to-right; remotepassfile -> password-command; an unknown lambda reported', () => {
    expect(config.accounts['backup-remote']).toMatchObject({
      'password-command': "cat ~/'.config/mail pass'",
    });
    expect(config.pairs.Backup).toMatchObject({ direction: 'left-to-right', folders: ['*'] });
    expect(note(result.notes, '[Repository backup-remote]: folderfilter', 'warning').message).toContain(
      "re.search('^INBOX$|^Archive', name) and name != 'x'",
    );
  });

  it('reports by name what it does not translate', () => {
    for (const key of ['[general]: pythonfile', '[Account Personal]: postsynchook'])
      expect(note(result.notes, key, 'warning').message.length).toBeGreaterThan(10);
    expect(note(result.notes, '[Account Backup]: utf8foldernames', 'info').message).toContain(
      'modified-utf-7',
    );
    expect(note(result.notes, '[Account Personal]: autorefresh', 'info').message).toMatch(/timer|daemon/);
    expect(note(result.notes, '[mbnames]', 'info').message).toMatch(/not translated/);
  });

  it('OAuth2 settings become an [oauth2] table', () => {
    const r = importOfflineImap(
      '[general]\naccounts = G\n[Account G]\nlocalrepository = l\nremoterepository = r\n[Repository l]\ntype = Maildir\nlocalfolders = /m\nsep = /\n[Repository r]\ntype = Gmail\nremoteuser = me@gmail.com\noauth2_client_id = id\noauth2_client_secret = s\noauth2_refresh_token = rt\n',
    );
    expect(parseConfig(r.config, file).accounts.r).toMatchObject({
      oauth2: {
        'token-url': 'https://accounts.google.com/o/oauth2/token',
        'client-id': 'id',
        'client-secret': 's',
        'refresh-token': 'rt',
      },
    });
  });

  it('OAuth2 secrets given as Python (_eval) are read from environment variables, with a warning each', () => {
    const gmail =
      '[general]\naccounts = G\n[Account G]\nlocalrepository = l\nremoterepository = r\n[Repository l]\ntype = Maildir\nlocalfolders = /m\nsep = /\n[Repository r]\ntype = Gmail\nremoteuser = me@gmail.com\noauth2_client_id = id\n';
    const r = importOfflineImap(
      `${gmail}oauth2_client_secret_eval = get_secret("gmail")\noauth2_refresh_token_eval = get_token("gmail")\n`,
    );
    expect(parseConfig(r.config, file).accounts.r).toMatchObject({
      oauth2: {
        'client-id': 'id',
        'client-secret-env': 'R_CLIENT_SECRET',
        'refresh-token-env': 'R_REFRESH_TOKEN',
      },
    });
    expect(note(r.notes, '[Repository r]: oauth2_refresh_token_eval', 'warning').message).toMatch(
      /get_token\("gmail"\).*R_REFRESH_TOKEN.*refresh-token-command/,
    );
    expect(note(r.notes, '[Repository r]: oauth2_client_secret_eval', 'warning').message).toContain(
      'R_CLIENT_SECRET',
    );
    // Written in as well: the written secret is kept, as remotepass is kept over remotepasseval.
    const both = importOfflineImap(
      `${gmail}oauth2_refresh_token = rt\noauth2_refresh_token_eval = get_token()\n`,
    );
    expect(parseConfig(both.config, file).accounts.r).toMatchObject({ oauth2: { 'refresh-token': 'rt' } });
    expect(note(both.notes, '[Repository r]: oauth2_refresh_token_eval', 'info').message).toMatch(/ignored/);
  });
});
