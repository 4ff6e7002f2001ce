#!/usr/bin/env bash
# `make run`: a private PostgreSQL in .local/, migrations, dev secrets, then the service on
# https://127.0.0.1:8443 in the foreground, with a dev token and a curl line printed first.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
local_dir=$top/.local
bin=$top/build/custos
port=${CUSTOS_DEV_PG_PORT:-55432}
scripts/pg.sh start "$local_dir/pg" "$port"
sock=$(readlink -f "$local_dir/pg")/run
psql_admin() { psql -X -q -h "$sock" -p "$port" -U postgres "$@"; }
psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='custos'" | grep -q 1 ||
    psql_admin -d postgres -c "CREATE DATABASE custos"
scripts/dev-secrets.sh "$local_dir/secrets" "$bin"

export CUSTOS_DEV=1
export CUSTOS_LISTEN=${CUSTOS_LISTEN:-127.0.0.1:8443}
export CUSTOS_DATABASE_URL="host=$sock port=$port dbname=custos user=custos_app"
export CUSTOS_MIGRATE_DATABASE_URL="host=$sock port=$port dbname=custos user=postgres"
export CUSTOS_ROOT_KEY_FILE=$local_dir/secrets/root.key
export CUSTOS_JWT_HS256_SECRET_FILE=$local_dir/secrets/hs256.secret
export CUSTOS_JWT_ISSUER=${CUSTOS_JWT_ISSUER:-https://idp.example.test/}
export CUSTOS_JWT_AUDIENCE=${CUSTOS_JWT_AUDIENCE:-custos}
export CUSTOS_TLS_CERT_FILE=$local_dir/secrets/tls.crt
export CUSTOS_TLS_KEY_FILE=$local_dir/secrets/tls.key

"$bin" migrate
admin=$("$bin" dev-token --scope "vault:admin" --sub dev-operator --ttl 86400)
token=$("$bin" dev-token --tenant demo --sub dev-admin --ttl 86400 \
    --scope "tenant:admin records:write records:delete records:search dsr:manage consent:write audit:read records:verify interactions:write detokenize:*.*:plain")
cat <<MSG

Custos (development mode) on https://$CUSTOS_LISTEN
  database: $local_dir/pg (port $port), secrets: $local_dir/secrets
  platform operator token (vault:admin):
    $admin
  tenant "demo" token (all tenant scopes):
    $token

Try:
  curl --cacert $local_dir/secrets/tls.crt https://$CUSTOS_LISTEN/healthz
  curl --cacert $local_dir/secrets/tls.crt -H "Authorization: Bearer $admin" \\
       -H 'Content-Type: application/json' -d '{"id":"demo","name":"Demo"}' https://$CUSTOS_LISTEN/v1/tenants

Stop with Ctrl-C (the database keeps running: scripts/pg.sh stop $local_dir/pg).
MSG
exec "$bin" serve
