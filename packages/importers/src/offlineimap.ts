import { bool, getValue, type Ini, type IniSection, readIni } from './configparser.js';
import { Notes } from './notes.js';
import { isWildcard, localPath, shellQuote } from './paths.js';
import { decideSync, type MessageOperation } from './policy.js';
import { folderFilter, nameTrans } from './python.js';
import {
  configName,
  type Drafted,
  type ImapDraft,
  type MaildirDraft,
  type PairDraft,
  renderConfig,
} from './render.js';
import type { ImportOptions, ImportResult } from './types.js';

/*
 * OfflineIMAP -> Twinbox. An [Account X] becomes the pair X, its remoterepository the left account and
 * its localrepository the right one. OfflineIMAP writes a Maildir folder as `localfolders/<name>`, the
 * levels of the name joined by `sep` ("." by default), and INBOX at `localfolders/INBOX`. With sep "/"
 * that is Twinbox's "fs" layout exactly; with "." the top-level folders match "fs" too, and nested
 * ones ("Archive.2024") have no Twinbox layout: they are renamed one by one where the folder filter
 * names them, and reported otherwise.
 */

const GMAIL_TOKEN_URL = 'https://accounts.google.com/o/oauth2/token';

/** Keys with nothing to translate: reported as info with why. */
const NOT_NEEDED: Readonly<Record<string, string>> = {
  metadata: 'Twinbox keeps its own state.',
  maxsyncaccounts: 'Twinbox syncs pairs one after another; `concurrency` sets folders at once.',
  ui: 'Twinbox has its own output.',
  'ignore-readonly': 'Twinbox reports read-only folders as folder errors.',
  socktimeout: 'Twinbox has its own connection timeouts.',
  autorefresh:
    'twinboxd syncs changes as they happen, with a full pass every `daemon.full-pass` seconds (default 300).',
  quick: 'Twinbox always does a quick sync when the server allows (CONDSTORE/QRESYNC).',
  status_backend: 'Twinbox keeps its own state.',
  ipv6: 'Twinbox connects as the system resolves the host.',
  ssl_version: 'Twinbox uses TLS 1.2 or newer.',
  tls_level: 'Twinbox uses TLS 1.2 or newer.',
  holdconnectionopen: 'twinboxd keeps each pair open, its connections included.',
  keepalive: 'twinboxd keeps each pair open, its connections included.',
  singlethreadperfolder: 'Twinbox syncs a folder on one connection.',
  idlefolders:
    "twinboxd watches every folder where the server has NOTIFY, else the pair's `watch` folders (INBOX by default) with IDLE.",
  usecompression: 'Twinbox does not compress the connection.',
  foldersort: 'the order folders sync in does not change the result.',
  dynamic_folderfilter: 'Twinbox applies its folder patterns at every sync.',
  restoreatime: 'Twinbox does not read message files to list them.',
  utime_from_header: 'Twinbox sets a file time from the arrival date.',
  filename_use_mail_timestamp: 'Twinbox names files as the Maildir spec asks.',
  retrycount: 'Twinbox retries failed messages at the next sync.',
  auth_mechanisms: 'Twinbox picks the login method itself.',
  labelsheader: 'only matters with synclabels.',
  ignorelabels: 'only matters with synclabels.',
  decodefoldernames: 'see the note on folder names.',
  utf8foldernames: 'see the note on folder names.',
  expunge: 'see the note on deletions.',
};

