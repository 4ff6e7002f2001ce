#!/usr/bin/env bash
# Writes, once, what docker-compose.yml expects in DIR (default deploy/secrets/): database
# passwords, a root key, a self-signed TLS certificate, a development HS256 secret, and a JWKS
# placeholder (replace it with your identity provider's before `--profile prod`). Never
# overwrites a file. Run by Compose's one-shot `init` service (as root in the postgres:15 image,
# DIR mounted at /secrets) or by hand. Usage: compose-secrets.sh [DIR]
set -euo pipefail
d=${1:-$(cd "$(dirname "$0")/.." && pwd)/deploy/secrets}
mkdir -p "$d"; chmod 755 "$d"; umask 077
new=0
gen() { # file command...: create file from the command's output unless it exists
    local f=$d/$1; shift
    [ -s "$f" ] && return 0
    "$@" >"$f.tmp" && mv "$f.tmp" "$f"; new=1
}
gen db_owner_password openssl rand -hex 24
gen app_db_password openssl rand -hex 24
gen root.key openssl rand -base64 32
gen hs256.secret sh -c 'openssl rand -base64 48 | tr -d "\n"'
gen jwks.json echo '{"keys":[]}'
if [ ! -s "$d/tls.crt" ] || [ ! -s "$d/tls.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$d/tls.key" -out "$d/tls.crt" >/dev/null 2>&1
    new=1
fi
# Compose mounts file secrets as they are on the host. The service runs as uid 10001: its files
# belong to it, 0400. The owner password is read by PostgreSQL (uid 999) and by migrate (10001):
# 0444. Without root (chown refused) everything becomes 0444: keep DIR itself private then.
for f in "$d"/*; do
    case $(basename "$f") in
    db_owner_password) chmod 0444 "$f" ;;
    *) if chown 10001:10001 "$f" 2>/dev/null; then chmod 0400 "$f"; else chmod 0444 "$f"; fi ;;
    esac
done
[ "$new" = 1 ] && echo "compose-secrets: secrets in $d (keep root.key backed up apart from the database)"
exit 0
