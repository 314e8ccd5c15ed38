/**
 * The commented starter config `twinbox init` writes: one IMAP account, one Maildir, one pair. Every
 * key it shows is valid as written once the placeholders are filled in (a test parses it).
 */
export function starterConfig(): string {
  return `# Twinbox configuration. Reference: the JSON Schema in @twinbox/config (config.schema.json).
# Paths may start with "~". Run \`twinbox check\` after editing to see the differences, and
# \`twinbox sync --dry-run\` to see what a sync would do without doing it.

# How the work is spread: "threads" (each side and the state in a worker thread), "inline" (one
# thread), or "auto": threads for a pair's first sync, inline for the (smaller) syncs after it.
workers = "auto"
# Folders synced at once per pair (1: one after another).
concurrency = 8

[state]
# dir = "~/.local/state/twinbox"   # one SQLite file per pair; default $XDG_STATE_HOME/twinbox

# Only twinboxd, the daemon, reads this table.
[daemon]
# full-pass = 300                   # seconds between two passes over every folder, besides the push
# pairs-at-once = 8                 # pairs syncing at the same time

[accounts.work]
type = "imap"
host = "imap.example.com"
# port = 993
tls = "implicit"                    # "implicit" (IMAPS), "starttls", or "none"
user = "me@example.com"
password-command = "pass show mail/work"   # or: password = "…", password-env = "WORK_PASSWORD"
# ca-file = "~/certs/my-ca.pem"      # trust a private CA
# fingerprint = "sha256:AB:CD:…"     # pin the server certificate
# connections = 4                  # connections a sync opens at once, one per folder in flight
# watch-connections = 4             # twinboxd's connections to hear of changes (0: no push)
# watch-poll = 0.5                  # seconds between two NOOPs asking the server for news (0: only wait to be told)
# watch-quiet-poll = 2              # the same once the account has been quiet for two minutes

# OAuth2 (XOAUTH2) in place of the password: delete password-command above, uncomment this table.
# Each secret is written in, printed by a command (its first line), or read from the environment.
# [accounts.work.oauth2]
# token-url = "https://oauth2.googleapis.com/token"
# client-id = "1234-abcd.apps.googleusercontent.com"
# refresh-token-command = "pass show oauth/work"     # or: refresh-token = "…", refresh-token-env = "WORK_REFRESH_TOKEN"
# client-secret-env = "WORK_CLIENT_SECRET"           # or: client-secret = "…", client-secret-command = "…"; none for a public client

[accounts.local]
type = "maildir"
path = "~/Mail/work"
layout = "maildir++"                # or "fs": one directory per level, the inbox at INBOX
# fsync = false                     # faster, but a power loss may lose recent mail

[pairs.work]
left = "work"
right = "local"
folders = ["*", "!Trash"]           # "*" anything, "%" within one level, "!" excludes; last match wins
# rename = { "Sent Items" = "Sent" } # left name = right name
# watch = ["INBOX"]                 # what twinboxd watches with IDLE when the server lacks NOTIFY
direction = "both"                  # or "left-to-right", "right-to-left"
sync = ["new", "flags", "deletions", "folder-creation", "folder-deletion"]
# max-size = "10MB"                 # larger new messages are not copied
# max-age = "90d"                   # nor new messages that arrived longer ago ("12w", "1y", or days)

[pairs.work.conflicts]
flags = "merge"                     # or "left", "right"
delete-vs-change = "keep"           # or "delete"
`;
}
