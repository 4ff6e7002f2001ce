#!/usr/bin/env bash
# Creates, once, what a local run needs in DIR: a root key, a dev HS256 secret and a
# self-signed ECDSA P-256 certificate for localhost. Usage: dev-secrets.sh DIR CUSTOS_BIN
set -euo pipefail
dir=$1; bin=$2
mkdir -p "$dir"; chmod 700 "$dir"
umask 077
[ -s "$dir/root.key" ] || "$bin" keygen >"$dir/root.key"
[ -s "$dir/hs256.secret" ] || openssl rand -base64 48 | tr -d '\n' >"$dir/hs256.secret"
if [ ! -s "$dir/tls.crt" ] || [ ! -s "$dir/tls.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$dir/tls.key" -out "$dir/tls.crt" >/dev/null 2>&1
fi