/** Keys whose behaviour Twinbox does not have: reported as warnings. */
const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  pythonfile: 'Twinbox runs no Python: helpers used by *eval options are unavailable.',
  startdate:
    'Twinbox has no fixed start date: max-age (a number of days, counted back from each sync) is the nearest.',
  presynchook: 'Twinbox runs no hooks: run the command before `twinbox sync`.',
  postsynchook: 'Twinbox runs no hooks: run the command after `twinbox sync`.',
  newmail_hook: 'Twinbox runs no hooks.',
  synclabels: 'Twinbox does not turn Gmail labels into headers; each label folder syncs as a folder.',
  filterheaders: 'Twinbox never changes a message.',
  proxy: 'Twinbox connects directly; use a tunnel and point host/port at it.',
  authproxy: 'Twinbox connects directly.',
  preauthtunnel: 'Twinbox connects over TCP only.',
  transporttunnel: 'Twinbox connects over TCP only; use a tunnel and point host/port at it.',
  reference: 'Twinbox has no folder root on the server: folders keep their full names.',
  folderincludes: 'Twinbox syncs only folders the server lists.',
  subscribedonly: 'Twinbox syncs every folder, not only subscribed ones: list them in folders.',
  remote_identity: 'Twinbox logs in as the user only.',
  sslclientcert: 'Twinbox does not log in with a client certificate.',
  sslclientkey: 'Twinbox does not log in with a client certificate.',
  'maildir-windows-compatible': 'Twinbox writes ":" before the flags, as the Maildir spec does.',
  copy_ignore_eval: 'Python; Twinbox skips nothing by UID.',
  remotehosteval: 'Python: Twinbox cannot run it; write the host.',
  remoteporteval: 'Python: Twinbox cannot run it; write the port.',
  oauth2_access_token: 'Twinbox refreshes tokens from a refresh token only.',
  oauth2_access_token_eval: 'Python: Twinbox cannot run it.',
  oauth2_client_id_eval: 'Python: Twinbox cannot run it; write the client id.',
};

const HANDLED_GENERAL = new Set(['accounts', 'fsync']);
const HANDLED_ACCOUNT = new Set([
  'localrepository',
  'remoterepository',
  'utf8foldernames',
  'maxsize',
  'maxage',
]);
const HANDLED_MAILDIR = new Set([
  'type',
  'localfolders',
  'sep',
  'readonly',
  'sync_deletes',
  'createfolders',
  'nametrans',
  'folderfilter',
]);
const HANDLED_IMAP = new Set([
  'type',
  'maxconnections',
  'remotehost',
  'remoteport',
  'remoteuser',
  'remoteusereval',
  'remotepass',
  'remotepassfile',
  'remotepasseval',
  'ssl',
  'starttls',
  'sslcacertfile',
  'cert_fingerprint',
  'folderfilter',
  'nametrans',
  'readonly',
  'sync_deletes',
  'createfolders',
  'oauth2_client_id',
  'oauth2_client_secret',
  'oauth2_client_secret_eval',
  'oauth2_refresh_token',
  'oauth2_refresh_token_eval',
  'oauth2_request_url',
  'trashfolder',
  'spamfolder',
  'sep',
  'decodefoldernames',
]);

function report(_ini: Ini, section: IniSection, handled: Set<string>, notes: Notes): void {
  for (const key of section.values.keys()) {
    if (handled.has(key)) continue;
    const where = `[${section.name}]: ${key}`;
    if (key in NOT_NEEDED) notes.info(where, `not needed: ${NOT_NEEDED[key]}`);
    else if (key in NOT_SUPPORTED) notes.warn(where, `not translated: ${NOT_SUPPORTED[key]}`);
    else if (/^customflag_[a-z]$/.test(key))
      notes.warn(
        where,
        'Twinbox keeps keywords in dovecot-keywords with its own letters; this mapping is not translated.',
      );
    else notes.warn(where, 'unknown option, not translated.');
  }
}

interface Side {
  name: string;
  section: IniSection;
  type: 'imap' | 'maildir';
  draft: ImapDraft | MaildirDraft;
  comments: Record<string, string>;
  readonly: boolean;
  syncDeletes: boolean;
  createFolders: boolean;
  sep: string;
}

