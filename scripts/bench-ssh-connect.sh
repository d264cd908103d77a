#!/usr/bin/env bash
# B6 (connection set-up half): `opk ssh host true` vs OpenSSH `ssh host true`, each a full new
# TCP connection, key exchange, host-key check, public-key login and exec, against one loopback
# sshd with a plain authorized_keys key (so only the clients differ). hyperfine -N, release opk.
# A benchmark, not a test: nothing fails on a timing; the script fails only if a client fails.
#
# Usage: bash scripts/bench-ssh-connect.sh
# Env: OPK_BENCH_MIN_RUNS (default 30), OPK_BENCH_WARMUP (3), OPK_BIN (an opk binary to use
#      instead of building release), OPK_BENCH_OUT (also write the markdown table there).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
opk_setup
cd "$OPK_ROOT"
opk=$(opk_release_bin)
work=$(opk_workdir)
cleanup() {
  [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
user=$(id -un)
key="$work/client_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$key"
install -d -m 755 "$work/sshd"
cp "$key.pub" "$work/authorized_keys"
opk_start_sshd "$work/sshd" "$opk" "AuthorizedKeysFile $work/authorized_keys"
# Both clients check the same known_hosts entry; neither reads a config, an agent or ~/.ssh.
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$work/sshd/etc/ssh_host_ed25519_key.pub")" \
  >"$work/known_hosts"
install -d -m 700 "$work/home" "$work/home/.ssh" "$work/etc-ssh"
cp "$work/known_hosts" "$work/home/.ssh/known_hosts"
ssh_cmd="ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o IdentitiesOnly=yes \
-o IdentityAgent=none -o UserKnownHostsFile=$work/known_hosts -o GlobalKnownHostsFile=/dev/null \
-o StrictHostKeyChecking=yes -o LogLevel=ERROR -i $key -p $SSHD_PORT $user@127.0.0.1 true"
opk_cmd="env -u SSH_AUTH_SOCK HOME=$work/home OPK_SSH_SYSTEM_DIR=$work/etc-ssh USER=$user \
$opk ssh -i $key -p $SSHD_PORT $user@127.0.0.1 true"
# One run of each first: a broken client must fail the script, not produce a timing.
$ssh_cmd
$opk_cmd
out=${OPK_BENCH_OUT:-$work/b6.md}
hyperfine -N --style basic --warmup "${OPK_BENCH_WARMUP:-3}" --min-runs "${OPK_BENCH_MIN_RUNS:-30}" \
  --export-markdown "$out" -n "OpenSSH ssh host true" "$ssh_cmd" -n "opk ssh host true" "$opk_cmd"
echo
echo "B6 connection set-up ($(. /etc/os-release && echo "$PRETTY_NAME"), $(ssh -V 2>&1 | sed 's/,.*//'), $(hyperfine --version)):"
cat "$out"
