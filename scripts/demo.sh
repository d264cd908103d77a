#!/usr/bin/env bash
# The main job end to end on loopback: a local OpenID provider, a local sshd whose
# AuthorizedKeysCommand is `opk verify`, `opk login` through a browser, then stock ssh runs a
# command on that sshd as the signed-in user. No manual step: without a display, headless
# Chromium fills in the OP's login page.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opk_setup
cd "$OPK_ROOT"
echo "== building opk" >&2
cargo build --locked -q -p opk-cli
opk="$CARGO_TARGET_DIR/debug/opk"
work=$(opk_workdir)
cleanup() {
  [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null
  [ -n "${OP_PID:-}" ] && kill "$OP_PID" 2>/dev/null
  [ -z "${OPK_DEMO_KEEP:-}" ] && rm -rf "$work"
  true
}
trap cleanup EXIT

echo "== starting the OpenID provider (npm oidc-provider) on loopback" >&2
opk_start_op "$work"
echo "issuer: $OP_ISSUER" >&2
user=$(id -un)

echo "== configuring the host: providers and auth_id (as opkssh would), sshd on loopback" >&2
opk_start_sshd "$work" "$opk"
printf '%s opk-rs256 24h\n' "$OP_ISSUER" >"$work/etc/providers"
chmod 640 "$work/etc/providers"
: >"$work/etc/auth_id"
chmod 640 "$work/etc/auth_id"
"$opk" add --auth-id-file "$work/etc/auth_id" "$user" alice@example.com "$OP_ISSUER"
echo "sshd: 127.0.0.1:$SSHD_PORT, AuthorizedKeysCommand $work/bin/opk verify ... %u %k %t" >&2

echo "== opk login" >&2
home="$work/home"
opk_login "$opk" "$home" "$OP_ISSUER" opk-rs256

echo "== the certificate opk wrote (ssh-keygen -L)" >&2
ssh-keygen -L -f "$home/.ssh/id_ecdsa-cert.pub" | sed -E 's/(openpubkey-pkt).*/\1 (PK Token)/' | grep -v '^\s*$' >&2

echo "== stock ssh into the local sshd" >&2
ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o LogLevel=ERROR -o IdentitiesOnly=yes -o IdentityAgent=none -i "$home/.ssh/id_ecdsa" \
  -p "$SSHD_PORT" "$user@127.0.0.1" \
  'echo "hello from $(hostname) as $(whoami), signed in with OpenID Connect"'
echo "== opk verify log" >&2
grep -E 'allowed|denied' "$work/log/opk.log" | tail -1 >&2
