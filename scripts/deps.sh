#!/usr/bin/env bash
# Installs the Debian packages Custos needs to build, run and test, when any is missing.
# As root it runs apt-get itself (after apt-get update: a fresh machine's lists are stale);
# otherwise it prints the one command to run.
set -euo pipefail
pkgs=(build-essential pkg-config libmicrohttpd-dev libpq-dev libssl-dev libjansson-dev
      libjwt-dev libcriterion-dev libcurl4-openssl-dev postgresql openssl curl clang
      docker-compose procps iproute2 wrk postgresql-contrib python3 python3-yaml pgbouncer)
# make bench's profile (issue 9 item 5): perf, and callgrind where perf cannot record
pkgs+=(linux-perf valgrind)
# the container, Compose and Kubernetes checks (issue 15): podman with runc and a debootstrap-made
# base image; node and npm for kubernetes-models and the OpenAPI tools (tools/openapi: make
# lint-api, make test-contract); kubectl for `kubectl kustomize`
pkgs+=(podman runc debootstrap nodejs)
# the browser test of the capture page (make test-browser): Debian's chromium, driven from node
pkgs+=(chromium)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# by command, not by package: another vendor's nodejs brings npm with it, and another vendor's
# kubectl package (with kustomize built in) stands in for Debian's kubernetes-client
command -v npm >/dev/null || missing+=(npm)
command -v kubectl >/dev/null || missing+=(kubernetes-client)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "custos: missing packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "custos: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
