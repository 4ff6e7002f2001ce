#!/usr/bin/env bash
# Reveal throughput under the contact-center controls (issue 12), on its own throwaway
# PostgreSQL (durable commits) and one `custos serve` (epoll, 32 threads, pool 32):
# POST /v1/detokenize of one token (wrk -c32, tests/bench/lua/detokenize.lua) by
#   - token:   a token with its own scope detokenize:*.*:plain (no roles: no facts step);
#   - plain:   a token whose role `plain-agent` grants that scope, without controls;
#   - guarded: a token whose role `agent` grants it interaction-bound, with a plain budget
#              (1,000,000 per hour: never reached here) and live interactions for the subjects.
# The same tokens (ROLES_BENCH_SUBJECTS subjects, 200 records each) in every run; the runs
# alternate (token, plain, guarded) ROLES_BENCH_ROUNDS times and the median of each is
# reported, with guarded / plain (issue 12: within 10 %). Run alone or as a step of
# scripts/bench.sh. Exit status 0 unless something failed to run; the verdict is informative.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
BUILD=${BUILD:-build}
bin=$top/$BUILD/custos
lua=$top/tests/bench/lua
quick=${BENCH_QUICK:-0}
dur=${ROLES_BENCH_DURATION:-$([ "$quick" = 1 ] && echo 3 || echo 8)}
rounds=${ROLES_BENCH_ROUNDS:-3}
subjects=${ROLES_BENCH_SUBJECTS:-5}
conns=32
work=$top/.local/bench-roles-$$
server_pid=
say() { printf '%s\n' "$*" >&2; }
die() { say "roles.sh: $*"; exit 1; }
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
command -v wrk >/dev/null || die "wrk is not installed (scripts/deps.sh installs it)"
mkdir -p "$work"

pg_port=$(( (RANDOM % 15000) + 30000 ))
api_port=$(( pg_port + 1 ))
api=http://127.0.0.1:$api_port
scripts/pg.sh start "$work/pg" "$pg_port" >/dev/null || die "could not start PostgreSQL"
admin_url=$(scripts/pg.sh url "$work/pg" "$pg_port" custos_bench postgres)
app_url=$(scripts/pg.sh url "$work/pg" "$pg_port" custos_bench custos_app)
sock=$(sed -E 's/^host=([^ ]*) .*/\1/' <<<"$admin_url")
psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$pg_port" -U postgres -d postgres \
    -c "CREATE DATABASE custos_bench" >/dev/null
scripts/dev-secrets.sh "$work/secrets" "$bin" >/dev/null || die "could not create dev secrets"
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
unset CUSTOS_TLS_CERT_FILE CUSTOS_TLS_KEY_FILE CUSTOS_JWKS_FILE CUSTOS_JWT_HS256_SECRET
"$bin" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; die "custos migrate failed"; }
CUSTOS_HTTP_MODE=epoll "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fsS "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

mint() { "$bin" dev-token --tenant bench --ttl 7200 "$@"; }
admin_jwt=$("$bin" dev-token --scope vault:admin --sub bench-operator --ttl 7200)
jwt=$(mint --sub bench-admin --scope "tenant:admin records:write interactions:write")
call() { # method path body [jwt]
    curl -fsS -X "$1" -H "Authorization: Bearer ${4:-$jwt}" -H 'Content-Type: application/json' \
        --data-binary "$3" "$api$2"
}
call POST /v1/tenants '{"id":"bench","name":"Bench"}' "$admin_jwt" >/dev/null || die "tenant"
call PUT /v1/collections/c '{"fields":{"name":{"type":"name","tokenization":"random"}}}' >/dev/null
call PUT /v1/purposes/support '{"description":"bench","lawful_basis":"contract"}' >/dev/null
call PUT /v1/roles/plain-agent '{"scopes":["detokenize:*.*:plain"]}' >/dev/null
call PUT /v1/roles/agent '{"scopes":["detokenize:*.*:plain"],"interaction_bound":true,"plain_reveals_per_hour":1000000}' >/dev/null
: >"$work/tokens.txt"
for ((s = 0; s < subjects; s++)); do
    body=$(awk -v s="$s" 'BEGIN { printf "{\"records\":["
        for (i = 0; i < 200; i++) printf "%s{\"subject_id\":\"crm-%d\",\"fields\":{\"name\":\"Caller %d-%d\"}}", (i ? "," : ""), s, s, i
        printf "]}" }')
    call POST /v1/collections/c/records "$body" | grep -o '"name":"[^"]*"' | cut -d'"' -f4 >>"$work/tokens.txt"
    call POST /v1/interactions "{\"principal\":\"bench-guarded\",\"subject_id\":\"crm-$s\",\"channel\":\"voice\",\"expires_in\":86400}" >/dev/null
