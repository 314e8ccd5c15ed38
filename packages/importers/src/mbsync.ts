import { posix } from 'node:path';
import { type Directive, last, readMbsyncrc, type Section, yes } from './mbsyncrc.js';
import { Notes } from './notes.js';
import { isWildcard, localPath } from './paths.js';
import { decideSync, type MessageOperation } from './policy.js';
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
 * mbsync -> Twinbox. An IMAPStore (with its IMAPAccount) becomes an imap account, a MaildirStore a
 * maildir account, a Channel a pair with the far side on the left and the near side on the right.
 * The Maildir layout is chosen so Twinbox finds every folder where mbsync put it (checked against
 * mbsync 1.4 in test/import-mbsync.test.ts):
 * - SubFolders Verbatim: `Path/A/B`, INBOX at `Inbox` -> layout "fs", path = Path, inbox = Inbox.
 * - SubFolders Maildir++: INBOX at `Inbox`, `Inbox/.A.B` -> layout "maildir++", path = Inbox.
 */

/** Options Twinbox does not need, with why; reported as info. */
const NOT_NEEDED: Readonly<Record<string, string>> = {
  sslversions: 'Twinbox uses TLS 1.2 or newer, as Node.js negotiates it.',
  cipherstring: "Twinbox uses Node.js's default ciphers.",
  pipelinedepth: 'Twinbox pipelines as the server allows.',
  usenamespace: "Twinbox lists the user's whole folder tree.",
  pathdelimiter: "Twinbox uses the server's hierarchy delimiter.",
  altmap: 'Twinbox does not use mbsync UIDs in file names; it keeps its own state.',
  syncstate: 'Twinbox keeps its own state (one SQLite file per pair).',
  bufferlimit: 'Twinbox streams messages with its own limits.',
  expireunread: 'only matters with MaxMessages, which is not translated.',
  usesslv2: 'legacy TLS version option.',
  usesslv3: 'legacy TLS version option.',
  usetlsv1: 'legacy TLS version option.',
  usetlsv11: 'legacy TLS version option.',
  usetlsv12: 'legacy TLS version option.',
  usetlsv13: 'legacy TLS version option.',
};

/** Options whose behaviour Twinbox does not have; reported as warnings. */
const NOT_SUPPORTED: Readonly<Record<string, string>> = {
  maxsize:
    'not translated on a Store: set max-size on the pairs that use it (larger messages are then not copied; Twinbox writes no placeholder for them where mbsync does).',
  maxmessages: 'Twinbox keeps every message; it does not expire old ones from the near side.',
  trash:
    "Twinbox has no trash folder of its own: deleted messages are deleted (use your mail client's trash).",
  trashnewonly: 'Twinbox has no trash folder of its own.',
  trashremotenew: 'Twinbox has no trash folder of its own.',
  mapinbox: 'Twinbox has no INBOX alias folder.',
  tunnel: 'Twinbox connects over TCP only; set up the tunnel (e.g. ssh -L) and point host/port at it.',
  clientcertificate: 'Twinbox does not log in with a client certificate.',
  clientkey: 'Twinbox does not log in with a client certificate.',
  disableextension: 'Twinbox cannot be told to ignore a server extension.',
  disableextensions: 'Twinbox cannot be told to ignore a server extension.',
  requirecram: 'legacy option; Twinbox logs in with LOGIN/PLAIN over TLS or XOAUTH2.',
};

const ACCOUNT_KEYS = new Set([
  'host',
  'port',
  'user',
  'usercmd',
  'pass',
  'passcmd',
  'usekeychain',
  'authmechs',
  'ssltype',
  'systemcertificates',
  'certificatefile',
  'useimaps',
  'requiressl',
  'timeout',
]);
const IMAP_STORE_KEYS = new Set(['account', 'path', 'subscribedonly', 'flatten']);
const MAILDIR_KEYS = new Set(['path', 'inbox', 'subfolders', 'flatten', 'infodelimiter']);
const CHANNEL_KEYS = new Set([
  'far',
  'near',
  'master',
  'slave',
  'pattern',
  'patterns',
  'sync',
  'create',
  'remove',
  'expunge',
  'copyarrivaldate',
]);
const GLOBAL_KEYS = new Set([
  'sync',
  'create',
  'remove',
  'expunge',
  'copyarrivaldate',
  'fsync',
  'fielddelimiter',
]);

