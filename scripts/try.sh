#!/usr/bin/env bash
# The README's first command: install everything, then run Twinbox on an embedded default, with no
# account of yours: a private Dovecot is started, the SpamAssassin corpus (about 6,000 real messages) is
# loaded into it over IMAPS, and `twinbox` syncs it both ways with a temporary Maildir (first sync,
# changes on both sides, second sync, check, no-op sync, status). Arguments go to the demo
# (--limit N, --multiplier K, --keep).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=./setup.sh
source scripts/setup.sh
twinbox_setup
log "Building"
pnpm turbo run build --output-logs=errors-only
log "Running the demo"
node tooling/corpus/demo.mjs "$@"
