#!/usr/bin/env bash
# The audit trail at scale (issue 10), on its own throwaway PostgreSQL (durable commits):
# AUDIT_BENCH_N entries (default 1000000) of one tenant written straight into audit_log
# (500 principals, 100000 subjects, ~6 days), then
#   - sealing throughput: `custos sweep` chains all of them (entries/s);
#   - verification time: `custos audit-verify --tenant bench` walks the sealed chain;
#   - query latency over HTTP (median and max of AUDIT_BENCH_RUNS calls, default 15):
#     GET /v1/audit by principal, by subject, by a one-hour window; the exposure report of one
#     principal; GET /v1/alerts (which scans the tenant's last 169 hours of reveals).
# Run alone (tests/bench/audit_query.sh) or as the last step of scripts/bench.sh (one line there:
# `BUILD=$BUILD tests/bench/audit_query.sh`). Prints one line
# per measure; the exit status is 0 unless something failed to run.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
BUILD=${BUILD:-build}
bin=$top/$BUILD/custos
n=${AUDIT_BENCH_N:-1000000}
runs=${AUDIT_BENCH_RUNS:-15}
work=$top/.local/bench-audit-$$
server_pid=
say() { printf '%s\n' "$*" >&2; }
die() { say "audit_query.sh: $*"; exit 1; }
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    scripts/pg.sh destroy "$work/pg" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x "$bin" ] || die "$bin is missing (make)"
mkdir -p "$work"

pg_port=$(( (RANDOM % 15000) + 30000 ))
api_port=$(( pg_port + 1 ))
api=http://127.0.0.1:$api_port
scripts/pg.sh start "$work/pg" "$pg_port" >/dev/null || die "could not start PostgreSQL"
admin_url=$(scripts/pg.sh url "$work/pg" "$pg_port" custos_bench postgres)
app_url=$(scripts/pg.sh url "$work/pg" "$pg_port" custos_bench custos_app)
sock=$(sed -E 's/^host=([^ ]*) .*/\1/' <<<"$admin_url")
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$pg_port" -U postgres "$@"; }
psql_admin -d postgres -c "CREATE DATABASE custos_bench"
psql_admin -d postgres -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "SELECT pg_reload_conf()" >/dev/null
scripts/dev-secrets.sh "$work/secrets" "$bin" || die "could not create dev secrets"
export CUSTOS_DEV=1
export CUSTOS_ROOT_KEY_FILE=$work/secrets/root.key
export CUSTOS_JWT_HS256_SECRET_FILE=$work/secrets/hs256.secret
export CUSTOS_JWT_ISSUER=https://idp.bench.custos/
export CUSTOS_JWT_AUDIENCE=custos-bench
export CUSTOS_DATABASE_URL=$app_url
export CUSTOS_MIGRATE_DATABASE_URL=$admin_url
export CUSTOS_LISTEN=127.0.0.1:$api_port
export CUSTOS_LOG_LEVEL=warn
export CUSTOS_SWEEP_INTERVAL=86400 # the bench seals with `custos sweep`, timed
"$bin" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; die "custos migrate failed"; }
"$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
admin_jwt=$("$bin" dev-token --scope vault:admin --sub bench-operator --ttl 7200)
jwt=$("$bin" dev-token --tenant bench --sub bench-auditor --ttl 7200 --scope audit:read)
curl -fsS -H "Authorization: Bearer $admin_jwt" -H 'Content-Type: application/json' \
    --data-binary '{"id":"bench","name":"Bench"}' "$api/v1/tenants" >/dev/null || die "tenant"

t0=$(date +%s.%N)
psql_admin -d custos_bench -c "
INSERT INTO audit_log (tenant_id, principal, action, collection, fields, record_id, subject_id,
    purpose, redaction, outcome, request_id, incarnation, ts)
SELECT 'bench', 'agent-' || (g % 500),
       CASE WHEN g % 10 = 0 THEN 'tokenize' ELSE 'detokenize' END, 'customers', ARRAY['name'],
       'r' || g, 'crm-' || (g % 100000), 'support',
       CASE WHEN g % 10 = 0 THEN NULL WHEN g % 3 = 0 THEN 'masked' ELSE 'plain' END, 'allowed',
       md5(g::text), t.incarnation, now() - ($n - g) * interval '500 milliseconds'
FROM tenants t, generate_series(1, $n) g WHERE t.tenant_id = 'bench';
ANALYZE audit_log;"
t1=$(date +%s.%N)
printf 'audit bench: %d entries written in %.1f s\n' "$n" "$(echo "$t1 - $t0" | bc)"

t0=$(date +%s.%N)
"$bin" sweep >"$work/sweep.log" 2>&1 || { cat "$work/sweep.log" >&2; die "sweep failed"; }
t1=$(date +%s.%N)
s=$(echo "$t1 - $t0" | bc)
printf 'audit seal: %s in %.1f s = %.0f entries/s\n' "$(grep -o 'sealed [0-9]* audit entries' "$work/sweep.log")" "$s" "$(echo "$n / $s" | bc -l)"

t0=$(date +%s.%N)
"$bin" audit-verify --tenant bench >"$work/verify.json" 2>"$work/verify.err" || { cat "$work/verify.err" >&2; die "audit-verify failed"; }
t1=$(date +%s.%N)
s=$(echo "$t1 - $t0" | bc)
printf 'audit verify: %s in %.1f s = %.0f entries/s\n' "$(grep -o '"valid":[a-z]*,"entries":[0-9]*' "$work/verify.json" || cut -c1-60 "$work/verify.json")" "$s" "$(echo "$n / $s" | bc -l)"

measure() { # label path
    local times=() i
    for i in $(seq 1 "$runs"); do
        times+=("$(curl -fsS -o "$work/out.json" -w '%{time_total}' -H "Authorization: Bearer $jwt" "$api$2")") ||
            die "$1 failed"
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v label="$1" -v bytes="$(wc -c <"$work/out.json")" \
        '{ t[NR] = $1 } END { printf "audit query %-34s median %6.1f ms  max %6.1f ms  (%d bytes)\n", label, t[int((NR + 1) / 2)] * 1000, t[NR] * 1000, bytes }'
}
# right after sealing a backlog, audit_log_unsealed still holds the sealed rows' old versions
# (dead until vacuumed): reads of the unsealed entries pay for them until autovacuum (or this
# VACUUM) has run; measured before and after
measure "by principal, before vacuum" "/v1/audit?principal=agent-17&limit=100"
t0=$(date +%s.%N)
psql_admin -d custos_bench -c "VACUUM (ANALYZE) audit_log"
printf 'audit vacuum after sealing: %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
from=$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d '-3 days +1 hour' +%Y-%m-%dT%H:%M:%SZ)
measure "by principal (limit 100)" "/v1/audit?principal=agent-17&limit=100"
measure "by principal, last page-ish" "/v1/audit?principal=agent-17&from=$to&limit=100"
measure "by subject" "/v1/audit?subject_id=crm-4242"
measure "one-hour window (limit 1000)" "/v1/audit?from=$from&to=$to&limit=1000"
measure "action+outcome (limit 100)" "/v1/audit?action=tokenize&outcome=allowed&limit=100"
measure "exposure of one principal" "/v1/audit/exposure?principal=agent-17"
measure "alerts" "/v1/alerts"