interface ImapStore {
  kind: 'imap';
  section: Section;
  account?: Section | undefined;
  /** Account options, then the store's own (which win). */
  directives: Directive[];
  /** Twinbox account name. */
  name: string;
}

interface MaildirStore {
  kind: 'maildir';
  section: Section;
  directives: Directive[];
  name: string;
  style: 'verbatim' | 'maildir++' | 'legacy' | undefined;
}

type Store = ImapStore | MaildirStore;

function label(section: Section): string {
  return `${section.written} ${section.name}`;
}

/** Reports options a section does not translate: unknown, unneeded or unsupported. */
function reportRest(
  section: Section | undefined,
  directives: Directive[],
  handled: Set<string>,
  notes: Notes,
) {
  for (const d of directives) {
    if (handled.has(d.keyword)) continue;
    const key = `${section ? label(section) : 'global'}: ${d.written}`;
    if (d.keyword in NOT_NEEDED) notes.info(key, `not needed: ${NOT_NEEDED[d.keyword]}`);
    else if (d.keyword in NOT_SUPPORTED) {
      // "MaxSize 0" and "MaxMessages 0" mean no limit: nothing lost.
      if ((d.keyword === 'maxsize' || d.keyword === 'maxmessages') && /^0[kmb]*$/i.test(d.args[0] ?? ''))
        continue;
      notes.warn(key, `not translated: ${NOT_SUPPORTED[d.keyword]}`);
    } else notes.warn(key, `unknown option (line ${d.line}), not translated.`);
  }
}

/** `:store:box` (a Far/Near/Master/Slave value). */
function storeRef(d: Directive | undefined): { store: string; box: string } | undefined {
  const m = /^:([^:]*):(.*)$/s.exec(d?.args[0] ?? '');
  return m ? { store: m[1]!, box: m[2]! } : undefined;
}

type Sides = { far: boolean; near: boolean };

function sides(d: Directive | undefined, fallback: Sides, notes: Notes, key: string): Sides {
  if (!d) return fallback;
  switch (d.args[0]?.toLowerCase()) {
    case 'none':
      return { far: false, near: false };
    case 'far':
    case 'master':
      return { far: true, near: false };
    case 'near':
    case 'slave':
      return { far: false, near: true };
    case 'both':
      return { far: true, near: true };
    default:
      notes.warn(key, `${JSON.stringify(d.args.join(' '))} is not None, Far, Near or Both: taken as None.`);
      return { far: false, near: false };
  }
}

type MbsyncOp = 'new' | 'renew' | 'delete' | 'flags';
const TYPES: readonly MbsyncOp[] = ['new', 'renew', 'delete', 'flags'];

/**
 * mbsync's Sync matrix (config.c): `pull` is what goes far -> near, `push` near -> far. Plain
 * direction and type words select rows and columns (none of a class means all of it); compound words
 * (PullNew) assert one cell, and then plain words assert a whole row or column.
 */
export function syncMatrix(args: readonly string[]): { pull: Set<MbsyncOp>; push: Set<MbsyncOp> } | string {
  let pullDir = false;
  let pushDir = false;
  const types = new Set<MbsyncOp>();
  const pull = new Set<MbsyncOp>();
  const push = new Set<MbsyncOp>();
  let compound = false;
  for (const arg of args) {
    const a = arg.toLowerCase();
    const type = TYPES.find((t) => t === a);
    const cell = /^(pull|push)(new|renew|delete|flags)$/.exec(a);
    if (a === 'pull') pullDir = true;
    else if (a === 'push') pushDir = true;
    else if (a === 'all' || a === 'full') pullDir = pushDir = true;
    else if (a === 'none' || a === 'noop') continue;
    else if (type) types.add(type);
    else if (cell) {
      compound = true;
      (cell[1] === 'pull' ? pull : push).add(cell[2] as MbsyncOp);
    } else return `unknown Sync operation ${JSON.stringify(arg)}`;
  }
  if (compound) {
    for (const t of types) {
      if (pull.has(t) || push.has(t)) return 'conflicting Sync arguments (a cell asserted twice)';
      pull.add(t);
      push.add(t);
    }
    if (pullDir) {
      if (pull.size > types.size) return 'conflicting Sync arguments (Pull with Pull... cells)';
      for (const t of TYPES) pull.add(t);
    }
    if (pushDir) {
      if (push.size > types.size) return 'conflicting Sync arguments (Push with Push... cells)';
      for (const t of TYPES) push.add(t);
    }
  } else if (pullDir || pushDir || types.size) {
    const all = types.size ? types : new Set(TYPES);
    const both = !pullDir && !pushDir;
    if (pullDir || both) for (const t of all) pull.add(t);
    if (pushDir || both) for (const t of all) push.add(t);
  }
  return { pull, push };
}

