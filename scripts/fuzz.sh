#!/usr/bin/env bash
# Builds each tests/fuzz/fuzz_*.c with clang's libFuzzer (+ASan/UBSan) against the server
# sources and runs it for SECONDS (default 60). Fails on any crash, leak or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build/fuzz
mkdir -p "$out"
# the Makefile's PKGS: one list, so a new library (libcurl for auth/idp.c) reaches the fuzzers too
pkgs=${PKGS:?run me through make fuzz}
srcs=$(find server -name '*.c' ! -name main.c | sort)
[ -f build/gen/migrations.c ] || { mkdir -p build/gen; scripts/embed-migrations.sh build/gen/migrations.c; }
status=0
for f in tests/fuzz/fuzz_*.c; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .c)
    echo "== $name (${seconds}s)"
    clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -Iserver -Itests $(pkg-config --cflags $pkgs) \
        "$f" $srcs build/gen/migrations.c $(pkg-config --libs $pkgs) -lpthread -o "$out/$name"
    mkdir -p "$out/$name.corpus"
    seeds=tests/fuzz/seeds/$name
    [ -d "$seeds" ] || seeds=
    if "$out/$name" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$out/$name.corpus" $seeds >"$out/$name.log" 2>&1; then
        grep -E 'stat::number_of_executed_units|Done' "$out/$name.log" | tail -n 2
        echo "$name: passed"
    else
        status=1
        tail -n 40 "$out/$name.log"
        echo "$name: FAILED"
    fi
done
exit $status