done
declare -A JWT=(
    [token]=$(mint --sub bench-token --scope "detokenize:*.*:plain")
    [plain]=$(mint --sub bench-plain --scope "" --claims '{"roles":["plain-agent"]}')
    [guarded]=$(mint --sub bench-guarded --scope "" --claims '{"roles":["agent"]}')
)
tok1=$(head -n 1 "$work/tokens.txt")
for k in token plain guarded; do
    curl -fsS -X POST -H "Authorization: Bearer ${JWT[$k]}" -H 'Content-Type: application/json' \
        -H 'X-Purpose: support' --data-binary "{\"tokens\":[\"$tok1\"]}" "$api/v1/detokenize" |
        grep -q '"value":"Caller 0-0"' || die "the $k probe did not reveal the value"
done
# the guard is real: another subject's token is refused to the guarded principal
other=$(call POST /v1/collections/c/records '{"records":[{"subject_id":"crm-other","fields":{"name":"Not On The Line"}}]}' |
    grep -o '"name":"[^"]*"' | cut -d'"' -f4)
curl -fsS -X POST -H "Authorization: Bearer ${JWT[guarded]}" -H 'Content-Type: application/json' \
    -H 'X-Purpose: support' --data-binary "{\"tokens\":[\"$other\"]}" "$api/v1/detokenize" |
    grep -q '"status":403' || die "the guarded principal revealed a subject without an interaction"

hz=$(getconf CLK_TCK)
ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
declare -A RUNS CPU
for ((r = 1; r <= rounds; r++)); do
    for k in token plain guarded; do
        out=$work/wrk-$k-$r.txt
        c0=$(ticks "$server_pid")
        BENCH_JWT=${JWT[$k]} BENCH_TOKENS=$work/tokens.txt BENCH_LUA_DIR=$lua \
            wrk -t2 -c"$conns" -d"${dur}s" --latency -s "$lua/detokenize.lua" "$api/v1/detokenize" >"$out" 2>&1 ||
            { cat "$out" >&2; die "wrk $k failed"; }
        grep -q 'Non-2xx' "$out" && { cat "$out" >&2; die "wrk $k saw errors"; }
        RUNS[$k]="${RUNS[$k]:-} $(awk '/^Requests\/sec:/ {print $2}' "$out")"
        # server CPU per request (µs): less sensitive than req/s to a machine shared with others
        CPU[$k]="${CPU[$k]:-} $(awk -v d="$(( $(ticks "$server_pid") - c0 ))" -v hz="$hz" \
            '/requests in/ {printf "%.0f", d / hz * 1e6 / $1}' "$out")"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
t=$(median <<<"${RUNS[token]}")
p=$(median <<<"${RUNS[plain]}")
g=$(median <<<"${RUNS[guarded]}")
ratio=$(awk -v g="$g" -v p="$p" 'BEGIN {printf "%.3f", g / p}')
verdict=$(awk -v r="$ratio" 'BEGIN {print (r >= 0.9 ? "met" : "NOT met")}')
printf 'contact-center controls, detokenize 1 c=%d, %d rounds of %d s, median req/s (runs):\n' "$conns" "$rounds" "$dur"
for k in token plain guarded; do
    label=$(case $k in token) echo "token scope, no roles";; plain) echo "plain role";;
            guarded) echo "interaction-bound, budgeted";; esac)
    printf '  %-28s %8.0f req/s (%s ); server CPU %s µs/req (%s )\n' "$label" \
        "$(median <<<"${RUNS[$k]}")" "${RUNS[$k]}" "$(median <<<"${CPU[$k]}")" "${CPU[$k]}"
done
printf '  guarded / plain role: %s (issue 12: >= 0.90, %s); guarded / token scope: %.3f\n' "$ratio" "$verdict" \
    "$(awk -v g="$g" -v t="$t" 'BEGIN {print g / t}')"
