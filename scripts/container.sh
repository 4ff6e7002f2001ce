#!/usr/bin/env bash
# The container image with podman, as DESIGN.md describes these machines (no Docker engine, no
# image registry): the Debian 12 base image is made locally with debootstrap, builds and runs use
# the runc runtime and explicit ulimits.
#   container.sh base    import docker.io/library/debian:12-slim from debootstrap, unless present
#   container.sh build   the base, then `podman build` of ./Dockerfile as localhost/custos:dev
#   container.sh test    the image's migrate and serve against a throwaway PostgreSQL, read-only
#                        root, all capabilities dropped, uid 10001, API calls over HTTPS through it
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
image=${CUSTOS_IMAGE:-localhost/custos:dev}
base=docker.io/library/debian:12-slim
ulimits=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
pm() { podman --runtime runc "$@"; }
die() { echo "container.sh: $*" >&2; exit 1; }
command -v podman >/dev/null || die "podman is missing (scripts/deps.sh installs it)"

make_base() {
    pm image exists "$base" && return 0
    command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/deps.sh installs it)"
    local root; root=$(mktemp -d /var/tmp/custos-base.XXXXXX)
    echo "container.sh: debootstrap bookworm (minbase) for $base" >&2
    debootstrap --variant=minbase bookworm "$root" >"$root.log" 2>&1 ||
        { tail -n 20 "$root.log" >&2; rm -rf "$root" "$root.log"; die "debootstrap failed"; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | pm import - "$base" >/dev/null
    rm -rf "$root" "$root.log"
}

