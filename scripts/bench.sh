#!/usr/bin/env bash
# `make bench`: the service against ceilings measured in the same run on the same machine
# (issue 9 item 4). The headline, over HTTPS (the service's TLS) with RS256 JWTs checked against
# a JWKS (token cache warm), at 1, 8 and 32 connections: tokenize 1 and 100 records (new subjects
# and known ones), detokenize 1 and 100 tokens, search (the searchable phone), record read (GET
# with X-Purpose), GET /healthz; each with throughput, p50/p99, CPU per request of the server and
# of this run's PostgreSQL, and serve's RSS, and its ratio against its bare ceiling measured in
# the same run:
#   - pgbench (tests/bench/sql/bare_*.sql) on bench_bare, a table shaped like tokens: SELECT by
#     primary key, single-row durable INSERT, 100-row INSERT, at 1, 8 and 32 connections;
#   - tests/bench/mhd_trivial.c, a trivial libmicrohttpd handler over the same TLS.
# Then a cold token cache (a different JWT per request) for detokenize 1 and tokenize 1; 256
# connections under a mixed load for BENCH_SOAK seconds with serve's RSS sampled (growth
# printed); a profile (perf record -g of the server and PostgreSQL, or callgrind where perf cannot
# run) of detokenize 1 and tokenize 1 at 32 connections. Diagnostics: pgbench running the
# service's own SQL (tests/bench/sql/*.sql, kept equal by tests/unit/test_bench_sql.c), the
# service over plain HTTP (HS256 dev token) against the plain trivial handler, plan checks.
# The verdicts are informative: the exit status is 0 unless something failed to run.
# Raw outputs go to $BUILD/bench-results/; the summary to tests/bench/results/latest.md and the
# README's table (markdown, one row per operation at 32 connections) to
# tests/bench/results/table.md, both from the same run. All traffic stays on 127.0.0.1.
# Knobs: BENCH_QUICK=1 (3 s runs, 2 s at one connection, 2000 records, a 45 s soak, no
# thread-per-connection runs: ~6 minutes; a full run ~25), BENCH_DURATION (s per run at 8 and 32 connections,
# default 8), BENCH_C1_DURATION (s per 1-connection run, default 5), BENCH_SEED (records seeded,
# default 5000), BENCH_SOAK (s of the 256-connection soak, default 600), BENCH_COLD_JWTS (JWTs
# minted per cold run, default 3000 per second of a run), BENCH_PROFILE=perf|callgrind|0 (default perf,
# callgrind where perf cannot record), KEEP_BENCH_DIR=1, BENCH_HOLD=SECONDS (set up, then keep
# everything running that long for a look, and stop), BENCH_RATE_LIMITS=0 (the rate limits off;
# default on, far above the load), BENCH_WRK_TIMEOUT (s before wrk gives up on an answer,
# default 10; 30 in the soak), CUSTOS_PER_IP_CONNECTIONS (default here 1024: the soak's 256
# connections come from one address).
# Issue 14 item 4, slow-header clients (tests/bench/trickle.py): BENCH_TRICKLE_N connections
# (default 126) from one address (BENCH_TRICKLE_ADDR, default 127.0.0.2) send a request line and
# then a header line every 5 s, BENCH_TRICKLE_BODIES (default 2) send an authenticated body at
# 10 bytes/s, each one reopened when the server cuts it, while wrk probes /healthz (c=2) and
# detokenize 1 (c=1) from 127.0.0.1 for BENCH_TRICKLE_DURATION s (default 15, 12 with
# BENCH_QUICK=1); prints the probes' p99 against 1000 ms and how many trickling connections the
# server closed within CUSTOS_HEADER_TIMEOUT + BENCH_TRICKLE_MARGIN (default 3) s.
# BENCH_ONLY=trickle runs only that scenario (after the setup; tests/bench/results/ untouched).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
BUILD=${BUILD:-build}
bin=$top/$BUILD/custos
trivial=$top/$BUILD/bench/mhd_trivial
mkidp=$top/$BUILD/tests/tools/mkidp
mkjwt=$top/$BUILD/tests/tools/mkjwt
work=$top/.local/bench-$$
results=$top/$BUILD/bench-results
lua=$top/tests/bench/lua
sqldir=$top/tests/bench/sql
quick=${BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then
    dur=${BENCH_DURATION:-3}; dur1=${BENCH_C1_DURATION:-2}; seed_n=${BENCH_SEED:-2000}
    soak=${BENCH_SOAK:-45}
else
    dur=${BENCH_DURATION:-8}; dur1=${BENCH_C1_DURATION:-5}; seed_n=${BENCH_SEED:-5000}
    soak=${BENCH_SOAK:-600}
fi
dur_of() { if [ "$1" -lt 2 ]; then echo "$dur1"; else echo "$dur"; fi; } # a run's seconds at $1 connections
conns=32
batch=100
only=${BENCH_ONLY:-}
case "$only" in
"" | trickle) ;;
*) printf 'bench.sh: BENCH_ONLY=%s: the only selection is trickle\n' "$only" >&2; exit 2 ;;
esac

server_pid=
trivial_pid=
trickle_pid=
pg_started=0

say() { printf '%s\n' "$*" >&2; }
die() { say "bench.sh: $*"; exit 1; }

start_server() { # mode (epoll|threads)
    CUSTOS_HTTP_MODE=$1 "$bin" serve >>"$results/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -fsS "$api/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$results/server.log" >&2; die "the server did not start"; }
        sleep 0.1
    done
    die "the server did not answer /healthz"
}
stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
}
start_trivial() { # mode [tls]: with tls, the service's certificate and key (and its TLS priorities)
    local tls=() scheme=http
    if [ "${2:-}" = tls ]; then
        tls=(--tls-cert "$work/secrets/tls.crt" --tls-key "$work/secrets/tls.key"); scheme=https
    fi
    "$trivial" --port "$trivial_port" --mode "$1" "${tls[@]}" >>"$results/mhd_trivial.log" 2>&1 &
    trivial_pid=$!
    for _ in $(seq 1 50); do
        curl -fsSk "$scheme://127.0.0.1:$trivial_port/hello" >/dev/null 2>&1 && return 0
        kill -0 "$trivial_pid" 2>/dev/null || die "mhd_trivial did not start"
        sleep 0.1
    done
    die "mhd_trivial did not answer"
}
start_tls_server() { # HTTPS with the dev certificate, RS256 JWTs checked against the mkidp JWKS
    CUSTOS_TLS_CERT_FILE=$work/secrets/tls.crt CUSTOS_TLS_KEY_FILE=$work/secrets/tls.key \
        CUSTOS_JWKS_FILE=$work/idp/jwks.json CUSTOS_HTTP_MODE=epoll "$bin" serve >>"$results/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -fsSk "$api/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$results/server.log" >&2; die "the HTTPS server did not start"; }
        sleep 0.1
    done
    die "the HTTPS server did not answer /healthz"
}
stop_trivial() {
    [ -n "$trivial_pid" ] || return 0
    kill -TERM "$trivial_pid" 2>/dev/null || true
    wait "$trivial_pid" 2>/dev/null || true
    trivial_pid=
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ "$rc" = 0 ] || say "bench.sh: stopped with exit status $rc"
    if [ -n "$trickle_pid" ]; then
        kill -TERM "$trickle_pid" 2>/dev/null || true
        wait "$trickle_pid" 2>/dev/null || true
    fi
    stop_server
    stop_trivial
    if [ "${KEEP_BENCH_DIR:-0}" = 1 ]; then
        [ "$pg_started" = 1 ] && scripts/pg.sh stop "$work/pg" >/dev/null 2>&1
        say "bench.sh: kept $work"
    else
        [ "$pg_started" = 1 ] && scripts/pg.sh destroy "$work/pg" >/dev/null 2>&1
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- prerequisites ----
command -v wrk >/dev/null || die "wrk is not installed (scripts/deps.sh installs it: apt-get install wrk)"
command -v pgbench >/dev/null || die "pgbench is not installed (package postgresql-contrib / postgresql)"
command -v psql >/dev/null || die "psql is not installed"
command -v curl >/dev/null || die "curl is not installed"
command -v perf >/dev/null || command -v valgrind >/dev/null ||
    die "neither perf nor valgrind is installed (scripts/deps.sh installs linux-perf and valgrind)"
command -v python3 >/dev/null || die "python3 is not installed (tests/bench/trickle.py)"
[ -f tests/bench/trickle.py ] || die "missing tests/bench/trickle.py"
[ -x "$bin" ] || die "$bin is missing (make $BUILD/custos)"
[ -x "$trivial" ] || die "$trivial is missing (make $BUILD/bench/mhd_trivial)"
[ -x "$mkidp" ] && [ -x "$mkjwt" ] || die "$mkidp or $mkjwt is missing (make tests)"
for f in common tokenize tokenize_batch detokenize detokenize_batch post_echo search record_read mix; do
    [ -f "$lua/$f.lua" ] || die "missing $lua/$f.lua"
done
for f in tokenize detokenize tokenize_batch detokenize_batch bare_select bare_insert bare_insert_batch; do
    [ -f "$sqldir/$f.sql" ] || die "missing $sqldir/$f.sql"
done

rm -rf "$results"
mkdir -p "$work" "$results"
started_at=$(date +%s)

# ---- CPU accounting: machine-wide busy ticks, one process's ticks, waited children ----
hz=$(getconf CLK_TCK)
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
proc_ticks() { # pid: utime+stime of the process (all its threads)
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
    sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12+$13}'
}
children_ticks() { # user+sys of the waited-for children of this shell, in ticks; `times` must run
    times >"$work/times"  # in this shell (not in a $(...) subshell), hence the file
    awk -v hz="$hz" 'NR == 2 {
        s = 0
        for (i = 1; i <= NF; i++) { v = $i; sub(/s$/, "", v); split(v, ms, "m"); s += ms[1] * 60 + ms[2] }
        printf "%d\n", s * hz + 0.5 }' "$work/times"
}

