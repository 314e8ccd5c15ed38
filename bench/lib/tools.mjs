// The tools compared, each with what it can do here and how it is configured: the same server, the same
// TLS (IMAPS, certificate verified against the fixture's CA), each tool's own defaults otherwise (all
// of them fsync a Maildir by default). A tool that is not installed is left out with a note. Every tool
// connects to "localhost": mbsync and OfflineIMAP check the certificate's DNS name only (the fixture's
// also carries IP 127.0.0.1, which they ignore), and the same name for all keeps the comparison fair.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const installed = (command, args) => {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
};

/** mbsync's config: one far IMAP store and a Maildir++ or a second IMAP store as the near side. */
export function mbsyncConfig({ port, caFile, far, near, maildir, stateDir }) {
  const account = (name, u) => `IMAPAccount ${name}
Host localhost
Port ${port}
User ${u.user}
Pass ${u.password}
SSLType IMAPS
CertificateFile ${caFile}

IMAPStore ${name}
Account ${name}
`;
  const nearStore = maildir
    ? `MaildirStore near
Inbox ${maildir}
SubFolders Maildir++
`
    : account('near', near);
  // With a Maildir, SyncState * keeps mbsync's state inside it; between two IMAP stores it needs a
  // directory of its own.
  return `${account('far', far)}
${nearStore}
Channel mail
Far :far:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState ${maildir ? '*' : `${stateDir}/`}
`;
}

const imapAccount = (name, port, caFile, u, extra = '') => `[accounts.${name}]
type = "imap"
host = "localhost"
port = ${port}
user = "${u.user}"
password = "${u.password}"
ca-file = "${caFile}"
${extra}`;

/**
 * Each tool: `version`, or undefined when not installed; `maildir` and `imap` build, in a directory of
 * the tool's own, the config for IMAP→Maildir and IMAP→IMAP, and return the command to run and `reset`,
 * which forgets the tool's local state (for a first sync). Absent when the tool cannot do that kind.
 * For twinboxd (daemon.mjs): `fullPass` sets the daemon's seconds between full passes, and `push:
 * false` to Twinbox's `maildir` gives its server account no watch connection (`watch-connections =
 * 0`: the daemon then syncs it only when asked or on a full pass), and `connections: N` writes the
 * account's `connections` (IMAP sessions a sync may use; else the config's default). `concurrency`, when given, is
 * written into Twinbox's config (folders synced at once); otherwise the config's default applies; so is
 * `workers` (threads, inline, auto).
 */
