#!/usr/bin/env bash
# `make lint-api`: lints api/openapi.yaml with Spectral and the OWASP API Security ruleset
# (tools/openapi/.spectral.yaml; tools pinned in tools/openapi/package-lock.json, installed with
# `npm ci --ignore-scripts` on first use). Fails on any error and prints the warning count.
# Then proves the lint can fail: a copy of the spec with one unbounded string added must give
# an error (LINT_SELFTEST=0 skips that).
set -uo pipefail
cd "$(dirname "$0")/.."
tools=tools/openapi
spectral=$tools/node_modules/.bin/spectral
if [ ! -x "$spectral" ]; then
    command -v npm >/dev/null || { echo "lint-api: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
    (cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
        { echo "lint-api: npm ci failed in $tools" >&2; exit 1; }
fi

# lint FILE: prints every error and the counts; returns the number of errors (capped at 255)
lint() {
    local json; json=$(mktemp)
    "$spectral" lint -q -r "$tools/.spectral.yaml" -f json "$1" >"$json" 2>/dev/null
    python3 - "$json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    print("lint-api: spectral gave no report"); sys.exit(255)
errors = [x for x in d if x["severity"] == 0]
warnings = [x for x in d if x["severity"] == 1]
for x in errors:
    print("  error %s at line %d (%s): %s" % (x["code"], x["range"]["start"]["line"] + 1,
          ".".join(map(str, x["path"])), x["message"]))
print("%d errors, %d warnings" % (len(errors), len(warnings)))
sys.exit(min(len(errors), 255))
PY
    local rc=$?
    rm -f "$json"
    return $rc
}

echo "== lint-api: api/openapi.yaml (Spectral + OWASP API Security 2023)"
lint api/openapi.yaml
rc=$?
[ "$rc" = 0 ] || { echo "lint-api: api/openapi.yaml has errors" >&2; exit 1; }

if [ "${LINT_SELFTEST:-1}" = 1 ]; then
    # the overrides of .spectral.yaml name api/*.yaml, so the copy lives next to the original
    copy=api/lint-selftest-$$.yaml
    trap 'rm -f "$copy"' EXIT
    python3 - "$copy" <<'PY'
import sys, yaml
spec = yaml.safe_load(open("api/openapi.yaml"))
spec["components"]["schemas"]["Problem"]["properties"]["hint"] = {"type": "string"}
yaml.safe_dump(spec, open(sys.argv[1], "w"), sort_keys=False)
PY
    echo "== lint-api self-test: a string without maxLength must be an error"
    out=$(lint "$copy")
    if ! grep -q "^  error owasp:api4:2023-string-limit .*Problem.properties.hint" <<<"$out" ||
        ! grep -q "^1 errors" <<<"$out"; then
        echo "lint-api: the self-test copy did not give exactly the one error expected:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "lint-api: the self-test copy fails with the one error expected"
fi
