#!/usr/bin/env bash
# The README's second command: the whole test suite (`pnpm test`: every package, the integration tests
# against a private Dovecot), working as typed in a new shell on a fresh machine. It installs whatever
# is missing first (scripts/setup.sh is idempotent: a second run installs nothing), puts Node 24 and
# pnpm first on PATH for itself, and passes its arguments on to `pnpm test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=./setup.sh
source scripts/setup.sh
twinbox_setup
log "Tests on Node $(node -v): pnpm test"
pnpm test "$@"
