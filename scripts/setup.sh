# shellcheck shell=bash
# Installs what Twinbox needs on a fresh Debian machine, from nothing but its Node 20 and npm: Node 24
# (from the npm registry), Dovecot and openssl (Debian), pnpm, and the workspace's dependencies.
# Sourced by .ci/run and scripts/try.sh; leaves Node 24 and pnpm first on PATH. Idempotent: a second
# run installs nothing.

TWINBOX_NODE_VERSION=24.21.0
TWINBOX_PNPM_VERSION=11.28.10
TWINBOX_TOOLS="${TWINBOX_TOOLS:-$HOME/.cache/twinbox-toolchain}"
export TURBO_TELEMETRY_DISABLED=1

log() { printf '\n==> %s\n' "$*"; }

# Prints the bin directory of Node $1 (a full version), installing it from the npm registry if needed.
# The registry's `node` package is the official binary; no other download site is reachable here.
twinbox_node_bin() {
  local version=$1 prefix="$TWINBOX_TOOLS/node-$1"
  if [ ! -x "$prefix/bin/node" ] || [ "$("$prefix/bin/node" -v 2>/dev/null)" != "v$version" ]; then
    log "Installing Node $version into $prefix" >&2
    npm install --global --no-audit --no-fund --loglevel=error --prefix "$prefix" "node@$version" >&2 || {
      echo "Could not install Node $version from the npm registry (see npm's error above)." >&2
      return 1
    }
  fi
  # Called as $(twinbox_node_bin …), where a failure would otherwise go unnoticed and the tests would
  # run on whatever Node comes first on PATH: check the binary answers with the version asked for.
  if [ "$("$prefix/bin/node" -v 2>/dev/null)" != "v$version" ]; then
    echo "Node $version is not usable at $prefix/bin/node." >&2
    return 1
  fi
  printf '%s\n' "$prefix/bin"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

twinbox_setup() {
  # Node: the system one when it is already 24, else our own (Node 20 is end-of-life; Twinbox needs >= 22
  # and is developed and tested first on 24).
  local system_major=0
  if command -v node >/dev/null 2>&1; then system_major=$(node -p 'process.versions.node.split(".")[0]'); fi
  if [ "$system_major" != 24 ]; then
    local bin
    bin=$(twinbox_node_bin "$TWINBOX_NODE_VERSION") || return 1
    export PATH="$bin:$PATH"
  fi
  log "Node $(node -v) at $(command -v node)"

  # Debian packages: Dovecot for the integration tests' IMAP server, openssl for its certificate.
  local missing=()
  [ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v mbsync >/dev/null 2>&1 || missing+=(isync)
  if [ ${#missing[@]} -gt 0 ]; then
    log "Installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    # The package must not start a system Dovecot: the tests run their own, privately.
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi

  # pnpm from the npm registry, next to our Node (corepack's signature check fails here).
  if [ "$(pnpm -v 2>/dev/null)" != "$TWINBOX_PNPM_VERSION" ]; then
    log "Installing pnpm $TWINBOX_PNPM_VERSION"
    npm install --global --no-audit --no-fund --loglevel=error --prefix "$(dirname "$(dirname "$(command -v node)")")" \
      "pnpm@$TWINBOX_PNPM_VERSION"
  fi
  log "pnpm $(pnpm -v)"

  log "Installing dependencies"
  # CI=true: without a TTY pnpm aborts when it must purge node_modules, instead of doing it.
  CI=true pnpm install --frozen-lockfile
}
