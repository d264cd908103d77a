# Shared by demo.sh, test.sh and bench.sh. Source it; do not run it.
# Everything listens on 127.0.0.1 and lives under one work directory; nothing touches the
# machine's /etc/ssh, /etc/opk or ~/.ssh.

OPK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# CI may run with a minimal environment: derive HOME from passwd if it is missing.
: "${HOME:=$(getent passwd "$(id -un)" | cut -d: -f6)}"
export HOME
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/opk-target}

# Debian packages and the test OP's node modules; idempotent.
opk_setup() {
  local need=() p
  for p in openssh-server openssh-client chromium hyperfine openssl tmux sudo man-db; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if ((${#need[@]})); then
    echo "installing: ${need[*]}" >&2
    local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # Test-host set-up, like the packages above: the e2e tests run sshd with opkssh's unprivileged
  # AuthorizedKeysCommandUser, which must be a real account (sshd looks it up); created as
  # opkssh's installer creates it (and `opk install` without --root). Idempotent.
  if ! getent passwd opksshuser >/dev/null && [ "$(id -u)" = 0 ]; then
    getent group opksshuser >/dev/null || groupadd --system opksshuser
    useradd --system --no-create-home --shell /usr/sbin/nologin --gid opksshuser opksshuser
  fi
  # sshd refuses to start without its privilege-separation directory.
  [ -d /run/sshd ] || { [ "$(id -u)" = 0 ] && mkdir -p /run/sshd; } || true
  if ! cmp -s "$OPK_ROOT/testing/op/package-lock.json" "$OPK_ROOT/testing/op/node_modules/.package-lock.json"; then
    (cd "$OPK_ROOT/testing/op" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  # Only the interop tests and the benchmark need it; they fail with a hint when it is missing.
  opk_install_opkssh || echo "warning: reference opkssh not installed; interop tests and bench.sh will fail" >&2
  opk_install_ziti || echo "warning: the ziti CLI is not installed; the overlay tests will fail" >&2
}

# The real OpenZiti network for the overlay tests: the `ziti` CLI (controller, router, tunneler,
# `edge quickstart`) at a pinned release, into a cache outside the clone. Prebuilt from the public
# tag by the test set-up beside the clone (../shared/tools/ziti) when it is there, else built with
# `go install`. Idempotent. Exports ZITI_BIN.
ZITI_VERSION=v1.7.2
opk_install_ziti() {
  local cache=$HOME/.cache/opk-ziti
  export ZITI_BIN=$cache/ziti
  if [ -x "$ZITI_BIN" ] && [ "$("$ZITI_BIN" version 2>/dev/null)" = "$ZITI_VERSION" ]; then
    return 0
  fi
  local shared=$OPK_ROOT/../shared/tools/ziti/install.sh
  if [ -f "$shared" ]; then
    bash "$shared" "$cache" >/dev/null && return 0
  fi
  command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH=$PATH:/usr/local/go/bin
  echo "installing ziti $ZITI_VERSION (go install, into $cache)" >&2
  GOBIN=$cache go install "github.com/openziti/ziti/ziti@$ZITI_VERSION"
}

# The reference implementation for the interop tests and the benchmark: opkssh, built from source
# with `go install` at a pinned release into a cache outside the clone. Idempotent: skipped when
# the binary is there and reports the pinned version. Exports OPKSSH_BIN.
OPKSSH_VERSION=v0.16.0
opk_install_opkssh() {
  local gobin=$HOME/.cache/opk-go/bin
  export OPKSSH_BIN=$gobin/opkssh
  if [ -x "$OPKSSH_BIN" ] && [ "$("$OPKSSH_BIN" --version 2>/dev/null)" = "opkssh version $OPKSSH_VERSION" ]; then
    return 0
  fi
  command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH=$PATH:/usr/local/go/bin
  if ! command -v go >/dev/null 2>&1; then
    echo "opk_install_opkssh: Go is needed to build the reference opkssh $OPKSSH_VERSION" >&2
    return 1
  fi
  echo "installing opkssh $OPKSSH_VERSION (go install, into $gobin)" >&2
  local mod=github.com/openpubkey/opkssh@$OPKSSH_VERSION log
  # main.Version is what `opkssh --version` prints (release builds set it the same way).
  local flags=(-ldflags "-X main.Version=$OPKSSH_VERSION")
  log=$(mktemp)
  if ! GOBIN=$gobin go install "${flags[@]}" "$mod" 2>"$log"; then
    # `go install mod@version` also asks the module proxy for the module's version list (to
    # report deprecation); some proxies/mirrors refuse that (403) while serving the pinned
    # version itself. Then fetch the pinned module and its dependencies through the proxy, and
    # install from the local module cache (a file:// proxy, which has the list) in front of it.
    local modcache
    modcache=$(go env GOMODCACHE)
    if ! { go mod download "$mod" &&
      (cd "$modcache/$mod" && go mod download) &&
      GOBIN=$gobin GOPROXY="file://$modcache/cache/download,$(go env GOPROXY)" go install "${flags[@]}" "$mod"; } 2>>"$log"; then
      cat "$log" >&2
      rm -f "$log"
      echo "opk_install_opkssh: go install $mod failed" >&2
      return 1
    fi
  fi
  rm -f "$log"
  "$OPKSSH_BIN" --version >&2
}

# opk_release_bin → prints the opk to benchmark: $OPK_BIN when set (a smoke run with a debug
# build; not for numbers), else a release build made now.
opk_release_bin() {
  if [ -n "${OPK_BIN:-}" ]; then
    echo "$OPK_BIN"
  else
    echo "== building opk (release)" >&2
    cargo build --locked --release -q -p opk-cli >&2
    echo "$CARGO_TARGET_DIR/release/opk"
  fi
}

# opk_bench_copy_setup WORK MIB: the copy benchmarks' shared part. Writes a MIB MiB file of random
# bytes; sets src, up (in WORK/remote), down; `ossh` (OpenSSH options: no ~/.ssh, WORK's
# known_hosts, WORK/key only), `opk_env` (the same for opk: HOME=WORK/home, no agent) and q
# (shell-quotes its arguments).
opk_bench_copy_setup() {
  local work=$1 mib=$2
  echo "== $mib MiB test file" >&2
  head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/local/big"
  src="$work/local/big" up="$work/remote/big" down="$work/local/back"
  ossh=(-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none
    -o UserKnownHostsFile="$work/home/.ssh/known_hosts" -o StrictHostKeyChecking=yes -o LogLevel=ERROR -i "$work/key")
  opk_env="env HOME=$work/home OPK_SSH_SYSTEM_DIR=$work/home/etc-ssh SSH_AUTH_SOCK="
}
q() { printf '%q ' "$@"; }

# A work dir whose parents are not group/world-writable (sshd's rule for AuthorizedKeysCommand).
opk_workdir() {
  mkdir -p "$CARGO_TARGET_DIR/tmp"
  local d; d=$(mktemp -d "$CARGO_TARGET_DIR/tmp/opk-demo.XXXXXX")
  chmod 755 "$d"
  echo "$d"
}

opk_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# opk_start_op DIR [TLS_CERT TLS_KEY] → sets OP_PID and OP_ISSUER (https://localhost:PORT when
# a certificate and key are given, else http://localhost:PORT). OP_PORT (default: any free port)
# and OP_KEYS (a signing-key file, kept across restarts; delete it to rotate) are optional. The
# OP's request log is appended to DIR/op.err.
opk_start_op() {
  local dir=$1 tls=() keys=()
  [ $# -lt 3 ] || tls=(--https --tls-cert "$2" --tls-key "$3")
  [ -z "${OP_KEYS:-}" ] || keys=(--keys "$OP_KEYS")
  node "$OPK_ROOT/testing/op/op.mjs" --port "${OP_PORT:-0}" --stop-after-seconds 1800 "${tls[@]}" "${keys[@]}" \
    >"$dir/op.out" 2>>"$dir/op.err" &
  OP_PID=$!
  local i
  for i in $(seq 1 300); do
    OP_ISSUER=$(sed -n 's/^OP_READY //p' "$dir/op.out")
    [ -n "$OP_ISSUER" ] && return 0
    sleep 0.1
  done
  echo "the test OP did not start; see $dir/op.err" >&2
  return 1
}

# opk_test_ca DIR: a throw-away CA (DIR/ca.pem) and a localhost server certificate signed by it
# (DIR/server.pem, DIR/server.key), for an https OP.
opk_test_ca() {
  mkdir -p "$1"
  (
    cd "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=opk test CA" \
      -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
      -keyout server.key -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf \
      -out server.pem 2>/dev/null
  )
}

# opk_start_sshd DIR OPK_BINARY [AUTH_CONFIG] → sets SSHD_PID and SSHD_PORT. Policy files go in
# DIR/etc. AUTH_CONFIG replaces the default key authorization (opk verify as the
# AuthorizedKeysCommand, no authorized_keys file) with other sshd_config lines.
opk_start_sshd() {
  local dir=$1 opk=$2 auth=${3:-} user
  user=$(id -un)
  install -d -m 755 "$dir/bin" "$dir/etc" "$dir/log"
  install -m 755 "$opk" "$dir/bin/opk"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/etc/ssh_host_ed25519_key" <<<y >/dev/null
  SSHD_PORT=$(opk_free_port)
  [ -n "$auth" ] || auth="AuthorizedKeysFile none
AuthorizedKeysCommand $dir/bin/opk verify --providers-file $dir/etc/providers --auth-id-file $dir/etc/auth_id --log-file $dir/log/opk.log --jwks-cache-dir $dir/jwks --config-path $dir/etc/config.yml %u %k %t
AuthorizedKeysCommandUser $user"
  cat >"$dir/etc/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $dir/etc/ssh_host_ed25519_key
PidFile $dir/sshd.pid
$auth
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
CONF
  /usr/sbin/sshd -D -f "$dir/etc/sshd_config" -E "$dir/log/sshd.log" 2>>"$dir/log/sshd.stderr" &
  SSHD_PID=$!
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "sshd did not start; see $dir/log/sshd.log" >&2
  return 1
}

# opk_login OPK HOME ISSUER CLIENT [extra args...]: headless Chromium completes the OP's page when
# there is no display (or OPK_HEADLESS=1); with a display, opk opens the user's browser.
opk_login() {
  local opk=$1 home=$2 issuer=$3 client=$4; shift 4
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${OPK_HEADLESS:-}" ] && [ -z "${CI:-}" ]; then
    HOME=$home "$opk" login --provider "$issuer,$client" "$@"
    return
  fi
  local fifo; fifo=$(mktemp -u); mkfifo "$fifo"
  HOME=$home "$opk" login --disable-browser-open --provider "$issuer,$client" "$@" 2>"$fifo" &
  local pid=$! line url= browser=
  while IFS= read -r line; do
    echo "$line" >&2
    case $line in
      http://* | https://*)
        url=$line
        echo "(no display: headless Chromium fills in the OP's login page as alice@example.com)" >&2
        # An https OP signed by a test CA (SSL_CERT_FILE): the stand-in browser trusts it too.
        local ca=()
        [ -z "${SSL_CERT_FILE:-}" ] || [ "${url#https://}" = "$url" ] || ca=(--ca "$SSL_CERT_FILE")
        node "$OPK_ROOT/testing/op/login.mjs" "$url" --user alice@example.com "${ca[@]}" >"$fifo.browser" 2>&1 &
        browser=$!
        ;;
    esac
  done <"$fifo"
  local status=0
  wait "$pid" || status=$?
  # The browser's last page (or its failure), after opk's own output. Only its pid: the caller
  # may have the OP and sshd running in the background too.
  [ -z "$browser" ] || wait "$browser" || true
  [ ! -s "$fifo.browser" ] || sed 's/^LOGIN_PAGE /browser page: /' "$fifo.browser" >&2
  rm -f "$fifo" "$fifo.browser"
  return "$status"
}
