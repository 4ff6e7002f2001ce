#!/usr/bin/env bash
# `make test-contract` (run by .ci/run): the API against its contract. The integration suites
# below — every route of the table, their refusals (401, 403, 404, 405, 413, 415, 422) and the
# operations' success paths — run against the real server through a Prism validating proxy
# (@stoplight/prism-cli, pinned in tools/openapi). Passes when the suites pass, Prism saw no
# response that breaks api/openapi.yaml (status, headers, body schema) and every operation of
# api/openapi.yaml was exercised at least once (a new route needs its suite in the list below).
# Request violations are expected (the suites send bad requests on purpose) and only counted.
# Prism is started with tools/openapi/prism-raw-bodies.cjs preloaded: a plain Prism answers a
# request whose application/json body is not JSON itself (micri's 400 application/json
# "invalid_json") instead of forwarding it; with the hook it forwards the body's text unchanged,
# so the server answers (400 application/problem+json) and Prism validates that answer.
set -uo pipefail
cd "$(dirname "$0")/.."
tools=tools/openapi
if [ ! -x "$tools/node_modules/.bin/prism" ]; then
    (cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
        { echo "contract: npm ci failed in $tools" >&2; exit 1; }
fi
# Integration suites only (a unit binary of the same name has nothing to send through Prism).
# (test_batch_limit is left out: its 8,000-value tokenize can pass the 2 s database deadline
# of make test when Prism shares the two cores)
suites=${CONTRACT_SUITES:-/integration/test_(routes|errors|collections|purposes|roles|records|search|search_email|detokenize|token_formats|reveal_plan|audit|audit_query|rls|verify|capture|subjects|gates)$}
log=$PWD/.local/prism-$$.log
mkdir -p .local
# the hook is inert in every other node process test.sh starts (it acts on Prism's server only)
NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--require $PWD/$tools/prism-raw-bodies.cjs" \
    CUSTOS_TEST_PRISM_LOG=$log ONLY=$suites PGBOUNCER_SUITES='^$' LINT_SELFTEST=0 scripts/test.sh
rc=$?
[ -f "$log" ] || { echo "contract: no Prism log" >&2; exit 1; }
python3 - "$log" api/openapi.yaml <<'PY'
import re, sys, yaml
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1], errors="replace").read())
lines = text.splitlines()
resp = [l for l in lines if "Violation: response" in l]
req = [l for l in lines if "Violation: request" in l]
received = re.findall(r"\[HTTP SERVER\] (\w+) (\S+) .*Request received", text)
# every operation of the contract must have been exercised at least once
spec = yaml.safe_load(open(sys.argv[2]))
ops = {}
for path, item in spec["paths"].items():
    rx = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")
    for method in item:
        if method in ("get", "put", "post", "patch", "delete"):
            ops[(method, path)] = (rx, 0)
for method, target in received:
    p = target.split("?")[0]
    for (m, path), (rx, n) in ops.items():
        if m == method.lower() and rx.match(p):
            ops[(m, path)] = (rx, n + 1)
missing = sorted("%s %s" % (m.upper(), p) for (m, p), (rx, n) in ops.items() if n == 0)
print("contract: %d requests through Prism, %d of %d operations exercised; %d response "
      "violations, %d request violations (bad requests sent on purpose)"
      % (len(received), len(ops) - len(missing), len(ops), len(resp), len(req)))
for l in resp[:50]:
    print("  " + l.strip())
for m in missing:
    print("  not exercised: " + m)
sys.exit(1 if resp or missing or not received else 0)
PY
prc=$?
[ "${KEEP_PRISM_LOG:-0}" = 1 ] || rm -f "$log"
[ "$rc" = 0 ] && [ "$prc" = 0 ]