/** Converts an OfflineIMAP config (`~/.offlineimaprc`) to a Twinbox config. See the README section. */
export function importOfflineImap(text: string, options: ImportOptions = {}): ImportResult {
  const notes = new Notes();
  const ini = readIni(text);
  for (const problem of ini.problems) notes.warn('syntax', `${problem}: the line was skipped.`);
  const general = ini.sections.get('general');
  const listed = (general ? getValue(ini, general, 'accounts') : undefined)
    ?.split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  if (!listed?.length) notes.warn('[general]: accounts', 'no accounts listed: nothing to import.');
  const fsync = general ? bool(getValue(ini, general, 'fsync')) : undefined;
  if (general) report(ini, general, HANDLED_GENERAL, notes);
  if (fsync === false)
    notes.info('[general]: fsync', 'fsync = false: the Maildir accounts get fsync = false.');
  for (const name of ini.sections.keys()) {
    const m = /^Account (.+)$/.exec(name);
    if (m && !listed?.includes(m[1]!.trim()))
      notes.info(`[${name}]`, 'not in [general] accounts, so OfflineIMAP does not sync it: not imported.');
  }
  if (ini.defaults.size)
    notes.info(
      '[DEFAULT]',
      `its keys (${[...ini.defaults.keys()].join(', ')}) are read as defaults of every section and in %(name)s references.`,
    );
  if (ini.sections.has('mbnames'))
    notes.info('[mbnames]', 'Twinbox writes no mailbox list for mutt: not translated.');

  const taken = new Set<string>();
  const sides = new Map<string, Side>();
  const accounts: Drafted<ImapDraft | MaildirDraft>[] = [];
  const pairs: Drafted<PairDraft>[] = [];
  const pairNames = new Set<string>();
  const side = (repo: string, role: 'local' | 'remote', account: string): Side | undefined => {
    const known = sides.get(repo);
    if (known) return known;
    const section = ini.sections.get(`Repository ${repo}`);
    if (!section) {
      notes.warn(`[Account ${account}]: ${role}repository`, `no [Repository ${repo}]: account not imported.`);
      return undefined;
    }
    const made = repository(ini, section, role, { fsync, options, taken }, notes);
    if (made) {
      sides.set(repo, made);
      accounts.push({
        name: made.name,
        from: [`from [${section.name}]`],
        value: made.draft,
        comments: made.comments,
      });
    }
    return made;
  };

  for (const accountName of listed ?? []) {
    const section = ini.sections.get(`Account ${accountName}`);
    const key = `[Account ${accountName}]`;
    if (!section) {
      notes.warn(key, 'listed in [general] accounts but not defined: not imported.');
      continue;
    }
    const localRepo = getValue(ini, section, 'localrepository');
    const remoteRepo = getValue(ini, section, 'remoterepository');
    if (!localRepo || !remoteRepo) {
      notes.warn(key, 'needs localrepository and remoterepository: not imported.');
      continue;
    }
    const remote = side(remoteRepo, 'remote', accountName);
    const local = side(localRepo, 'local', accountName);
    report(ini, section, HANDLED_ACCOUNT, notes);
    if (!remote || !local) continue;
    pairs.push({
      ...pairOf(ini, section, accountName, remote, local, notes),
      name: configName(accountName, pairNames),
    });
  }

  const config = renderConfig({
    tool: 'offlineimap',
    file: options.file,
    accounts,
    pairs,
    notes: notes.list,
  });
  return { config, notes: notes.list };
}

