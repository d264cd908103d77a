#!/usr/bin/env bash
# What a reviewer checks before reading a change: formatting, clippy with warnings as errors,
# and rustdoc (broken intra-doc links included). Runs every check and fails if any failed.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$OPK_ROOT"
failed=()
run() {
  echo "== $*"
  "$@" || failed+=("$*")
}
run cargo fmt --all -- --check
run cargo clippy --workspace --all-targets --locked -- -D warnings
run env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
if ((${#failed[@]})); then
  printf 'lint failed: %s\n' "${failed[@]}"
  exit 1
fi
echo "lint: fmt, clippy, doc clean"