/** Converts an mbsync config (`~/.mbsyncrc`) to a Twinbox config. See the README section for the mapping. */
export function importMbsync(text: string, options: ImportOptions = {}): ImportResult {
  const notes = new Notes();
  const rc = readMbsyncrc(text);
  for (const problem of rc.problems) notes.warn('syntax', `${problem}: the line was read as far as it goes.`);

  const byKind = (kind: Section['kind']) => rc.sections.filter((s) => s.kind === kind);
  const accounts = new Map(byKind('imapaccount').map((s) => [s.name, s]));
  const usedAccounts = new Set<string>();
  const taken = new Set<string>();
  const stores = new Map<string, Store>();
  for (const section of rc.sections) {
    if (section.kind === 'imapstore') {
      const accountName = last(section.directives, 'account')?.args[0];
      const account = accountName === undefined ? undefined : accounts.get(accountName);
      if (accountName !== undefined && !account)
        notes.warn(
          `${label(section)}: Account`,
          `no IMAPAccount ${JSON.stringify(accountName)} in the file.`,
        );
      if (account) usedAccounts.add(account.name);
      stores.set(section.name, {
        kind: 'imap',
        section,
        account,
        directives: [...(account?.directives ?? []), ...section.directives],
        name: configName(section.name, taken),
      });
    } else if (section.kind === 'maildirstore') {
      const style = last(section.directives, 'subfolders')?.args[0]?.toLowerCase();
      stores.set(section.name, {
        kind: 'maildir',
        section,
        directives: section.directives,
        name: configName(section.name, taken),
        style: style === 'verbatim' || style === 'maildir++' || style === 'legacy' ? style : undefined,
      });
    }
  }
  for (const account of accounts.values())
    if (!usedAccounts.has(account.name))
      notes.info(label(account), 'no IMAPStore uses this account: not imported.');

  const drafted: Drafted<ImapDraft | MaildirDraft>[] = [];
  const fsync = yes(last(rc.globals, 'fsync'));
  const infoDelimiter = last(rc.globals, 'fielddelimiter')?.args[0];
  for (const store of stores.values()) {
    if (store.kind === 'imap') drafted.push(imapAccount(store, notes));
    else drafted.push(maildirPlace(store, '', fsync, infoDelimiter, options, notes).draft);
  }

  const pairNames = new Set<string>();
  const pairs: Drafted<PairDraft>[] = [];
  for (const channel of byKind('channel')) {
    const pair = channelPair(channel, rc.globals, stores, { fsync, infoDelimiter, options, taken }, notes);
    if (!pair) continue;
    const { derived, ...pairDraft } = pair;
    pairs.push({ ...pairDraft, name: configName(channel.name, pairNames) });
    if (derived) drafted.push(derived);
  }
  for (const group of byKind('group')) {
    const members = [...group.rest, ...group.directives.flatMap((d) => d.args)];
    notes.info(
      label(group),
      `Twinbox has no groups: \`twinbox sync\` syncs every pair, or the pairs it is given (${members.join(', ') || 'none'}).`,
    );
    if (members.some((m) => m.includes(':')))
      notes.warn(
        label(group),
        'a channel here names its own mailboxes (channel:box), which replace its Patterns for this group; not translated.',
      );
  }
  const handledGlobals = new Set([...GLOBAL_KEYS, 'maxmessages', 'expireunread', 'syncstate']);
  reportRest(undefined, rc.globals, handledGlobals, notes);
  for (const d of rc.globals) {
    if (d.keyword === 'maxmessages' && !/^0$/.test(d.args[0] ?? ''))
      notes.warn(`global: ${d.written}`, `not translated: ${NOT_SUPPORTED.maxmessages}`);
    else if (d.keyword === 'syncstate' || d.keyword === 'expireunread')
      notes.info(`global: ${d.written}`, `not needed: ${NOT_NEEDED[d.keyword]}`);
  }
  if (fsync === false) notes.info('global: FSync', 'FSync no: the Maildir accounts get fsync = false.');
  if (!pairs.length) notes.warn('Channel', 'no usable Channel in the file: the config has no pair.');

  const config = renderConfig({
    tool: 'mbsync',
    file: options.file,
    accounts: drafted,
    pairs,
    notes: notes.list,
  });
  return { config, notes: notes.list };
}