function repository(
  ini: Ini,
  section: IniSection,
  role: 'local' | 'remote',
  ctx: { fsync: boolean | undefined; options: ImportOptions; taken: Set<string> },
  notes: Notes,
): Side | undefined {
  const get = (key: string) => getValue(ini, section, key);
  const key = (option: string) => `[${section.name}]: ${option}`;
  const type = (get('type') ?? '').toLowerCase();
  const name = configName(section.name.replace(/^Repository /, ''), ctx.taken);
  const comments: Record<string, string> = {};
  const common = {
    name,
    section,
    comments,
    readonly: bool(get('readonly')) ?? false,
    syncDeletes: bool(get('sync_deletes')) ?? true,
    createFolders: bool(get('createfolders')) ?? true,
    sep: get('sep') ?? '.',
  };
  if (type === 'maildir' || type === 'gmailmaildir') {
    if (role === 'remote')
      notes.info(key('type'), 'a Maildir as the remote repository: it is still the left account.');
    const localfolders = get('localfolders');
    if (!localfolders) {
      notes.warn(key('localfolders'), 'missing: repository not imported.');
      return undefined;
    }
    const draft: MaildirDraft = {
      type: 'maildir',
      path: localPath(localfolders, ctx.options.home, notes, key('localfolders')),
      layout: 'fs',
    };
    if (ctx.fsync === false) draft.fsync = false;
    if (type === 'gmailmaildir')
      notes.info(key('type'), 'GmailMaildir: read as a plain Maildir; labels are not kept in headers.');
    if (common.sep !== '/')
      notes.warn(
        key('sep'),
        `OfflineIMAP joins the levels of a folder name with ${JSON.stringify(common.sep)} (Archive/2024 as the directory "Archive${common.sep}2024"); Twinbox's "fs" layout (used here: top-level folders and INBOX match) makes one directory per level. Nested folders named in folderfilter are renamed to their OfflineIMAP directory; any other nested folder would be created anew as Archive/2024 beside "Archive${common.sep}2024". Move such directories (or set sep = / in OfflineIMAP first).`,
      );
    report(ini, section, HANDLED_MAILDIR, notes);
    return { ...common, type: 'maildir', draft };
  }
  if (type !== 'imap' && type !== 'gmail') {
    notes.warn(
      key('type'),
      `${JSON.stringify(get('type') ?? '')} is not Maildir, GmailMaildir, IMAP or Gmail: not imported.`,
    );
    return undefined;
  }
  const gmail = type === 'gmail';
  let host = get('remotehost') ?? (gmail ? 'imap.gmail.com' : undefined);
  if (!host) {
    host = 'REPLACE-ME';
    notes.warn(
      key(get('remotehosteval') ? 'remotehosteval' : 'remotehost'),
      'no host Twinbox can read: fill in host.',
    );
  }
  const ssl = bool(get('ssl')) ?? true;
  const starttls = bool(get('starttls')) ?? true;
  const tls: ImapDraft['tls'] = ssl ? 'implicit' : starttls ? 'starttls' : 'none';
  if (!ssl && starttls)
    notes.info(
      key('starttls'),
      'OfflineIMAP used STARTTLS when offered; Twinbox requires it (tls = "starttls").',
    );
  if (tls === 'none')
    notes.warn(
      key('starttls'),
      'ssl = no and starttls = no: no encryption. Twinbox sends a password in clear only to a loopback host, unless allow-plaintext-password = true.',
    );
  const portText = get('remoteport');
  const port = portText && /^\d+$/.test(portText) ? Number(portText) : undefined;
  if (portText && port === undefined)
    notes.warn(key('remoteport'), `${JSON.stringify(portText)} is not a port number.`);
  let user = get('remoteuser');
  if (!user) {
    user = 'REPLACE-ME';
    notes.warn(
      key(get('remoteusereval') ? 'remoteusereval' : 'remoteuser'),
      get('remoteusereval')
        ? 'Python: Twinbox cannot run it; write the user name as user.'
        : 'no user: fill in user.',
    );
  }
  const draft: ImapDraft = { type: 'imap', host, port, tls, user };
  const clientId = get('oauth2_client_id');
  const requestUrl = get('oauth2_request_url') ?? (gmail ? GMAIL_TOKEN_URL : undefined);
  const envPrefix = name.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
  const envName = `${envPrefix}_PASSWORD`;
  /**
   * An OAuth2 secret as OfflineIMAP has it: written in (kept so), or a Python expression (`_eval`) that
   * Twinbox cannot run, which becomes an environment variable to set, or to replace with a command,
   * both named in a warning. When both are given the written one is kept, as for remotepass.
   */
  const oauthSecret = (option: string, twinboxKey: 'refresh-token' | 'client-secret', what: string) => {
    const value = get(option);
    const expression = get(`${option}_eval`);
    if (value) {
      if (expression) notes.info(key(`${option}_eval`), `ignored: ${option} gives the ${what}.`);
      return { [twinboxKey]: value };
    }
    if (!expression) return {};
    const env = `${envPrefix}_${twinboxKey.replace('-', '_').toUpperCase()}`;
    notes.warn(
      key(`${option}_eval`),
      `Python (${expression}): Twinbox cannot run it. Set the environment variable ${env} to the ${what}, or replace ${twinboxKey}-env with a ${twinboxKey}-command that prints it.`,
    );
    return { [`${twinboxKey}-env`]: env };
  };
  const hasRefresh = !!(get('oauth2_refresh_token') || get('oauth2_refresh_token_eval'));
  if (get('remotepass') !== undefined) {
    draft.password = get('remotepass');
    notes.info(
      key('remotepass'),
      'the password is written into the config as it was; prefer password-command.',
    );
  } else if (get('remotepassfile')) {
    const file = get('remotepassfile')!;
    draft['password-command'] =
      `cat ${file.startsWith('~/') ? `~/${shellQuote(file.slice(2))}` : shellQuote(file)}`;
    notes.info(key('remotepassfile'), 'read by password-command (cat); Twinbox takes its first line.');
  } else if (clientId && hasRefresh && requestUrl) {
    draft.oauth2 = {
      'token-url': requestUrl,
      'client-id': clientId,
      ...oauthSecret('oauth2_client_secret', 'client-secret', 'client secret'),
      ...oauthSecret('oauth2_refresh_token', 'refresh-token', 'refresh token'),
    };
  } else {
    draft['password-env'] = envName;
    notes.warn(
      key(get('remotepasseval') ? 'remotepasseval' : 'remotepass'),
      get('remotepasseval')
        ? `Python (${get('remotepasseval')}): Twinbox cannot run it. Set the environment variable ${envName}, or replace it with a password-command that prints the password.`
        : `no password: OfflineIMAP would read ~/.netrc or ask. Set the environment variable ${envName}, or replace it with password-command.`,
    );
  }
  if (get('remotepasseval') && (draft.password !== undefined || draft['password-command']))
    notes.info(key('remotepasseval'), 'ignored: a password is given another way.');
  if (!draft.oauth2)
    for (const option of ['oauth2_refresh_token_eval', 'oauth2_client_secret_eval'])
      if (get(option))
        notes.info(
          key(option),
          'not used: the account logs in with a password (OAuth2 needs oauth2_client_id, a refresh token and a token URL).',
        );
  const ca = get('sslcacertfile');
  if (ca && ca !== 'OS-DEFAULT')
    draft['ca-file'] = localPath(ca, ctx.options.home, notes, key('sslcacertfile'));
  else if (ca) notes.info(key('sslcacertfile'), 'OS-DEFAULT: Twinbox trusts the system CAs anyway.');
  const maxConnections = get('maxconnections');
  if (maxConnections !== undefined) {
    const n = /^\d+$/.test(maxConnections) ? Number(maxConnections) : Number.NaN;
    if (n >= 1 && n <= 64) draft.connections = n;
    else
      notes.warn(
        key('maxconnections'),
        `${JSON.stringify(maxConnections)} is not a number of connections from 1 to 64; Twinbox's default, connections = 4, applies.`,
      );
  }
  const fingerprints = get('cert_fingerprint')
    ?.split(',')
    .map((f) =>
      f
        .trim()
        .replace(/^["']|["']$/g, '')
        .replace(/:/g, '')
        .toUpperCase(),
    )
    .filter(Boolean);
  if (fingerprints?.length) {
    const sha256 = fingerprints.filter((f) => /^[0-9A-F]{64}$/.test(f));
    if (sha256[0]) draft.fingerprint = `sha256:${sha256[0].match(/../g)!.join(':')}`;
    if (sha256.length !== fingerprints.length || sha256.length > 1)
      notes.warn(
        key('cert_fingerprint'),
        `Twinbox pins one SHA-256 fingerprint${sha256[0] ? '; the first SHA-256 one is kept' : ''}: ${fingerprints.length - (sha256[0] ? 1 : 0)} other(s) (SHA-1/224/384/512, or more SHA-256) not translated. Take the SHA-256 with \`openssl x509 -noout -fingerprint -sha256\`.`,
      );
  }
  if (gmail) notes.info(key('type'), 'Gmail: host imap.gmail.com, IMAPS, unless set otherwise.');
  for (const k of ['trashfolder', 'spamfolder'])
    if (get(k))
      notes.info(key(k), 'Gmail trash/spam folder names: Twinbox syncs them as folders like any other.');
  if (get('sep')) notes.info(key('sep'), 'ignored for IMAP, as in OfflineIMAP: the server gives its own.');
  report(ini, section, HANDLED_IMAP, notes);
  return { ...common, type: 'imap', draft };
}

function pairOf(
  ini: Ini,
  account: IniSection,
  accountName: string,
  remote: Side,
  local: Side,
  notes: Notes,
): Omit<Drafted<PairDraft>, 'name'> {
  const key = `[Account ${accountName}]`;
  const pair: PairDraft = {
    left: remote.name,
    right: local.name,
    folders: ['*'],
    rename: {},
    direction: 'both',
    sync: [],
  };
  const filterSource = getValue(ini, remote.section, 'folderfilter');
  let filterNames: string[] = [];
  if (filterSource) {
    const filter = folderFilter(filterSource);
    const fkey = `[${remote.section.name}]: folderfilter`;
    if (filter) {
      pair.folders = filter.patterns;
      filterNames = filter.names;
      notes.info(fkey, `translated to folders = ${JSON.stringify(filter.patterns)}.`);
      if (filter.names.some(isWildcard))
        notes.warn(fkey, 'a folder name holds * or %, which Twinbox reads as a pattern.');
      if (filter.names.some((n) => n.includes('.') && !n.includes('/')))
        notes.info(
          fkey,
          'folder names are taken with "/" between levels (the server\'s separator may be "." instead).',
        );
    } else
      notes.warn(
        fkey,
        `Python Twinbox cannot translate (${filterSource.replace(/\s+/g, ' ')}): all folders are synced; write folders patterns by hand.`,
      );
  }
  const localFilter = getValue(ini, local.section, 'folderfilter');
  if (localFilter)
    notes.warn(
      `[${local.section.name}]: folderfilter`,
      'a filter on the local side is not translated: Twinbox filters by the remote (left) names only.',
    );
  const transSource = getValue(ini, remote.section, 'nametrans');
  if (transSource) {
    const map = nameTrans(transSource);
    const tkey = `[${remote.section.name}]: nametrans`;
    if (map) {
      Object.assign(pair.rename, map);
      if (Object.keys(map).length) notes.info(tkey, `translated to rename = ${JSON.stringify(map)}.`);
    } else
      notes.warn(
        tkey,
        `Python Twinbox cannot translate (${transSource.replace(/\s+/g, ' ')}): folders keep their server names; add renames by hand.`,
      );
  }
  if (getValue(ini, local.section, 'nametrans'))
    notes.info(
      `[${local.section.name}]: nametrans`,
      'the reverse name translation is not needed: Twinbox applies rename both ways.',
    );
  // Nested folders named in the filter: to their OfflineIMAP directory name.
  if (local.type === 'maildir' && local.sep !== '/')
    for (const n of filterNames)
      if (n.includes('/') && !(n in pair.rename)) pair.rename[n] = n.split('/').join(local.sep);
  for (const [from, to] of Object.entries(pair.rename))
    if (local.type === 'maildir' && local.sep !== '/' && to.includes('/'))
      pair.rename[from] = to.split('/').join(local.sep);

  const utf8 = bool(getValue(ini, account, 'utf8foldernames')) ?? false;
  const decode = bool(getValue(ini, remote.section, 'decodefoldernames')) ?? false;
  if (local.type === 'maildir') {
    const draft = local.draft as MaildirDraft;
    draft['folder-names'] = utf8 || decode ? 'utf-8' : 'modified-utf-7';
    notes.info(
      `${key}: utf8foldernames`,
      utf8 || decode
        ? 'folder-names = "utf-8": OfflineIMAP writes non-ASCII folder names in UTF-8 here.'
        : 'folder-names = "modified-utf-7": OfflineIMAP keeps non-ASCII folder names in IMAP\'s modified UTF-7 on disk ("Ärger" as "&AMQ-rger").',
    );
    if (decode)
      notes.warn(
        `[${remote.section.name}]: decodefoldernames`,
        'OfflineIMAP decodes names one way only (it cannot create such folders back on the server); Twinbox reads and writes the UTF-8 names both ways.',
      );
  }

  // Directions and operations.
  const remoteWritable = !remote.readonly;
  const localWritable = !local.readonly;
  if (remote.readonly || local.readonly)
    notes.info(
      `[${(remote.readonly ? remote : local).section.name}]: readonly`,
      'readonly: changes flow only toward the other side (direction).',
    );
  if (!remoteWritable && !localWritable)
    notes.warn(
      key,
      'both repositories are readonly: nothing would sync; the pair keeps no message operation.',
    );
  const expunge = bool(getValue(ini, remote.section, 'expunge')) ?? true;
  const ops = (toWritable: boolean, deletes: boolean): Set<MessageOperation> =>
    toWritable
      ? new Set<MessageOperation>(['new', 'flags', ...(deletes ? (['deletions'] as const) : [])])
      : new Set();
  if (!remote.syncDeletes)
    notes.info(
      `[${remote.section.name}]: sync_deletes`,
      'sync_deletes = no: deletions on the server do not reach the Maildir.',
    );
  if (!local.syncDeletes)
    notes.info(
      `[${local.section.name}]: sync_deletes`,
      'sync_deletes = no: deletions in the Maildir do not reach the server.',
    );
  if (!expunge && remoteWritable && local.syncDeletes)
    notes.warn(
      `[${remote.section.name}]: expunge`,
      'expunge = no: OfflineIMAP only marks messages deleted on the server (\\Deleted); Twinbox deletes for real or not at all, so deletions toward the server are left out.',
    );
  const decided = decideSync(
    {
      toRight: ops(localWritable, remote.syncDeletes),
      toLeft: ops(remoteWritable, local.syncDeletes && expunge),
      createOn: { right: localWritable && local.createFolders, left: remoteWritable && remote.createFolders },
      removeOn: { right: false, left: false },
    },
    {
      left: 'the remote repository',
      right: 'the local repository',
      keys: {
        sync: `${key}: sync_deletes`,
        create: `${key}: createfolders`,
        remove: `${key}: folder deletion`,
      },
    },
    notes,
  );
  pair.direction = decided.direction;
  pair.sync = decided.sync;
  limits(ini, account, key, pair, notes);
  notes.info(
    `${key}: folder deletion`,
    'OfflineIMAP never deletes folders, so folder-deletion is left out of sync.',
  );
  return {
    from: [`from [Account ${accountName}] (remote ${remote.section.name}, local ${local.section.name})`],
    value: pair,
  };
}

/**
 * `maxsize` (bytes) and `maxage` (days) to `max-size` and `max-age`. OfflineIMAP also takes a date
 * (YYYY-mm-dd) for `maxage`: a fixed start, which a rolling Twinbox limit is not, so that is reported.
 */
function limits(ini: Ini, account: IniSection, key: string, pair: PairDraft, notes: Notes): void {
  const size = getValue(ini, account, 'maxsize')?.trim();
  if (size !== undefined) {
    if (/^\d+$/.test(size) && Number(size) > 0) {
      pair['max-size'] = size;
      notes.info(`${key}: maxsize`, `max-size = "${size}": larger messages (in bytes) are not copied.`);
    } else notes.warn(`${key}: maxsize`, `not translated: ${JSON.stringify(size)} is not a number of bytes.`);
  }
  const age = getValue(ini, account, 'maxage')?.trim();
  if (age !== undefined) {
    if (/^\d+$/.test(age) && Number(age) > 0) {
      pair['max-age'] = Number(age);
      notes.info(
        `${key}: maxage`,
        `max-age = ${age}: new messages that arrived more than ${age} days ago are not copied; messages already synced keep syncing flags and deletions, where OfflineIMAP leaves them alone.`,
      );
    } else
      notes.warn(
        `${key}: maxage`,
        `not translated: ${JSON.stringify(age)} is not a number of days (a fixed date has no Twinbox equivalent; write max-age by hand).`,
      );
  }
}
