#!/usr/bin/env python3
"""Checks the Compose file as docker-compose resolves it (`docker-compose --profile dev --profile
prod config` on stdin): the rules docker-compose's own schema check cannot know. Prints each
finding; exit 1 when there is one. `--selftest FILE` instead breaks the resolved file in known
ways and requires each to be refused (the check must be able to fail)."""
import copy
import sys

import yaml


def findings(doc):
    f = []
    svcs = doc.get("services", {})
    for name in ("init", "db", "migrate", "custos-dev", "custos"):
        if name not in svcs:
            f.append(f"no service {name}")
    db = svcs.get("db", {})
    if not str(db.get("image", "")).startswith("postgres:15"):
        f.append("db: not PostgreSQL 15")
    cmd = " ".join(map(str, db.get("command", [])))
    for setting in ("log_parameter_max_length=0", "log_parameter_max_length_on_error=0",
                    "log_min_error_statement=panic"):
        if setting not in cmd:
            f.append(f"db: {setting} not set (parameters could reach the log)")
    if not db.get("healthcheck", {}).get("test"):
        f.append("db: no healthcheck")
    if db.get("depends_on", {}).get("init", {}).get("condition") != "service_completed_successfully":
        f.append("db: does not wait for the init service's secrets")
    for name in ("migrate", "custos-dev", "custos"):
        s = svcs.get(name, {})
        if s.get("read_only") is not True:
            f.append(f"{name}: root filesystem not read-only")
        if "ALL" not in s.get("cap_drop", []):
            f.append(f"{name}: capabilities not all dropped")
        if str(s.get("user", "")) != "10001:10001":
            f.append(f"{name}: not uid 10001")
        if not any("no-new-privileges" in o for o in s.get("security_opt", [])):
            f.append(f"{name}: privileges may be gained")
        env = s.get("environment", {})
        for k, v in env.items():
            if k.endswith(("_PASSWORD", "_SECRET", "_KEY")) and not k.endswith("_FILE"):
                f.append(f"{name}: secret {k} by value in the environment")
    dev = svcs.get("custos-dev", {})
    if "dev" not in dev.get("profiles", []):
        f.append("custos-dev: not in the dev profile")
    if dev.get("depends_on", {}).get("migrate", {}).get("condition") != "service_completed_successfully":
        f.append("custos-dev: starts before migrate has finished")
    if dev.get("environment", {}).get("CUSTOS_JWT_HS256_SECRET_FILE") is None:
        f.append("custos-dev: no generated development secret (it would need a real JWKS)")
    prod = svcs.get("custos", {})
    if "prod" not in prod.get("profiles", []):
        f.append("custos: the JWKS-dependent service is not behind the prod profile")
    return f


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--selftest":
        base = yaml.safe_load(open(sys.argv[2]))
        if findings(base):
            print("compose selftest: the file as it is does not pass", findings(base))
            return 1
        breaks = {
            "parameters logged": lambda d: d["services"]["db"].update(command=["postgres"]),
            "no healthcheck": lambda d: d["services"]["db"].pop("healthcheck"),
            "writable root": lambda d: d["services"]["custos-dev"].update(read_only=False),
            "root user": lambda d: d["services"]["migrate"].pop("user"),
            "secret by value": lambda d: d["services"]["custos"]["environment"].update(
                CUSTOS_JWT_HS256_SECRET="x"),
            "prod service always on": lambda d: d["services"]["custos"].pop("profiles"),
            "no init wait": lambda d: d["services"]["db"].pop("depends_on"),
        }
        failed = 0
        for what, brk in breaks.items():
            d = copy.deepcopy(base)
            brk(d)
            if findings(d):
                print(f"ok: refused {what}")
            else:
                failed += 1
                print(f"FAILED: accepted {what}")
        print(f"{len(breaks) - failed} passed, {failed} failed")
        return 1 if failed else 0
    f = findings(yaml.safe_load(sys.stdin))
    for x in f:
        print(f"compose: {x}", file=sys.stderr)
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())
