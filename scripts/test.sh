#!/usr/bin/env bash
# `make test`: unit tests, then integration tests against a throwaway PostgreSQL cluster and a
# real HTTPS server. Fails loudly (never skips) when anything it needs is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
BUILD=${BUILD:-build}
bin=$top/$BUILD/custos
work=$top/.local/test-$$
server_pid=
passed=0; failed=0

cleanup() {
    [ -n "${prism_pid:-}" ] && kill "$prism_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    if [ "${KEEP_TEST_DIR:-0}" = 1 ]; then scripts/pg.sh stop "$work/pg"; else scripts/pg.sh destroy "$work/pg"; fi >/dev/null 2>&1
    [ "${KEEP_TEST_DIR:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
die() { echo "test.sh: $*" >&2; exit 1; }

# criterion prints "Synthesis: Tested: N | Passing: P | Failing: F | Crashing: C"
run_suite() {
    local name=$1; shift
    local out; out=$(mktemp)
    echo "== $name"
    "$@" 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    local line; line=$(grep -a 'Synthesis:' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        failed=$((failed + 1)); echo "test.sh: $name ran no tests or crashed (exit $rc)" >&2; return
    fi
    local p f c
    p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
    c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f + c))
    [ "$rc" = 0 ] || [ $((f + c)) -gt 0 ] || { failed=$((failed + 1)); echo "test.sh: $name exited $rc" >&2; }
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# ONLY=<pattern> runs just the test binaries whose name matches (for development); a binary
# whose source is gone (a split or renamed test file, still in an old build/) never runs
only=${ONLY:-}
if [ -n "$only" ]; then pick() { grep -E "$only"; }; else pick() { cat; }; fi
current() {
    local t
    while read -r t; do
        [ -f "tests/$(basename "$(dirname "$t")")/$(basename "$t").c" ] && echo "$t"
    done
}

# ---- unit tests: no database, no network ----
for t in $(ls "$BUILD"/tests/unit/test_* 2>/dev/null | sort | current | pick); do
    run_suite "unit $(basename "$t")" "$t" --jobs=2
done

# ---- offline checks ----
offline() { # name command...: one counted check
    local name=$1; shift
    echo "== $name"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "test.sh: $name failed" >&2; fi
}
mkdir -p "$work"
command -v docker-compose >/dev/null || die "docker-compose is missing (scripts/deps.sh installs it)"
# Compose: docker-compose's own schema with each profile, then our rules on the resolved file
offline "docker-compose config" docker-compose -f docker-compose.yml config -q
offline "docker-compose config --profile dev" docker-compose -f docker-compose.yml --profile dev config -q
offline "docker-compose config --profile prod" docker-compose -f docker-compose.yml --profile prod config -q
docker-compose -f docker-compose.yml --profile dev --profile prod config >"$work/compose.yaml" 2>/dev/null
offline "compose rules (tests/deploy/compose_check.py)" python3 tests/deploy/compose_check.py <"$work/compose.yaml"
offline "compose rules refuse broken files" python3 tests/deploy/compose_check.py --selftest "$work/compose.yaml"

# the image (the full run is make test-container): HEALTHCHECK, uid 10001, nothing secret sent
offline "Dockerfile and .dockerignore" sh -c 'grep -q "^HEALTHCHECK " Dockerfile && grep -q "CMD curl .*/readyz" Dockerfile &&
    grep -q "^USER 10001:10001" Dockerfile && for p in .git .local build deploy/secrets; do
    grep -qx "$p" .dockerignore || { echo "$p is not in .dockerignore" >&2; exit 1; }; done'

# Kubernetes: deploy/k8s rendered by kustomize (kubectl's), validated with kubernetes-models
command -v kubectl >/dev/null || die "kubectl is missing (scripts/deps.sh installs kubernetes-client)"
command -v npm >/dev/null || die "npm is missing (scripts/deps.sh installs it)"
if [ ! -f tests/deploy/node_modules/.package-lock.json ] ||
    [ tests/deploy/package-lock.json -nt tests/deploy/node_modules/.package-lock.json ]; then
    (cd tests/deploy && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) ||
        die "npm ci in tests/deploy failed"
fi
offline "kustomize build deploy/k8s" sh -c 'kubectl kustomize deploy/k8s >"$1"' sh "$work/k8s.yaml"
offline "kubernetes manifests (tests/deploy/validate.js)" node tests/deploy/validate.js "$work/k8s.yaml"
offline "kubernetes checks refuse broken manifests" node tests/deploy/selftest.js "$work/k8s.yaml"

echo "== OpenAPI lint (Spectral + OWASP ruleset)"
if scripts/lint-api.sh; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "test.sh: api/openapi.yaml fails the lint (make lint-api)" >&2
fi

echo "== deploy manifests parse"
if python3 -c 'import glob, sys, yaml
files = glob.glob("deploy/**/*.yaml", recursive=True) + ["api/openapi.yaml"]
for f in files:
    list(yaml.safe_load_all(open(f)))
print(len(files), "YAML files parse")'; then
    passed=$((passed + 1))
else
    failed=$((failed + 1)); echo "test.sh: a deploy manifest or the OpenAPI file does not parse" >&2
fi

# ---- integration: throwaway cluster, migrations as in production, HTTPS server ----
mkdir -p "$work"
# a port the kernel says is free now (a random pick in 30000-49999 can meet a client's
# ephemeral port)
# below the kernel's ephemeral range, where no outgoing connection can take the port before the
# server binds it (tests/integration/harness.c's free_port does the same)
free_port() {
    python3 -c '
import random, socket
for _ in range(2000):
    p = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break'
}
pg_port=$(free_port)
scripts/pg.sh start "$work/pg" "$pg_port" fast || die "could not start PostgreSQL"
sock=$(readlink -f "$work/pg")/run
psql -X -q -h "$sock" -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE custos_test" ||
    die "could not create the test database"
scripts/dev-secrets.sh "$work/secrets" "$bin" || die "could not create test secrets"
"$top/$BUILD/tests/tools/mkidp" "$work/idp" || die "could not create the test identity provider"

export CUSTOS_TEST_WORKDIR=$work
export CUSTOS_TEST_BIN=$bin
export CUSTOS_TEST_PG_DIR=$work/pg
export CUSTOS_TEST_PG_PORT=$pg_port
export CUSTOS_TEST_ADMIN_DB_URL="host=$sock port=$pg_port dbname=custos_test user=postgres"
export CUSTOS_TEST_IDP=$work/idp
export CUSTOS_TEST_CA=$work/secrets/tls.crt
export CUSTOS_DATABASE_URL="host=$sock port=$pg_port dbname=custos_test user=custos_app"
export CUSTOS_MIGRATE_DATABASE_URL=$CUSTOS_TEST_ADMIN_DB_URL
export CUSTOS_ROOT_KEY_FILE=$work/secrets/root.key
export CUSTOS_JWKS_FILE=$work/idp/jwks.json
export CUSTOS_JWT_ISSUER=https://idp.test.custos/
export CUSTOS_JWT_AUDIENCE=custos-test
export CUSTOS_TLS_CERT_FILE=$work/secrets/tls.crt
export CUSTOS_TLS_KEY_FILE=$work/secrets/tls.key
export CUSTOS_DEV=0
# generous: a statement that outlasts it is a 503 (right for an outage), and a loaded machine
# (CI, parallel suites, SANITIZE) once took over 2 s for an 8,000-value tokenize
export CUSTOS_DB_TIMEOUT_MS=10000
export CUSTOS_SWEEP_INTERVAL=2
# tokenize limits are checked but far above what the suite sends (test_token_formats tokenizes
# 100,000 guesses as one principal); test_ratelimit spawns servers with small limits
export CUSTOS_RATE_TOKENIZE=100000000
unset CUSTOS_JWT_HS256_SECRET CUSTOS_JWT_HS256_SECRET_FILE

"$bin" migrate >/dev/null || die "custos migrate failed"
# a second run applies nothing and succeeds
"$bin" migrate >/dev/null || die "custos migrate is not idempotent"

export CUSTOS_TEST_SERVER_LOG=$work/server.log
# the shared server: a few tries, should another process take the port in between
for attempt in 1 2 3; do
    api_port=$(free_port)
    export CUSTOS_TEST_URL=https://127.0.0.1:$api_port
    CUSTOS_LISTEN=127.0.0.1:$api_port "$bin" serve >"$CUSTOS_TEST_SERVER_LOG" 2>&1 &
    server_pid=$!
    up=0
    for _ in $(seq 1 100); do
        if curl -fsS --cacert "$CUSTOS_TEST_CA" "$CUSTOS_TEST_URL/healthz" >/dev/null 2>&1; then
            up=1; break
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ "$up" = 1 ] && break
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null
    server_pid=
    [ "$attempt" = 3 ] && { cat "$CUSTOS_TEST_SERVER_LOG" >&2; die "the server did not start"; }
done

# make test-contract (scripts/contract.sh): the suites talk to the server through a Prism
# validating proxy (plain HTTP on loopback to Prism, HTTPS from Prism to the server), which
# logs every request and response that breaks api/openapi.yaml; contract.sh counts them
prism_pid=
if [ -n "${CUSTOS_TEST_PRISM_LOG:-}" ]; then
    prism_port=$(free_port)
    NODE_EXTRA_CA_CERTS=$CUSTOS_TEST_CA tools/openapi/node_modules/.bin/prism proxy \
        api/openapi.yaml "$CUSTOS_TEST_URL" --host 127.0.0.1 --port "$prism_port" --cors=false \
        --errors=false >"$CUSTOS_TEST_PRISM_LOG" 2>&1 &
    prism_pid=$!
    for _ in $(seq 1 300); do
        curl -fsS "http://127.0.0.1:$prism_port/healthz" >/dev/null 2>&1 && break
        kill -0 "$prism_pid" 2>/dev/null || break
        sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$prism_port/healthz" >/dev/null 2>&1 ||
        { cat "$CUSTOS_TEST_PRISM_LOG" >&2; die "the Prism proxy did not start"; }
    export CUSTOS_TEST_URL=http://127.0.0.1:$prism_port
fi

jobs=2
[ "${SANITIZE:-0}" = 1 ] && jobs=1
for t in $(ls "$BUILD"/tests/integration/test_* 2>/dev/null | grep -v '_serial$' | sort | current | pick); do
    run_suite "integration $(basename "$t")" "$t" --jobs=$jobs
done

if [ -n "$prism_pid" ]; then
    kill "$prism_pid" 2>/dev/null; wait "$prism_pid" 2>/dev/null; prism_pid=
fi

# ---- the browser test (make test-browser sets BROWSER=1): the capture page in Debian's
# chromium driven by playwright-core (tests/browser/, installed from its lockfile) ----
if [ "${BROWSER:-0}" = 1 ]; then
    echo "== browser tests/browser/capture.test.mjs"
    if CUSTOS_TEST_MKJWT=$top/$BUILD/tests/tools/mkjwt CUSTOS_BROWSER_SHOTS=$top/build/browser \
        node tests/browser/capture.test.mjs; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); echo "test.sh: the browser test failed" >&2
    fi