# ---- PostgreSQL: durable (no `fast`), throwaway ----
pg_port=$(( (RANDOM % 15000) + 30000 ))
api_port=$(( pg_port + 1 ))
api=http://127.0.0.1:$api_port
trivial_port=$(( pg_port + 2 ))
say "bench.sh: PostgreSQL (durable commits) on 127.0.0.1:$pg_port, work dir $work"
pg_started=1
scripts/pg.sh start "$work/pg" "$pg_port" || die "could not start PostgreSQL"
admin_url=$(scripts/pg.sh url "$work/pg" "$pg_port" custos_bench postgres)
app_url=$(scripts/pg.sh url "$work/pg" "$pg_port" custos_bench custos_app)
sock=$(sed -E 's/^host=([^ ]*) .*/\1/' <<<"$admin_url") # the real socket directory
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$pg_port" -U postgres "$@"; }
psql_admin -d postgres -c "CREATE DATABASE custos_bench" || die "could not create custos_bench"
# as in research/perf-limits.md §3: no checkpoint in the middle of a run; fsync stays on
psql_admin -d postgres -c "ALTER SYSTEM SET max_wal_size = '8GB'" \
    -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" -c "SELECT pg_reload_conf()" >/dev/null
scripts/dev-secrets.sh "$work/secrets" "$bin" || die "could not create dev secrets"

export CUSTOS_DEV=1
export CUSTOS_ROOT_KEY_FILE=$work/secrets/root.key
export CUSTOS_JWT_HS256_SECRET_FILE=$work/secrets/hs256.secret
export CUSTOS_JWT_ISSUER=https://idp.bench.custos/
export CUSTOS_JWT_AUDIENCE=custos-bench
export CUSTOS_DATABASE_URL=$app_url
export CUSTOS_MIGRATE_DATABASE_URL=$admin_url
export CUSTOS_LISTEN=127.0.0.1:$api_port
export CUSTOS_THREADS=$conns
export CUSTOS_DB_POOL=$conns
export CUSTOS_LOG_LEVEL=warn
# the rate limits are checked as in production (their cost is part of tokenize's numbers) but
# set far above what a run sends, so that nothing is refused; BENCH_RATE_LIMITS=0 turns them off
if [ "${BENCH_RATE_LIMITS:-1}" = 1 ]; then
    export CUSTOS_RATE_TOKENIZE=100000000 CUSTOS_RATE_SEARCH=100000000 CUSTOS_RATE_VERIFY=100000000
else
    export CUSTOS_RATE_TOKENIZE=0 CUSTOS_RATE_SEARCH=0 CUSTOS_RATE_VERIFY=0
fi
# the window the pgbench ceilings pass to custos_rate_hit (tests/bench/sql/tokenize*.sql)
export CUSTOS_RATE_TOKENIZE_WINDOW=${CUSTOS_RATE_TOKENIZE_WINDOW:-3600}
unset CUSTOS_TLS_CERT_FILE CUSTOS_TLS_KEY_FILE CUSTOS_JWKS_FILE CUSTOS_JWT_HS256_SECRET \
    CUSTOS_DATABASE_PASSWORD_FILE CUSTOS_MIGRATE_DATABASE_PASSWORD_FILE CUSTOS_HTTP_MODE
"$bin" migrate >"$results/migrate.log" 2>&1 || { cat "$results/migrate.log" >&2; die "custos migrate failed"; }

say "bench.sh: service on $api (plain HTTP, $conns threads, pool $conns)"
start_server epoll
admin_jwt=$("$bin" dev-token --scope vault:admin --sub bench-operator --ttl 7200)
jwt=$("$bin" dev-token --tenant bench --sub bench-client --ttl 7200 \
    --scope "tenant:admin records:write detokenize:*.*:plain")
export BENCH_JWT=$jwt BENCH_LUA_DIR=$lua BENCH_TOKENS=$work/tokens.txt BENCH_BATCH=$batch
export BENCH_RECORDS=$work/records.txt BENCH_SEED=$seed_n

api_call() { # method path body [jwt] -> body on stdout, fails on non-2xx
    curl -fsS -X "$1" -H "Authorization: Bearer ${4:-$jwt}" -H 'Content-Type: application/json' \
        --data-binary "$3" "$api$2"
}
api_call POST /v1/tenants '{"id":"bench","name":"Bench"}' "$admin_jwt" >/dev/null ||
    die "could not create tenant bench"
api_call PUT /v1/collections/c '{"fields":{"name":{"type":"name","tokenization":"random"},"phone":{"type":"phone","tokenization":"deterministic","searchable":true}}}' >/dev/null ||
    die "could not create collection c"
api_call PUT /v1/purposes/support '{"description":"bench","lawful_basis":"contract"}' >/dev/null ||
    die "could not create purpose support"

say "bench.sh: seeding $seed_n records in batches of 500"
: >"$work/tokens.txt"
: >"$work/records.txt"
for ((b = 0; b < seed_n; b += 500)); do
    n=$(( seed_n - b < 500 ? seed_n - b : 500 ))
    body=$(awk -v b="$b" -v n="$n" 'BEGIN {
        printf "{\"records\":["
        for (i = 0; i < n; i++) {
            k = b + i
            printf "%s{\"subject_id\":\"seed-%d\",\"fields\":{\"name\":\"Seed Person %d\",\"phone\":\"+1555%07d\"}}", (i ? "," : ""), k, k, k
        }
        printf "]}" }')
    api_call POST /v1/collections/c/records "$body" >"$work/seed.json" || die "seeding failed at batch $b"
    # keep the random (name) tokens: detokenize reads them back
    grep -o '"name":"[^"]*"' "$work/seed.json" | cut -d'"' -f4 >>"$work/tokens.txt"
    # and the record ids: the record reads and the reset (everything else is deleted) use them
    grep -o '"id":"rec_[^"]*"' "$work/seed.json" | cut -d'"' -f4 >>"$work/records.txt"
done
seeded=$(wc -l <"$work/tokens.txt")
[ "$seeded" -eq "$seed_n" ] || die "seeded $seeded tokens, expected $seed_n"
[ "$(wc -l <"$work/records.txt")" -eq "$seed_n" ] || die "seeded $(wc -l <"$work/records.txt") record ids, expected $seed_n"

# one call of each measured request, so a broken route fails here rather than as wrk errors
tok1=$(head -n 1 "$work/tokens.txt")
api_call POST /v1/collections/c/records '{"records":[{"subject_id":"probe-1","fields":{"name":"Probe","phone":"+15559990001"}}]}' >/dev/null ||
    die "tokenize probe failed"
curl -fsS -X POST -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -H 'X-Purpose: support' \
    --data-binary "{\"tokens\":[\"$tok1\"]}" "$api/v1/detokenize" >"$work/probe.json" ||
    die "detokenize probe failed"
grep -q '"value":"Seed Person 0"' "$work/probe.json" || { cat "$work/probe.json" >&2; die "detokenize probe did not return the seeded value"; }


# ---- helper tables for the pgbench ceilings (superuser; read-only for custos_app) ----
if [ "$only" != trickle ]; then # BENCH_ONLY=trickle uses none of them
awk '{printf "%d\t%s\n", NR, $0}' "$work/tokens.txt" >"$work/tokens.tsv"
nbatches=200
psql_admin -d custos_bench >/dev/null <<SQL || die "could not create the pgbench helper tables"
-- the seeded records: the reset keeps these and deletes every other (known-subject tokenizes
-- add records to seeded subjects)
CREATE TABLE bench_seed_records (id text PRIMARY KEY);
\copy bench_seed_records (id) FROM '$work/records.txt'
CREATE TABLE bench_seed (i int PRIMARY KEY, token text NOT NULL);
\copy bench_seed (i, token) FROM '$work/tokens.tsv'
CREATE TABLE bench_tokens AS
SELECT s.i, json_build_array(s.token)::text AS tokens,
       json_build_array(json_build_object('principal', 'bench-client', 'action', 'detokenize',
           'collection', 'c', 'fields', json_build_array('name'), 'record_id', t.record_id,
           'subject_id', r.subject_id, 'purpose', 'support', 'redaction', 'plain',
           'outcome', 'allowed', 'request_id', md5(s.token)))::text AS audit
FROM bench_seed s
JOIN tokens t ON t.tenant_id = 'bench' AND t.token = s.token
JOIN records r ON r.tenant_id = 'bench' AND r.id = t.record_id;
ALTER TABLE bench_tokens ADD PRIMARY KEY (i);
CREATE TABLE bench_batches AS
SELECT p.b AS i, json_agg(s.token ORDER BY p.n)::text AS tokens,
       json_agg(json_build_object('principal', 'bench-client', 'action', 'detokenize',
           'collection', 'c', 'fields', json_build_array('name'), 'record_id', t.record_id,
           'subject_id', r.subject_id, 'purpose', 'support', 'redaction', 'plain',
           'outcome', 'allowed', 'request_id', md5(p.b::text)) ORDER BY p.n)::text AS audit
FROM (SELECT b, n, 1 + floor(random() * $seed_n)::int AS i
      FROM generate_series(1, $nbatches) b, generate_series(1, $batch) n) p
