#!/usr/bin/env bash
# Packs every published package (`pnpm pack`), installs the examples imap-to-maildir and worker-threads
# from those tarballs into a fresh directory outside the workspace, as a third party would get them, and
# runs each twice against a private Dovecot: the Maildir must get the messages, and the second run must
# write nothing; then runs worker-runtime's README example. Then, each in a fresh project of its own: a
# Maildir-only embedder (config, driver-maildir, state-sqlite; no driver-imap, no imapflow) syncs two
# Maildirs and is told what to install for an IMAP config; and the CLI's tarball, as `npx @twinbox/cli`
# gets it, prints its version and syncs two Maildirs. With Node bin directories as arguments, it
# installs and runs once on each (packing once: a tarball does not depend on the Node that packed it);
# without, on the `node` first on PATH. .ci/run runs it on Node 22, 24 and 26.
# Needs a built workspace (pnpm build) and Dovecot. Exits non-zero on failure.
#   bash scripts/pack-examples.sh [node-bin-dir...]      (TWINBOX_KEEP_PACK=1 keeps the directory)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/twinbox-pack-examples.XXXXXX")
if [ "${TWINBOX_KEEP_PACK:-}" = 1 ]; then echo "kept: $work"; else trap 'rm -rf "$work"' EXIT; fi
started=$SECONDS

