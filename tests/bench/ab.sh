#!/usr/bin/env bash
# Reveal throughput of several builds side by side (the "within 10 % of before" checks of issues
# 10 and 11): tests/bench/ab.sh DIR... , each DIR a checkout with build/custos (e.g. a
# `git worktree add --detach DIR REV` and `make -C DIR build/custos`). Each build gets its own
# durable PostgreSQL and `serve` (epoll, 32 threads, pool 32), AB_SEED records (default 2000),
# VACUUM ANALYZE and a warm-up; then AB_ROUNDS rounds (default 5) alternate the builds: wrk
# detokenize 1 (tests/bench/lua/detokenize.lua) at c=32 for AB_DUR s (8) and at c=1 for AB_DUR1 s
# (5). One line per run (req/s, p50, p99, non-2xx) and the medians per build at the end: on a
# noisy machine compare medians of alternating rounds, never single runs. AB_OP=tokenize runs
# tokenize 1 (tests/bench/lua/tokenize.lua, a new subject per record) instead (issue 9's group
# commit).
set -euo pipefail
seed_n=${AB_SEED:-2000}; dur=${AB_DUR:-8}; dur1=${AB_DUR1:-5}; rounds=${AB_ROUNDS:-5}
case ${AB_OP:-detokenize} in
detokenize) script=detokenize.lua; path=/v1/detokenize ;;
tokenize) script=tokenize.lua; path=/v1/collections/c/records ;;
*) echo "ab.sh: AB_OP is detokenize or tokenize" >&2; exit 2 ;;
esac
top=$(cd "$(dirname "$0")/../.." && pwd)
lua=$top/tests/bench/lua
root=$top/.local/bench-ab-$$
mkdir -p "$root"
pids=(); pgdirs=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for i in "${!pgdirs[@]}"; do (cd "${dirs[$i]}" && scripts/pg.sh destroy "${pgdirs[$i]}" >/dev/null 2>&1 || true); done
    rm -rf "$root"
}
trap cleanup EXIT
[ $# -ge 1 ] || { echo "usage: tests/bench/ab.sh DIR..." >&2; exit 2; }
dirs=()
for d in "$@"; do dirs+=("$(cd "$d" && pwd)"); done
declare -a API JWT TOK
for i in "${!dirs[@]}"; do
    d=${dirs[$i]}; w=$root/$i; mkdir -p "$w"
    port=$(( 31000 + i * 10 )); api=http://127.0.0.1:$((port + 1))
    cd "$d"
    scripts/pg.sh start "$w/pg" "$port" >/dev/null
    pgdirs[$i]=$w/pg
    admin=$(scripts/pg.sh url "$w/pg" "$port" custos_bench postgres)
    app=$(scripts/pg.sh url "$w/pg" "$port" custos_bench custos_app)
    sock=$(sed -E 's/^host=([^ ]*) .*/\1/' <<<"$admin")
    psql -X -q -h "$sock" -p "$port" -U postgres -d postgres -c "CREATE DATABASE custos_bench" \
        -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" -c "SELECT pg_reload_conf()" >/dev/null
    scripts/dev-secrets.sh "$w/secrets" build/custos >/dev/null
    (
        export CUSTOS_DEV=1 CUSTOS_ROOT_KEY_FILE=$w/secrets/root.key \
            CUSTOS_JWT_HS256_SECRET_FILE=$w/secrets/hs256.secret \
            CUSTOS_JWT_ISSUER=https://idp.bench.custos/ CUSTOS_JWT_AUDIENCE=custos-bench \
            CUSTOS_DATABASE_URL=$app CUSTOS_MIGRATE_DATABASE_URL=$admin \
            CUSTOS_LISTEN=127.0.0.1:$((port + 1)) CUSTOS_THREADS=32 CUSTOS_DB_POOL=32 \
            CUSTOS_LOG_LEVEL=warn CUSTOS_RATE_TOKENIZE=100000000 CUSTOS_RATE_SEARCH=100000000 \
            CUSTOS_RATE_VERIFY=100000000
        build/custos migrate >"$w/migrate.log" 2>&1
        build/custos dev-token --scope vault:admin --sub bench-operator --ttl 7200 >"$w/admin.jwt"
        build/custos dev-token --tenant bench --sub bench-client --ttl 7200 \
            --scope "tenant:admin records:write detokenize:*.*:plain" >"$w/jwt"
        exec build/custos serve >"$w/server.log" 2>&1
    ) &
    pids+=($!)
    for _ in $(seq 1 100); do curl -fsS "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    jwt=$(cat "$w/jwt"); admin_jwt=$(cat "$w/admin.jwt")
    call() { curl -fsS -X "$1" -H "Authorization: Bearer ${4:-$jwt}" -H 'Content-Type: application/json' --data-binary "$3" "$api$2"; }
    call POST /v1/tenants '{"id":"bench","name":"Bench"}' "$admin_jwt" >/dev/null
    call PUT /v1/collections/c '{"fields":{"name":{"type":"name","tokenization":"random"},"phone":{"type":"phone","tokenization":"deterministic","searchable":true}}}' >/dev/null
    call PUT /v1/purposes/support '{"description":"bench","lawful_basis":"contract"}' >/dev/null
    : >"$w/tokens.txt"
    for ((b = 0; b < seed_n; b += 500)); do
        body=$(awk -v b="$b" 'BEGIN { printf "{\"records\":["; for (i = 0; i < 500; i++) { k = b + i
            printf "%s{\"subject_id\":\"seed-%d\",\"fields\":{\"name\":\"Seed Person %d\",\"phone\":\"+1555%07d\"}}", (i ? "," : ""), k, k, k }
            printf "]}" }')
        call POST /v1/collections/c/records "$body" | grep -o '"name":"[^"]*"' | cut -d'"' -f4 >>"$w/tokens.txt"
    done
    psql -X -q "$admin" -c 'VACUUM ANALYZE' >/dev/null
    t1=$(head -n1 "$w/tokens.txt")
    curl -fsS -X POST -H "Authorization: Bearer $jwt" -H 'Content-Type: application/json' -H 'X-Purpose: support' \
        --data-binary "{\"tokens\":[\"$t1\"]}" "$api/v1/detokenize" | grep -q 'Seed Person 0' || { echo "probe failed in $d" >&2; exit 1; }
    API[$i]=$api; JWT[$i]=$jwt; TOK[$i]=$w/tokens.txt
    echo "build $i: $d ($(git -C "$d" rev-parse --short HEAD)) ready on $api, $(wc -l <"$w/tokens.txt") tokens" >&2
