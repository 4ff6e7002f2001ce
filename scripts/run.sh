#!/usr/bin/env bash
# `make run`: a private PostgreSQL in .local/, migrations, dev secrets, then the service in the
# foreground, after writing .local/env (URL, CA, ADMIN, TOKEN) for README's session.
# `make stop` (run.sh stop): stops that service and that PostgreSQL.
# Ports: PostgreSQL on CUSTOS_DEV_PG_PORT (default 55432), HTTPS on CUSTOS_LISTEN (default
# 127.0.0.1:8443). A default that is taken is replaced by a free port, and said so; a port you
# set that is taken stops the run with the setting to change. CUSTOS_DEV_DIR moves .local/.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
local_dir=${CUSTOS_DEV_DIR:-$top/.local}
bin=$top/build/custos
die() { echo "make run: $*" >&2; exit 1; }

# is 127.0.0.1:PORT free to listen on?
port_free() {
    python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# the port of the development cluster when it runs (postmaster.pid, line 4), else nothing
pg_running_port() {
    local data; data=$(readlink -f "$local_dir/pg" 2>/dev/null)/data
    [ -f "$data/postmaster.pid" ] || return 0
    local pid; pid=$(head -n 1 "$data/postmaster.pid")
    kill -0 "$pid" 2>/dev/null && sed -n 4p "$data/postmaster.pid"
    return 0
}
# the pid of the service a previous `make run` left running, else nothing
server_pid() {
    local pid
    pid=$(cat "$local_dir/custos.pid" 2>/dev/null) || return 0
    grep -qa custos "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
    return 0
}

if [ "${1:-}" = stop ]; then
    pid=$(server_pid)
    if [ -n "$pid" ]; then
        kill -TERM "$pid"
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "custos (pid $pid) stopped"
    fi
    rm -f "$local_dir/custos.pid"
    scripts/pg.sh stop "$local_dir/pg"
    echo "development PostgreSQL in $local_dir/pg stopped"
    exit 0
fi

pid=$(server_pid)
[ -z "$pid" ] || die "custos from an earlier make run still runs (pid $pid): make stop first"

# PostgreSQL's port
running=$(pg_running_port)
if [ -n "$running" ]; then
    port=$running
    if [ -n "${CUSTOS_DEV_PG_PORT:-}" ] && [ "$CUSTOS_DEV_PG_PORT" != "$running" ]; then
        die "the development PostgreSQL already runs on port $running; make stop, then run again with CUSTOS_DEV_PG_PORT=$CUSTOS_DEV_PG_PORT"
    fi
elif [ -n "${CUSTOS_DEV_PG_PORT:-}" ]; then
    port=$CUSTOS_DEV_PG_PORT
    port_free "$port" || die "port $port (CUSTOS_DEV_PG_PORT) is taken; choose a free one: CUSTOS_DEV_PG_PORT=<port> make run"
else
    port=55432
    if ! port_free "$port"; then
        port=$(free_port)
        echo "make run: port 55432 is taken; the development PostgreSQL uses port $port (set CUSTOS_DEV_PG_PORT to choose)" >&2
    fi
fi

# the service's address
if [ -n "${CUSTOS_LISTEN:-}" ]; then
    port_free "${CUSTOS_LISTEN##*:}" ||
        die "$CUSTOS_LISTEN (CUSTOS_LISTEN) is taken; choose a free one: CUSTOS_LISTEN=127.0.0.1:<port> make run"
else
    api_port=8443
    if ! port_free "$api_port"; then
        api_port=$(free_port)
        echo "make run: port 8443 is taken; the service listens on port $api_port (set CUSTOS_LISTEN to choose)" >&2
    fi
    CUSTOS_LISTEN=127.0.0.1:$api_port
fi

scripts/pg.sh start "$local_dir/pg" "$port"
sock=$(readlink -f "$local_dir/pg")/run
psql_admin() { psql -X -q -h "$sock" -p "$port" -U postgres "$@"; }
psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='custos'" | grep -q 1 ||
    psql_admin -d postgres -c "CREATE DATABASE custos"
scripts/dev-secrets.sh "$local_dir/secrets" "$bin"

export CUSTOS_DEV=1
export CUSTOS_LISTEN
export CUSTOS_DATABASE_URL="host=$sock port=$port dbname=custos user=custos_app"
export CUSTOS_MIGRATE_DATABASE_URL="host=$sock port=$port dbname=custos user=postgres"
export CUSTOS_ROOT_KEY_FILE=$local_dir/secrets/root.key
export CUSTOS_JWT_HS256_SECRET_FILE=$local_dir/secrets/hs256.secret
export CUSTOS_JWT_ISSUER=${CUSTOS_JWT_ISSUER:-https://idp.example.test/}
export CUSTOS_JWT_AUDIENCE=${CUSTOS_JWT_AUDIENCE:-custos}
export CUSTOS_TLS_CERT_FILE=$local_dir/secrets/tls.crt
export CUSTOS_TLS_KEY_FILE=$local_dir/secrets/tls.key
unset CUSTOS_JWKS_FILE

"$bin" migrate
admin=$("$bin" dev-token --scope "vault:admin" --sub dev-operator --ttl 86400)
token=$("$bin" dev-token --tenant demo --sub dev-admin --ttl 86400 \
    --scope "tenant:admin records:write records:delete records:search dsr:manage consent:write audit:read records:verify interactions:write detokenize:*.*:plain")
url=https://127.0.0.1:${CUSTOS_LISTEN##*:}
(
    umask 077
    cat >"$local_dir/env" <<ENV
# written by make run ($(date -u +%FT%TZ)); README's session: . .local/env
export URL=$url
export CA=$local_dir/secrets/tls.crt
export ADMIN=$admin
export TOKEN=$token
export CUSTOS_DEV_PG_PORT=$port
ENV
)
cat <<MSG

Custos (development mode) on $url
  database: $local_dir/pg (port $port), secrets: $local_dir/secrets
  URL, CA, ADMIN (platform operator, vault:admin) and TOKEN (tenant "demo", all tenant scopes)
  are in $local_dir/env: in another shell, . $local_dir/env and follow README's session.

Stop everything: Ctrl-C here, then make stop (or make stop from another shell).
MSG
echo $$ >"$local_dir/custos.pid"
exec "$bin" serve