function imapAccount(store: ImapStore, notes: Notes): Drafted<ImapDraft> {
  const d = store.directives;
  const where = store.account ? `${label(store.account)} / ${label(store.section)}` : label(store.section);
  const key = (option: string) => `${where}: ${option}`;
  const comments: Record<string, string> = {};
  const tunnel = last(d, 'tunnel');
  let sslType = last(d, 'ssltype')?.args[0]?.toLowerCase();
  if (!sslType && yes(last(d, 'useimaps'))) sslType = 'imaps';
  sslType ??= tunnel ? 'none' : 'starttls';
  const tls = sslType === 'imaps' ? 'implicit' : sslType === 'none' ? 'none' : 'starttls';
  if (!['imaps', 'none', 'starttls'].includes(sslType))
    notes.warn(
      key('SSLType'),
      `${JSON.stringify(sslType)} is not None, STARTTLS or IMAPS: taken as STARTTLS.`,
    );
  if (yes(last(d, 'requiressl')) === false && tls === 'starttls')
    notes.warn(
      key('RequireSSL'),
      'RequireSSL no let mbsync go on without TLS when STARTTLS failed; Twinbox requires STARTTLS to succeed.',
    );

  let host = last(d, 'host')?.args[0];
  if (!host) {
    host = 'REPLACE-ME';
    notes.warn(key('Host'), 'no Host: fill in the host name in the config.');
  }
  const portText = last(d, 'port')?.args[0];
  const port = portText && /^\d+$/.test(portText) ? Number(portText) : undefined;
  if (portText && port === undefined)
    notes.warn(key('Port'), `${JSON.stringify(portText)} is not a port number.`);

  let user = last(d, 'user')?.args[0];
  const userCmd = last(d, 'usercmd');
  if (!user) {
    user = 'REPLACE-ME';
    if (userCmd) {
      comments.user = `UserCmd ${userCmd.args[0] ?? ''}`;
      notes.warn(
        key('UserCmd'),
        `Twinbox needs the user name itself; run ${JSON.stringify(userCmd.args[0]?.replace(/^\+/, '') ?? '')} and write its output as user.`,
      );
    } else notes.warn(key('User'), 'no User: mbsync would ask for it; fill in user in the config.');
  }

  const account: ImapDraft = { type: 'imap', host, port, tls, user };
  const pass = last(d, 'pass');
  const passCmd = last(d, 'passcmd');
  if (passCmd?.args[0]) {
    const command = passCmd.args[0];
    account['password-command'] = command.replace(/^\+/, '');
    if (command.startsWith('+'))
      notes.info(
        key('PassCmd'),
        'the leading "+" told mbsync the command talks to the terminal (a prompt); it is dropped. Twinbox runs the command without a terminal on its input, so a command that prompts must use its own window (e.g. pinentry-gnome) or an agent.',
      );
  } else if (pass?.args[0] !== undefined) {
    account.password = pass.args[0];
    notes.info(key('Pass'), 'the password is written into the config as it was; prefer password-command.');
  } else if (yes(last(d, 'usekeychain'))) {
    account['password-command'] = `security find-internet-password -r imap -s ${host} -a ${user} -w`;
    notes.info(key('UseKeychain'), 'the macOS Keychain is read with `security find-internet-password`.');
  } else {
    account['password-env'] = `${store.name.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_PASSWORD`;
    notes.warn(
      key('Pass'),
      `no Pass or PassCmd: mbsync would ask for the password. Set the environment variable ${account['password-env']}, or replace it with password-command.`,
    );
  }
  const mechs = (last(d, 'authmechs')?.args ?? []).map((m) => m.toUpperCase());
  if (mechs.includes('XOAUTH2'))
    notes.warn(
      key('AuthMechs'),
      'XOAUTH2: Twinbox refreshes its own tokens; add an [oauth2] table (token-url, client-id, refresh-token) in place of the password.',
    );
  if (mechs.length && !mechs.includes('*'))
    notes.info(
      key('AuthMechs'),
      `Twinbox picks the login method itself (mbsync was limited to ${mechs.join(', ')}).`,
    );
  if (tls === 'none') {
    const plain = mechs.includes('LOGIN') || mechs.includes('PLAIN');
    if (plain) account['allow-plaintext-password'] = true;
    notes.warn(
      key('SSLType'),
      plain
        ? 'SSLType None with AuthMechs LOGIN/PLAIN: mbsync sent the password in clear, so allow-plaintext-password = true. Anyone on the network path can read it.'
        : 'SSLType None: mbsync refuses to send the password in clear (unless AuthMechs names LOGIN); Twinbox allows it only to a loopback host unless allow-plaintext-password = true.',
    );
  }
  const timeoutText = last(d, 'timeout')?.args[0];
  if (timeoutText !== undefined) {
    const seconds = /^\d+$/.test(timeoutText) ? Number(timeoutText) : Number.NaN;
    if (seconds >= 1 && seconds <= 3600) account.timeout = seconds;
    else if (seconds === 0) {
      // mbsync's 0 waits for ever; Twinbox keeps a deadline, or a stalled server would hang the sync.
      account.timeout = 3600;
      notes.warn(
        key('Timeout'),
        "Timeout 0 turned mbsync's deadline off; Twinbox always keeps one: timeout = 3600 (an hour).",
      );
    } else {
      notes.warn(
        key('Timeout'),
        `${JSON.stringify(timeoutText)} is not a number of seconds from 0 to 3600: the default (20) is kept.`,
      );
    }
  }
  const certificateFile = last(d, 'certificatefile')?.args[0];
  if (certificateFile) {
    account['ca-file'] = certificateFile;
    notes.info(
      key('CertificateFile'),
      'ca-file: its certificates are trusted as CAs; a server certificate listed there (mbsync-get-cert) works while it is valid, but unlike mbsync Twinbox does not accept it once expired (pin it with fingerprint instead).',
    );
  }
  if (yes(last(d, 'systemcertificates')) === false)
    notes.warn(
      key('SystemCertificates'),
      'SystemCertificates no: Twinbox always trusts the system CAs too; pin the server with fingerprint to trust only it.',
    );
  if (yes(last(d, 'subscribedonly')))
    notes.warn(
      key('SubscribedOnly'),
      'Twinbox syncs every folder, not only subscribed ones: list them in folders.',
    );
  if (last(store.section.directives, 'flatten'))
    notes.warn(
      key('Flatten'),
      'Twinbox keeps the server hierarchy; Flatten on an IMAP store is not translated.',
    );
  const handled = new Set([...ACCOUNT_KEYS, ...IMAP_STORE_KEYS, 'pass', 'passcmd']);
  if (store.account) reportRest(store.account, store.account.directives, handled, notes);
  reportRest(store.section, store.section.directives, handled, notes);
  return {
    name: store.name,
    from: [`from ${store.account ? `${label(store.account)} + ` : ''}${label(store.section)}`],
    value: account,
    comments,
  };
}

