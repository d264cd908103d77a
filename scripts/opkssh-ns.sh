# Runs a command (opkssh verify) in the current mount namespace with /etc/opk and /var/log
# replaced by per-test directories, leaving the machine's /etc and /var/log untouched. Run it as
#   unshare --mount --propagation private sh opkssh-ns.sh NS_DIR HIDE_DIR COMMAND...
# NS_DIR holds etc-opk/ and var-log/; HIDE_DIR (may be empty) is hidden behind an empty dir. If
# NS_DIR/passwd exists it replaces /etc/passwd, so a test can give the principal a home of its own
# (for opkssh's ~/.opk/auth_id) without touching the real one.
# Used by crates/opk-e2e (include_str!) and scripts/bench.sh.
#
# Why an overlay: /etc/opk usually does not exist, and a bind mount needs an existing mount
# point. Creating /etc/opk on the host would change the machine, bind-mounting a directory over
# all of /etc would hide passwd, resolv.conf and the rest, and copying /etc is heavy. So, inside
# the namespace only, /etc becomes an overlay whose lower layer is the real /etc (read-only to
# us) and whose upper layer is a fresh scratch directory: 'mkdir /etc/opk' lands in the scratch
# directory, and the host's /etc is untouched. Mounts below /etc (containers bind
# /etc/hosts, /etc/resolv.conf) are bound aside first and re-exposed on top of the overlay.
# /var/log exists, so a plain bind mount covers it. The namespace, and with it every mount, dies
# with the command; the caller (OpksshHost::run, bench.sh) then removes the scratch directory (never while mounted).
set -e
ns=$1; hide=$2; shift 2
up=$(mktemp -d "$ns/ovl.XXXXXX")
mkdir "$up/upper" "$up/work" "$up/empty" "$up/subs"
subs=$(awk '$5 ~ "^/etc/" { print $5 }' /proc/self/mountinfo)
i=0
for m in $subs; do
  i=$((i + 1)); if [ -d "$m" ]; then mkdir "$up/subs/$i"; else : >"$up/subs/$i"; fi
  mount --bind "$m" "$up/subs/$i"
done
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$up/upper,workdir=$up/work" /etc
i=0
for m in $subs; do i=$((i + 1)); mount --bind "$up/subs/$i" "$m"; done
mkdir -p /etc/opk
mount --bind "$ns/etc-opk" /etc/opk
mount --bind "$ns/var-log" /var/log
if [ -f "$ns/passwd" ]; then mount --bind "$ns/passwd" /etc/passwd; fi
if [ -n "$hide" ] && [ -d "$hide" ]; then mount --bind "$up/empty" "$hide"; fi
exec "$@"
