/* Security of the vault: a planted value is absent from the database dump, the logs and the
 * audit trail; every access is audited with its outcome; hostile JSON bodies are refused and
 * store nothing.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/hex.h"

TestSuite(security, .fini = cleanup_all);

/* The whole content of a file (owned), or NULL when it cannot be read. */
static char *
slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap *= 2;
            char *p = realloc(buf, cap);
            if (p == NULL) {
                abort();
            }
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    fclose(f);
    buf[len] = '\0';
    return own(buf);
}

/* The standard output of a shell command (owned); *status its exit status. */
static char *
slurp_cmd(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "could not run %s", cmd);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap *= 2;
            char *q = realloc(buf, cap);
            if (q == NULL) {
                abort();
            }
            buf = q;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, p);
        if (n == 0) {
            break;
        }
        len += n;
    }
    buf[len] = '\0';
    *status = pclose(p);
    return own(buf);
}

/* Lower-case hex of the bytes of s, as bytea columns print in a dump. */
static char *
hex_of(const char *s)
{
    size_t n = strlen(s);
    char *out = own(malloc(2 * n + 1));
    t_hex(s, n, out);
    return out;
}

Test(security, a_planted_value_is_absent_from_the_dump_the_logs_and_the_audit_trail, .timeout = 60)
{
    struct vt t;
    vault_setup(&t);
    const char *mark = random_hex(10);
    const char *canary = fmt("CANARY-%s", mark);
    const char *email = fmt("%s@example.com", canary);
    const char *later = fmt("CANARY-%s", random_hex(10));
    /* one record goes through every operation; the other stays live for the dump */
    json_t *gone = tokenize1(&t, "crm-1",
                             json_pack("{s:s, s:s, s:s, s:s}", "note", canary, "email", email,
                                       "name", canary, "phone", "+14155550100"));
    const char *kept_body =
        records_body("crm-2", json_pack("{s:s, s:s, s:s}", "note", fmt("text %s text", canary),
                                        "email", email, "name", canary));
    struct t_resp *r =
        send_req("POST", RECORDS, t.admin, NULL, "planted-1", "application/json", kept_body);
    cr_assert_eq(r->status, 201, "%s", r->body);
    json_t *kept = json_array_get(json_object_get(r->json, "records"), 0);

    cr_assert_str_eq(plain(&t, tok(gone, "note")), canary);
    cr_assert_str_eq(plain(&t, tok(gone, "email")), email);
    value_of(detok1(t.admin, tok(gone, "name"), "masked"));
    r = api_p("GET", rec_path(rid(gone)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_eq(json_array_size(search(t.admin, "email", email)), 2);
    r = patch(&t, rid(gone), json_pack("{s:s, s:s}", "note", later, "name", later));
    cr_assert_eq(r->status, 200, "%s", r->body);
    /* refused values do not leak through the error path either */
    r = api("POST", RECORDS, t.admin,
            records_body("crm-3", json_pack("{s:s, s:s}", "email", fmt("%s@@bad", canary), "phone",
                                            canary)));
    assert_problem(r, 422, "/records/0/fields/email");
    cr_assert_null(strstr(r->body, mark), "%s", r->body);
    r = api("POST", "/v1/collections/customers/search", t.admin,
            dump(json_pack("{s:s, s:s}", "field", "phone", "value", canary)));
    assert_problem(r, 422, "/value");
    cr_assert_null(strstr(r->body, mark), "%s", r->body);
    r = patch(&t, rid(gone), json_pack("{s:s}", "email", fmt("%s@", canary)));
    assert_problem(r, 422, "/fields/email");
    cr_assert_null(strstr(r->body, mark), "%s", r->body);
    cr_assert_eq(api("DELETE", rec_path(rid(gone)), t.admin, NULL)->status, 204);
    cr_assert_str_eq(plain(&t, tok(kept, "name")), canary);

    const char *marks[] = {mark, later + strlen("CANARY-"), hex_of(canary), hex_of(later)};
    char *log = slurp_file(t_env("CUSTOS_TEST_SERVER_LOG"));
    cr_assert_not_null(log, "cannot read the server log");
    cr_assert_not_null(strstr(log, t.id), "the server log does not show this tenant's requests");
    char *pglog = slurp_file(fmt("%s/postgres.log", t_env("CUSTOS_TEST_PG_DIR")));
    cr_assert_not_null(pglog, "cannot read the PostgreSQL log");
    int status = 0;
    char *dumped =
        slurp_cmd(fmt("pg_dump --dbname='%s' 2>&1", t_env("CUSTOS_TEST_ADMIN_DB_URL")), &status);
    cr_assert_eq(status, 0, "pg_dump failed: %.500s", dumped);
    cr_assert_not_null(strstr(dumped, t.id), "the dump does not hold this tenant");
    cr_assert_not_null(strstr(dumped, rid(kept)), "the dump does not hold the live record");
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        cr_assert_null(strstr(log, marks[i]), "the server log holds planted value %zu", i);
        cr_assert_null(strstr(pglog, marks[i]), "the PostgreSQL log holds planted value %zu", i);
        const char *at = strstr(dumped, marks[i]);
        cr_assert_null(at, "the dump holds planted value %zu: ...%.200s", i,
                       at ? (at - dumped > 100 ? at - 100 : dumped) : "");
    }
    PGconn *db = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_gt(db_count(db, "SELECT count(*) FROM audit_log WHERE tenant_id = $1", t.id), 0);
    cr_assert_eq(db_count2(db,
                           "SELECT count(*) FROM audit_log a WHERE a.tenant_id = $1"
                           " AND strpos(upper(a::text), upper($2)) > 0",
                           t.id, mark),
                 0, "an audit entry holds the planted value");
    cr_assert_eq(db_count2(db,
                           "SELECT count(*) FROM idempotency_keys k WHERE k.tenant_id = $1"
                           " AND strpos(upper(k::text), upper($2)) > 0",
                           t.id, mark),
                 0, "a stored idempotent answer holds the planted value");
}

Test(security, every_access_is_audited_with_its_outcome)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    value_of(detok1(t.admin, tok(rec, "email"), NULL));
    const char *none = t_token_sub(t.id, "records:write", "agent-no-grant");
    cr_assert_eq(api_p("POST", "/v1/detokenize", none, "support",
                       dump(json_pack("{s:[s]}", "tokens", tok(rec, "email"))))
                     ->status,
                 200);
    cr_assert_eq(api_p("POST", "/v1/detokenize", t.admin, "marketing",
                       dump(json_pack("{s:[s]}", "tokens", tok(rec, "email"))))
                     ->status,
                 403);
    cr_assert_eq(api_p("GET", rec_path(rid(rec)), t.admin, "support", NULL)->status, 200);
    search(t.admin, "phone", "+14155550100");
    cr_assert_eq(patch(&t, rid(rec), json_pack("{s:s}", "name", "Jane Doe"))->status, 200);
    cr_assert_eq(api("POST", RECORDS, t_token(t.id, "records:search"),
                     records_body("crm-2", json_pack("{s:s}", "name", "Jo Smith")))
                     ->status,
                 403);
    cr_assert_eq(api("DELETE", rec_path(rid(rec)), t.admin, NULL)->status, 204);

    PGconn *db = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    static const char *const actions[] = {"tokenize",       "detokenize",     "record.read",
                                          "records.search", "record.rectify", "record.delete"};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        cr_assert_gt(db_count2(db,
                               "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                               " AND action = $2 AND outcome = 'allowed'",
                               t.id, actions[i]),
                     0, "no allowed %s entry", actions[i]);
    }
    cr_assert_gt(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'detokenize' AND outcome = 'denied'"
                          " AND principal = 'agent-no-grant' AND record_id IS NOT NULL"
                          " AND purpose = 'support'",
                          t.id),
                 0, "the per-item denial is not audited");
    cr_assert_gt(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'detokenize' AND outcome <> 'allowed'"
                          " AND principal = 'test-user' AND record_id IS NULL",
                          t.id),
                 0, "the undeclared purpose is not audited");
    cr_assert_gt(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'tokenize' AND outcome = 'denied'",
                          t.id),
                 0, "the refused tokenize is not audited");
    cr_assert_eq(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'detokenize' AND outcome = 'allowed'"
                          " AND (record_id IS NULL OR subject_id <> 'crm-1'"
                          "      OR purpose <> 'support' OR redaction <> 'plain')",
                          t.id),
                 0, "an allowed reveal is audited without its record, subject or level");
}

