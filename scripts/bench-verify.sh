#!/usr/bin/env bash
# Whole-process benchmark of the AuthorizedKeysCommand, as sshd runs it (one process per offered
# key), in ONE hyperfine run, side by side:
#   floor        /bin/true with the same arguments (process spawn + argv, nothing else)
#   ns floor     the mount-namespace wrapper opkssh needs here, around /bin/true
#   opk warm     opk verify, JWKS cache warm (no network)
#   opk cold     opk verify --no-jwks-cache (discovery + JWKS over https every time, as opkssh)
#   opkssh       reference opkssh verify (pinned release), inside the namespace wrapper
# All against one local OP over https (test CA via SSL_CERT_FILE) and one certificate obtained
# by a real `opk login` through headless Chromium. Release build of opk.
#
# opkssh verify reads /etc/opk/{providers,auth_id} at fixed paths and appends to
# /var/log/opkssh.log, so it runs under `unshare --mount` with an overlay over /etc and bind
# mounts (scripts/opkssh-ns.sh, whose header says why): the machine's
# /etc and /var/log are not touched. That wrapper costs time, hence the "ns floor" row: compare
# opkssh − ns floor with opk − floor.
#
# Usage: bash scripts/bench-verify.sh   (needs root for unshare/mount; prints a markdown table)
# Env: OPK_BENCH_MIN_RUNS (default 50), OPK_BENCH_WARMUP (default 5), OPK_BENCH_OUT (also write
# the table there), OPK_DEMO_KEEP=1 keeps the work dir.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "bench-verify.sh: run as root (opkssh runs in a private mount namespace)" >&2; exit 1; }
opk_setup
cd "$OPK_ROOT"
echo "== building opk (release)" >&2
cargo build --locked --release -q -p opk-cli
opk="$CARGO_TARGET_DIR/release/opk"
work=$(opk_workdir)
cleanup() {
  [ -n "${OP_PID:-}" ] && kill "$OP_PID" 2>/dev/null
  # Every namespace has exited by now: nothing below $work is mounted.
  [ -z "${OPK_DEMO_KEEP:-}" ] && rm -rf "$work"
  true
}
trap cleanup EXIT

echo "== test CA and the OP over https" >&2
mkdir "$work/tls"
(
  cd "$work/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=opk test CA" \
    -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf \
    -out server.pem 2>/dev/null
)
# opk (rustls roots + SSL_CERT_FILE), opkssh (Go: SSL_CERT_FILE replaces the system roots) and the
# stand-in browser of opk_login all trust the test CA through this.
export SSL_CERT_FILE="$work/tls/ca.pem"
opk_start_op "$work" "$work/tls/server.pem" "$work/tls/server.key"
echo "issuer: $OP_ISSUER" >&2

echo "== opk login (headless Chromium)" >&2
home="$work/home"
opk_login "$opk" "$home" "$OP_ISSUER" opk-rs256 >/dev/null
read -r ktype kb64 _ <"$home/.ssh/id_ecdsa-cert.pub" || true  # no trailing newline (as opkssh writes it)
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

cmd_floor="/bin/true $args"
cmd_nsfloor="$wrap /bin/true $args"
cmd_warm="$opk verify $opk_args --jwks-cache-dir $work/jwks $args"
cmd_cold="$opk verify $opk_args --no-jwks-cache $args"
cmd_opkssh="$wrap $OPKSSH_BIN verify --config-path $ns/etc-opk/config.yml $args"

echo "== sanity: every verifier allows, and prints the same line" >&2
a=$($cmd_warm) b=$($cmd_cold) c=$($cmd_opkssh)
if [ -z "$a" ] || [ "$a" != "$b" ] || [ "$a" != "$c" ]; then
  printf 'outputs differ:\nopk warm: %s\nopk cold: %s\nopkssh:   %s\n' "$a" "$b" "$c" >&2
  exit 1
fi
echo "$a" >&2

echo "== hyperfine" >&2
json="$work/hyperfine.json"
# -N: no intermediate shell, the commands are exec'd directly (as sshd does).
hyperfine -N --style basic --warmup "${OPK_BENCH_WARMUP:-5}" --min-runs "${OPK_BENCH_MIN_RUNS:-50}" \
  --export-json "$json" \
  -n "floor: /bin/true %u %k %t" "$cmd_floor" \
  -n "ns floor: unshare+overlay wrapper around /bin/true" "$cmd_nsfloor" \
  -n "opk verify, warm JWKS cache" "$cmd_warm" \
  -n "opk verify --no-jwks-cache (cold)" "$cmd_cold" \
  -n "opkssh $OPKSSH_VERSION verify (in the ns wrapper)" "$cmd_opkssh" >&2

table=$(python3 - "$json" "$(nproc)" "$(uname -m)" "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
ms = lambda r: r["median"] * 1000
floor, nsfloor, warm, cold, ref = (ms(r) for r in res)
print(f"Machine: {sys.argv[2]} cores, {sys.argv[3]}, {sys.argv[4]}\n")
print("| command | median ms | mean ± σ ms | min ms | runs | median − its floor ms |")
print("|---|---:|---:|---:|---:|---:|")
for r, f in zip(res, [None, None, floor, floor, nsfloor]):
    extra = "" if f is None else f"{ms(r) - f:.2f}"
    print(f"| {r['command']} | {ms(r):.2f} | {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} | {r['min']*1000:.2f} | {len(r['times'])} | {extra} |")
print()
print("| ratio (medians) | value |")
print("|---|---:|")
for name, v in [
    ("opk warm / floor", warm / floor),
    ("opk cold / opk warm", cold / warm),
    ("opkssh / opk cold (both fetch every time; opkssh incl. wrapper)", ref / cold),
    ("(opkssh − ns floor) / (opk cold − floor)", (ref - nsfloor) / (cold - floor)),
    ("(opkssh − ns floor) / (opk warm − floor)", (ref - nsfloor) / (warm - floor)),
    ("ns floor / floor (wrapper overhead)", nsfloor / floor),
]:
    print(f"| {name} | {v:.2f}× |")
PY
)
echo
echo "$table"
[ -z "${OPK_BENCH_OUT:-}" ] || echo "$table" >"$OPK_BENCH_OUT"
