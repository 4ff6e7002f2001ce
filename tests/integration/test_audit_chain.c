/* The sealed audit chain (issue 10): entries for allowed and denied operations hold no value;
 * verification finds the first entry changed, deleted, reordered or inserted with psql as the
 * superuser, and a checkpoint detects a cut-off tail; two serve processes seal into one valid
 * chain; the service role cannot rewrite an entry; another tenant sees none of it. */
#include "client.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

TestSuite(audit_chain, .fini = cleanup_all);

static long long
admin_count(const char *sql, const char *p1, const char *p2)
{
    return db_count2(db_open("CUSTOS_TEST_ADMIN_DB_URL"), sql, p1, p2);
}

/* GET /v1/audit/verify with an audit:read token of t: the 200 answer. */
static json_t *
verify(const struct vt *t)
{
    struct t_resp *r = api("GET", "/v1/audit/verify", t_token(t->id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "verify: %ld %s", r->status, r->body);
    return r->json;
}

static void
assert_bad(json_t *v, long long position, const char *reason)
{
    cr_assert(json_is_false(json_object_get(v, "valid")), "still valid: %s", show(v));
    cr_assert_str_eq(json_string_value(json_object_get(v, "reason")), reason, "%s", show(v));
    cr_assert_eq(json_integer_value(json_object_get(v, "position")), position, "%s", show(v));
}

/* A tenant with a few entries, all sealed: tokenize, reveal, a denial, a search. */
static void
trail(struct vt *t, json_t **rec)
{
    vault_setup(t);
    *rec = tokenize1(
        t, "crm-planted-subject",
        json_pack("{s:s, s:s}", "name", "Planted Zebulon", "email", "planted.zebulon@example.com"));
    cr_assert_str_eq(plain(t, tok(*rec, "name")), "Planted Zebulon");
    struct t_resp *r = api_p("POST", "/v1/detokenize", t_token(t->id, "records:search"), "support",
                             fmt("{\"tokens\":[\"%s\"]}", tok(*rec, "email")));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    r = api("GET", "/v1/audit", t_token(t->id, "records:search"), NULL);
    cr_assert_eq(r->status, 403, "audit without audit:read: %ld %s", r->status, r->body);
    json_t *v = verify(t);
    cr_assert(json_is_true(json_object_get(v, "valid")), "%s", show(v));
}

Test(audit_chain, allowed_and_denied_entries_are_sealed_and_hold_no_value)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    json_t *v = verify(&t);
    cr_assert(json_is_true(json_object_get(v, "valid")), "%s", show(v));
    long long n = json_integer_value(json_object_get(v, "entries"));
    cr_assert_geq(n, 6, "%s", show(v));
    cr_assert_eq(strlen(json_string_value(json_object_get(v, "head"))), 64);
    /* every entry of the incarnation is in the chain (the last verify's own entry may not be) */
    long long rows = admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                 " AND incarnation IS NOT NULL",
                                 t.id, NULL);
    cr_assert_geq(rows, n);
    cr_assert_leq(rows, n + 1);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND outcome LIKE 'denied%' AND principal <> '' AND action <> ''"
                             " AND request_id IS NOT NULL",
                             t.id, NULL),
                 2, "the two denials (scope on /v1/audit, per-item reveal) are not both recorded");
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log a WHERE tenant_id = $1"
                             " AND (row_to_json(a)::text ILIKE '%zebulon%')",
                             t.id, NULL),
                 0, "a value reached the audit trail");
}

Test(audit_chain, a_changed_entry_fails_verification_at_that_entry)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    free(t_sql(fmt("SET session_replication_role = replica;"
                   " UPDATE audit_log SET principal = 'someone-else'"
                   " WHERE tenant_id = '%s' AND chain_pos = 3",
                   t.id)));
    assert_bad(verify(&t), 3, "changed");
}

Test(audit_chain, a_deleted_entry_fails_verification_at_that_entry)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    free(t_sql(fmt("DELETE FROM audit_log WHERE tenant_id = '%s' AND chain_pos = 2", t.id)));
    assert_bad(verify(&t), 2, "missing");
}

