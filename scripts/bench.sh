#!/usr/bin/env bash
# Head-to-head benchmarks against the reference opkssh and OpenSSH, side by side in ONE run:
#   B1 verify latency    opk verify warm / cold vs opkssh verify vs the no-op floor (hyperfine -N)
#   B2 whole SSH login   `ssh host true` with the opk cert vs a plain authorized_keys key vs a
#                        no-op AuthorizedKeysCommand, interleaved rounds
#   B3 login latency     browser's callback request → key files written, opk vs opkssh login
#   B4 burst             200 concurrent verifies on a cold cache, then after a key rotation at the
#                        OP (new kid): failures, OP requests, p50/p99; opk and opkssh
#   B5 footprint         peak RSS, stripped binary size, syscalls of one verify; opk and opkssh
# All on 127.0.0.1: one local OP over https (throw-away test CA, trusted by every client through
# SSL_CERT_FILE), certificates from real `opk login`s through headless Chromium, release opk.
# Benchmarks, not tests: nothing fails on a timing; the script fails only if something breaks.
#
# opkssh verify reads /etc/opk/{providers,auth_id} at fixed paths and appends to
# /var/log/opkssh.log, so it runs under `unshare --mount` with an overlay over /etc
# (scripts/opkssh-ns.sh, whose header says why): the machine's /etc and /var/log are untouched.
# That wrapper costs time, hence B1's "ns floor" row.
#
# Usage: bash scripts/bench.sh [B1 B2 B3 B4 B5]   (default: all; run as root)
# Env: OPK_BENCH_MIN_RUNS (B1, default 50), OPK_BENCH_WARMUP (B1, 5), OPK_BENCH_ROUNDS (B2, 40),
#      OPK_BENCH_LOGINS (B3, 11), OPK_BENCH_BURST (B4, 200), OPK_BENCH_OUT (also write the report
#      there), OPK_DEMO_KEEP=1 keeps the work dir (OP request log, logs, raw data).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root (opkssh runs in a private mount namespace)" >&2; exit 1; }
want=${*:-B1 B2 B3 B4 B5}
opk_setup
need=()
for p in time strace binutils; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cd "$OPK_ROOT"
opk=$(opk_release_bin)
bench_py="python3 $OPK_ROOT/scripts/bench.py"
work=$(opk_workdir)
sshd_pids=()
cleanup() {
  [ -n "${OP_PID:-}" ] && kill "$OP_PID" 2>/dev/null
  for p in "${sshd_pids[@]}"; do kill "$p" 2>/dev/null; done
  # Every namespace has exited by now: nothing below $work is mounted.
  [ -z "${OPK_DEMO_KEEP:-}" ] && rm -rf "$work"
  true
}
trap cleanup EXIT
report="$work/report.md"
: >"$report"
section() { printf '\n### %s\n\n' "$1" >>"$report"; }

echo "== test CA and the OP over https" >&2
opk_test_ca "$work/tls"
export SSL_CERT_FILE="$work/tls/ca.pem"
OP_PORT=$(opk_free_port)
OP_KEYS="$work/op-keys.json"
opk_start_op "$work" "$work/tls/server.pem" "$work/tls/server.key"
echo "issuer: $OP_ISSUER" >&2

echo "== opk login (headless Chromium)" >&2
home="$work/home"
opk_login "$opk" "$home" "$OP_ISSUER" opk-rs256 >/dev/null 2>"$work/login.err" || { cat "$work/login.err" >&2; exit 1; }
read -r ktype kb64 _ <"$home/.ssh/id_ecdsa-cert.pub" || true # no trailing newline (as opkssh writes it)
[ -n "${kb64:-}" ] || { echo "opk login wrote no certificate" >&2; exit 1; }
user=$(id -un)

