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

case "${1:-}" in
base) make_base ;;
*) echo "usage: container.sh base|build|test" >&2; exit 2 ;;
esac