Test(audit_chain, a_deleted_entry_with_the_positions_closed_up_is_still_missing)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    free(t_sql(fmt("SET session_replication_role = replica;"
                   " DELETE FROM audit_log WHERE tenant_id = '%s' AND chain_pos = 2;"
                   " UPDATE audit_log SET chain_pos = chain_pos + 1000000"
                   "  WHERE tenant_id = '%s' AND chain_pos > 2;"
                   " UPDATE audit_log SET chain_pos = chain_pos - 1000001"
                   "  WHERE tenant_id = '%s' AND chain_pos > 1000000",
                   t.id, t.id, t.id)));
    assert_bad(verify(&t), 2, "missing");
}

Test(audit_chain, reordered_entries_fail_verification)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    free(t_sql(fmt("SET session_replication_role = replica;"
                   " UPDATE audit_log SET chain_pos = -1 WHERE tenant_id = '%s' AND chain_pos = 2;"
                   " UPDATE audit_log SET chain_pos = 2 WHERE tenant_id = '%s' AND chain_pos = 3;"
                   " UPDATE audit_log SET chain_pos = 3 WHERE tenant_id = '%s' AND chain_pos = -1",
                   t.id, t.id, t.id)));
    assert_bad(verify(&t), 2, "reordered");
}

Test(audit_chain, an_inserted_entry_fails_verification)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    free(t_sql(fmt("SET session_replication_role = replica;"
                   " UPDATE audit_log SET chain_pos = chain_pos + 1000000"
                   "  WHERE tenant_id = '%s' AND chain_pos >= 3;"
                   " UPDATE audit_log SET chain_pos = chain_pos - 999999"
                   "  WHERE tenant_id = '%s' AND chain_pos > 1000000;"
                   " INSERT INTO audit_log (tenant_id, principal, action, outcome, incarnation,"
                   "  chain_pos, prev_hash, hash)"
                   " SELECT tenant_id, 'ghost', 'detokenize', 'allowed', incarnation, 3, hash,"
                   "  sha256(hash) FROM audit_log WHERE tenant_id = '%s' AND chain_pos = 2",
                   t.id, t.id, t.id)));
    assert_bad(verify(&t), 3, "inserted");
}

Test(audit_chain, a_checkpoint_detects_a_cut_off_tail)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    const char *auditor = t_token(t.id, "audit:read");
    struct t_resp *r = api("GET", "/v1/audit/checkpoint", auditor, NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *cp = json_object_get(r->json, "checkpoint");
    long long pos = json_integer_value(json_object_get(cp, "position"));
    cr_assert_geq(pos, 6, "%s", show(cp));
    char *body = dump(json_pack("{s:O}", "checkpoint", cp));

    r = api("POST", "/v1/audit/verify", auditor, body);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert(json_is_true(json_object_get(r->json, "valid")), "%s", r->body);

    /* a forged checkpoint is refused */
    json_t *forged = json_deep_copy(cp);
    json_object_set_new(forged, "position", json_integer(pos + 50));
    r = api("POST", "/v1/audit/verify", auditor, dump(json_pack("{s:o}", "checkpoint", forged)));
    assert_problem(r, 422, "/checkpoint/mac");

    /* cut the tail off: the chain alone still verifies, against the checkpoint it does not */
    free(t_sql(
        fmt("DELETE FROM audit_log WHERE tenant_id = '%s' AND chain_pos >= %lld", t.id, pos - 2)));
    json_t *plain_v = verify(&t);
    cr_assert(json_is_true(json_object_get(plain_v, "valid")), "%s", show(plain_v));
    r = api("POST", "/v1/audit/verify", auditor, body);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert(json_is_false(json_object_get(r->json, "valid")), "%s", r->body);
    const char *why = json_string_value(json_object_get(r->json, "reason"));
    cr_assert(strcmp(why, "truncated") == 0 || strcmp(why, "changed") == 0, "%s", r->body);
}

