#!/usr/bin/env bash
# Writes what docker-compose.yml expects in deploy/secrets/ (once): database passwords, a root
# key, a self-signed TLS certificate. The JWKS of your identity provider goes to
# deploy/secrets/jwks.json (a placeholder with no keys is written: replace it).
set -euo pipefail
cd "$(dirname "$0")/.."
d=deploy/secrets
mkdir -p "$d"; chmod 700 "$d"; umask 077
[ -s "$d/db_owner_password" ] || openssl rand -hex 24 >"$d/db_owner_password"
[ -s "$d/app_db_password" ] || openssl rand -hex 24 >"$d/app_db_password"
[ -s "$d/root.key" ] || openssl rand -base64 32 >"$d/root.key"
[ -s "$d/jwks.json" ] || echo '{"keys":[]}' >"$d/jwks.json"
if [ ! -s "$d/tls.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$d/tls.key" -out "$d/tls.crt" >/dev/null 2>&1
fi
# the container runs as uid 10001; Compose mounts file secrets as they are on the host
chmod 644 "$d"/*
echo "secrets in $d (keep root.key backed up apart from the database)"