# opk's server files.
install -d -m 755 "$work/etc" "$work/log" "$work/jwks"
printf '%s opk-rs256 24h\n' "$OP_ISSUER" >"$work/etc/providers"
printf '%s alice@example.com %s\n' "$user" "$OP_ISSUER" >"$work/etc/auth_id"
chmod 640 "$work/etc/providers" "$work/etc/auth_id"
opk_args="--providers-file $work/etc/providers --auth-id-file $work/etc/auth_id --log-file $work/log/opk.log --no-home-policy"

# opkssh's: the same two files, seen by it as /etc/opk/*, its log as /var/log/opkssh.log.
ns="$work/ns"
install -d -m 755 "$ns" "$ns/etc-opk" "$ns/var-log"
cp -p "$work/etc/providers" "$work/etc/auth_id" "$ns/etc-opk/"
# opkssh also reads the target user's ~/.opk/auth_id: hide the machine's, if any.
hide="$(getent passwd "$user" | cut -d: -f6)/.opk"
wrap="unshare --mount --propagation private sh $OPK_ROOT/scripts/opkssh-ns.sh $ns $hide"
args="$user $kb64 $ktype"
cmd_warm="$opk verify $opk_args --jwks-cache-dir $work/jwks $args"
cmd_cold="$opk verify $opk_args --no-jwks-cache $args"
cmd_opkssh="$wrap $OPKSSH_BIN verify --config-path $ns/etc-opk/config.yml $args"

echo "== sanity: every verifier allows, and prints the same line" >&2
a=$($cmd_warm) b=$($cmd_cold) c=$($cmd_opkssh)
if [ -z "$a" ] || [ "$a" != "$b" ] || [ "$a" != "$c" ]; then
  printf 'outputs differ:\nopk warm: %s\nopk cold: %s\nopkssh:   %s\n' "$a" "$b" "$c" >&2
  exit 1
fi

{
  echo "Machine: $(nproc) cores, $(uname -m), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
    "$(. /etc/os-release && echo "$PRETTY_NAME"), OpenSSH $(ssh -V 2>&1 | sed 's/,.*//'), $(hyperfine --version)," \
    "$("$OPKSSH_BIN" --version), $(go version 2>/dev/null | awk '{print $3}') for opkssh, opk release build, run of $(date -u +%F)."
} >>"$report"

b1() {
  section "B1 verify latency"
  local json="$work/b1.json"
  # -N: no intermediate shell, the commands are exec'd directly (as sshd does).
  hyperfine -N --style basic --warmup "${OPK_BENCH_WARMUP:-5}" --min-runs "${OPK_BENCH_MIN_RUNS:-50}" \
    --export-json "$json" \
    -n "floor: /bin/true %u %k %t" "/bin/true $args" \
    -n "ns floor: unshare+overlay wrapper around /bin/true" "$wrap /bin/true $args" \
    -n "opk verify, warm JWKS cache" "$cmd_warm" \
    -n "opk verify --no-jwks-cache (cold)" "$cmd_cold" \
    -n "opkssh $OPKSSH_VERSION verify (in the ns wrapper)" "$cmd_opkssh" >&2
  $bench_py b1 "$json" >>"$report"
}

