#!/usr/bin/env bash
# The quick start as a new user meets it (issue 15): with 127.0.0.1:55432 and :8443 taken,
#   1. a first start that fails on the taken port leaves a cluster behind, and the next
#      `make run` with CUSTOS_DEV_PG_PORT set still honours it;
#   2. a set CUSTOS_DEV_PG_PORT that is taken stops the run, naming the setting;
#   3. `make run` with nothing set picks free ports and says so;
# each time README's session (the block between its session markers) runs as written against
# .local/env, and `make stop` stops the service and the database. Runs in a scratch directory
# (CUSTOS_DEV_DIR) with a clean environment. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work=$top/.local/quickstart-$$
mkdir -p "$work"
passed=0; failed=0
holders=()
cleanup() {
    for p in "${holders[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "${run_pid:-}" ] && kill "$run_pid" 2>/dev/null
    CUSTOS_DEV_DIR=$work/dev scripts/run.sh stop >/dev/null 2>&1
    scripts/pg.sh destroy "$work/dev/pg" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
check() {
    local what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what" >&2; fi
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# hold 127.0.0.1:PORT with a listener unless something already does
hold() {
    python3 -c 'import socket, sys, time
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
except OSError:
    sys.exit(0)
time.sleep(600)' "$1" &
    holders+=($!)
}
hold 55432
hold 8443
sleep 0.3
# a fresh shell: only what a user's login gives
clean_env=(env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 CUSTOS_DEV_DIR="$work/dev")

# README's session block, as written, from a directory whose .local/ is the scratch one
mkdir -p "$work/session"
ln -s "$work/dev" "$work/session/.local"
sed -n '/^<!-- session:/,/^<!-- \/session -->/p' README.md | sed -n '/^```sh$/,/^```$/p' | sed '1d;$d' >"$work/session.sh"
[ -s "$work/session.sh" ] || { echo "quickstart: no session block in README.md" >&2; exit 1; }

start_run() { # extra env...: make run's script in the background; waits for the service
    rm -f "$work/dev/env"
    "${clean_env[@]}" "$@" scripts/run.sh >"$work/run.log" 2>&1 &
    run_pid=$!
    for _ in $(seq 1 300); do
        if [ -s "$work/dev/env" ]; then
            # shellcheck disable=SC1091
            url=$(. "$work/dev/env"; echo "$URL"); ca=$work/dev/secrets/tls.crt
            curl -fsS --cacert "$ca" "$url/healthz" >/dev/null 2>&1 && return 0
        fi
        kill -0 "$run_pid" 2>/dev/null || break
        sleep 0.2
    done
    cat "$work/run.log" >&2
    return 1
}
session() {
    (cd "$work/session" && "${clean_env[@]}" bash -euo pipefail "$work/session.sh") >"$work/session.out" 2>&1 ||
        { cat "$work/session.out" >&2; return 1; }
    grep -q '"value":"[^"]*1111"' "$work/session.out" || { cat "$work/session.out" >&2; return 1; }
}
stop_all() {
    local pid; pid=$(cat "$work/dev/custos.pid" 2>/dev/null)
    "${clean_env[@]}" scripts/run.sh stop >/dev/null 2>&1 || return 1
    wait "$run_pid" 2>/dev/null
    run_pid=
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null &&
        ! [ -f "$(readlink -f "$work/dev/pg")/data/postmaster.pid" ]
}

# 1. the issue's trap: a first start on the taken port fails and leaves its cluster behind
scripts/pg.sh start "$work/dev/pg" 55432 >/dev/null 2>&1
check "a first start on a taken 55432 fails" test $? -ne 0
pg_port=$(free_port)
check "make run with CUSTOS_DEV_PG_PORT after a failed start serves" start_run CUSTOS_DEV_PG_PORT="$pg_port"
check "it listens on CUSTOS_DEV_PG_PORT" grep -q "port $pg_port" "$work/run.log"
check "8443 taken: a free port, said so" grep -q "port 8443 is taken; the service listens on port" "$work/run.log"
check "README's session runs as written (.local/env)" session
check "make stop stops the service and PostgreSQL" stop_all

# 2. a taken port that the user set: stop, naming the setting
"${clean_env[@]}" CUSTOS_DEV_PG_PORT=55432 scripts/run.sh >"$work/run2.log" 2>&1
check "a set CUSTOS_DEV_PG_PORT that is taken stops the run" test $? -ne 0
check "and names the setting to change" grep -q "CUSTOS_DEV_PG_PORT=<port> make run" "$work/run2.log"

# 3. nothing set: free ports, said so
check "make run with nothing set serves" start_run
check "55432 taken: a free port, said so" grep -q "port 55432 is taken; the development PostgreSQL uses port" "$work/run.log"
check ".local/env's ADMIN lists the tenants at its URL" bash -c '. "$1"; curl -fsS --cacert "$CA" -H "Authorization: Bearer $ADMIN" "$URL/v1/tenants" | grep -q "\"demo\""' sh "$work/dev/env"
check "make stop stops both again" stop_all

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
