#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests.
#   pg.sh start DIR PORT [fast]   create (first time) and start; fast = fsync off (tests)
#   pg.sh stop DIR                stop (fast)
#   pg.sh destroy DIR             stop and remove the cluster
#   pg.sh url DIR PORT DB USER    print the libpq connection string
# initdb refuses to run as root: as root the cluster belongs to the unprivileged user
# "custos" (created if missing). The cluster listens on 127.0.0.1 and a socket in DIR/run.
set -euo pipefail
cmd=$1; dir=$2
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pg.sh: PostgreSQL is not installed (run scripts/deps.sh)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u custos -- "$@"; else "$@"; fi
}
ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id custos >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin custos
}
# When the checkout sits below a directory the unprivileged user cannot search (a private
# home, a mktemp -d), the cluster lives under /var/tmp and DIR becomes a link to it; PostgreSQL
# is then always given the real path.
place() {
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] || return 0
    chown custos: "$dir"
    runuser -u custos -- test -w "$dir" && return 0
    local real
    real=/var/tmp/custos-pg-$(printf '%s' "$(readlink -f "$dir")" | md5sum | cut -c1-16)
    mkdir -p "$real"; chown custos: "$real"; chmod 700 "$real"
    rmdir "$dir" 2>/dev/null || true
    [ -L "$dir" ] || ln -s "$real" "$dir"
}
case "$cmd" in
start)
    port=$3; mode=${4:-}
    ensure_user
    [ -L "$dir" ] || place
    dir=$(readlink -f "$dir")
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
        cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/run'
max_connections = 200
shared_buffers = 256MB
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
log_min_error_statement = panic
log_statement = 'none'
log_line_prefix = '%m [%p] '
CONF
        if [ "$mode" = fast ]; then
            printf "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n" >>"$dir/data/postgresql.conf"
        fi
    fi
    as_owner mkdir -p "$dir/run"
    if as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then exit 0; fi
    # the port asked for now, not the one of the first start (which may have failed on it)
    as_owner sed -i "s/^port = .*/port = $port/" "$dir/data/postgresql.conf"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start >/dev/null ||
        { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
    ;;
stop)
    [ -e "$dir" ] || exit 0
    dir=$(readlink -f "$dir")
    [ -f "$dir/data/PG_VERSION" ] || exit 0
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    ;;
destroy)
    "$0" stop "$dir"
    [ -L "$dir" ] && rm -rf "$(readlink -f "$dir")"
    rm -rf "$dir"
    ;;
url)
    echo "host=$(readlink -f "$dir")/run port=$3 dbname=$4 user=$5"
    ;;
*)
    echo "usage: pg.sh start|stop|url DIR ..." >&2; exit 2
    ;;
esac
