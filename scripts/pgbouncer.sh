#!/usr/bin/env bash
# A private PgBouncer in transaction mode (what CloudNativePG's Pooler runs) in front of a
# cluster of scripts/pg.sh, for the tests that prove the service is safe behind a pooler.
#   pgbouncer.sh start DIR PG_SOCKET_DIR PG_PORT PORT   start (listens on 127.0.0.1:PORT)
#   pgbouncer.sh stop DIR
# The pool is smaller than the service's, so that the transactions of one client connection
# land on several server connections (session state would show at once). PgBouncer refuses to
# run as root: as root it runs as the cluster's owner "custos" (scripts/pg.sh creates it), and
# DIR must be writable by that user (a directory inside the cluster's DIR is).
set -euo pipefail
cmd=$1; dir=$2
bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[ -x "$bin" ] || { echo "pgbouncer.sh: pgbouncer is not installed (run scripts/deps.sh)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u custos -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
    sock=$3; pgport=$4; port=$5
    as_owner mkdir -p "$dir"
    dir=$(readlink -f "$dir")
    as_owner tee "$dir/userlist.txt" >/dev/null <<USERS
"custos_app" ""
"postgres" ""
USERS
    as_owner tee "$dir/pgbouncer.ini" >/dev/null <<CONF
[databases]
* = host=$sock port=$pgport

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 1000
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
CONF
    as_owner "$bin" -d -q "$dir/pgbouncer.ini" || { tail -n 20 "$dir/pgbouncer.log" >&2; exit 1; }
    for _ in $(seq 1 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then exit 0; fi
        sleep 0.1
    done
    echo "pgbouncer.sh: PgBouncer did not start" >&2; tail -n 20 "$dir/pgbouncer.log" >&2; exit 1
    ;;
stop)
    [ -f "$dir/pgbouncer.pid" ] || exit 0
    pid=$(cat "$dir/pgbouncer.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    ;;
*)
    echo "usage: pgbouncer.sh start DIR PG_SOCKET_DIR PG_PORT PORT | stop DIR" >&2; exit 2
    ;;
esac
