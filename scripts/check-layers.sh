#!/usr/bin/env bash
# Fails when a file includes a library, or a project header, outside its layer (DESIGN.md).
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
# test-only code and libraries never enter the product (tests/support, criterion, libcurl)
check 'support/|criterion/|curl/' '$^' 'test-only code'
# project layers: core <- config, crypto, storage <- auth, service <- http <- main.c
layer_of() { case "$1" in core) echo 0;; config|crypto|storage) echo 1;; auth|service) echo 2;; http) echo 3;; *) echo 9;; esac; }
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
[ $fail = 0 ] && echo "check-layers: ok"
exit $fail