b2() {
  section "B2 whole SSH login: ssh host true"
  local key="$work/b2/plain_ecdsa" base="$work/b2" n
  install -d -m 755 "$base"
  ssh-keygen -q -t ecdsa -N '' -f "$key"
  # Three sshds that differ only in how the key is authorized.
  local d_opk="$base/sshd-opk" d_plain="$base/sshd-plain" d_akc="$base/sshd-noop-akc"
  install -d -m 755 "$d_opk" "$d_opk/etc" "$d_plain" "$d_plain/etc" "$d_akc" "$d_akc/etc"
  cp -p "$work/etc/providers" "$work/etc/auth_id" "$d_opk/etc/"
  # sshd runs the command with an empty environment (no SSL_CERT_FILE for the test CA): start from
  # the warm JWKS cache, which is also the case that matters, every login after the first.
  cp -a "$work/jwks" "$d_opk/jwks"
  opk_start_sshd "$d_opk" "$opk"
  sshd_pids+=("$SSHD_PID"); local p_opk=$SSHD_PORT
  cp "$key.pub" "$d_plain/etc/authorized_keys"
  opk_start_sshd "$d_plain" "$opk" "AuthorizedKeysFile $d_plain/etc/authorized_keys"
  sshd_pids+=("$SSHD_PID"); local p_plain=$SSHD_PORT
  cp "$key.pub" "$d_akc/etc/authorized_keys"
  opk_start_sshd "$d_akc" "$opk" "AuthorizedKeysFile none
AuthorizedKeysCommand /bin/cat $d_akc/etc/authorized_keys
AuthorizedKeysCommandUser $user"
  sshd_pids+=("$SSHD_PID"); local p_akc=$SSHD_PORT
  # Multiplexing off, no agent, no config file: every run is a full new connection and login.
  local ssh="ssh -F /dev/null -o BatchMode=yes -o ControlMaster=no -o ControlPath=none -o IdentitiesOnly=yes
    -o IdentityAgent=none -o UserKnownHostsFile=$base/known_hosts -o StrictHostKeyChecking=accept-new -o LogLevel=ERROR"
  variants=$(python3 - "$ssh" "$user" "$home/.ssh/id_ecdsa" "$key" "$p_opk" "$p_plain" "$p_akc" "$d_opk/log/opk.log" <<'PY'
import json, shlex, sys
ssh, user, opk_key, plain_key, p_opk, p_plain, p_akc, log = sys.argv[1:]
cmd = lambda key, port: shlex.split(ssh) + ["-i", key, "-p", port, f"{user}@127.0.0.1", "true"]
print(json.dumps([
    {"name": "opk cert, opk verify as AuthorizedKeysCommand", "cmd": cmd(opk_key, p_opk), "log": log},
    {"name": "plain key in authorized_keys", "cmd": cmd(plain_key, p_plain)},
    {"name": "plain key, no-op AuthorizedKeysCommand (cat)", "cmd": cmd(plain_key, p_akc)},
]))
PY
)
  $bench_py b2 --variants "$variants" --rounds "${OPK_BENCH_ROUNDS:-40}" >>"$report"
}

b3() {
  section "B3 login latency"
  $bench_py b3 --opk "$opk" --opkssh "$OPKSSH_BIN" --opkssh-version "$OPKSSH_VERSION" --issuer "$OP_ISSUER" \
    --ca "$SSL_CERT_FILE" --workdir "$work" --rounds "${OPK_BENCH_LOGINS:-11}" >>"$report"
}

