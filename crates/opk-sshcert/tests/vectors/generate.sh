#!/bin/sh
# Regenerates the ssh-keygen test vectors in this directory (see README.md).
# Needs OpenSSH's ssh-keygen (made with OpenSSH_9.2p1 Debian-2+deb12u10), base64, head, tail, tr.
set -eu
export TZ=UTC # -V times are local time
cd "$(dirname "$0")"
rm -f ca_* user_* plain_* corrupt_* badsig_* rsaca_* encrypted_*

# Keys: two CAs of our types, one RSA CA, two user keys.
ssh-keygen -q -t ed25519 -N '' -C 'vector ca ed25519' -f ca_ed25519
ssh-keygen -q -t ecdsa -b 256 -N '' -C 'vector ca ecdsa' -f ca_ecdsa
ssh-keygen -q -t rsa -b 2048 -N '' -C 'vector ca rsa' -f rsaca_rsa
ssh-keygen -q -t ecdsa -b 256 -N '' -C 'vector user ecdsa' -f user_ecdsa
ssh-keygen -q -t ed25519 -N '' -C 'vector user ed25519' -f user_ed25519

# ECDSA user key, signed by the Ed25519 CA: default extensions plus openpubkey-pkt, forever.
ssh-keygen -q -s ca_ed25519 -I id-alice -n alice -V always:forever \
    -O extension:openpubkey-pkt=abc user_ecdsa.pub

# Ed25519 user key, signed by the ECDSA CA: only permit-pty + both openpubkey extensions,
# serial 42, two principals, fixed window.
ssh-keygen -q -s ca_ecdsa -I id-bob -n bob,carol -z 42 -V 20200101000000:20300101000000 \
    -O clear -O permit-pty -O extension:openpubkey-pkt=xyz.def -O extension:openpubkey-act=tok \
    user_ed25519.pub

# Same Ed25519 user key signed by the RSA CA (parse must reject the signature key type).
cp user_ed25519.pub rsaca_user.pub
ssh-keygen -q -s rsaca_rsa -I id-rsa -n alice -O extension:openpubkey-pkt=abc rsaca_user.pub
rm rsaca_user.pub

# Plain public key (not a certificate): reuse user_ed25519.pub.
cp user_ed25519.pub plain_ed25519.pub

# Corrupt: the ECDSA cert blob with its last 20 bytes cut off (signature truncated).
set -- $(cat user_ecdsa-cert.pub)
printf '%s %s %s' "$1" "$(printf '%s' "$2" | base64 -d | head -c -20 | base64 -w0)" corrupt > corrupt_ecdsa-cert.pub

# Bad signature: the ECDSA cert with the last byte of the blob (inside the signature) changed.
last=$(printf '%s' "$2" | base64 -d | tail -c 1 | od -An -tu1 | tr -d ' ')
printf '%s %s %s' "$1" \
    "$( { printf '%s' "$2" | base64 -d | head -c -1; printf "\\$(printf '%03o' $(( (last + 1) % 256 )))"; } | base64 -w0)" \
    badsig > badsig_ecdsa-cert.pub

# Encrypted private key (passphrase "secret").
ssh-keygen -q -t ed25519 -N secret -C 'vector encrypted' -f encrypted_ed25519
rm encrypted_ed25519.pub

# The CA and RSA private keys are only needed to sign; keep their public halves.
rm ca_ed25519 ca_ecdsa rsaca_rsa rsaca_rsa.pub