done
run() { # i c d -> req/s p99
    local out
    out=$(BENCH_JWT=${JWT[$1]} BENCH_TOKENS=${TOK[$1]} BENCH_LUA_DIR=$lua \
        wrk -t"$(( $2 < 2 ? 1 : 2 ))" -c"$2" -d"${3}s" --latency --timeout 10s -s "$lua/$script" "${API[$1]}$path")
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    echo "$rps $p50 $p99 ${non2xx:-0}"
}
# warm-up
for i in "${!dirs[@]}"; do run "$i" 32 10 >/dev/null; run "$i" 32 5 >/dev/null; done
for r in $(seq 1 "$rounds"); do
    for i in "${!dirs[@]}"; do
        a=$(run "$i" 32 "$dur"); b=$(run "$i" 1 "$dur1")
        echo "round $r build $i c32 $a | c1 $b" | tee -a "$root/runs"
    done
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
echo "medians over $rounds rounds (req/s):"
for i in "${!dirs[@]}"; do
    c32=$(awk -v b="$i" '$4 == b {print $6}' "$root/runs" | median)
    c1=$(awk -v b="$i" '$4 == b {print $12}' "$root/runs" | median)
    echo "  build $i $(git -C "${dirs[$i]}" rev-parse --short HEAD): c=32 $c32, c=1 $c1"
done