Test(audit_chain, the_service_role_cannot_rewrite_or_delete_an_entry)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    PGconn *c = db_open("CUSTOS_DATABASE_URL");
    const char *tenant = t.id;
    PGresult *r = PQexecParams(c, "SELECT set_config('custos.tenant', $1, false)", 1, NULL, &tenant,
                               NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    static const char *const attempts[] = {
        "UPDATE audit_log SET principal = 'x'",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET hash = sha256(hash) WHERE chain_pos = 1",
        "UPDATE audit_log SET chain_pos = chain_pos + 100 WHERE chain_pos = 1",
        "UPDATE audit_log SET hash = NULL, prev_hash = NULL, chain_pos = NULL WHERE chain_pos = 1",
    };
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        r = PQexec(c, attempts[i]);
        cr_assert_neq(PQresultStatus(r), PGRES_COMMAND_OK, "the service role could: %s",
                      attempts[i]);
        PQclear(r);
    }
    json_t *v = verify(&t);
    cr_assert(json_is_true(json_object_get(v, "valid")), "%s", show(v));
}

Test(audit_chain, erasing_a_record_keeps_its_entries_and_the_chain_valid)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    struct t_resp *r = api("DELETE", rec_path(rid(rec)), t.admin, NULL);
    cr_assert_eq(r->status, 204, "%ld %s", r->status, r->body);
    json_t *v = verify(&t);
    cr_assert(json_is_true(json_object_get(v, "valid")), "%s", show(v));
    cr_assert_geq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                              " AND record_id = $2",
                              t.id, rid(rec)),
                  3);
}

Test(audit_chain, queries_filter_page_and_stay_in_their_tenant)
{
    struct vt t = {0}, other = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    vault_setup(&other);
    const char *auditor = t_token(t.id, "audit:read");
    struct t_resp *r =
        api("GET", "/v1/audit?subject_id=crm-planted-subject&action=detokenize", auditor, NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *entries = json_object_get(r->json, "entries");
    cr_assert_eq(json_array_size(entries), 2, "%s", r->body);
    json_t *e = json_array_get(entries, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "outcome")), "allowed", "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(e, "tenant")), t.id);
    cr_assert_eq(strlen(json_string_value(json_object_get(e, "hash"))), 64, "%s", r->body);

    /* pages of 2 cover the trail once, in order */
    long long total = 0, last = -1;
    const char *cursor = NULL;
    for (int page = 0; page < 100; page++) {
        r = api("GET", cursor ? fmt("/v1/audit?limit=2&cursor=%s", cursor) : "/v1/audit?limit=2",
                auditor, NULL);
        cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
        json_t *es = json_object_get(r->json, "entries");
        for (size_t i = 0; i < json_array_size(es); i++) {
            long long seq = json_integer_value(json_object_get(json_array_get(es, i), "seq"));
            cr_assert_gt(seq, last, "out of order or repeated: %s", r->body);
            last = seq;
            total++;
        }
        cursor = json_string_value(json_object_get(r->json, "next_cursor"));
        if (cursor == NULL) {
            break;
        }
        cursor = own(strdup(cursor));
    }
    cr_assert_geq(total, 6);

    /* filters that match nothing, and malformed ones */
    r = api("GET", "/v1/audit?from=2999-01-01T00:00:00Z", auditor, NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "entries")), 0, "%s", r->body);
    r = api("GET", "/v1/audit?from=yesterday", auditor, NULL);
    assert_problem(r, 400, "/query/from");
    r = api("GET", "/v1/audit?cursor=12-x", auditor, NULL);
    cr_assert_eq(r->status, 400, "%ld %s", r->status, r->body);

    /* the other tenant's auditor sees none of it */
    r = api("GET", "/v1/audit?subject_id=crm-planted-subject", t_token(other.id, "audit:read"),
            NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "entries")), 0, "%s", r->body);
    r = api("GET", fmt("/v1/audit?principal=%s", "tester"), t_token(other.id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *oe = json_object_get(r->json, "entries");
    for (size_t i = 0; i < json_array_size(oe); i++) {
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(oe, i), "tenant")),
                         other.id);
    }
}

