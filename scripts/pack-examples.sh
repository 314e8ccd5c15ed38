#!/usr/bin/env bash
# Packs every published package (`pnpm pack`), installs the examples imap-to-maildir and worker-threads
# from those tarballs into a fresh directory outside the workspace, as a third party would get them, and
# runs each twice against a private Dovecot: the Maildir must get the messages, and the second run must
# write nothing; then runs worker-runtime's README example. With Node bin directories as arguments, it
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

# Installs the examples from the tarballs into $1 with the Node first on PATH, and runs them there.
install_and_run() {
  local app=$1 begun=$SECONDS
  mkdir -p "$app/src"
  # A third party's project: the examples' code, their dependencies from the tarballs. The overrides
  # make the packages' dependencies on one another resolve to the tarballs too, never to the registry;
  # the rest (imapflow, better-sqlite3) comes from the registry as for anyone.
  cp "$repo"/examples/imap-to-maildir/src/imap-to-maildir.ts "$repo"/examples/worker-threads/src/*.ts "$app/src/"
  cp "$repo/scripts/pack-examples-run.ts" "$app/run.ts"
  node - "$work" "$app" "$repo/examples/imap-to-maildir/package.json" "$repo/examples/worker-threads/package.json" <<'JS'
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const [work, app, ...examples] = process.argv.slice(2);
const tarballs = {};
for (const file of readdirSync(`${work}/tarballs`)) {
  const path = `${work}/tarballs/${file}`;
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', path, 'package/package.json'], { encoding: 'utf8' }));
  tarballs[manifest.name] = `file:${path}`;
}
const wanted = new Set(examples.flatMap((e) => Object.keys(JSON.parse(readFileSync(e, 'utf8')).dependencies)));
const dependencies = Object.fromEntries([...wanted].sort().map((name) => [name, tarballs[name]]));
writeFileSync(
  `${app}/package.json`,
  JSON.stringify({ name: 'third-party', private: true, type: 'module', dependencies }, null, 2),
);
const overrides = Object.entries(tarballs).map(([name, spec]) => `  '${name}': '${spec}'`).join('\n');
// better-sqlite3 builds its native module at install time, which pnpm must be allowed to run.
writeFileSync(`${app}/pnpm-workspace.yaml`, `overrides:\n${overrides}\nallowBuilds:\n  better-sqlite3: true\n`);
JS
  (cd "$app" && pnpm install --no-frozen-lockfile >/dev/null)
  echo "node $(node -v): installed from the tarballs ($((SECONDS - begun)) s)"
  for pkg in "$app"/node_modules/@twinbox/*; do
    case $(realpath "$pkg") in
      "$work"/*) ;;
      *) echo "FAIL: $pkg is not from a tarball: $(realpath "$pkg")" >&2; return 1 ;;
    esac
  done

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

if [ $# -eq 0 ]; then set -- "$(dirname "$(command -v node)")"; fi
base_path=$PATH
for bin in "$@"; do
  PATH="$bin:$base_path" install_and_run "$work/app-$(basename "$(dirname "$bin")")"
done
echo "$((SECONDS - started)) s in all"
