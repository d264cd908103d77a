#!/usr/bin/env bash
# B6: `opk scp` throughput vs OpenSSH `scp` and `sftp` on loopback, 1 GiB each way, one plain
# ed25519 key (no opk certificate: the copy is what is measured), one throw-away sshd on
# 127.0.0.1 with internal-sftp. (Connection set-up: scripts/bench-ssh-connect.sh.)
# Benchmark, not a test: it fails only if a copy breaks (every copy is checked with cmp once).
#
# Usage: bash scripts/bench-scp.sh        Env: OPK_BENCH_SCP_MIB (default 1024), OPK_BENCH_RUNS
#        (default 5), OPK_BENCH_OUT (also write the markdown there), OPK_DEMO_KEEP=1 keeps the dir,
#        OPK_BIN (use this opk instead of building a release one).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$OPK_ROOT"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
opk=$(opk_release_bin)
work=$(opk_workdir)
cleanup() {
  [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null
  [ -z "${OPK_DEMO_KEEP:-}" ] && rm -rf "$work"
  true
}
trap cleanup EXIT

d="$work/sshd"
mkdir -p "$d/etc" "$work/home/.ssh" "$work/home/etc-ssh" "$work/remote" "$work/local"
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
install -m 600 "$work/key.pub" "$d/etc/authorized_keys"
opk_start_sshd "$d" "$opk" "AuthorizedKeysFile $d/etc/authorized_keys
Subsystem sftp internal-sftp"
user=$(id -un)
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$d/etc/ssh_host_ed25519_key.pub")" >"$work/home/.ssh/known_hosts"

mib=${OPK_BENCH_SCP_MIB:-1024}
runs=${OPK_BENCH_RUNS:-5}
# The same options for both clients: no ~/.ssh, this known_hosts, this key only.
opk_bench_copy_setup "$work" "$mib"
dest="$user@127.0.0.1"
printf 'put %q %q\n' "$src" "$up" >"$work/put.batch"
printf 'get %q %q\n' "$up" "$down" >"$work/get.batch"

up_opk="$opk_env $(q "$opk" scp -q -i "$work/key" -P "$SSHD_PORT" "$src" "$dest:$up")"
up_scp="$(q scp -q "${ossh[@]}" -P "$SSHD_PORT" "$src" "$dest:$up")"
up_sftp="$(q sftp -q "${ossh[@]}" -P "$SSHD_PORT" -b "$work/put.batch" "$dest")"
down_opk="$opk_env $(q "$opk" scp -q -i "$work/key" -P "$SSHD_PORT" "$dest:$up" "$down")"
down_scp="$(q scp -q "${ossh[@]}" -P "$SSHD_PORT" "$dest:$up" "$down")"
down_sftp="$(q sftp -q "${ossh[@]}" -P "$SSHD_PORT" -b "$work/get.batch" "$dest")"

echo "== sanity: every command works and copies byte for byte" >&2
for c in "$up_opk" "$up_scp" "$up_sftp"; do rm -f "$up"; bash -c "$c" >/dev/null; cmp "$src" "$up"; done
for c in "$down_opk" "$down_scp" "$down_sftp"; do rm -f "$down"; bash -c "$c" >/dev/null; cmp "$src" "$down"; done

out="$work/b6.md"
{
  echo "### B6 throughput, $mib MiB on loopback ($(nproc) cores, $(ssh -V 2>&1 | cut -d, -f1))"
  echo
} >"$out"
hyperfine -w 1 -r "$runs" --export-markdown "$work/up.md" \
  -n "opk scp (upload)" "$up_opk" -n "scp (upload)" "$up_scp" -n "sftp put" "$up_sftp" >&2
hyperfine -w 1 -r "$runs" --export-markdown "$work/down.md" \
  -n "opk scp (download)" "$down_opk" -n "scp (download)" "$down_scp" -n "sftp get" "$down_sftp" >&2
cat "$work/up.md" >>"$out"; echo >>"$out"; cat "$work/down.md" >>"$out"
cat "$out"
[ -z "${OPK_BENCH_OUT:-}" ] || cp "$out" "$OPK_BENCH_OUT"