export function tools({ twinboxBin, workers, fullPass, concurrency }) {
  // No line without a choice: the config's default applies, whatever the build's default is.
  const workersLine = workers === undefined ? '' : `workers = "${workers}"\n`;
  const daemon = fullPass ? `[daemon]\nfull-pass = ${fullPass}\n` : '';
  const folders = concurrency === undefined ? '' : `concurrency = ${concurrency}\n`;
  return {
    twinbox: {
      // The package version says little between releases; the commit says which code ran.
      version:
        [
          installed(process.execPath, [twinboxBin, '--version']),
          installed('git', ['-C', dirname(twinboxBin), 'rev-parse', '--short', 'HEAD']),
        ]
          .filter(Boolean)
          .join(' @ ') || undefined,
      maildir({ dir, port, caFile, far, maildir, push = true, connections }) {
        const cfg = join(dir, 'twinbox.toml');
        writeFileSync(
          cfg,
          `${workersLine}${folders}${daemon}[state]\ndir = "${join(dir, 'state')}"\n${imapAccount('far', port, caFile, far, `${push ? '' : 'watch-connections = 0\n'}${connections === undefined ? '' : `connections = ${connections}\n`}`)}[accounts.near]\ntype = "maildir"\npath = "${maildir}"\n[pairs.mail]\nleft = "far"\nright = "near"\n`,
        );
        return {
          command: [process.execPath, [twinboxBin, '-q', '-c', cfg, 'sync']],
          config: cfg,
          reset: () => rmSync(join(dir, 'state'), { recursive: true, force: true }),
        };
      },
      imap({ dir, port, caFile, far, near }) {
        const cfg = join(dir, 'twinbox.toml');
        writeFileSync(
          cfg,
          `${workersLine}${folders}${daemon}[state]\ndir = "${join(dir, 'state')}"\n${imapAccount('far', port, caFile, far)}${imapAccount('near', port, caFile, near)}[pairs.mail]\nleft = "far"\nright = "near"\n`,
        );
        return {
          command: [process.execPath, [twinboxBin, '-q', '-c', cfg, 'sync']],
          config: cfg,
          reset: () => rmSync(join(dir, 'state'), { recursive: true, force: true }),
        };
      },
    },
    mbsync: {
      version: installed('mbsync', ['--version']),
      maildir({ dir, port, caFile, far, maildir }) {
        const cfg = join(dir, 'mbsyncrc');
        writeFileSync(cfg, mbsyncConfig({ port, caFile, far, maildir }));
        return { command: ['mbsync', ['-q', '-c', cfg, '-a']], reset: () => {} };
      },
      imap({ dir, port, caFile, far, near }) {
        const cfg = join(dir, 'mbsyncrc');
        const stateDir = join(dir, 'state');
        writeFileSync(cfg, mbsyncConfig({ port, caFile, far, near, stateDir }));
        return {
          command: ['mbsync', ['-q', '-c', cfg, '-a']],
          reset: () => {
            rmSync(stateDir, { recursive: true, force: true });
            mkdirSync(stateDir, { recursive: true });
          },
        };
      },
    },
    plain: {
      // Not a sync tool: the baseline of "FETCH every body and write each to a file" (plain-client.mjs).
      version: 'imapflow, one session, fsync per file',
      firstOnly: true,
      maildir({ port, caFile, far, maildir }) {
        const script = new URL('../plain-client.mjs', import.meta.url).pathname;
        const args = ['--port', String(port), '--ca', caFile, '--user', far.user, '--password', far.password];
        return {
          command: [process.execPath, [script, ...args, '--maildir', maildir]],
          reset: () => {},
        };
      },
    },
    interimap: {
      version: installed('interimap', ['--version'])
        ?.split('\n')[0]
        .replace(/^\S*\//, ''),
      // interimap syncs two IMAP servers only; its "local" side is an IMAP server too.
      imap({ dir, port, caFile, far, near }) {
        const cfg = join(dir, 'interimap.conf');
        const side = (name, u) =>
          `[${name}]\ntype = imaps\nhost = localhost\nport = ${port}\nusername = ${u.user}\npassword = ${u.password}\nSSL_CAfile = ${caFile}\n`;
        writeFileSync(
          cfg,
          `database = ${join(dir, 'interimap.db')}\n\n${side('local', near)}\n${side('remote', far)}`,
        );
        // It refuses a config with passwords that others can read.
        chmodSync(cfg, 0o600);
        return {
          command: ['interimap', [`--config=${cfg}`]],
          env: { XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
          reset: () => rmSync(join(dir, 'interimap.db'), { force: true }),
        };
      },
    },
    offlineimap: {
      version: installed('offlineimap', ['--version']),
      maildir({ dir, port, caFile, far, maildir }) {
        return offlineimap(dir, port, caFile, far, `type = Maildir\nlocalfolders = ${maildir}\n`);
      },
      imap({ dir, port, caFile, far, near }) {
        return offlineimap(dir, port, caFile, far, remoteRepo(port, caFile, near));
      },
    },
  };
}

const remoteRepo = (port, caFile, u) =>
  `type = IMAP\nremotehost = localhost\nremoteport = ${port}\nremoteuser = ${u.user}\nremotepass = ${u.password}\nssl = yes\nsslcacertfile = ${caFile}\n`;

function offlineimap(dir, port, caFile, far, local) {
  const cfg = join(dir, 'offlineimaprc');
  const meta = join(dir, 'metadata');
  writeFileSync(
    cfg,
    `[general]\naccounts = bench\nmetadata = ${meta}\nui = quiet\n\n[Account bench]\nlocalrepository = near\nremoterepository = far\n\n[Repository far]\n${remoteRepo(port, caFile, far)}\n[Repository near]\n${local}`,
  );
  return {
    command: ['offlineimap', ['-c', cfg, '-o', '-u', 'quiet']],
    reset: () => rmSync(meta, { recursive: true, force: true }),
  };
}