Test(security, hostile_json_bodies_are_refused_and_store_nothing)
{
    struct vt t;
    vault_setup(&t);
    char deep[256];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s", "{\"records\":");
    for (int i = 0; i < 38; i++) {
        deep[n++] = '[';
    }
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s",
                          "{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"x\"}}");
    for (int i = 0; i < 38; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    deep[n] = '\0';
    /* status 0: 400 or 422, a refusal either way */
    const struct {
        const char *what, *ctype;
        long status;
        const char *body;
    } cases[] = {
        {"invalid UTF-8", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\xC0\xAF"
         "b\"}}]}"},
        {"overlong UTF-8", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\xE0\x80\xAF\"}}]}"},
        {"encoded surrogate", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"\xED\xA0\x80\"}}]}"},
        {"beyond U+10FFFF", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"\xF4\x90\x80\x80\"}}]}"},
        {"NUL escape in a value", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\\u0000b\"}}]}"},
        {"NUL escape in a key", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\\u0000\":\"ab\"}}]}"},
        {"lone surrogate", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\\uD800b\"}}]}"},
        {"lone low surrogate", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"\\uDC00\"}}]}"},
        {"duplicate field", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\",\"note\":\"b\"}}]}"},
        {"duplicate subject", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"subject_id\":\"crm-2\","
         "\"fields\":{\"note\":\"a\"}}]}"},
        {"duplicate records", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}],\"records\":[]}"},
        {"nesting depth 40", "application/json", 0, deep},
        {"text/plain", "text/plain", 415,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"json with another charset", "application/json; charset=latin1", 415,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"form encoded", "application/x-www-form-urlencoded", 415, "records=1"},
        {"no content type", NULL, 415,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"truncated", "application/json", 400, "{\"records\":[{\"subject_id\":\"crm-1\""},
        {"trailing garbage", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]} x"},
        {"two documents", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}{}"},
        {"single quotes", "application/json", 400,
         "{'records':[{'subject_id':'crm-1','fields':{'note':'a'}}]}"},
        {"comment", "application/json", 400,
         "{\"records\":[/* x */{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"NaN", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":NaN}}]}"},
        {"empty body", "application/json", 400, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_resp *r =
            send_req("POST", RECORDS, t.admin, NULL, NULL, cases[i].ctype, cases[i].body);
        if (cases[i].status == 0) {
            cr_assert(r->status == 400 || r->status == 422, "%s: got %ld %s", cases[i].what,
                      r->status, r->body);
        } else {
            cr_assert_eq(r->status, cases[i].status, "%s: got %ld %s", cases[i].what, r->status,
                         r->body);
        }
        char ct[128];
        cr_assert(t_header(r, "Content-Type", ct, sizeof(ct)), "%s", cases[i].what);
        cr_assert_str_eq(ct, "application/problem+json", "%s", cases[i].what);
    }
    /* a body over the limit (1 MiB by default) */
    struct t_resp *big =
        api("POST", RECORDS, t.admin,
            records_body("crm-1", json_pack("{s:s}", "note", repeat('a', 1100000))));
    assert_problem(big, 413, NULL);
    cr_assert_eq(stored_records(&t), 0, "a hostile body stored a record");
    /* the same record, well formed, goes in */
    struct t_resp *ok =
        send_req("POST", RECORDS, t.admin, NULL, NULL, "application/json; charset=utf-8",
                 "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":"
                 "\"a\\u00e9\\ud83d\\ude00\"}}]}");
    cr_assert_eq(ok->status, 201, "%s", ok->body);
    json_t *rec = json_array_get(json_object_get(ok->json, "records"), 0);
    cr_assert_str_eq(plain(&t, tok(rec, "note")), "a\xC3\xA9\xF0\x9F\x98\x80");
    cr_assert_eq(stored_records(&t), 1);
}
