#!/usr/bin/env bash
# Packs every published package (`pnpm pack`), installs examples/imap-to-maildir from those tarballs into
# a fresh directory outside the workspace, as a third party would get it, and runs it twice against a
# private Dovecot: the Maildir must get the messages, and the second run must write nothing.
# Not part of .ci/run. Needs a built workspace (pnpm build) and Dovecot. Exits non-zero on failure.
#   bash scripts/pack-examples.sh        (TWINBOX_KEEP_PACK=1 keeps the directory)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/twinbox-pack-examples.XXXXXX")
if [ "${TWINBOX_KEEP_PACK:-}" = 1 ]; then echo "kept: $work"; else trap 'rm -rf "$work"' EXIT; fi
started=$SECONDS

# Every published package: the ones under packages/ and apps/ that are not private.
mkdir -p "$work/tarballs" "$work/app/src"
for dir in "$repo"/packages/* "$repo"/apps/*; do
  [ "$(node -p "require('$dir/package.json').private === true")" = true ] && continue
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
echo "packed $(ls "$work/tarballs" | wc -l) packages ($((SECONDS - started)) s)"

# A third party's project: the example's code, its dependencies from the tarballs. The overrides make
# the packages' dependencies on one another resolve to the tarballs too, never to the registry; the
# rest (imapflow, better-sqlite3) comes from the registry as for anyone.
cp "$repo/examples/imap-to-maildir/src/imap-to-maildir.ts" "$work/app/src/"
cp "$repo/scripts/pack-examples-run.ts" "$work/app/run.ts"
node - "$repo/examples/imap-to-maildir/package.json" "$work" <<'JS'
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const [example, work] = process.argv.slice(2);
const tarballs = {};
for (const file of readdirSync(`${work}/tarballs`)) {
  const path = `${work}/tarballs/${file}`;
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', path, 'package/package.json'], { encoding: 'utf8' }));
  tarballs[manifest.name] = `file:${path}`;
}
const wanted = Object.keys(JSON.parse(readFileSync(example, 'utf8')).dependencies);
const dependencies = Object.fromEntries(wanted.map((name) => [name, tarballs[name]]));
writeFileSync(
  `${work}/app/package.json`,
  JSON.stringify({ name: 'third-party', private: true, type: 'module', dependencies }, null, 2),
);
const overrides = Object.entries(tarballs).map(([name, spec]) => `  '${name}': '${spec}'`).join('\n');
// better-sqlite3 builds its native module at install time, which pnpm must be allowed to run.
writeFileSync(`${work}/app/pnpm-workspace.yaml`, `overrides:\n${overrides}\nallowBuilds:\n  better-sqlite3: true\n`);
JS
installing=$SECONDS
(cd "$work/app" && pnpm install --no-frozen-lockfile >/dev/null)
echo "installed from the tarballs ($((SECONDS - installing)) s)"
for pkg in "$work"/app/node_modules/@twinbox/*; do
  case $(realpath "$pkg") in
    "$work"/*) ;;
    *) echo "FAIL: $pkg is not from a tarball: $(realpath "$pkg")" >&2; exit 1 ;;
  esac
done

# Dovecot from the workspace's fixture; the example runs in the fresh project, on the tarballs' code.
running=$SECONDS
node --input-type=module - "$repo" "$work/app" <<'JS'
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
echo "ran the example twice ($((SECONDS - running)) s); $((SECONDS - started)) s in all"