# Every published package: the ones under packages/ and apps/ that are not private.
mkdir -p "$work/tarballs"
for dir in "$repo"/packages/* "$repo"/apps/*; do
  [ "$(node -p "require('$dir/package.json').private === true")" = true ] && continue
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
echo "packed $(ls "$work/tarballs" | wc -l) packages ($((SECONDS - started)) s)"

# Writes a third party's project into $1 whose dependencies are the packages named after it (a name,
# or the package.json of an example: its dependencies), each from its tarball, and installs it. The
# overrides make the packages' dependencies on one another resolve to the tarballs too, never to the
# registry; the rest (imapflow, better-sqlite3) comes from the registry as for anyone. A name after
# `--peers` is left out of the overrides: pnpm applies an override to a peer dependency as well, and
# one to a file: turns the peer into a dependency, installed whether the project wants it or not.
make_project() {
  local app=$1
  shift
  mkdir -p "$app"
  node - "$work" "$app" "$@" <<'JS'
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const [work, app, ...args] = process.argv.slice(2);
const split = args.indexOf('--peers');
const wanted = split === -1 ? args : args.slice(0, split);
const peers = new Set(split === -1 ? [] : args.slice(split + 1));
const tarballs = {};
for (const file of readdirSync(`${work}/tarballs`)) {
  const path = `${work}/tarballs/${file}`;
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', path, 'package/package.json'], { encoding: 'utf8' }));
  tarballs[manifest.name] = `file:${path}`;
}
const names = new Set(
  wanted.flatMap((w) => (w.endsWith('package.json') ? Object.keys(JSON.parse(readFileSync(w, 'utf8')).dependencies) : [w])),
);
const dependencies = Object.fromEntries([...names].sort().map((name) => [name, tarballs[name]]));
writeFileSync(
  `${app}/package.json`,
  JSON.stringify({ name: 'third-party', private: true, type: 'module', dependencies }, null, 2),
);
const overrides = Object.entries(tarballs)
  .filter(([name]) => !peers.has(name))
  .map(([name, spec]) => `  '${name}': '${spec}'`).join('\n');
// better-sqlite3 builds its native module at install time, which pnpm must be allowed to run.
writeFileSync(`${app}/pnpm-workspace.yaml`, `overrides:\n${overrides}\nallowBuilds:\n  better-sqlite3: true\n`);
JS
  (cd "$app" && pnpm install --no-frozen-lockfile >/dev/null)
  for pkg in "$app"/node_modules/@twinbox/*; do
    case $(realpath "$pkg") in
      "$work"/*) ;;
      *) echo "FAIL: $pkg is not from a tarball: $(realpath "$pkg")" >&2; return 1 ;;
    esac
  done
}

# Installs the examples from the tarballs into $1 with the Node first on PATH, and runs them there.
install_and_run() {
  local app=$1 begun=$SECONDS
  mkdir -p "$app/src"
  # A third party's project: the examples' code, their dependencies from the tarballs.
  cp "$repo"/examples/imap-to-maildir/src/imap-to-maildir.ts "$repo"/examples/worker-threads/src/*.ts "$app/src/"
  cp "$repo/scripts/pack-examples-run.ts" "$app/run.ts"
  make_project "$app" "$repo/examples/imap-to-maildir/package.json" "$repo/examples/worker-threads/package.json"
  echo "node $(node -v): installed from the tarballs ($((SECONDS - begun)) s)"

  # Dovecot from the workspace's fixture; the examples run in the fresh project, on the tarballs' code.
  local running=$SECONDS
  node --input-type=module - "$repo" "$app" <<'JS'
import { spawnSync } from 'node:child_process';
const [repo, app] = process.argv.slice(2);
const { startDovecot } = await import(`${repo}/tooling/dovecot/dist/index.js`);
const server = await startDovecot();
try {
  const { user, password } = await server.addUser();
  const account = { host: 'localhost', port: server.info.tlsPort, tls: 'implicit', ca: server.info.ca, user, password };
  const run = spawnSync(process.execPath, ['run.ts'], {
    cwd: app,
    stdio: 'inherit',
    env: { ...process.env, TWINBOX_ACCOUNT: JSON.stringify(account) },
  });
  process.exitCode = run.status ?? 1;
} finally {
  await server.stop();
}
JS
  echo "node $(node -v): ran the examples ($((SECONDS - running)) s)"
}

# A Maildir-only embedder: @twinbox/config with the Maildir driver and the SQLite state, and not the
# IMAP driver, which config only names as an optional peer dependency. Nothing of IMAP may be installed;
# two Maildirs sync, and an IMAP config fails saying what to install (scripts/pack-maildir-only.ts).
maildir_only() {
  local app=$1 begun=$SECONDS
  mkdir -p "$app"
  cp "$repo/scripts/pack-maildir-only.ts" "$app/run.ts"
  make_project "$app" @twinbox/config @twinbox/core @twinbox/driver-maildir @twinbox/state-sqlite \
    --peers @twinbox/driver-imap @twinbox/driver-maildir @twinbox/state-sqlite
  # pnpm's store of the project holds every package installed, each as <name>@<version…>.
  local imap
  imap=$(ls "$app/node_modules/.pnpm" | grep -E '^(imapflow|@twinbox\+driver-imap)@' || true)
  if [ -n "$imap" ] || [ -e "$app/node_modules/@twinbox/driver-imap" ]; then
    echo "FAIL: maildir-only: IMAP code was installed: $imap" >&2
    return 1
  fi
  (cd "$app" && node run.ts)
  echo "node $(node -v): a Maildir-only project without driver-imap or imapflow synced ($((SECONDS - begun)) s)"
}

# `npx @twinbox/cli` as a user gets it: the CLI's tarball (its dependencies from theirs) in a fresh
# project; `npx twinbox --version` must print the packed version, and a real sync of two Maildirs
# without a daemon must copy the message.
cli_from_tarball() {
  local app=$1 begun=$SECONDS
  make_project "$app" @twinbox/cli
  local packed version
  packed=$(tar -xzOf "$work"/tarballs/twinbox-cli-*.tgz package/package.json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).version')
  version=$(cd "$app" && npx --no -- twinbox --version)
  if [ "$version" != "$packed" ]; then
    echo "FAIL: npx twinbox --version printed \"$version\", not the packed $packed" >&2
    return 1
  fi
  mkdir -p "$app/mail/A/cur" "$app/mail/A/new" "$app/mail/A/tmp"
  printf 'Subject: one\r\nMessage-ID: <one@pack.test>\r\n\r\none\r\n' >"$app/mail/A/cur/1.M1P1.pack:2,S"
  cat >"$app/config.toml" <<TOML
[state]
dir = "$app/state"

[accounts.a]
type = "maildir"
path = "$app/mail/A"

[accounts.b]
type = "maildir"
path = "$app/mail/B"

[pairs.ab]
left = "a"
right = "b"
TOML
  (cd "$app" && XDG_CONFIG_HOME="$app/xdg-config" XDG_STATE_HOME="$app/xdg-state" \
    npx --no -- twinbox --no-daemon -c config.toml sync)
  local copied
  copied=$(find "$app/mail/B" -path '*/cur/*' -o -path '*/new/*' | wc -l)
  if [ "$copied" -ne 1 ]; then
    echo "FAIL: twinbox sync from the tarball left $copied messages in the second Maildir, not 1" >&2
    return 1
  fi
  echo "node $(node -v): npx twinbox $version from its tarball: --version and a sync ($((SECONDS - begun)) s)"
}

if [ $# -eq 0 ]; then set -- "$(dirname "$(command -v node)")"; fi
base_path=$PATH
for bin in "$@"; do
  node_dir=$(basename "$(dirname "$bin")")
  PATH="$bin:$base_path" install_and_run "$work/app-$node_dir"
  PATH="$bin:$base_path" maildir_only "$work/maildir-only-$node_dir"
  PATH="$bin:$base_path" cli_from_tarball "$work/cli-$node_dir"
done
echo "$((SECONDS - started)) s in all"