struct reveals {
    const struct t_server *server;
    const char *bearer, *auditor, *token;
    int n, ok;
};

static void *
reveal_loop(void *arg)
{
    struct reveals *w = arg;
    for (int i = 0; i < w->n; i++) {
        if (t_reveal(w->server, w->bearer, w->token, NULL, 0) == 200) {
            w->ok++;
        }
        if (i % 5 == 4) {
            /* verification seals too: two sealers race on the same tenant */
            struct t_resp r = {0};
            t_request(w->server, "GET", "/v1/audit/verify", w->auditor, NULL, NULL, &r);
            t_resp_free(&r);
        }
    }
    return NULL;
}

Test(audit_chain, two_serve_processes_seal_into_one_valid_chain, .timeout = 120)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    struct t_server second;
    const char *env[] = {"CUSTOS_SWEEP_INTERVAL=1", NULL};
    cr_assert_eq(t_spawn(env, 1, &second), 0);
    const char *auditor = t_token(t.id, "audit:read");
    struct reveals a = {t_shared(), t.admin, auditor, tok(rec, "name"), 30, 0};
    struct reveals b = {&second, t.admin, auditor, tok(rec, "name"), 30, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, reveal_loop, &a);
    pthread_create(&tb, NULL, reveal_loop, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    t_stop(&second);
    cr_assert_eq(a.ok + b.ok, 60);
    json_t *v = verify(&t);
    cr_assert(json_is_true(json_object_get(v, "valid")), "%s", show(v));
    long long rows = admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                 " AND incarnation IS NOT NULL",
                                 t.id, NULL);
    long long n = json_integer_value(json_object_get(v, "entries"));
    cr_assert(n == rows || n + 1 == rows, "%lld sealed of %lld", n, rows);
    cr_assert_eq(admin_count("SELECT count(DISTINCT chain_pos) FROM audit_log WHERE tenant_id = $1"
                             " AND chain_pos IS NOT NULL",
                             t.id, NULL),
                 n);
}

/* `custos audit-verify --tenant T [--checkpoint FILE]`: its exit status. */
static int
cli_verify(const char *tenant, const char *checkpoint_file)
{
    char *cmd = fmt("'%s' audit-verify --tenant %s%s%s >>'%s/audit-verify.log' 2>&1",
                    t_env("CUSTOS_TEST_BIN"), tenant, checkpoint_file ? " --checkpoint " : "",
                    checkpoint_file ? checkpoint_file : "", t_env("CUSTOS_TEST_WORKDIR"));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(audit_chain, the_audit_verify_command_fails_on_a_broken_chain_or_tail)
{
    struct vt t = {0};
    json_t *rec = NULL;
    trail(&t, &rec);
    cr_assert_eq(cli_verify(t.id, NULL), 0);
    struct t_resp *r = api("GET", "/v1/audit/checkpoint", t_token(t.id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    char *file = fmt("%s/checkpoint-%s.json", t_env("CUSTOS_TEST_WORKDIR"), t.id);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs(r->body, f);
    fclose(f);
    cr_assert_eq(cli_verify(t.id, file), 0);
    long long pos =
        json_integer_value(json_object_get(json_object_get(r->json, "checkpoint"), "position"));
    free(t_sql(
        fmt("DELETE FROM audit_log WHERE tenant_id = '%s' AND chain_pos >= %lld", t.id, pos - 1)));
    cr_assert_eq(cli_verify(t.id, NULL), 0, "the cut chain alone still verifies");
    cr_assert_eq(cli_verify(t.id, file), 1, "the cut tail is not detected against the checkpoint");
    free(t_sql(fmt("SET session_replication_role = replica;"
                   " UPDATE audit_log SET action = 'tampered' WHERE tenant_id = '%s'"
                   " AND chain_pos = 1",
                   t.id)));
    cr_assert_eq(cli_verify(t.id, NULL), 1);
    cr_assert_eq(cli_verify("no-such-tenant-x", NULL), 1);
}
