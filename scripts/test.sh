#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), then runs every test —
# unit tests, vectors, fuzz-style tests, and end-to-end tests against real sshd, ssh,
# oidc-provider and Chromium. Ends with cargo's summary and a total line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opk_setup
cd "$OPK_ROOT"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "all crates: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
