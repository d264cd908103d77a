#!/usr/bin/env bash
# B7: `opk zscp` throughput over a real OpenZiti network vs `ziti tunnel proxy` + OpenSSH `scp` on
# the same network (the same sshd, hosted by the same `ziti tunnel host`): one `ziti edge quickstart` (controller + router) on 127.0.0.1, one sshd whose
# only way in is the overlay's `ziti tunnel host`, a client identity for both clients, one plain
# ed25519 key (the copy is measured, not the opk certificate). Both paths are end-to-end
# encrypted by the overlay and by SSH. Benchmark, not a test: it fails only if a copy breaks
# (every copy is checked with cmp once).
#
# Usage: bash scripts/bench-zscp.sh       Env: OPK_BENCH_ZSCP_MIB (default 256), OPK_BENCH_RUNS
#        (default 3), OPK_BENCH_OUT (also write the markdown there), OPK_DEMO_KEEP=1 keeps the dir,
#        OPK_BIN (use this opk instead of building a release one).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$OPK_ROOT"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
opk_install_ziti
opk=$(opk_release_bin)
work=$(opk_workdir)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null
  wait 2>/dev/null || true
  [ -z "${OPK_DEMO_KEEP:-}" ] && rm -rf "$work"
  true
}
trap cleanup EXIT

d="$work/sshd"
mkdir -p "$d/etc" "$work/home/.ssh" "$work/home/etc-ssh" "$work/remote" "$work/local" "$work/zhome"
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
install -m 600 "$work/key.pub" "$d/etc/authorized_keys"
opk_start_sshd "$d" "$opk" "AuthorizedKeysFile $d/etc/authorized_keys
Subsystem sftp internal-sftp"
user=$(id -un)

# The network. HOME is the work dir so the ziti CLI's login stays there.
z() { HOME="$work/zhome" "$ZITI_BIN" "$@"; }
ctrl_port=$(opk_free_port) router_port=$(opk_free_port)
qs_args=(edge quickstart --home "$work/qs" --ctrl-address 127.0.0.1 --ctrl-port "$ctrl_port"
  --router-address 127.0.0.1 --router-port "$router_port")
start_quickstart() {
  z "${qs_args[@]}" >"$work/$1" 2>&1 &
  QS_PID=$!
  local i
  for i in $(seq 1 900); do
    grep -q "controller and router started" "$work/$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "quickstart did not start; see $work/$1" >&2
  return 1
}
echo "== ziti edge quickstart" >&2
start_quickstart quickstart.log
# As the test network does (docs/hazards.md Z-6): a database mapped whole from the start.
kill "$QS_PID"; wait "$QS_PID" 2>/dev/null || true
truncate -s 64M "$(find "$work/qs" -name ctrl.db | head -1)"
start_quickstart quickstart2.log
pids+=("$QS_PID")
z edge login "127.0.0.1:$ctrl_port" -u admin -p admin -y >/dev/null
z edge create config zssh.host.v1 host.v1 \
  "{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$SSHD_PORT,\"listenOptions\":{\"bindUsingEdgeIdentity\":true}}" >/dev/null
z edge create service zssh --configs zssh.host.v1 >/dev/null
# `ziti tunnel proxy` dials no particular identity, which an addressable-only terminator refuses:
# the same sshd as a plain service for the OpenSSH path, hosted by the same tunneler.
z edge create config plain.host.v1 host.v1 \
  "{\"protocol\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$SSHD_PORT}" >/dev/null
z edge create service plain --configs plain.host.v1 >/dev/null
z edge create service-policy binders Bind --service-roles @zssh,@plain --identity-roles '#zssh.binders' >/dev/null
z edge create service-policy dialers Dial --service-roles @zssh,@plain --identity-roles '#zssh.dialers' >/dev/null
z edge create identity server -a zssh.binders -o "$work/server.jwt" >/dev/null
z edge create identity client -a zssh.dialers -o "$work/client.jwt" >/dev/null
z edge enroll "$work/server.jwt" -o "$work/server.json" >/dev/null
z edge enroll "$work/client.jwt" -o "$work/client.json" >/dev/null
z tunnel host -i "$work/server.json" >"$work/tunnel-host.log" 2>&1 &
pids+=($!)
for svc in zssh plain; do
  for i in $(seq 1 300); do
    z edge list terminators "service.name=\"$svc\"" | grep -q "$svc" && break
    sleep 0.3
  done
done
proxy_port=$(opk_free_port)
z tunnel proxy "plain:$proxy_port" -i "$work/client.json" >"$work/tunnel-proxy.log" 2>&1 &
pids+=($!)
for i in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null && break
  sleep 0.2
done

hostkey=$(cut -d' ' -f1,2 "$d/etc/ssh_host_ed25519_key.pub")
{
  echo "server.zssh.ziti $hostkey"
  echo "[127.0.0.1]:$proxy_port $hostkey"
} >"$work/home/.ssh/known_hosts"

mib=${OPK_BENCH_ZSCP_MIB:-256}
runs=${OPK_BENCH_RUNS:-3}
# The same options for both clients: no ~/.ssh, this known_hosts, this key only.
opk_bench_copy_setup "$work" "$mib"
zscp=("$opk" zscp -c "$work/client.json" -i "$work/key")

up_opk="$opk_env $(q "${zscp[@]}" "$src" "$user@server:$up")"
up_scp="$(q scp -q "${ossh[@]}" -P "$proxy_port" "$src" "$user@127.0.0.1:$up")"
down_opk="$opk_env $(q "${zscp[@]}" "$user@server:$up" "$down")"
down_scp="$(q scp -q "${ossh[@]}" -P "$proxy_port" "$user@127.0.0.1:$up" "$down")"

echo "== sanity: every command works and copies byte for byte" >&2
for c in "$up_opk" "$up_scp"; do rm -f "$up"; bash -c "$c" >/dev/null; cmp "$src" "$up"; done
for c in "$down_opk" "$down_scp"; do rm -f "$down"; bash -c "$c" >/dev/null; cmp "$src" "$down"; done

out="$work/b7.md"
{
  echo "### B7 throughput over the overlay, $mib MiB ($(nproc) cores, ziti $("$ZITI_BIN" version), $(ssh -V 2>&1 | cut -d, -f1))"
  echo
} >"$out"
hyperfine -w 1 -r "$runs" --export-markdown "$work/up.md" \
  -n "opk zscp (upload)" "$up_opk" -n "ziti tunnel proxy + scp (upload)" "$up_scp" >&2
hyperfine -w 1 -r "$runs" --export-markdown "$work/down.md" \
  -n "opk zscp (download)" "$down_opk" -n "ziti tunnel proxy + scp (download)" "$down_scp" >&2
cat "$work/up.md" >>"$out"; echo >>"$out"; cat "$work/down.md" >>"$out"
cat "$out"
[ -z "${OPK_BENCH_OUT:-}" ] || cp "$out" "$OPK_BENCH_OUT"
