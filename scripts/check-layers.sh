#!/usr/bin/env bash
# Fails when a file includes a library, or a project header, outside its layer (DESIGN.md), or
# when project includes form a cycle between modules.
set -u
cd "$(dirname "$0")/.."
fail=0
check() { # pattern, allowed-dir-regex, what
    local hits
    hits=$(grep -rnE "^#\s*include\s*[<\"]($1)" server | grep -vE "^server/($2)" || true)
    if [ -n "$hits" ]; then
        echo "check-layers: $3 included outside its layer:"; echo "$hits"; fail=1
    fi
}
check 'openssl/' 'crypto/' 'OpenSSL'
check 'libpq-fe\.h|libpq/|postgres' 'storage/' 'libpq'
check 'jwt\.h' 'auth/jwt\.c' 'libjwt'
check 'microhttpd\.h' 'http/' 'libmicrohttpd'
check 'curl/' 'auth/idp\.c' 'libcurl (the JWKS by URL only)'
# test-only code and libraries never enter the product (tests/support, criterion)
check 'support/|criterion/' '$^' 'test-only code'
# project layers: core <- config, crypto, storage <- auth, service <- http <- cmd, main.c
layer_of() { case "$1" in core) echo 0;; config|crypto|storage) echo 1;; auth|service) echo 2;; http) echo 3;; cmd) echo 4;; *) echo 9;; esac; }
while IFS= read -r line; do
    file=${line%%:*}; inc=$(sed -nE 's/.*#\s*include\s*"([a-z]+)\/.*/\1/p' <<<"$line")
    [ -n "$inc" ] || continue
    dir=$(sed -nE 's#^server/([a-z]+)/.*#\1#p' <<<"$file"); [ -n "$dir" ] || continue
    a=$(layer_of "$dir"); b=$(layer_of "$inc")
    if [ "$b" -gt "$a" ] || { [ "$a" = 1 ] && [ "$b" = 1 ] && [ "$dir" != "$inc" ]; } || \
       { [ "$a" = 2 ] && [ "$b" = 2 ] && [ "$dir" != "$inc" ] && [ "$dir" != service ]; }; then
        echo "check-layers: $file includes $inc/ (layer $b) from layer $a"; fail=1
    fi
done < <(grep -rnE '^#\s*include\s*"[a-z]+/' server)
# no include cycles between modules (a module is x.c with x.h): an edge runs from the file's
# module to the module of each project header it includes; tsort refuses any loop, which also
# covers two headers including each other
edges=$(grep -rnE '^#\s*include\s*"[a-z_]+/[a-z_/]+\.h"' server |
    sed -nE 's#^(server/[^:]+)\.[ch]:[0-9]+:\s*\#\s*include\s*"([^"]+)\.h".*#\1 server/\2#p' |
    awk '$1 != $2' | sort -u)
if ! loops=$(tsort <<<"$edges" 2>&1 >/dev/null) || [ -n "$loops" ]; then
    echo "check-layers: include cycle between modules:"
    grep -vE 'input contains a loop' <<<"$loops" | sed -E 's/^tsort: /  /'
    fail=1
fi
[ $fail = 0 ] && echo "check-layers: ok"
exit $fail