b4() {
  section "B4 burst: concurrent verifies on a cold cache and through a key rotation"
  local n=${OPK_BENCH_BURST:-200} cache="$work/b4-cache" phases
  install -d -m 755 "$cache"
  local opk_cold="$opk verify $opk_args --jwks-cache-dir $cache $args"
  phases=$(python3 - "$n" "$work/op.err" "$opk_cold" "$cmd_opkssh" <<'PY'
import json, shlex, sys
n, log, opk, ref = sys.argv[1:]
print(json.dumps([
    {"name": "opk, cold cache (kid 1)", "cmd": shlex.split(opk), "n": int(n), "op_log": log},
    {"name": "opkssh (fetches every time)", "cmd": shlex.split(ref), "n": int(n), "op_log": log},
]))
PY
)
  $bench_py b4 --phases "$phases" >"$work/b4-before.md"
  local fetched_at=$SECONDS
  echo "== B4: rotating the OP's signing keys (new kid), then a login signed by the new key" >&2
  kill "$OP_PID"; wait "$OP_PID" 2>/dev/null || true
  rm -f "$OP_KEYS"
  opk_start_op "$work" "$work/tls/server.pem" "$work/tls/server.key"
  local home2="$work/home-rotated"
  opk_login "$opk" "$home2" "$OP_ISSUER" opk-rs256 >/dev/null 2>"$work/login2.err" || { cat "$work/login2.err" >&2; exit 1; }
  local kt2 kb2
  read -r kt2 kb2 _ <"$home2/.ssh/id_ecdsa-cert.pub" || true
  # opk re-fetches for an unknown kid at most every 30 s (a flood of forged kids cannot hammer the
  # OP); a real rotation comes long after the last fetch, so wait that out.
  local wait_s=$((31 - (SECONDS - fetched_at)))
  ((wait_s <= 0)) || sleep "$wait_s"
  local args2="$user $kb2 $kt2"
  phases=$(python3 - "$n" "$work/op.err" "$opk verify $opk_args --jwks-cache-dir $cache $args2" \
    "$wrap $OPKSSH_BIN verify --config-path $ns/etc-opk/config.yml $args2" <<'PY'
import json, shlex, sys
n, log, opk, ref = sys.argv[1:]
print(json.dumps([
    {"name": "opk, cache holds kid 1, token signed with the new kid", "cmd": shlex.split(opk), "n": int(n), "op_log": log},
    {"name": "opkssh, token signed with the new kid", "cmd": shlex.split(ref), "n": int(n), "op_log": log},
]))
PY
)
  $bench_py b4 --phases "$phases" >"$work/b4-after.md"
  # Later benchmarks use the certificate the OP's current key signed.
  args=$args2
  cmd_warm="$opk verify $opk_args --jwks-cache-dir $work/jwks $args"
  cmd_opkssh="$wrap $OPKSSH_BIN verify --config-path $ns/etc-opk/config.yml $args"
  cat "$work/b4-before.md" >>"$report"
  tail -n +5 "$work/b4-after.md" >>"$report"
  echo >>"$report"
  echo "Target: 0 failures; opk 1 discovery + 1 JWKS per issuer on the cold burst and 1 more JWKS (+ discovery) on the rotation." >>"$report"
}

b5() {
  section "B5 footprint of one verify (warm cache)"
  local d="$work/b5"
  install -d -m 755 "$d"
  $cmd_warm >/dev/null # the cache is warm
  /usr/bin/time -v -o "$d/opk.time" $cmd_warm >/dev/null
  strace -c -f -o "$d/opk.strace" $cmd_warm >/dev/null
  # Inside the wrapper, so only opkssh (and what it runs) is measured, not the mounts.
  $wrap /usr/bin/time -v -o "$d/opkssh.time" "$OPKSSH_BIN" verify --config-path "$ns/etc-opk/config.yml" $args >/dev/null
  $wrap strace -c -f -o "$d/opkssh.strace" "$OPKSSH_BIN" verify --config-path "$ns/etc-opk/config.yml" $args >/dev/null
  strip -o "$d/opk.stripped" "$opk"
  strip -o "$d/opkssh.stripped" "$OPKSSH_BIN"
  local rows
  rows=$(python3 - "$d" <<'PY'
import json, sys
d = sys.argv[1]
print(json.dumps([
    {"name": "opk verify", "time_v": f"{d}/opk.time", "strace": f"{d}/opk.strace", "binary": f"{d}/opk.stripped"},
    {"name": "opkssh verify", "time_v": f"{d}/opkssh.time", "strace": f"{d}/opkssh.strace", "binary": f"{d}/opkssh.stripped"},
]))
PY
)
  $bench_py b5 --rows "$rows" >>"$report"
}

for b in $want; do
  case $b in
    B1) b1 ;; B2) b2 ;; B3) b3 ;; B4) b4 ;; B5) b5 ;;
    *) echo "bench.sh: unknown benchmark $b (B1 B2 B3 B4 B5)" >&2; exit 1 ;;
  esac
done
echo
cat "$report"
[ -z "${OPK_BENCH_OUT:-}" ] || cp "$report" "$OPK_BENCH_OUT"