JOIN bench_seed s ON s.i = p.i
JOIN tokens t ON t.tenant_id = 'bench' AND t.token = s.token
JOIN records r ON r.tenant_id = 'bench' AND r.id = t.record_id
GROUP BY p.b;
ALTER TABLE bench_batches ADD PRIMARY KEY (i);
-- the JSON batches of one tokenize request of $batch records (same shapes as the service's);
-- @R@ is replaced per transaction
CREATE TABLE bench_json (name text PRIMARY KEY, j text NOT NULL);
INSERT INTO bench_json
SELECT 'sk_use', json_agg(json_build_object('subject_id', 'pb@R@-' || g, 'n', 2) ORDER BY g)
FROM generate_series(1, $batch) g
UNION ALL
SELECT 'sk_insert', json_agg(json_build_object('subject_id', 'pb@R@-' || g, 'version', 1,
    'kek_version', 1, 'wrapped', md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
    || left(md5((g + 3)::text), 24), 'n', 2) ORDER BY g)
FROM generate_series(1, $batch) g
UNION ALL
SELECT 'records', json_agg(json_build_object('id', 'rec_pb@R@-' || g, 'collection', 'c',
    'subject_id', 'pb@R@-' || g) ORDER BY g)
FROM generate_series(1, $batch) g
UNION ALL
SELECT 'values', json_agg(v ORDER BY g, f)
FROM (SELECT g, 1 AS f, json_build_object('record_id', 'rec_pb@R@-' || g, 'collection', 'c',
          'field', 'name', 'key_version', 1,
          'ct', md5(g::text) || md5((g + 7)::text) || left(md5((g + 9)::text), 8),
          'token', 'tok_pb@R@-' || g, 'bi', NULL) AS v
      FROM generate_series(1, $batch) g
      UNION ALL
      SELECT g, 2, json_build_object('record_id', 'rec_pb@R@-' || g, 'collection', 'c',
          'field', 'phone', 'key_version', 1,
          'ct', md5(g::text) || md5((g + 5)::text) || left(md5((g + 6)::text), 18),
          'token', 'tokd_pb@R@-' || g, 'bi', md5((g + 11)::text) || md5((g + 13)::text))
      FROM generate_series(1, $batch) g) x
UNION ALL
SELECT 'tokens', json_agg(v ORDER BY g, f)
FROM (SELECT g, 1 AS f, json_build_object('token', 'tok_pb@R@-' || g, 'record_id',
          'rec_pb@R@-' || g, 'collection', 'c', 'field', 'name', 'shared', false,
          'reserved', false) AS v
      FROM generate_series(1, $batch) g
      UNION ALL
      SELECT g, 2, json_build_object('token', 'tokd_pb@R@-' || g, 'record_id',
          'rec_pb@R@-' || g, 'collection', 'c', 'field', 'phone', 'shared', true,
          'reserved', false)
      FROM generate_series(1, $batch) g) x
UNION ALL
SELECT 'audit', json_agg(json_build_object('principal', 'bench-client', 'action', 'tokenize',
    'collection', 'c', 'fields', json_build_array('name', 'phone'), 'record_id',
    'rec_pb@R@-' || g, 'subject_id', 'pb@R@-' || g, 'purpose', NULL, 'redaction', NULL,
    'outcome', 'allowed', 'request_id', md5(g::text)) ORDER BY g)
FROM generate_series(1, $batch) g;
GRANT SELECT ON bench_tokens, bench_batches, bench_json TO custos_app;
-- the bare ceilings: a table shaped like tokens (its columns, its primary key), no foreign key,
-- no row-level security; rows 'b1'..'bN' for the SELECT by key
CREATE TABLE bench_bare (LIKE tokens INCLUDING DEFAULTS);
ALTER TABLE bench_bare ADD PRIMARY KEY (tenant_id, token, record_id, field);
INSERT INTO bench_bare (tenant_id, token, record_id, collection, field)
SELECT 'bench', 'b' || g, 'rec_' || md5(g::text), 'c', 'name' FROM generate_series(1, $seed_n) g;
VACUUM ANALYZE bench_bare;
GRANT SELECT, INSERT ON bench_bare TO custos_app;
SQL
n_bt=$(psql_admin -d custos_bench -tAc "SELECT count(*) FROM bench_tokens")
[ "$n_bt" -eq "$seed_n" ] || die "bench_tokens has $n_bt rows, expected $seed_n"
fi

# Every database run starts from the same state: the seeded records only, vacuumed, fresh
# statistics (as autovacuum would leave them). Runs add up to ~100k records each; without the
# reset a service run would meet bigger tables (and other plans) than the pgbench run before it.
reset_tables() {
    # the requests a run's load generator left in flight finish first (wrk stops sending at its
    # deadline; the server still commits what it has): no service backend busy twice in a row
    local quiet=0 n
    for _ in $(seq 1 120); do
        n=$(psql_admin -d custos_bench -tAc "SELECT count(*) FROM pg_stat_activity WHERE usename = 'custos_app' AND state <> 'idle'" 2>/dev/null || echo 1)
        if [ "$n" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
        [ "$quiet" -ge 2 ] && break
        sleep 0.25
    done
    local try
    for try in 1 2 3; do
        psql_admin -d custos_bench \
            -c "DELETE FROM records r WHERE tenant_id = 'bench' AND NOT EXISTS (SELECT 1 FROM bench_seed_records s WHERE s.id = r.id)" \
            -c "DELETE FROM subject_keys WHERE tenant_id = 'bench' AND subject_id NOT LIKE 'seed-%'" \
            -c "DELETE FROM token_names n WHERE tenant_id = 'bench' AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.tenant_id = n.tenant_id AND t.token = n.token)" \
            -c "DELETE FROM bench_bare WHERE token LIKE 'tok_b%'" \
            -c "VACUUM ANALYZE subject_keys, records, record_values, tokens, token_names, bench_bare" >/dev/null 2>"$work/reset.err" &&
            return 0
        sleep 1
    done
    cat "$work/reset.err" >&2
    die "could not reset the tables"
}
[ "$only" = trickle ] || reset_tables

# Plan check at the seeded size: the plans a service connection settles on (after the first
# executions of a prepared statement) for the key-use UPDATE of tokenize and for detokenize.
plan_check() {
    local tok1 out=$results/plans.txt
    tok1=$(head -n 1 "$work/tokens.txt")
    psql -X -q -h "$sock" -p "$pg_port" -U custos_app -d custos_bench >"$out" 2>&1 <<SQL || true
BEGIN;
SET LOCAL custos.tenant = 'bench';
SET LOCAL custos.platform = 'off';
PREPARE sk_use_batch(text, text) AS UPDATE subject_keys k SET encryptions = k.encryptions + x.n FROM (SELECT j.subject_id, sum(j.n)::bigint AS n FROM json_to_recordset(\$2::json) AS j(subject_id text, n bigint) GROUP BY j.subject_id) x WHERE k.tenant_id = \$1 AND k.subject_id = x.subject_id AND k.subject_id = ANY (ARRAY(SELECT json_array_elements(\$2::json) ->> 'subject_id')) AND k.version = (SELECT max(m.version) FROM subject_keys m WHERE m.tenant_id = \$1 AND m.subject_id = x.subject_id) RETURNING k.subject_id, k.version, k.kek_version, k.wrapped, k.encryptions;
PREPARE detokenize(text, text) AS SELECT t.token, t.collection, t.field, t.record_id, r.subject_id, CASE WHEN t.revoked THEN 'revoked' WHEN r.deleted_at IS NOT NULL THEN 'deleted' WHEN v.ciphertext IS NULL OR sk.wrapped IS NULL THEN 'erased' ELSE 'live' END, coalesce(v.key_version, 0), v.ciphertext, coalesce(sk.kek_version, 0), sk.wrapped, coalesce(c.fields -> t.field ->> 'type', ''), (SELECT incarnation FROM tenants WHERE tenant_id = \$1) FROM tokens t CROSS JOIN LATERAL (SELECT rr.subject_id, rr.deleted_at, rr.created_at FROM records rr WHERE rr.tenant_id = \$1 AND rr.id = t.record_id LIMIT 1) r LEFT JOIN record_values v ON v.tenant_id = \$1 AND v.record_id = t.record_id AND v.field = t.field AND NOT t.revoked LEFT JOIN subject_keys sk ON sk.tenant_id = \$1 AND sk.subject_id = r.subject_id AND sk.version = v.key_version LEFT JOIN collections c ON c.tenant_id = \$1 AND c.name = t.collection WHERE t.tenant_id = \$1 AND t.token = ANY (ARRAY(SELECT json_array_elements_text(\$2::json))) ORDER BY t.token COLLATE "C", (NOT t.revoked AND r.deleted_at IS NULL AND sk.wrapped IS NOT NULL) DESC, r.created_at;
\\o /dev/null
$(for i in 1 2 3 4 5 6 7; do
    echo "EXECUTE sk_use_batch('bench', '[{\"subject_id\":\"plan-check-$i\",\"n\":2}]');"
    echo "EXECUTE detokenize('bench', '[\"$tok1\"]');"
done)
\\o
\\echo == sk_use_batch (UPDATE subject_keys of tokenize), subject without a key
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE sk_use_batch('bench', '[{"subject_id":"plan-check-x","n":2}]');
\\echo == detokenize, one seeded token
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE detokenize('bench', '["$tok1"]');
ROLLBACK;
SQL
    # one line per statement: its scans of whole tables and its execution time
    awk '/^== / {name = $2; sub(/,$/, "", name); next}
         /Seq Scan on/ {for (i = 1; i <= NF; i++) if ($i == "on") seq[name] = seq[name] " " $(i + 1)}
         /Execution Time:/ {t[name] = $3}
         END {for (n in t) printf "%s: %s ms%s\n", n, t[n], (seq[n] != "" ? ", Seq Scan on" seq[n] : ", index scans only")}' "$out" | sort
}
plan_note=
[ "$only" = trickle ] || plan_note=$(plan_check)

if [ -n "${BENCH_HOLD:-}" ]; then # development: keep the environment up for a look, then clean up
    echo "$jwt" >"$work/jwt"
    say "bench.sh: holding ${BENCH_HOLD}s: psql '$admin_url'; service $api; JWT in $work/jwt"
    sleep "$BENCH_HOLD"
    exit 0
fi

# ---- measurement helpers ----
declare -A RPS P50 P99 ERRS NREQ CPU_ALL CPU_CLI CPU_SRV CPU_PG RSSM REUSED
to_ms() { # "44.00us" | "1.41ms" | "1.02s" | "2.00m" -> ms
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "nan" }'
}
# CPU of this run's PostgreSQL: the postmaster's own and its reaped children's (cutime + cstime:
# backends that exited), plus every live child's; other processes of a shared machine excluded
pg_ticks() {
    local pm t=0 c
    pm=$(head -n 1 "$work/pg/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
    [ -r "/proc/$pm/stat" ] || { echo 0; return; }
    t=$(sed -E 's/^.*\) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}')
    for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
        t=$(( t + $(proc_ticks "$c") ))
    done
    echo "$t"
}
cpu_begin() { # target pid (may be empty)
    children_ticks >"$work/ticks"; _c0=$(cat "$work/ticks")
    _m0=$(machine_ticks); _s0=$(proc_ticks "$1"); _spid=$1; _p0=$(pg_ticks)
}
cpu_end() { # name
    local m1 c1 s1 n=${NREQ[$1]:-0}
    m1=$(machine_ticks); s1=$(proc_ticks "$_spid"); children_ticks >"$work/ticks"; c1=$(cat "$work/ticks")
    local p1
    p1=$(pg_ticks)
    if [ "$n" -gt 0 ]; then
        CPU_ALL[$1]=$(awk -v d=$((m1 - _m0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.0f", d / hz * 1e6 / n}')
        CPU_CLI[$1]=$(awk -v d=$((c1 - _c0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.0f", d / hz * 1e6 / n}')
        CPU_SRV[$1]=$(awk -v d=$((s1 - _s0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.0f", d / hz * 1e6 / n}')
        CPU_PG[$1]=$(awk -v d=$((p1 - _p0)) -v n="$n" -v hz="$hz" 'BEGIN {printf "%.0f", d / hz * 1e6 / n}')
    fi
}

# wrk_run NAME URL CONNS DURATION [LUA] [PID whose CPU is counted as the server's]
wrk_run() {
    local name=$1 url=$2 c=$3 d=$4 script=${5:-} pid=${6:-} out=$results/wrk-$1.txt t=2
    [ "$c" -lt 2 ] && t=1
    # a slow answer is a latency, not a failure: wrk's default 2 s timeout counted the 100-record
    # tokenizes of a loaded machine as socket errors (and left them out of p99)
    local args=(-t"$t" -c"$c" -d"${d}s" --latency --timeout "${BENCH_WRK_TIMEOUT:-10}s")
    [ -n "$script" ] && args+=(-s "$lua/$script.lua")
    say "  wrk $name: -t$t -c$c -d${d}s ${script:+-s $script.lua} $url"
    cpu_begin "$pid"
    BENCH_WRK_THREADS=$t wrk "${args[@]}" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk $name failed"; }
    wrk_parse "$name" "$out"
    cpu_end "$name"
    REUSED[$name]=$(awk '$1 == "jwt_reused:" {print $2}' "$out")
    [ -n "$pid" ] && RSSM[$name]=$(awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null)
    return 0
}
# wrk_parse NAME FILE: RPS, P50, P99 (ms), NREQ and ERRS (non-2xx + socket errors) of a wrk output
wrk_parse() {
    local name=$1 out=$2 rps p50 p99 non2xx sockerr total
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    total=$(awk '/requests in/ {print $1}' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    sockerr=$(awk '/Socket errors:/ {gsub(/[^0-9 ]/, " "); s = 0; for (i = 1; i <= NF; i++) s += $i; print s}' "$out")
    [ -n "$rps" ] && [ -n "$total" ] || { cat "$out" >&2; die "could not read the output of wrk $name"; }
    RPS[$name]=$rps; P50[$name]=$p50; P99[$name]=$p99; NREQ[$name]=$total
    ERRS[$name]=$(( ${non2xx:-0} + ${sockerr:-0} ))
}

# pgb_run NAME SCRIPT CONNS DURATION
pgb_run() {
    local name=$1 script=$2 c=$3 d=$4 out=$results/pgbench-$1.txt j=2
    [ "$c" -lt 2 ] && j=1
    local logdir=$work/pgblog/$name
    mkdir -p "$logdir"
    say "  pgbench $name: -M prepared -c$c -j$j -T$d -f $script.sql"
    cpu_begin ""
    (cd "$logdir" && pgbench -n -M prepared -h "$sock" -p "$pg_port" -U custos_app -d custos_bench \
        -D tenant=bench -D ntokens="$seed_n" -D nbatches="$nbatches" \
        -D ratelimit="$CUSTOS_RATE_TOKENIZE" -D ratewindow="$((CUSTOS_RATE_TOKENIZE_WINDOW * 1000))" \
        -f "$sqldir/$script.sql" -c "$c" -j "$j" -T "$d" -l --log-prefix=tx) >"$out" 2>&1 ||
        { cat "$out" >&2; die "pgbench $name failed"; }
    local tps done failed
    tps=$(awk '/^tps = / {print $3; exit}' "$out")
    done=$(awk '/number of transactions actually processed:/ {print $NF}' "$out")
    failed=$(awk '/number of failed transactions:/ {print $5}' "$out")
    [ -n "$tps" ] && [ -n "$done" ] || { cat "$out" >&2; die "could not read the output of pgbench $name"; }
    RPS[$name]=$tps; NREQ[$name]=$done; ERRS[$name]=${failed:-0}
    # per-transaction log: field 3 is the latency in µs
    read -r P50[$name] P99[$name] < <(cat "$logdir"/tx.* | awk '{print $3}' | sort -n |
        awk '{v[NR] = $1} END {
            if (NR == 0) { print "nan nan"; exit }
            i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
            i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
            printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
    cpu_end "$name"
    rm -rf "$logdir"
}

# ---- profile (issue 9 item 5) ----
# run_profile SERVER_PID: detokenize 1 and tokenize 1 (new subjects) at 32 connections over HTTPS,
# each a run of its own (not one of the measured ones) under `perf record -g` of the whole machine
# (cpu-clock: a VM has no hardware counters); the top symbols of the server process, of the
# PostgreSQL backends and of the kernel in them go to $results/profile.txt. Where perf cannot
# record (perf_event_paranoid, a container without perf events) or BENCH_PROFILE=callgrind: the
# server alone under valgrind --tool=callgrind for a short run of each. BENCH_PROFILE=0: none.
run_profile() {
    local spid=$1 mode=${BENCH_PROFILE:-perf} out=$results/profile.txt why=""
    local pdur=$([ "$quick" = 1 ] && echo 3 || echo 6)
    [ "$mode" = 0 ] && { echo "Profile: skipped (BENCH_PROFILE=0)" >"$out"; return 0; }
    if [ "$mode" = perf ]; then
        if ! command -v perf >/dev/null; then
            why="perf is not installed"
        elif ! perf record -q -e cpu-clock -a -o "$work/perf-probe.data" -- sleep 0.1 >"$work/perf-probe.log" 2>&1; then
            why="perf record failed here: $(head -n 1 "$work/perf-probe.log") (kernel.perf_event_paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null))"
        fi
        [ -n "$why" ] && mode=callgrind
    fi
    {
        echo "Profile (issue 9 item 5): where the time goes, detokenize 1 and tokenize 1 (new subjects) at c=$conns over HTTPS + RS256"
        [ -n "$why" ] && echo "  perf cannot run here: $why; valgrind --tool=callgrind on the server instead"
    } >"$out"
    local op script path # not "lua": wrk_run reads the global $lua (the scripts' directory)
    for op in det1 tok1; do
        if [ "$op" = det1 ]; then script=detokenize; path=/v1/detokenize; else script=tokenize; path=/v1/collections/c/records; fi
        reset_tables
        if [ "$mode" = perf ]; then
            local data=$results/perf-$op.data
            say "  perf record -g -a (${pdur}s) during $script c=$conns"
            perf record -q -e cpu-clock -F 997 -g -a -o "$data" -- sleep "$pdur" >"$results/perf-$op.log" 2>&1 &
            local ppid=$!
            BENCH_JWT_FILE=$work/jwt-warm.txt wrk_run prof_${op}_c32 "$api$path" "$conns" "$pdur" "$script" "$spid"
            wait "$ppid" || { echo "  perf record failed: $(tail -n 1 "$results/perf-$op.log")" >>"$out"; continue; }
            perf_summary "$op" "$data" "$spid" >>"$out"
        else
            callgrind_run "$op" "$script" "$path" >>"$out"
        fi
    done
}
# perf_summary OP DATA SERVER_PID: shares per process, then the top self symbols of the server and
# of the PostgreSQL backends (percent of that process's samples)
perf_summary() {
    local op=$1 data=$2 spid=$3 rep=$results/perf-$1-report
    perf report -i "$data" --stdio --no-children --sort comm -g none --percent-limit 1 2>/dev/null |
        grep -E '^ +[0-9.]+%' >"$rep-comm.txt" || true
    perf report -i "$data" --stdio --no-children --percentage relative --pid "$spid" --sort dso,sym -g none --percent-limit 0.8 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 14 >"$rep-server.txt" || true
    perf report -i "$data" --stdio --no-children --percentage relative --comm postgres --sort dso,sym -g none --percent-limit 0.8 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 14 >"$rep-postgres.txt" || true
    # by library: summed from every symbol (perf's own --sort dso leaves libc and the kernel out here)
    perf report -i "$data" --stdio --no-children --percentage relative --pid "$spid" --sort dso,sym -g none 2>/dev/null |
        awk '/^ +[0-9.]+%/ {v = $1; sub(/%/, "", v); d[$2] += v}
             END {for (k in d) if (d[k] >= 1) printf "%7.2f%% %s\n", d[k], k}' | sort -rn | head -n 8 >"$rep-server-dso.txt" || true
    local label=$([ "$op" = det1 ] && echo "detokenize 1" || echo "tokenize 1")
    echo "  == $label c=$conns: ${RPS[prof_${op}_c32]%.*} req/s under perf (${ERRS[prof_${op}_c32]} failed); samples by thread name (% of all samples of the machine; MHD-worker and custos are the server):"
    awk '{printf "     %s %s", $1, $2; n++; if (n % 6 == 0) printf "\n"} END {if (n % 6) printf "\n"}' "$rep-comm.txt"
    echo "     the server process by library: $(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}' "$rep-server-dso.txt")"
    echo "     top symbols of the server process (% of its samples):"
    sed -E 's/^ +/       /; s/ +/ /g' "$rep-server.txt"
    echo "     top symbols of the PostgreSQL backends (% of their samples):"
    sed -E 's/^ +/       /; s/ +/ /g' "$rep-postgres.txt"
}
# callgrind_run OP LUA PATH: a second HTTPS server under callgrind on another port, c=8 for a short
# run, callgrind_annotate's top functions
callgrind_run() {
    local op=$1 script=$2 path=$3 cport=$(( api_port + 3 )) cg=$results/callgrind-$1.out cpid
    command -v valgrind >/dev/null || { echo "  callgrind: valgrind is not installed"; return 0; }
    CUSTOS_LISTEN=127.0.0.1:$cport CUSTOS_TLS_CERT_FILE=$work/secrets/tls.crt CUSTOS_TLS_KEY_FILE=$work/secrets/tls.key \
        CUSTOS_JWKS_FILE=$work/idp/jwks.json CUSTOS_HTTP_MODE=epoll \
        valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$cg" "$bin" serve >>"$results/callgrind.log" 2>&1 &
    cpid=$!
    local up=0
    for _ in $(seq 1 300); do
        curl -fsSk "https://127.0.0.1:$cport/healthz" >/dev/null 2>&1 && { up=1; break; }
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.2
    done
    [ "$up" = 1 ] || { kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null; echo "  callgrind: the server did not start under valgrind"; return 0; }
    # the start-up (key derivation, JWKS, pool) is left out: instrumentation from here on
    callgrind_control -i on "$cpid" >/dev/null 2>&1 || echo "  callgrind: could not switch instrumentation on: the start-up is counted too"
    BENCH_JWT_FILE=$work/jwt-warm.txt wrk_run prof_${op}_cg "https://127.0.0.1:$cport$path" 8 5 "$script" "$cpid"
    kill -TERM "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null || true
    echo "  == $([ "$op" = det1 ] && echo "detokenize 1" || echo "tokenize 1") under callgrind, c=8, 5 s (${RPS[prof_${op}_cg]%.*} req/s under valgrind, the server only): top functions by instructions"
    { callgrind_annotate "$cg" 2>/dev/null || true; } | grep -E '^ *[0-9,]+ \(' | head -n 15 | sed 's/^/     /' || true
}

# ---- slow-header clients (issue 14 item 4) ----
# A fresh server; wrk probes from 127.0.0.1 alone, then while tests/bench/trickle.py holds
# BENCH_TRICKLE_N header tricklers and BENCH_TRICKLE_BODIES body tricklers open from one other
# address (reopening each one the server cuts), then the tricklers stop reopening and every
# connection must have been cut within the header deadline + the margin. Writes the section to
# $results/trickle.txt.
run_trickle() {
    local n=${BENCH_TRICKLE_N:-126} nb=${BENCH_TRICKLE_BODIES:-2} src=${BENCH_TRICKLE_ADDR:-127.0.0.2}
    local pdur=${BENCH_TRICKLE_DURATION:-$([ "$quick" = 1 ] && echo 12 || echo 15)}
    local bdur=$([ "$quick" = 1 ] && echo 3 || echo 5)
    local margin=${BENCH_TRICKLE_MARGIN:-3} deadline=${CUSTOS_HEADER_TIMEOUT:-10}
    local kv=$results/trickle-clients.txt out=$results/trickle.txt
    stop_server
    start_server epoll
    curl -fsS --interface "$src" "$api/healthz" >/dev/null 2>&1 ||
        die "the service does not answer a client at $src (BENCH_TRICKLE_ADDR)"
    echo "$jwt" >"$work/jwt-trickle"
    # probe TAG SECONDS: GET /healthz at c=2 and detokenize 1 at c=1 side by side
    trickle_probe() {
        local tag=$1 d=$2 a=(--latency --timeout "${BENCH_WRK_TIMEOUT:-10}s") p1 p2
        say "  wrk trickle_${tag}: -t1 -c2 -d${d}s $api/healthz and -t1 -c1 -d${d}s -s detokenize.lua"
        wrk -t1 -c2 -d"${d}s" "${a[@]}" "$api/healthz" >"$results/wrk-trickle_${tag}_healthz.txt" 2>&1 &
        p1=$!
        wrk -t1 -c1 -d"${d}s" "${a[@]}" -s "$lua/detokenize.lua" "$api/v1/detokenize" \
            >"$results/wrk-trickle_${tag}_detok.txt" 2>&1 &
        p2=$!
        wait "$p1" || { kill "$p2" 2>/dev/null; cat "$results/wrk-trickle_${tag}_healthz.txt" >&2; die "wrk trickle_${tag}_healthz failed"; }
        wait "$p2" || { cat "$results/wrk-trickle_${tag}_detok.txt" >&2; die "wrk trickle_${tag}_detok failed"; }
        wrk_parse "trickle_${tag}_healthz" "$results/wrk-trickle_${tag}_healthz.txt"
        wrk_parse "trickle_${tag}_detok" "$results/wrk-trickle_${tag}_detok.txt"
    }
    trickle_probe alone "$bdur"
    say "bench.sh: slow-header clients: $n header and $nb body tricklers from $src"
    rm -f "$work/trickle.ready"
    python3 tests/bench/trickle.py --host 127.0.0.1 --port "$api_port" --source "$src" \
        --headers "$n" --bodies "$nb" --interval 5 --body-rate 10 --deadline "$deadline" \
        --margin "$margin" --auth-file "$work/jwt-trickle" --ready "$work/trickle.ready" \
        --max-seconds $((pdur + 120)) >"$kv" 2>"$results/trickle-clients.err" &
    trickle_pid=$!
    for _ in $(seq 1 300); do
        [ -s "$work/trickle.ready" ] && break
        kill -0 "$trickle_pid" 2>/dev/null || { cat "$results/trickle-clients.err" >&2; die "trickle.py exited early"; }
        sleep 0.1
    done
    [ -s "$work/trickle.ready" ] || die "trickle.py did not open its connections in 30 s"
    local t_ready
    t_ready=$(date +%s.%N)
    sleep 1
    trickle_probe load "$pdur"
    local t_probe_end
    t_probe_end=$(date +%s.%N)
    kill -USR1 "$trickle_pid"
    say "bench.sh: the tricklers stop reopening; waiting for the server to cut the last ones"
    wait "$trickle_pid" || { cat "$results/trickle-clients.err" >&2; trickle_pid=; die "trickle.py failed"; }
    trickle_pid=
    declare -A T
    local k v
    while IFS='=' read -r k v; do T[$k]=$v; done <"$kv"
    [ -n "${T[opened]:-}" ] || { cat "$kv" "$results/trickle-clients.err" >&2; die "no summary from trickle.py"; }
    # the server still answers, the probe's address and the trickling one alike
    local code_local code_src
    code_local=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$api/healthz" 2>/dev/null) || true
    code_src=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --interface "$src" "$api/healthz" 2>/dev/null) || true
    curl -fsS "$api/metrics" >"$results/metrics-trickle.txt" 2>/dev/null || true
    local cut_h cut_b
    cut_h=$(awk '$1 == "custos_http_slow_headers_cut_total" {print $2}' "$results/metrics-trickle.txt")
    cut_b=$(awk '$1 == "custos_http_slow_body_cut_total" {print $2}' "$results/metrics-trickle.txt")
    stop_server
    local verdict_h verdict_d verdict_c verdict_a
    trickle_verdict() { # p99 errors
        awk -v p="$1" -v e="$2" 'BEGIN {exit !(p < 1000 && e == 0)}' && echo met || echo "NOT met"
    }
    verdict_h=$(trickle_verdict "${P99[trickle_load_healthz]}" "${ERRS[trickle_load_healthz]}")
    verdict_d=$(trickle_verdict "${P99[trickle_load_detok]}" "${ERRS[trickle_load_detok]}")
    verdict_c="NOT met"
    [ "${T[still_open]}" = 0 ] && [ "${T[late]}" = 0 ] && [ "${T[connect_failed]}" = 0 ] &&
        [ "${T[cut]}" -gt 0 ] && verdict_c=met
    verdict_a="NOT met"
    [ "$code_local" = 200 ] && [ "$code_src" = 200 ] && verdict_a=met
    {
        echo "Slow-header clients (issue 14 item 4; tests/bench/trickle.py), $(date -u +%Y-%m-%dT%H:%M:%SZ):"
        echo "  tricklers from $src: $n send a request line, then a header line every 5 s; $nb send an authenticated"
        echo "  POST with Content-Length 100000, then 10 body bytes/s; each connection the server cuts is reopened"
        echo "  while the probes run. Service: epoll, CUSTOS_HEADER_TIMEOUT=${deadline} s, CUSTOS_BODY_MIN_RATE=${CUSTOS_BODY_MIN_RATE:-1024} B/s,"
        echo "  CUSTOS_PER_IP_CONNECTIONS=${CUSTOS_PER_IP_CONNECTIONS:-128}. Probes from 127.0.0.1: wrk -t1 -c2 GET /healthz and wrk -t1 -c1"
        echo "  detokenize 1 (HS256 JWT), side by side, ${bdur} s alone, then ${pdur} s with the tricklers."
        printf '  %-34s %9s %9s %9s %9s %7s\n' "probe" "req/s" "p50 ms" "p99 ms" "max ms" "errors"
        local tag what
        for tag in alone load; do
            for what in healthz detok; do
                local key=trickle_${tag}_${what} label mx
                label="$([ "$what" = healthz ] && echo "GET /healthz c=2" || echo "detokenize 1 c=1"), $([ "$tag" = alone ] && echo "alone" || echo "tricklers")"
                mx=$(to_ms "$(awk '$1 == "Latency" {print $4; exit}' "$results/wrk-$key.txt")")
                printf '  %-34s %9.0f %9.3f %9.3f %9.3f %7s\n' "$label" "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "$mx" "${ERRS[$key]}"
            done
        done
        printf 'probe p99 under trickling clients: %.1f ms < 1000 ms %s\n' "${P99[trickle_load_healthz]}" "$verdict_h"
        printf 'authenticated read (detokenize 1) p99 under trickling clients: %.1f ms < 1000 ms %s\n' "${P99[trickle_load_detok]}" "$verdict_d"
        [ "${ERRS[trickle_load_healthz]}${ERRS[trickle_load_detok]}" = 00 ] ||
            echo "  (failed probe requests count as NOT met: ${ERRS[trickle_load_healthz]} /healthz, ${ERRS[trickle_load_detok]} detokenize)"
        printf 'trickling connections closed by the server within %s + %s s: %s of %s %s\n' \
            "$deadline" "$margin" "$(( T[cut] - T[late] + T[early] ))" "${T[opened]}" "$verdict_c"
        echo "  opened ${T[opened]} (${T[opened_headers]} trickling headers, ${T[opened_bodies]} a body; $n + $nb at the start, the rest reopened);"
        echo "  cut at the deadline ${T[cut]} (lifetime min ${T[life_min]} s, median ${T[life_p50]} s, max ${T[life_max]} s), of them past ${T[bound]} s: ${T[late]};"
        echo "  closed at once, before the deadline (refused, e.g. at the per-address limit): ${T[early]}; connect failures: ${T[connect_failed]};"
        echo "  still open at the end: ${T[still_open]}; answered before the close: ${T[answers]}"
        echo "  server counters: custos_http_slow_headers_cut_total ${cut_h:-0}, custos_http_slow_body_cut_total ${cut_b:-0}"
        echo "server still answers after the tricklers: /healthz from 127.0.0.1 ${code_local:-none}, from $src ${code_src:-none} $verdict_a"
        echo "  (tricklers ran $(awk -v s="${T[seconds]}" 'BEGIN {printf "%.0f", s}') s in all: $(awk -v a="$t_ready" -v b="$t_probe_end" 'BEGIN {printf "%.0f", b - a}') s under probe, the rest draining)"
    } >"$out"
}

if [ "$only" = trickle ]; then
    run_trickle
    echo
    echo "== slow-header clients"
    cat "$results/trickle.txt"
    exit 0
fi

say "bench.sh: measuring (${dur}s per run at 8 and 32 connections, ${dur1}s at 1 connection)"
hello=http://127.0.0.1:$trivial_port/hello

# the RS256 JWTs (an identity provider made by mkidp, its JWKS given to the HTTPS service): one
# for the warm-cache runs, and for each cold-cache run its own file with more JWTs than its
# requests (3000 a second of the run; the report counts any reused), minted before any
# measurement so that the minting takes no CPU from one
"$mkidp" "$work/idp" >/dev/null || die "mkidp failed"
scope="tenant:admin records:write records:search detokenize:*.*:plain"
"$mkjwt" "$work/idp" "$CUSTOS_JWT_ISSUER" "$CUSTOS_JWT_AUDIENCE" bench "$scope" 1 >"$work/jwt-warm.txt" ||
    die "mkjwt failed"
n_cold=${BENCH_COLD_JWTS:-$(( dur * 3000 ))}
say "bench.sh: minting 2 x $n_cold RS256 JWTs for the cold-cache runs"
"$mkjwt" "$work/idp" "$CUSTOS_JWT_ISSUER" "$CUSTOS_JWT_AUDIENCE" bench "$scope" "$n_cold" >"$work/jwt-cold-det.txt" &
mint_det=$!
"$mkjwt" "$work/idp" "$CUSTOS_JWT_ISSUER" "$CUSTOS_JWT_AUDIENCE" bench "$scope" "$n_cold" >"$work/jwt-cold-tok.txt" &
mint_tok=$!
wait "$mint_det" && wait "$mint_tok" || die "mkjwt (cold JWTs) failed"

# ---- HTTP ceilings: the trivial MHD handler over the service's TLS (the headline's), and plain ----
stop_server
start_trivial epoll tls
for c in 1 8 32; do
    wrk_run trivial_tls_c$c "https://127.0.0.1:$trivial_port/hello" "$c" "$(dur_of "$c")" "" "$trivial_pid"
done
stop_trivial
start_trivial epoll
wrk_run trivial_epoll_c32 "$hello" "$conns" "$dur" "" "$trivial_pid"
wrk_run trivial_epoll_c1 "$hello" 1 "$dur1" "" "$trivial_pid"
if [ "$quick" != 1 ]; then
    wrk_run trivial_echo_c32 "http://127.0.0.1:$trivial_port/echo" "$conns" "$dur" post_echo "$trivial_pid"
    stop_trivial
    start_trivial threads
    wrk_run trivial_threads_c32 "$hello" "$conns" "$dur" "" "$trivial_pid"
    wrk_run trivial_threads_c1 "$hello" 1 "$dur1" "" "$trivial_pid"
fi
stop_trivial

# ---- bare database ceilings at 1, 8 and 32 connections: one index probe, one durable
# single-row INSERT, one 100-row INSERT ----
for c in 1 8 32; do
    reset_tables; pgb_run pg_bare_select_c$c bare_select "$c" "$(dur_of "$c")"
    reset_tables; pgb_run pg_bare_insert_c$c bare_insert "$c" "$(dur_of "$c")"
    reset_tables; pgb_run pg_bare_insert100_c$c bare_insert_batch "$c" "$(dur_of "$c")"
done

# ---- diagnostics: pgbench running the service's own SQL (tests/bench/sql/), and the service
# over plain HTTP against the plain trivial handler ----
for s in tokenize tokenize_batch detokenize detokenize_batch; do
    reset_tables; pgb_run pg_${s}_c32 "$s" "$conns" "$dur"
    reset_tables; pgb_run pg_${s}_c1 "$s" 1 "$dur1"
done
start_server epoll
wrk_run svc_healthz_c32 "$api/healthz" "$conns" "$dur" "" "$server_pid"
wrk_run svc_healthz_c1 "$api/healthz" 1 "$dur1" "" "$server_pid"
stop_server
if [ "$quick" != 1 ]; then
    start_server threads
    wrk_run svc_threads_healthz_c32 "$api/healthz" "$conns" "$dur" "" "$server_pid"
    wrk_run svc_threads_healthz_c1 "$api/healthz" 1 "$dur1" "" "$server_pid"
    stop_server
fi

# ---- the service over HTTPS with RS256 JWTs from a JWKS (the headline) ----
api_plain=$api
api=https://127.0.0.1:$api_port
# 256 connections from one address in the soak: the per-address limit (default 128) would cut
# half of them; everything else is the service's default configuration (the trickle run after
# this one keeps the default)
CUSTOS_PER_IP_CONNECTIONS=${CUSTOS_PER_IP_CONNECTIONS:-1024} start_tls_server
curl -fsSk -X POST -H "Authorization: Bearer $(cat "$work/jwt-warm.txt")" -H 'Content-Type: application/json' \
    -H 'X-Purpose: support' --data-binary "{\"tokens\":[\"$tok1\"]}" "$api/v1/detokenize" | grep -q '"value"' ||
    die "an RS256 detokenize over HTTPS failed"
rec1=$(head -n 1 "$work/records.txt")
curl -fsSk -H "Authorization: Bearer $(cat "$work/jwt-warm.txt")" -H 'X-Purpose: support' \
    "$api/v1/collections/c/records/$rec1" | grep -q 'Seed Person 0' || die "an RS256 record read over HTTPS failed"
curl -fsSk -X POST -H "Authorization: Bearer $(cat "$work/jwt-warm.txt")" -H 'Content-Type: application/json' \
    --data-binary '{"field":"phone","value":"+15550000000"}' "$api/v1/collections/c/search" | grep -q "$rec1" ||
    die "an RS256 search over HTTPS did not find the seeded record"
curl -fsSk -X POST -H "Authorization: Bearer $(cat "$work/jwt-warm.txt")" -H 'Content-Type: application/json' \
    --data-binary '{"records":[{"subject_id":"seed-1","fields":{"name":"Probe Known","phone":"+15559990002"}}]}' \
    "$api/v1/collections/c/records" | grep -q '"id":"rec_' || die "an RS256 tokenize for a known subject failed"

for c in 1 8 32; do
    BENCH_JWT_FILE=$work/jwt-warm.txt wrk_run tls_healthz_c$c "$api/healthz" "$c" "$(dur_of "$c")" "" "$server_pid"
done
# operation: wrk script, URL path, BENCH_SUBJECTS, reset the tables before each run
ops=(tok1_new tok1_known tok100_new tok100_known det1 det100 search read)
declare -A OP_LUA=([tok1_new]=tokenize [tok1_known]=tokenize [tok100_new]=tokenize_batch
    [tok100_known]=tokenize_batch [det1]=detokenize [det100]=detokenize_batch [search]=search
    [read]=record_read)
declare -A OP_PATH=([tok1_new]=/v1/collections/c/records [tok1_known]=/v1/collections/c/records
    [tok100_new]=/v1/collections/c/records [tok100_known]=/v1/collections/c/records
    [det1]=/v1/detokenize [det100]=/v1/detokenize [search]=/v1/collections/c/search [read]=/)
for op in "${ops[@]}"; do
    subj=new
    case "$op" in *_known) subj=known ;; esac
    for c in 1 8 32; do
        # the writes, and the first read after them, start from the seeded tables
        case "$op" in tok*) reset_tables ;; det1) [ "$c" = 1 ] && reset_tables ;; esac
        BENCH_SUBJECTS=$subj BENCH_JWT_FILE=$work/jwt-warm.txt \
            wrk_run tls_${op}_c$c "$api${OP_PATH[$op]}" "$c" "$(dur_of "$c")" "${OP_LUA[$op]}" "$server_pid"
    done
done
curl -fsSk "$api/metrics" >"$results/metrics-tls.txt" 2>/dev/null || true

# cold token cache: every request a JWT the server has not verified (its own sub and jti)
reset_tables
BENCH_JWT_FILE=$work/jwt-cold-det.txt wrk_run tls_det1_cold_c32 "$api/v1/detokenize" "$conns" "$dur" detokenize "$server_pid"
BENCH_JWT_FILE=$work/jwt-cold-tok.txt wrk_run tls_tok1_cold_c32 "$api/v1/collections/c/records" "$conns" "$dur" tokenize "$server_pid"

# ---- 256 connections under load, and the soak: the mix (detokenize 1, record read, search,
# tokenize 1) at 256 connections for BENCH_SOAK seconds, RSS sampled ----
reset_tables
rss_of() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_idle_before=$(rss_of "$server_pid")
soak_iv=$(( soak / 20 )); [ "$soak_iv" -lt 1 ] && soak_iv=1
: >"$results/soak-rss.txt"
( t0=$(date +%s)
  while kill -0 "$server_pid" 2>/dev/null; do
      sleep "$soak_iv"
      [ -e "$work/soak.done" ] && break
      printf '%s %s\n' "$(( $(date +%s) - t0 ))" "$(rss_of "$server_pid")" >>"$results/soak-rss.txt"
  done ) &
sampler=$!
say "bench.sh: soak: 256 connections, the mix, ${soak}s, RSS every ${soak_iv}s"
BENCH_JWT_FILE=$work/jwt-warm.txt BENCH_WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-30} \
    wrk_run tls_soak_c256 "$api/" 256 "$soak" mix "$server_pid"
touch "$work/soak.done"; wait "$sampler" 2>/dev/null || true
rss_hwm=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null || echo 0)
sleep 2
rss_idle_after=$(rss_of "$server_pid")

# ---- profile (issue 9 item 5): where the time goes in detokenize 1 and tokenize 1 at c=32 ----
prof_note=
run_profile "$server_pid"
stop_server
api=$api_plain

# ---- slow-header clients against a fresh server (plain HTTP) ----
run_trickle

psql_admin -d custos_bench -tAc "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname IN ('records', 'record_values', 'tokens', 'audit_log', 'subject_keys') ORDER BY 1" \
    >"$results/table-rows.txt" 2>/dev/null || true
cp "$work/pg/postgres.log" "$results/postgres.log" 2>/dev/null || true

# ---- report ----
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }
# headline rows: operation label, items per request, bare ceiling run prefix and label, the
# ceiling's items per transaction, ratio target at 32 connections (- none), single item (p99 target)
declare -A H_LABEL=([tok1_new]="tokenize 1 record, new subject" [tok1_known]="tokenize 1 record, known subject"
    [tok100_new]="tokenize 100 records, new subjects" [tok100_known]="tokenize 100 records, known subjects"
    [det1]="detokenize 1 token" [det100]="detokenize 100 tokens" [search]="search (phone, blind index)"
    [read]="record read (2 fields, X-Purpose)" [healthz]="GET /healthz (HTTP+TLS only)")
declare -A H_ITEMS=([tok1_new]=1 [tok1_known]=1 [tok100_new]=100 [tok100_known]=100 [det1]=1 [det100]=100
    [search]=1 [read]=1 [healthz]=1)
declare -A H_CEIL=([tok1_new]=pg_bare_insert [tok1_known]=pg_bare_insert [tok100_new]=pg_bare_insert100
    [tok100_known]=pg_bare_insert100 [det1]=pg_bare_select [det100]=pg_bare_select [search]=pg_bare_select
    [read]=pg_bare_select [healthz]=trivial_tls)
declare -A H_CEIL_ITEMS=([pg_bare_insert]=1 [pg_bare_insert100]=100 [pg_bare_select]=1 [trivial_tls]=1)
declare -A H_CEIL_LABEL=([pg_bare_insert]="1-row INSERT, durable" [pg_bare_insert100]="100-row INSERT (rows/s)"
    [pg_bare_select]="SELECT by primary key" [trivial_tls]="trivial MHD over TLS")
declare -A H_TARGET=([tok1_new]=1.0 [tok1_known]=1.0 [tok100_new]=0.7 [tok100_known]=0.7 [det1]=0.7)
declare -A H_SINGLE=([tok1_new]=1 [tok1_known]=1 [det1]=1 [search]=1 [read]=1)
# verdict KEY RUN_C32: "met" / "NOT met (...)" / "-" for the issue 9 targets at 32 connections
verdict_of() {
    local op=$1 run=$2 out="" ok=1 r t
    t=${H_TARGET[$op]:-}
    if [ -n "$t" ]; then
        r=$(ratio_of "$(awk -v a="${RPS[$run]}" -v n="${H_ITEMS[$op]}" 'BEGIN {print a * n}')" \
            "$(awk -v a="${RPS[${H_CEIL[$op]}_c32]}" -v n="${H_CEIL_ITEMS[${H_CEIL[$op]}]}" 'BEGIN {print a * n}')")
        ge "$r" "$t" || { ok=0; out="ratio $r < $t"; }
    fi
    if [ -n "${H_SINGLE[$op]:-}" ]; then
        ge 10 "${P99[$run]}" || { ok=0; out="${out:+$out, }p99 ${P99[$run]} ms > 10"; }
    fi
    [ "${ERRS[$run]:-0}" = 0 ] || { ok=0; out="${out:+$out, }${ERRS[$run]} failed requests"; }
    if [ -z "$t" ] && [ -z "${H_SINGLE[$op]:-}" ]; then
        [ "$ok" = 1 ] && echo "-" || echo "$out"
    elif [ "$ok" = 1 ]; then echo met; else echo "NOT met ($out)"; fi
}
target_of() {
    local op=$1 s=""
    [ -n "${H_TARGET[$op]:-}" ] && s="≥ ${H_TARGET[$op]}×"
    [ -n "${H_SINGLE[$op]:-}" ] && s="${s:+$s, }p99 ≤ 10 ms"
    echo "${s:--}"
}
headline() {
    echo "HTTPS (the service's TLS, self-signed P-256), RS256 JWTs from a JWKS, token cache warm; bare ceilings in the same run"
    echo "(pgbench -M prepared on bench_bare, shaped like tokens, durable commits; trivial MHD handler over the same TLS):"
    printf '  %-36s %3s %9s %9s %8s %9s %7s %7s %6s %4s | %-22s %9s | %6s  %s\n' \
        "operation" "c" "req/s" "items/s" "p50 ms" "p99 ms" "srv µs" "pg µs" "RSS M" "err" "bare ceiling" "items/s" "ratio" "issue 9 target (c=32)"
    printf '%.0s-' $(seq 1 190); echo
    local op c run cr si ci ratio v
    for op in healthz "${ops[@]}"; do
        for c in 1 8 32; do
            run=tls_${op}_c$c; cr=${H_CEIL[$op]}_c$c
            [ -n "${RPS[$run]:-}" ] || continue
            si=$(awk -v a="${RPS[$run]}" -v n="${H_ITEMS[$op]}" 'BEGIN {printf "%.0f", a * n}')
            ci=$(awk -v a="${RPS[$cr]:-0}" -v n="${H_CEIL_ITEMS[${H_CEIL[$op]}]}" 'BEGIN {printf "%.0f", a * n}')
            ratio=$(ratio_of "$si" "$ci")
            v=""
            if [ "$c" = 32 ] && [ "$(target_of "$op")" != - ]; then
                v="$(target_of "$op"): $(verdict_of "$op" "$run")"
            fi
            printf '  %-36s %3s %9.0f %9s %8.3f %9.3f %7s %7s %6s %4s | %-22s %9s | %6s  %s\n' \
                "${H_LABEL[$op]}" "$c" "${RPS[$run]}" "$si" "${P50[$run]}" "${P99[$run]}" \
                "${CPU_SRV[$run]:-?}" "${CPU_PG[$run]:-?}" \
                "${RSSM[$run]:-?}" "${ERRS[$run]}" "${H_CEIL_LABEL[${H_CEIL[$op]}]}" "$ci" "$ratio" "$v"
        done
    done
    echo "  items/s: records (tokenize), tokens (detokenize), requests (the rest); the ceiling's likewise (rows, or probes)."
    echo "  srv µs / pg µs: CPU per request (user + system, from /proc) of the serve process / of this run's PostgreSQL"
    echo "  (postmaster, backends, WAL writer, ...); RSS M: serve's VmRSS after the run (MiB)."
    echo "  detokenize 100, search and record read have no issue 9 target: their ratio against one index probe is shown for scale."
    echo
    echo "Cold token cache (every request a different RS256 JWT, verified against the JWKS), c=$conns:"
    local k label
    for k in det1 tok1; do
        run=tls_${k}_cold_c32
        label=$([ "$k" = det1 ] && echo "detokenize 1 token" || echo "tokenize 1 record, new subject")
        printf '  %-36s %9.0f req/s, p50 %.3f ms, p99 %.3f ms, server CPU %s µs/req (warm: %.0f req/s, %s µs/req); %s requests on %s JWTs, %s of them reusing one%s\n' \
            "$label" "${RPS[$run]}" "${P50[$run]}" "${P99[$run]}" "${CPU_SRV[$run]:-?}" "${RPS[tls_${k}_new_c32]:-${RPS[tls_${k}_c32]}}" \
            "${CPU_SRV[tls_${k}_new_c32]:-${CPU_SRV[tls_${k}_c32]:-?}}" "${NREQ[$run]}" "$n_cold" "${REUSED[$run]:-0}" \
            "$([ "${REUSED[$run]:-0}" -gt 0 ] && echo " (NOT fully cold: raise BENCH_COLD_JWTS)")"
    done
    echo
    echo "RSS of serve (target ≤ 64 MiB at 256 connections): idle before the soak ${rss_idle_before} MiB;"
    echo "  the mix (detokenize 1, record read, search, tokenize 1) at 256 connections for ${soak} s: ${RPS[tls_soak_c256]%.*} req/s, p99 ${P99[tls_soak_c256]} ms, ${ERRS[tls_soak_c256]} failed;"
    soak_summary
    echo "  peak (VmHWM) over the whole HTTPS server's life ${rss_hwm} MiB; idle 2 s after the soak ${rss_idle_after} MiB."
}
# RSS samples of the soak: the first after the warm-up (the first third of the soak: connections,
# TLS sessions, caches and the allocator's arenas fill up), the last, growth, and ten samples
# spread over the run
soak_summary() {
    awk -v soak="$soak" '
        {t[NR] = $1; r[NR] = $2; if ($2 > peak) peak = $2}
        END {
            if (NR == 0) { print "  no RSS sample taken"; exit }
            w = 1; while (w < NR && t[w] < soak / 3) w++
            g = r[NR] - r[w]
            printf "  RSS under load at 256 connections: %.1f MiB at %d s (after warm-up), %.1f MiB at %d s (end), peak %.1f MiB;\n", r[w], t[w], r[NR], t[NR], peak
            printf "  growth over the soak %+.1f MiB (%+.1f %%): %s\n", g, (r[w] > 0 ? 100 * g / r[w] : 0), (g <= 2 && g <= r[w] * 0.05 ? "no growth (within 2 MiB / 5 %)" : "GROWTH: look for a leak")
            printf "  samples (s:MiB):"
            step = NR / 10; if (step < 1) step = 1
            for (i = 1; i <= NR; i += step) printf " %d:%.1f", t[int(i)], r[int(i)]
            printf " %d:%.1f\n", t[NR], r[NR]
        }' "$results/soak-rss.txt"
    local peak_ok
    peak_ok=$(awk '{if ($2 > p) p = $2} END {print (p <= 64 ? "met" : "NOT met")}' "$results/soak-rss.txt")
    echo "  RSS ≤ 64 MiB at 256 connections: $peak_ok"
}
report() {
    local elapsed=$(( $(date +%s) - started_at ))
    echo
    echo "Custos benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), wrk/pgbench/PostgreSQL/service on one machine, durable commits"
    echo "service: CUSTOS_THREADS=$conns CUSTOS_DB_POOL=$conns (epoll); wrk -t2 -c8/-c$conns -d${dur}s, -t1 -c1 -d${dur1}s; pgbench -M prepared -j2 -c8/-c$conns -T$dur, -c1 -T$dur1"
    echo
    headline
    echo
    echo "Diagnostics: the service (HTTPS + RS256 above) against pgbench running the service's own SQL (tests/bench/sql/, as custos_app):"
    printf '  %-28s %10s %8s %8s | %-24s %10s %8s %8s | %6s\n' \
        "scenario" "svc req/s" "p50 ms" "p99 ms" "pgbench" "tps" "p50 ms" "p99 ms" "ratio"
    row() { # label svc ceil ceil_label
        printf '  %-28s %10.0f %8.3f %8.3f | %-24s %10.0f %8.3f %8.3f | %6s\n' "$1" "${RPS[$2]}" "${P50[$2]}" "${P99[$2]}" \
            "$4" "${RPS[$3]}" "${P50[$3]}" "${P99[$3]}" "$(ratio_of "${RPS[$2]}" "${RPS[$3]}")"
    }
    row "tokenize 1 rec c=$conns" tls_tok1_new_c32 pg_tokenize_c32 "tokenize.sql"
    row "tokenize 1 rec c=1" tls_tok1_new_c1 pg_tokenize_c1 "tokenize.sql"
    row "tokenize 100 rec c=$conns" tls_tok100_new_c32 pg_tokenize_batch_c32 "tokenize_batch.sql"
    row "tokenize 100 rec c=1" tls_tok100_new_c1 pg_tokenize_batch_c1 "tokenize_batch.sql"
    row "detokenize 1 c=$conns" tls_det1_c32 pg_detokenize_c32 "detokenize.sql"
    row "detokenize 1 c=1" tls_det1_c1 pg_detokenize_c1 "detokenize.sql"
    row "detokenize 100 c=$conns" tls_det100_c32 pg_detokenize_batch_c32 "detokenize_batch.sql"
    row "detokenize 100 c=1" tls_det100_c1 pg_detokenize_batch_c1 "detokenize_batch.sql"
    echo "  pgbench runs the service's statements in its order, pipelined as it pipelines them, but none of the HTTP, TLS,"
    echo "  JWT, JSON, crypto or audit-building work, and writes each audit entry in its own commit (the service group-commits)."
    echo
    echo "Diagnostics, plain HTTP (no TLS, HS256 dev token): the service's GET /healthz against the trivial MHD handler:"
    printf '  c=%s: service %.0f req/s (p99 %.3f ms), trivial %.0f req/s (p99 %.3f ms), ratio %s; c=1: %.0f vs %.0f req/s, ratio %s\n' \
        "$conns" "${RPS[svc_healthz_c32]}" "${P99[svc_healthz_c32]}" "${RPS[trivial_epoll_c32]}" "${P99[trivial_epoll_c32]}" \
        "$(ratio_of "${RPS[svc_healthz_c32]}" "${RPS[trivial_epoll_c32]}")" "${RPS[svc_healthz_c1]}" "${RPS[trivial_epoll_c1]}" \
        "$(ratio_of "${RPS[svc_healthz_c1]}" "${RPS[trivial_epoll_c1]}")"
    printf '  TLS costs the trivial handler %.0f -> %.0f req/s at c=%s\n' "${RPS[trivial_epoll_c32]}" "${RPS[trivial_tls_c32]}" "$conns"
    if [ "$quick" != 1 ]; then
        printf '  mhd POST /echo epoll c=%s %.0f req/s; mhd epoll vs threads c=%s: %.0f vs %.0f req/s; service epoll vs threads: %.0f vs %.0f req/s\n' \
            "$conns" "${RPS[trivial_echo_c32]}" "$conns" "${RPS[trivial_epoll_c32]}" "${RPS[trivial_threads_c32]}" \
            "${RPS[svc_healthz_c32]}" "${RPS[svc_threads_healthz_c32]}"
    fi
    local gb gr
    gb=$(awk '$1 == "custos_audit_group_commits_total" {print $2}' "$results/metrics-tls.txt" 2>/dev/null)
    gr=$(awk '$1 == "custos_audit_group_commit_requests_total" {print $2}' "$results/metrics-tls.txt" 2>/dev/null)
    [ -n "$gb" ] && [ "${gb:-0}" -gt 0 ] &&
        printf '  group commit of audit entries (HTTPS runs): %s requests in %s commits (%.1f per commit)\n' "$gr" "$gb" "$(awk -v a="$gr" -v b="$gb" 'BEGIN {print a / b}')"
    gb=$(awk '$1 == "custos_tokenize_group_commits_total" {print $2}' "$results/metrics-tls.txt" 2>/dev/null)
    gr=$(awk '$1 == "custos_tokenize_group_commit_requests_total" {print $2}' "$results/metrics-tls.txt" 2>/dev/null)
    [ -n "$gb" ] && [ "${gb:-0}" -gt 0 ] &&
        printf '  group commit of tokenize rows (HTTPS runs): %s requests in %s commits (%.1f per commit)\n' "$gr" "$gb" "$(awk -v a="$gr" -v b="$gb" 'BEGIN {print a / b}')"
    echo
    echo "CPU per request in µs (c=$conns runs; machine-wide busy / load generator (wrk, pgbench) / server process / this"
    echo "run's PostgreSQL / other = the rest of the machine: kernel threads, and on a shared machine other people's work):"
    printf '  %-34s %8s %8s %8s %8s %8s\n' "run" "all" "client" "server" "postgres" "other"
    local k
    for k in trivial_tls_c32 trivial_epoll_c32 trivial_threads_c32 svc_healthz_c32 svc_threads_healthz_c32 \
             pg_bare_select_c32 pg_bare_insert_c32 pg_bare_insert100_c32 \
             pg_tokenize_c32 pg_tokenize_batch_c32 pg_detokenize_c32 pg_detokenize_batch_c32 \
             tls_healthz_c32 tls_tok1_new_c32 tls_tok1_known_c32 tls_tok100_new_c32 tls_tok100_known_c32 \
             tls_det1_c32 tls_det100_c32 tls_search_c32 tls_read_c32 tls_det1_cold_c32 tls_tok1_cold_c32 tls_soak_c256; do
        [ -n "${CPU_ALL[$k]:-}" ] || continue # not run (BENCH_QUICK=1)
        local a=${CPU_ALL[$k]} cl=${CPU_CLI[$k]:-0} sv=${CPU_SRV[$k]:-0} pg=${CPU_PG[$k]:-0}
        printf '  %-34s %8s %8s %8s %8s %8s\n' "$k" "$a" "$cl" "$sv" "$pg" "$(( a - cl - sv - pg ))"
    done
    echo
    echo "Failed requests: service wrk non-2xx + socket errors; pgbench failed transactions (all runs):"
    local line=""
    for k in $(printf '%s\n' "${!ERRS[@]}" | sort); do line="$line $k=${ERRS[$k]}"; done
    echo " $line" | fold -s -w 160
    echo
    echo "Notes: run-to-run spread on this VM is 10-20 %; the verdicts never fail the build. Every write run (and the first"
    echo "read run after them) starts from the $seed_n seeded records, vacuumed and analyzed. Rate limits on$([ "$CUSTOS_RATE_TOKENIZE" = 0 ] && echo " (here off)"), far above the load."
    echo "Raw outputs: $results/ (${elapsed}s to here)."
    echo
    echo "Plan check at the seeded size (prepared statements after 7 executions; details in $results/plans.txt):"
    printf '%s\n' "$plan_note" | sed 's/^/  /'
    if grep -q 'Seq Scan' <<<"$plan_note"; then
        echo "  WARNING: a per-request statement scans a whole table: its cost grows with the tenant (see plans.txt)."
    fi
    echo
    cat "$results/profile.txt" 2>/dev/null || echo "Profile: not taken"
}
# tests/bench/results/table.md: the README's table, one row per operation at 32 connections
table_md() {
    echo "<!-- written by scripts/bench.sh$([ "$quick" = 1 ] && echo " (BENCH_QUICK=1)") $(date -u +%Y-%m-%dT%H:%M:%SZ): $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr); wrk, pgbench, PostgreSQL 15 and the service on the same machine -->"
    echo
    echo "HTTPS, RS256 JWTs from a JWKS (token cache warm), $conns connections, durable commits; ceilings measured in the same run."
    echo
    echo "| operation | Custos req/s | p50 / p99 ms | bare ceiling, same run | ratio | target | met |"
    echo "|---|---:|---:|---|---:|---|---|"
    local op run cr si ci v t
    for op in "${ops[@]}" healthz; do
        run=tls_${op}_c32; cr=${H_CEIL[$op]}_c32
        [ -n "${RPS[$run]:-}" ] || continue
        si=$(awk -v a="${RPS[$run]}" -v n="${H_ITEMS[$op]}" 'BEGIN {printf "%.0f", a * n}')
        ci=$(awk -v a="${RPS[$cr]:-0}" -v n="${H_CEIL_ITEMS[${H_CEIL[$op]}]}" 'BEGIN {printf "%.0f", a * n}')
        t=$(target_of "$op"); v=$(verdict_of "$op" "$run")
        local unit=""
        [ "${H_ITEMS[$op]}" -gt 1 ] && unit=" ($si items/s)"
        printf '| %s | %s%s | %.2f / %.2f | %s %s/s | %s | %s | %s |\n' "${H_LABEL[$op]}" \
            "$(printf '%.0f' "${RPS[$run]}")" "$unit" "${P50[$run]}" "${P99[$run]}" "${H_CEIL_LABEL[${H_CEIL[$op]}]}" "$ci" \
            "$(ratio_of "$si" "$ci")" "$t" "$v"
    done
    for k in det1 tok1; do
        run=tls_${k}_cold_c32
        printf '| %s, cold token cache (a new JWT per request) | %.0f | %.2f / %.2f | - | - | - | %s |\n' \
            "$([ "$k" = det1 ] && echo "detokenize 1 token" || echo "tokenize 1 record, new subject")" \
            "${RPS[$run]}" "${P50[$run]}" "${P99[$run]}" "$([ "${REUSED[$run]:-0}" -gt 0 ] && echo "${REUSED[$run]} requests reused a JWT" || echo "-")"
    done
    local peak growth
    peak=$(awk '{if ($2 > p) p = $2} END {printf "%.1f", p}' "$results/soak-rss.txt")
    growth=$(awk -v soak="$soak" '{t[NR] = $1; r[NR] = $2} END {w = 1; while (w < NR && t[w] < soak / 3) w++; printf "%+.1f", r[NR] - r[w]}' "$results/soak-rss.txt")
    printf '| RSS of serve, 256 connections under load (mix, %s s) | peak %s MiB | - | - | - | ≤ 64 MiB | %s |\n' "$soak" "$peak" \
        "$(awk -v p="$peak" 'BEGIN {print (p <= 64 ? "met" : "NOT met")}')"
    printf '| RSS growth over the %s s soak (from its first third to its end) | %s MiB | - | - | - | no growth | %s |\n' "$soak" "$growth" \
        "$(awk -v g="$growth" 'BEGIN {print (g <= 2 ? "met" : "NOT met")}')"
}
report | tee "$results/summary.txt"
mkdir -p tests/bench/results
table_md >tests/bench/results/table.md
{
    echo "# make bench: latest run"
    echo
    echo "Written by scripts/bench.sh$([ "$quick" = 1 ] && echo " (BENCH_QUICK=1)"); machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)."
    echo "The README-ready table of the same run is tests/bench/results/table.md."
    echo
    echo '```'
    cat "$results/summary.txt"
    echo '```'
} >tests/bench/results/latest.md
echo
echo "== README table (tests/bench/results/table.md)"
cat tests/bench/results/table.md

echo
echo "== slow-header clients"
tee -a tests/bench/results/latest.md <"$results/trickle.txt"

# the audit trail at scale (issue 10): sealing, verification and query latency over a million
# entries of one tenant (100,000 with BENCH_QUICK=1), on its own throwaway cluster
echo
echo "== audit trail at scale"
AUDIT_BENCH_N=$([ "$quick" = 1 ] && echo 100000 || echo 1000000) BUILD=$BUILD tests/bench/audit_query.sh 2>&1 |
    tee "$results/audit.txt" | tee -a tests/bench/results/latest.md

# the contact-center controls (issue 12): reveals by an interaction-bound, budgeted role against
# a plain role and a token scope, on its own throwaway cluster
echo
echo "== contact-center controls"
BUILD=$BUILD tests/bench/roles.sh 2>&1 | tee "$results/roles.txt" | tee -a tests/bench/results/latest.md