build_image() {
    make_base
    local commit; commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    # --format docker keeps the HEALTHCHECK (the OCI format has none)
    pm build --format docker "${ulimits[@]}" --build-arg CUSTOS_COMMIT="$commit" -t "$image" . ||
        die "podman build failed"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The image as production runs it: read-only root (podman gives /tmp a tmpfs), no capabilities,
# no privilege gain, uid 10001, secrets as read-only files owned by that uid, host network to
# reach the throwaway PostgreSQL on 127.0.0.1. Ends with "N passed, N failed".
test_image() {
    local mkidp=$top/build/tests/tools/mkidp mkjwt=$top/build/tests/tools/mkjwt
    [ -x "$mkidp" ] && [ -x "$mkjwt" ] || die "$mkidp or $mkjwt is missing (make tests)"
    pm image exists "$image" || die "no image $image (container.sh build)"
    work=$top/.local/container-$$
    name=custos-test-$$
    passed=0; failed=0
    trap 'pm rm -f "$name" >/dev/null 2>&1; scripts/pg.sh destroy "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
    check() { # description command...
        local what=$1; shift
        if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what" >&2; fi
    }
    mkdir -p "$work"
    local pg_port; pg_port=$(free_port)
    scripts/pg.sh start "$work/pg" "$pg_port" fast || die "could not start PostgreSQL"
    local sock; sock=$(readlink -f "$work/pg")/run
    psql -X -q -h "$sock" -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE custos" || die "could not create the database"

    # secrets: the root key from the image's own keygen, a TLS certificate, a test IdP's JWKS
    local sec=$work/secrets
    mkdir -p "$sec"
    pm run --rm "${ulimits[@]}" --network none --read-only --cap-drop ALL "$image" keygen >"$sec/root.key" 2>/dev/null ||
        die "custos keygen in the image failed"
    scripts/dev-secrets.sh "$sec" /bin/false || die "could not make the TLS certificate"
    "$mkidp" "$work/idp" >/dev/null || die "mkidp failed"
    cp "$work/idp/jwks.json" "$sec/jwks.json"
    chown -R 10001:10001 "$sec"; chmod 0500 "$sec"; chmod 0400 "$sec"/*

    local iss=https://idp.container.custos/ aud=custos-container
    local run_opts=("${ulimits[@]}" --network host --read-only --cap-drop ALL
        --security-opt no-new-privileges --user 10001:10001 -v "$sec:/secrets:ro"
        -e CUSTOS_ROOT_KEY_FILE=/secrets/root.key)
    check "custos migrate in the image" pm run --rm "${run_opts[@]}" \
        -e CUSTOS_MIGRATE_DATABASE_URL="host=127.0.0.1 port=$pg_port dbname=custos user=postgres" \
        -e CUSTOS_DATABASE_URL="host=127.0.0.1 port=$pg_port dbname=custos user=custos_app" \
        "$image" migrate

    local api_port; api_port=$(free_port)
    local url=https://127.0.0.1:$api_port
    pm run -d --name "$name" "${run_opts[@]}" \
        -e CUSTOS_LISTEN=127.0.0.1:$api_port \
        -e CUSTOS_DATABASE_URL="host=127.0.0.1 port=$pg_port dbname=custos user=custos_app" \
        -e CUSTOS_JWKS_FILE=/secrets/jwks.json -e CUSTOS_JWT_ISSUER=$iss -e CUSTOS_JWT_AUDIENCE=$aud \
        -e CUSTOS_TLS_CERT_FILE=/secrets/tls.crt -e CUSTOS_TLS_KEY_FILE=/secrets/tls.key \
        "$image" serve >/dev/null 2>"$work/run.err" || { cat "$work/run.err" >&2; die "podman run failed"; }
    local up=0
    for _ in $(seq 1 150); do
        curl -fsS --cacert "$sec/tls.crt" "$url/readyz" >/dev/null 2>&1 && { up=1; break; }
        [ "$(pm inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
        sleep 0.2
    done
    [ "$up" = 1 ] || { pm logs "$name" >&2; die "the container did not become ready"; }
    check "serve in the image is ready over HTTPS" true

    # the confinement: the image's own user, then as seen from inside
    check "the image's user is 10001:10001" test "$(pm image inspect -f '{{.Config.User}}' "$image")" = 10001:10001
    check "runs as uid 10001" test "$(pm exec "$name" id -u)" = 10001
    check "root filesystem is read-only" bash -c "podman --runtime runc exec $name sh -c 'echo x >/usr/local/bin/x' 2>&1 | grep -q 'Read-only file system'"
    check "no effective capabilities" test "$(pm exec "$name" sh -c "grep CapEff /proc/1/status | cut -f2")" = 0000000000000000
    check "no privilege gain" test "$(pm exec "$name" sh -c "grep NoNewPrivs /proc/1/status | cut -f2")" = 1
    check "HEALTHCHECK passes" pm healthcheck run "$name"

    # the API through it: a tenant, a collection, a purpose, tokenize, detokenize (RS256 tokens)
    local admin tok
    admin=$("$mkjwt" "$work/idp" "$iss" "$aud" container "vault:admin" 1) || die "mkjwt failed"
    tok=$("$mkjwt" "$work/idp" "$iss" "$aud" container "tenant:admin records:write detokenize:*.*:plain" 1) || die "mkjwt failed"
    api() { # method path body token [extra curl args] -> body, fails on non-2xx
        local m=$1 p=$2 b=$3 t=$4; shift 4
        curl -fsS --cacert "$sec/tls.crt" -X "$m" -H "Authorization: Bearer $t" \
            -H 'Content-Type: application/json' "$@" --data-binary "$b" "$url$p"
    }
    check "create a tenant" api POST /v1/tenants '{"id":"container","name":"Container test"}' "$admin" -o /dev/null
    check "create a collection" api PUT /v1/collections/customers \
        '{"fields":{"name":{"type":"name","tokenization":"random"}}}' "$tok" -o /dev/null
    check "declare a purpose" api PUT /v1/purposes/support '{"description":"support","lawful_basis":"contract"}' "$tok" -o /dev/null
    local planted="Container Probe $$"
    api POST /v1/collections/customers/records \
        "{\"records\":[{\"subject_id\":\"s-1\",\"fields\":{\"name\":\"$planted\"}}]}" "$tok" >"$work/tokenize.json" 2>&1
    local token; token=$(grep -o '"name":"[^"]*"' "$work/tokenize.json" | head -n 1 | cut -d'"' -f4)
    check "tokenize returns a token" test -n "$token"
    api POST /v1/detokenize "{\"tokens\":[\"$token\"]}" "$tok" -H 'X-Purpose: support' >"$work/detokenize.json" 2>&1
    check "detokenize returns the value" grep -q "\"value\":\"$planted\"" "$work/detokenize.json"
    check "no token, no answer (401)" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$sec/tls.crt" \
        -X POST -H 'Content-Type: application/json' --data-binary '{"tokens":[]}' "$url/v1/detokenize")" = 401

    # SIGTERM: drains and exits 0; the value never reached the log
    pm stop -t 20 "$name" >/dev/null
    check "exits 0 on SIGTERM" test "$(pm inspect -f '{{.State.ExitCode}}' "$name")" = 0
    pm logs "$name" >"$work/serve.log" 2>&1
    check "the log holds no value" bash -c "! grep -q '$planted' '$work/serve.log'"
    if [ "$failed" != 0 ]; then echo "--- container log:" >&2; tail -n 30 "$work/serve.log" >&2; fi
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

case "${1:-}" in
test) test_image ;;
base) make_base ;;
build) build_image ;;
*) echo "usage: container.sh base|build|test" >&2; exit 2 ;;
esac