fi

# the shared server must stop cleanly on SIGTERM (exit 0, no sanitizer report)
kill -TERM "$server_pid"
wait "$server_pid"; rc=$?
server_pid=
if [ "$rc" != 0 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$CUSTOS_TEST_SERVER_LOG"; then
    failed=$((failed + 1))
    echo "test.sh: the shared server exited $rc or reported a sanitizer error:" >&2
    grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error' "$CUSTOS_TEST_SERVER_LOG" | head -60 >&2
else
    passed=$((passed + 1))
fi
for f in "$work"/spawned-*.log; do
    [ -f "$f" ] || continue
    if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$f"; then
        failed=$((failed + 1)); echo "test.sh: sanitizer report in $f:" >&2; head -60 "$f" >&2
    fi
done

# ---- the vault tests again, through PgBouncer in transaction mode (issue 9) ----
# A second server whose pool goes through a PgBouncer 1.18 in transaction mode, with unnamed
# statements (CUSTOS_DB_PREPARED=0); PgBouncer's pool is smaller than the service's, so one
# client connection's transactions land on several server connections. Passes when the suites
# pass, the server answered no 5xx, its sweeper (every 2 s) and `custos sweep` never failed.
# PGBOUNCER_PREPARED=1 runs it with named prepared statements instead (it must fail: 42P05 and
# 26000 behind the pooler).
bouncer_suites=$(ls "$BUILD"/tests/integration/test_* 2>/dev/null | grep -v '_serial$' | sort | current |
    grep -E "${PGBOUNCER_SUITES:-/test_(tokenize|detokenize|search|records|collections|purposes|capture)$}" | pick)
if [ -n "$bouncer_suites" ]; then
    echo "== PgBouncer (transaction mode) in front of PostgreSQL"
    bouncer_dir=$(readlink -f "$work/pg")/bouncer
    bouncer_port=$(free_port)
    scripts/pgbouncer.sh start "$bouncer_dir" "$sock" "$pg_port" "$bouncer_port" || die "could not start PgBouncer"
    bouncer_url="host=127.0.0.1 port=$bouncer_port dbname=custos_test user=custos_app"
    bouncer_log=$work/server-pgbouncer.log
    api_port=$(free_port)
    CUSTOS_DATABASE_URL=$bouncer_url CUSTOS_DB_PREPARED=${PGBOUNCER_PREPARED:-0} \
        CUSTOS_LISTEN=127.0.0.1:$api_port "$bin" serve >"$bouncer_log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -fsS --cacert "$CUSTOS_TEST_CA" "https://127.0.0.1:$api_port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    for t in $bouncer_suites; do
        CUSTOS_TEST_URL=https://127.0.0.1:$api_port CUSTOS_TEST_SERVER_LOG=$bouncer_log \
            CUSTOS_DATABASE_URL=$bouncer_url CUSTOS_DB_PREPARED=${PGBOUNCER_PREPARED:-0} \
            run_suite "pgbouncer $(basename "$t")" "$t" --jobs=$jobs
    done
    echo "== pgbouncer: custos sweep through the pooler"
    if CUSTOS_DATABASE_URL=$bouncer_url CUSTOS_DB_PREPARED=${PGBOUNCER_PREPARED:-0} "$bin" sweep >/dev/null; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1)); echo "test.sh: custos sweep failed through PgBouncer" >&2
    fi
    sleep 2.5 # at least one more pass of the server's sweeper
    kill -TERM "$server_pid"; wait "$server_pid"; rc=$?
    server_pid=
    scripts/pgbouncer.sh stop "$bouncer_dir"
    fivexx=$(grep -c '"status":5[0-9][0-9]' "$bouncer_log")
    sweep_failed=$(grep -c 'sweep failed' "$bouncer_log")
    echo "== pgbouncer: server exit $rc, $fivexx answers 5xx, $sweep_failed failed sweeps"
    if [ "$rc" = 0 ] && [ "$fivexx" = 0 ] && [ "$sweep_failed" = 0 ] &&
        ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$bouncer_log"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "test.sh: behind PgBouncer the server answered 5xx, a sweep failed or it exited $rc:" >&2
        grep -E '"status":5|sweep failed|Sanitizer|runtime error' "$bouncer_log" | head -20 >&2
    fi
fi

# tests that stop and start PostgreSQL, or hold process-wide traps (test_storage_serial's proxy), run alone, last
for t in $(ls "$BUILD"/tests/integration/test_*_serial 2>/dev/null | sort | current | pick); do
    run_suite "integration $(basename "$t")" "$t" --jobs=1
done

# ---- the quick start with its default ports taken, and README's session as written ----
# (not under SANITIZE=1: it runs make run's own build/custos, and the plain run covers it)
if [ "${SANITIZE:-0}" != 1 ] && { [ -z "$only" ] || echo quickstart | grep -qE "$only"; }; then
    echo "== quick start (tests/quickstart.sh)"
    qs=$(tests/quickstart.sh 2>&1); echo "$qs"
    line=$(tail -n 1 <<<"$qs")
    if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
    else
        failed=$((failed + 1)); echo "test.sh: tests/quickstart.sh did not finish" >&2
    fi
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
