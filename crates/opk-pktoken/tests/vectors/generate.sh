#!/usr/bin/env bash
# Regenerates the RSA vectors with OpenSSL, an implementation independent of ours:
#   rsa-jwk.json        public JWK of a fresh RSA-2048 key (kid "rsa-vector")
#   rs256.jwt / ps256.jwt  JWS compact tokens whose signatures OpenSSL made
# The private key is not kept. Run from this directory: bash generate.sh
set -euo pipefail
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
openssl genrsa -out "$tmp/k.pem" 2048 2>/dev/null
b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
n=$(openssl rsa -in "$tmp/k.pem" -noout -modulus 2>/dev/null | cut -d= -f2 | xxd -r -p | b64u)
printf '{"kty":"RSA","kid":"rsa-vector","n":"%s","e":"AQAB"}\n' "$n" > rsa-jwk.json
payload=$(printf '{"iss":"https://op.example","sub":"vector","aud":"client","iat":1700000000,"exp":1700003600}' | b64u)
for alg in RS256 PS256; do
  hdr=$(printf '{"alg":"%s","kid":"rsa-vector","typ":"JWT"}' "$alg" | b64u)
  extra=()
  [ "$alg" = PS256 ] && extra=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32)
  sig=$(printf '%s.%s' "$hdr" "$payload" | openssl dgst -sha256 -sign "$tmp/k.pem" "${extra[@]}" | b64u)
  printf '%s.%s.%s\n' "$hdr" "$payload" "$sig" > "$(echo "$alg" | tr 'A-Z' 'a-z').jwt"
done