interface MaildirPlace {
  draft: Drafted<MaildirDraft>;
  /** The directory mbsync's folder names are appended to, when it is one (Verbatim). */
  root?: string | undefined;
}

function maildirPlace(
  store: MaildirStore,
  nearPrefix: string,
  fsync: boolean | undefined,
  fieldDelimiter: string | undefined,
  options: ImportOptions,
  notes: Notes,
): MaildirPlace {
  const d = store.directives;
  const key = (option: string) => `${label(store.section)}: ${option}`;
  const rawPath = last(d, 'path')?.args[0];
  const rawInbox = last(d, 'inbox')?.args[0] ?? '~/Maildir';
  const inbox = localPath(rawInbox, options.home, notes, key('Inbox'));
  const comments: Record<string, string> = {};
  const draft: MaildirDraft = { type: 'maildir', path: inbox, layout: 'fs' };
  let root: string | undefined;
  const flatten = last(d, 'flatten');
  if (store.style === 'maildir++' && !flatten) {
    draft.layout = 'maildir++';
    if (rawPath)
      notes.warn(
        key('Path'),
        'mbsync rejects Path with SubFolders Maildir++: ignored; folders are under Inbox.',
      );
    if (nearPrefix)
      notes.warn(
        key('Path'),
        `the channel puts its folders under ${JSON.stringify(nearPrefix)} in this Maildir++ store; Twinbox places them by rename only for named folders.`,
      );
    notes.info(
      key('SubFolders'),
      'Maildir++: subfolders of INBOX (INBOX/x) are stored by mbsync as "..x", which Twinbox does not read; other folders match (.A.B).',
    );
  } else {
    if (store.style === 'legacy')
      notes.warn(
        key('SubFolders'),
        'SubFolders Legacy (Path/top/.sub/.subsub) has no Twinbox layout: read as "fs", so top-level folders match but their subfolders do not. Convert the tree to Verbatim first.',
      );
    else if (!store.style && !flatten)
      notes.info(
        key('SubFolders'),
        'SubFolders not set: mbsync refuses subfolders in this store; Twinbox uses layout "fs" (one directory per level, as SubFolders Verbatim).',
      );
    if (flatten)
      notes.warn(
        key('Flatten'),
        `Flatten ${JSON.stringify(flatten.args[0] ?? '')} (A/B stored as "A${flatten.args[0] ?? ''}B") has no Twinbox layout: read as "fs", a flattened directory would be taken for a folder of its own name. Top-level folders match.`,
      );
    const full = rawPath === undefined ? undefined : rawPath + nearPrefix;
    if (full === undefined) {
      draft.path = posix.dirname(inbox);
      draft.inbox = inbox;
      if (nearPrefix)
        notes.warn(key('Path'), 'no Path, but the channel names a folder prefix: not translated.');
    } else {
      if (!full.endsWith('/'))
        notes.warn(
          key('Path'),
          `${JSON.stringify(full)} does not end with "/": mbsync appends folder names to it as a string ("${full}Archive"); Twinbox uses it as a directory ("${full}/Archive"). Only INBOX is placed the same.`,
        );
      draft.path = localPath(full, options.home, notes, key('Path'));
      root = draft.path;
      if (nearPrefix) draft.inbox = undefined;
      else if (posix.normalize(inbox) !== posix.join(draft.path, 'INBOX')) {
        draft.inbox = inbox;
        notes.info(
          key('Inbox'),
          'subfolders of INBOX (INBOX/x), if the server has any, are at Inbox/x for mbsync but at Path/INBOX/x for Twinbox.',
        );
      }
    }
  }
  // mbsync 1.4 (tested) keeps IMAP's modified UTF-7 names on disk: "Ärger" is the directory "&AMQ-rger".
  draft['folder-names'] = 'modified-utf-7';
  notes.info(
    'MaildirStore: folder names',
    'folder-names = "modified-utf-7": mbsync (1.4, as tested) keeps non-ASCII folder names in IMAP\'s modified UTF-7 on disk ("Ärger" as "&AMQ-rger"). If your mbsync writes UTF-8 names, set folder-names = "utf-8".',
  );
  const delimiter = last(d, 'infodelimiter')?.args[0] ?? fieldDelimiter;
  if (delimiter !== undefined && delimiter !== ':')
    notes.warn(
      key('InfoDelimiter'),
      `mbsync writes ${JSON.stringify(delimiter)} before the flags in file names; Twinbox reads and writes ":" only.`,
    );
  if (fsync === false) draft.fsync = false;
  reportRest(store.section, d, MAILDIR_KEYS, notes);
  return {
    draft: { name: store.name, from: [`from ${label(store.section)}`], value: draft, comments },
    root,
  };
}

function channelPair(
  channel: Section,
  globals: Directive[],
  stores: Map<string, Store>,
  ctx: {
    fsync: boolean | undefined;
    infoDelimiter: string | undefined;
    options: ImportOptions;
    taken: Set<string>;
  },
  notes: Notes,
): (Drafted<PairDraft> & { derived?: Drafted<MaildirDraft> }) | undefined {
  const d = channel.directives;
  const key = (option: string) => `${label(channel)}: ${option}`;
  const farD = last(d, 'far', 'master');
  const nearD = last(d, 'near', 'slave');
  for (const old of d.filter((x) => x.keyword === 'master' || x.keyword === 'slave'))
    notes.info(
      key(old.written),
      `${old.written} is the old name of ${old.keyword === 'master' ? 'Far' : 'Near'}.`,
    );
  const far = storeRef(farD);
  const near = storeRef(nearD);
  if (!far || !near) {
    notes.warn(
      key(far ? 'Near' : 'Far'),
      'missing or not of the form :store:[mailbox]: channel not imported.',
    );
    return undefined;
  }
  const farStore = stores.get(far.store);
  const nearStore = stores.get(near.store);
  if (!farStore || !nearStore) {
    notes.warn(
      key(farStore ? 'Near' : 'Far'),
      `no store named ${JSON.stringify(farStore ? near.store : far.store)}: channel not imported.`,
    );
    return undefined;
  }
  if (farStore === nearStore) {
    notes.warn(key('Near'), 'both sides are the same store: channel not imported.');
    return undefined;
  }
  if (farStore.kind === 'maildir')
    notes.info(key('Far'), 'the far side is a Maildir: it is still the left account.');

  const patterns = d
    .filter((x) => x.keyword === 'pattern' || x.keyword === 'patterns')
    .flatMap((x) => x.args);
  // The far prefix: the IMAP store's Path (in the server's own separators, mostly "/" or ".") and
  // the channel's mailbox.
  let farPrefix = far.box;
  if (farStore.kind === 'imap') {
    const storePath = last(farStore.section.directives, 'path')?.args[0] ?? '';
    if (storePath.endsWith('.') && storePath.length > 1)
      notes.info(
        `${label(farStore.section)}: Path`,
        `${JSON.stringify(storePath)}: taken as the folder ${JSON.stringify(storePath.slice(0, -1))} on a server whose hierarchy delimiter is ".".`,
      );
    farPrefix = storePath.replace(/\.$/, '/') + far.box;
  }

  let right = nearStore.name;
  let derived: Drafted<MaildirDraft> | undefined;
  let rightPrefix = patterns.length ? near.box : '';
  if (patterns.length && near.box && nearStore.kind === 'maildir') {
    const place = maildirPlace(nearStore, near.box, ctx.fsync, ctx.infoDelimiter, ctx.options, new Notes());
    if (
      place.root &&
      near.box.endsWith('/') &&
      nearStore.style !== 'maildir++' &&
      !last(nearStore.directives, 'flatten')
    ) {
      // A Verbatim store with the channel's folders under a sub directory: a Maildir account of its own.
      right = configName(`${nearStore.name}-${channel.name}`, ctx.taken);
      derived = {
        ...place.draft,
        name: right,
        from: [`from ${label(nearStore.section)}, under ${near.box} for ${label(channel)}`],
      };
      rightPrefix = '';
      notes.info(
        key('Near'),
        `the channel's folders live under ${JSON.stringify(near.box)}: account ${right} has that directory as its root.`,
      );
    }
  }

  const pair: PairDraft = {
    left: farStore.name,
    right,
    folders: [],
    rename: {},
    direction: 'both',
    sync: [],
  };
  if (!patterns.length) {
    const leftName = farStore.kind === 'imap' ? (far.box ? farPrefix : 'INBOX') : far.box || 'INBOX';
    const rightName = near.box || 'INBOX';
    pair.folders = [leftName];
    if (isWildcard(leftName))
      notes.warn(key('Far'), `${JSON.stringify(leftName)} holds * or %: Twinbox would read it as a pattern.`);
    if (leftName !== rightName) {
      pair.rename[leftName] = rightName;
      if (leftName.toUpperCase() === 'INBOX' || rightName.toUpperCase() === 'INBOX')
        notes.warn(
          key('Near'),
          `${leftName} is synced with ${rightName}: Twinbox always lists each side's own INBOX as INBOX, so a rename to or from INBOX may meet it twice. Check with \`twinbox check\`.`,
        );
    }
    notes.info(key('Patterns'), `no Patterns: the channel syncs one mailbox, ${leftName}.`);
  } else {
    pair.folders = patterns.map((p) => {
      const negative = p.startsWith('!');
      const body = negative ? p.slice(1) : p;
      return `${negative ? '!' : ''}${farPrefix}${body}`;
    });
    if (farPrefix !== rightPrefix) {
      if (farPrefix.endsWith('/') && rightPrefix.endsWith('/'))
        pair.rename[farPrefix.slice(0, -1)] = rightPrefix.slice(0, -1);
      else {
        const literal = patterns.filter((p) => !p.startsWith('!') && !isWildcard(p));
        for (const p of literal) pair.rename[farPrefix + p] = rightPrefix + p;
        if (literal.length < patterns.filter((p) => !p.startsWith('!')).length)
          notes.warn(
            key('Patterns'),
            `the far side's folders are under ${JSON.stringify(farPrefix)} and the near side's under ${JSON.stringify(rightPrefix)}; Twinbox renames named folders only, so folders matched by a wildcard keep the far side's name in the Maildir.`,
          );
      }
    }
    notes.info(
      key('Patterns'),
      'the same syntax in Twinbox: * anything, % one level, ! excludes, last match wins.',
    );
  }

  // Operations: the channel's own setting, else the global one, else mbsync's default.
  const pick = (keyword: string) => last(d, keyword) ?? last(globals, keyword);
  const syncD = pick('sync');
  const matrix = syncD ? syncMatrix(syncD.args) : syncMatrix(['All']);
  let pull = new Set<MbsyncOp>(TYPES);
  let push = new Set<MbsyncOp>(TYPES);
  if (typeof matrix === 'string') notes.warn(key('Sync'), `${matrix}: taken as All.`);
  else ({ pull, push } = matrix);
  const create = sides(pick('create'), { far: false, near: false }, notes, key('Create'));
  const remove = sides(pick('remove'), { far: false, near: false }, notes, key('Remove'));
  const expunge = sides(pick('expunge'), { far: false, near: false }, notes, key('Expunge'));
  if (!pick('create'))
    notes.info(key('Create'), 'Create not set (mbsync: None): folders missing on one side are not created.');

  const flowOf = (ops: Set<MbsyncOp>, expunged: boolean, target: string) => {
    const out = new Set<MessageOperation>();
    if (ops.has('new')) out.add('new');
    if (ops.has('flags')) out.add('flags');
    if (ops.has('delete')) {
      if (expunged) out.add('deletions');
      else
        notes.warn(
          key('Expunge'),
          `deletions propagate to the ${target} side, but it is not expunged: mbsync only marks those messages deleted (flag T / \\Deleted) and keeps them. Twinbox deletes for real or not at all, so deletions toward the ${target} side are left out; set Expunge Both (or add "deletions" to sync) to have them deleted.`,
        );
    }
    return out;
  };
  const decided = decideSync(
    {
      toRight: flowOf(pull, expunge.near, 'near'),
      toLeft: flowOf(push, expunge.far, 'far'),
      createOn: { right: create.near, left: create.far },
      removeOn: { right: remove.near, left: remove.far },
    },
    {
      left: 'the far side',
      right: 'the near side',
      keys: { sync: key('Sync'), create: key('Create'), remove: key('Remove') },
    },
    notes,
  );
  pair.direction = decided.direction;
  pair.sync = decided.sync;
  if (expunge.far || expunge.near)
    notes.info(
      key('Expunge'),
      'Twinbox never expunges a message that is only flagged deleted (T): it syncs the flag. Delete the message in your mail client instead.',
    );
  if (remove.far || remove.near)
    notes.info(
      key('Remove'),
      'mbsync never removes a folder that still holds messages; Twinbox removes it only when deletions propagate too, else it brings the folder back.',
    );
  if (syncD?.args.some((a) => /renew/i.test(a)))
    notes.info(
      key('Sync'),
      'ReNew re-checks messages mbsync skipped for MaxSize; Twinbox retries them on every sync: nothing to translate.',
    );
  const copyArrival = pick('copyarrivaldate');
  if (copyArrival)
    notes.info(key('CopyArrivalDate'), 'Twinbox always keeps the arrival date (internal date / file time).');
  reportRest(channel, d, new Set([...CHANNEL_KEYS, 'maxsize']), notes);
  const maxSize = last(d, 'maxsize');
  if (maxSize && !/^0[kmb]*$/i.test(maxSize.args[0] ?? '')) {
    const size = maxSize.args[0] ?? '';
    if (/^\d+(\.\d+)?[kmg]?b?$/i.test(size)) {
      pair['max-size'] = size;
      notes.info(
        key(maxSize.written),
        `max-size = "${size}": larger messages are not copied; unlike mbsync, Twinbox writes no placeholder for them.`,
      );
    } else
      notes.warn(
        key(maxSize.written),
        `not translated: ${JSON.stringify(size)} is not a size Twinbox reads.`,
      );
  }
  const from = [`from ${label(channel)} (far ${farD?.args[0]}, near ${nearD?.args[0]})`];
  return { name: channel.name, from, value: pair, ...(derived ? { derived } : {}) };
}
