/* The gates on a data subject's data (issue 11 items 5, 6, 9): the consent ledger (grants and
 * withdrawals, append-only, a consent purpose reads only granted subjects), restriction of
 * processing (423 except for legal_obligation), both taking effect on the next read on another
 * node, and the record of processing (counts and 90-day accessors).
 * Invariant: every test makes its own tenant. */
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(gates, .fini = cleanup_all);

static long long
admin_count(const char *sql, const char *p1, const char *p2)
{
    return db_count2(db_open("CUSTOS_TEST_ADMIN_DB_URL"), sql, p1, p2);
}

/* Runs one statement as conn; 0 on success, else the SQLSTATE in state. */
static int
db_try(PGconn *c, const char *sql, const char *p1, char state[6])
{
    const char *params[1] = {p1};
    PGresult *res = PQexecParams(c, sql, p1 != NULL, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    state[0] = '\0';
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(state, 6, "%s", s ? s : "?????");
        rc = -1;
    }
    PQclear(res);
    return rc;
}

static struct t_resp *
consent(const struct vt *t, const char *subject, const char *purpose, const char *body)
{
    return api("PUT", fmt("/v1/subjects/%s/consents/%s", subject, purpose), t->admin, body);
}

/* A tenant with `customers`, purposes support (contract), marketing (consent) and legal
 * (legal_obligation), and one record each of crm-1 and crm-2; the admin token also has
 * dsr:manage and consent:write. */
static void
setup(struct vt *t, json_t **r1, json_t **r2)
{
    vault_setup(t);
    t->admin = t_token(t->id, ALL_SCOPES " dsr:manage consent:write");
    t_purpose_put(t_shared(), t->admin, "marketing", "Offers", "consent");
    t_purpose_put(t_shared(), t->admin, "legal", "Court order", "legal_obligation");
    *r1 = tokenize1(t, "crm-1", std_fields("+14155550100"));
    *r2 = tokenize1(t, "crm-2", std_fields("+14155550101"));
}

/* detokenize [a, b] for purpose; the results. */
static json_t *
detok2(const struct vt *t, const char *purpose, const char *a, const char *b)
{
    struct t_resp *r = api_p("POST", "/v1/detokenize", t->admin, purpose,
                             dump(json_pack("{s:[s,s]}", "tokens", a, b)));
    cr_assert_eq(r->status, 200, "%s", r->body);
    return json_object_get(r->json, "results");
}

static long long
outcomes(const struct vt *t, const char *outcome, const char *subject)
{
    return db_count2(db_open("CUSTOS_TEST_ADMIN_DB_URL"),
                     fmt("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND outcome = '%s'"
                         " AND subject_id = $2",
                         outcome),
                     t->id, subject);
}

Test(gates, a_consent_purpose_reads_only_subjects_with_a_current_grant)
{
    struct vt t;
    json_t *r1, *r2;
    setup(&t, &r1, &r2);
    const char *e1 = tok(r1, "email"), *e2 = tok(r2, "email");
    json_t *res = detok2(&t, "marketing", e1, e2);
    cr_assert_eq(item_status(json_array_get(res, 0)), 403, "%s", show(res));
    cr_assert_eq(item_status(json_array_get(res, 1)), 403, "%s", show(res));

    struct t_resp *r =
        consent(&t, "crm-1", "marketing",
                "{\"status\":\"granted\",\"source\":\"ivr\",\"evidence\":\"call 5f2c\"}");
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "status")), "granted");
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "purpose")), "marketing");
    res = detok2(&t, "marketing", e1, e2);
    cr_assert_str_eq(value_of(json_array_get(res, 0)), "john.doe@example.com");
    cr_assert_eq(item_status(json_array_get(res, 1)), 403, "the grant is crm-1's: %s", show(res));
    cr_assert_eq(api_p("GET", rec_path(rid(r1)), t.admin, "marketing", NULL)->status, 200);
    assert_problem(api_p("GET", rec_path(rid(r2)), t.admin, "marketing", NULL), 403, NULL);
    /* a grant for one purpose is not a grant for another consent purpose */
    t_purpose_put(t_shared(), t.admin, "surveys", "Surveys", "consent");
    cr_assert_eq(item_status(detok1(t.admin, e1, NULL)), 0, "support rests on contract");
    r = api_p("POST", "/v1/detokenize", t.admin, "surveys",
              dump(json_pack("{s:[s]}", "tokens", e1)));
    cr_assert_eq(item_status(json_array_get(json_object_get(r->json, "results"), 0)), 403);

    r = consent(&t, "crm-1", "marketing", "{\"status\":\"withdrawn\",\"source\":\"web\"}");
    cr_assert_eq(r->status, 200, "%s", r->body);
    res = detok2(&t, "marketing", e1, e2);
    cr_assert_eq(item_status(json_array_get(res, 0)), 403, "withdrawn: %s", show(res));
    assert_problem(api_p("GET", rec_path(rid(r1)), t.admin, "marketing", NULL), 403, NULL);

    /* current state and the whole history, oldest first */
    r = api("GET", "/v1/subjects/crm-1/consents", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *cur = json_object_get(r->json, "consents");
    json_t *hist = json_object_get(r->json, "history");
    cr_assert_eq(json_array_size(cur), 1, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(cur, 0), "status")),
                     "withdrawn");
    cr_assert_eq(json_array_size(hist), 2, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hist, 0), "status")),
                     "granted");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hist, 0), "evidence")),
                     "call 5f2c");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(hist, 1), "source")), "web");
    cr_assert(json_is_false(json_object_get(r->json, "history_truncated")));
    r = api("GET", "/v1/subjects/crm-2/consents", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "history")), 0, "%s", r->body);

    /* every decision audited, with ids only */
    cr_assert_geq(outcomes(&t, "denied_consent", "crm-2"), 3);
    cr_assert_geq(outcomes(&t, "denied_consent", "crm-1"), 4);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'consent.put' AND purpose = 'marketing'",
                             t.id, NULL),
                 2);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'consent.list'",
                             t.id, NULL),
                 2);
}

Test(gates, bad_consent_input_is_refused_and_changes_nothing)
{
    struct vt t;
    json_t *r1, *r2;
    setup(&t, &r1, &r2);
    assert_problem(consent(&t, "crm-1", "nope", "{\"status\":\"granted\",\"source\":\"ivr\"}"), 404,
                   NULL);
    assert_problem(consent(&t, "crm-1", "Bad!", "{\"status\":\"granted\",\"source\":\"ivr\"}"), 404,
                   NULL);
    assert_problem(consent(&t, "crm-1", "marketing", "{\"status\":\"maybe\",\"source\":\"ivr\"}"),
                   422, "/status");
    assert_problem(consent(&t, "crm-1", "marketing", "{\"source\":\"ivr\"}"), 422, "/status");
    assert_problem(consent(&t, "crm-1", "marketing", "{\"status\":\"granted\",\"source\":\"fax\"}"),
                   422, "/source");
    assert_problem(consent(&t, "crm-1", "marketing", "{\"status\":\"granted\",\"source\":\"dsr\"}"),
                   422, "/source");
    assert_problem(consent(&t, "crm-1", "marketing", "{\"status\":\"granted\",\"source\":7}"), 422,
                   "/source");
    assert_problem(consent(&t, "crm-1", "marketing",
                           dump(json_pack("{s:s, s:s, s:s}", "status", "granted", "source", "web",
                                          "evidence", repeat('x', 1001)))),
                   422, "/evidence");
    assert_problem(consent(&t, "crm-1", "marketing",
                           "{\"status\":\"granted\",\"source\":\"web\",\"evidence\":\"a\\nb\"}"),
                   422, "/evidence");
    assert_problem(consent(&t, "crm-1", "marketing",
                           "{\"status\":\"granted\",\"source\":\"web\",\"evidence\":5}"),
                   422, "/evidence");
    assert_problem(consent(&t, "crm-1", "marketing",
                           "{\"status\":\"granted\",\"source\":\"web\",\"extra\":1}"),
                   422, "");
    assert_problem(consent(&t, "crm-1", "marketing", "[1]"), 422, "");
    assert_problem(consent(&t, "crm-1", "marketing", "{\"status\":"), 400, NULL);
    assert_problem(
        consent(&t, "bad%20id", "marketing", "{\"status\":\"granted\",\"source\":\"web\"}"), 404,
        NULL);
    /* a subject id that is direct PII is never stored (nor audited) */
    assert_problem(
        consent(&t, "ada@example.com", "marketing", "{\"status\":\"granted\",\"source\":\"web\"}"),
        404, NULL);
    assert_problem(api("POST", "/v1/subjects/+14155550100/restriction", t.admin, NULL), 404, NULL);
    assert_problem(api("GET", "/v1/subjects/ada@example.com/consents", t.admin, NULL), 404, NULL);
    /* the scope is consent:write; dsr:manage alone does not record consents */
    assert_problem(api("PUT", "/v1/subjects/crm-1/consents/marketing", t_token(t.id, "dsr:manage"),
                       "{\"status\":\"granted\",\"source\":\"web\"}"),
                   403, NULL);
    assert_problem(api("GET", "/v1/subjects/crm-1/consents", t_token(t.id, "consent:write"), NULL),
                   403, NULL);
    /* a purpose of another tenant is unknown here */
    struct vt o;
    tenant_create(&o);
    t_purpose_put(t_shared(), o.admin, "newsletter", "x", "consent");
    assert_problem(
        consent(&t, "crm-1", "newsletter", "{\"status\":\"granted\",\"source\":\"web\"}"), 404,
        NULL);
    cr_assert_eq(
        admin_count("SELECT count(*) FROM consent_events WHERE tenant_id = $1", t.id, NULL), 0);
    cr_assert_eq(
        item_status(json_array_get(detok2(&t, "marketing", tok(r1, "email"), tok(r2, "email")), 0)),
        403);
}

Test(gates, the_consent_ledger_is_append_only)
{
    struct vt t;
    json_t *r1, *r2;
    setup(&t, &r1, &r2);
    cr_assert_eq(
        consent(&t, "crm-1", "marketing", "{\"status\":\"granted\",\"source\":\"agent\"}")->status,
        200);
    char state[6];
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    cr_assert_eq(db_try(app, "BEGIN", NULL, state), 0);
    cr_assert_eq(db_try(app, "SELECT set_config('custos.tenant', $1, true)", t.id, state), 0);
    cr_assert_eq(db_try(app, "UPDATE consent_events SET status = 'withdrawn'", NULL, state), -1);
    cr_assert_str_eq(state, "42501", "the service role may not rewrite a consent");
    cr_assert_eq(db_try(app, "ROLLBACK", NULL, state), 0);
    cr_assert_eq(db_try(app, "BEGIN", NULL, state), 0);
    cr_assert_eq(db_try(app, "SELECT set_config('custos.tenant', $1, true)", t.id, state), 0);
    cr_assert_eq(db_try(app, "DELETE FROM consent_events", NULL, state), -1);
    cr_assert_str_eq(state, "42501");
    cr_assert_eq(db_try(app, "ROLLBACK", NULL, state), 0);
    /* not even the table's owner: the trigger refuses */
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_try(admin,
                        "UPDATE consent_events SET status = 'withdrawn' WHERE tenant_id = $1", t.id,
                        state),
                 -1);
    cr_assert_eq(db_try(admin, "DELETE FROM consent_events WHERE tenant_id = $1", t.id, state), -1);
    cr_assert_str_eq(state, "42501");
    cr_assert_eq(db_try(admin, "TRUNCATE consent_events", NULL, state), -1);
    cr_assert_eq(admin_count("SELECT count(*) FROM consent_events WHERE tenant_id = $1"
                             " AND status = 'granted'",
                             t.id, NULL),
                 1);
    cr_assert_str_eq(
        value_of(json_array_get(detok2(&t, "marketing", tok(r1, "email"), tok(r2, "email")), 0)),
        "john.doe@example.com");
    /* deleting the tenant still removes its ledger (the cascade is allowed) */
    cr_assert_eq(api("DELETE", fmt("/v1/tenants/%s", t.id), t_operator_token(), NULL)->status, 204);
    cr_assert_eq(
        admin_count("SELECT count(*) FROM consent_events WHERE tenant_id = $1", t.id, NULL), 0);
}

Test(gates, consents_and_restrictions_are_isolated_by_row_level_security)
{
    struct vt a, b;
    json_t *r1, *r2, *b1, *b2;
    setup(&a, &r1, &r2);
    setup(&b, &b1, &b2);
    cr_assert_eq(
        consent(&a, "crm-1", "marketing", "{\"status\":\"granted\",\"source\":\"web\"}")->status,
        200);
    cr_assert_eq(api("POST", "/v1/subjects/crm-1/restriction", b.admin, NULL)->status, 200);
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    char state[6];
    cr_assert_eq(db_count(app, "SELECT count(*) FROM consent_events", NULL), 0);
    cr_assert_eq(db_count(app, "SELECT count(*) FROM subject_restrictions", NULL), 0);
    cr_assert_eq(db_try(app, "BEGIN", NULL, state), 0);
    cr_assert_eq(db_try(app, "SELECT set_config('custos.tenant', $1, true)", a.id, state), 0);
    cr_assert_eq(db_count(app, "SELECT count(*) FROM consent_events", NULL), 1);
    cr_assert_eq(db_count(app, "SELECT count(*) FROM subject_restrictions", NULL), 0);
    cr_assert_eq(db_try(app,
                        "INSERT INTO subject_restrictions (tenant_id, subject_id, principal)"
                        " VALUES ($1, 'crm-9', 'x')",
                        b.id, state),
                 -1, "a write into another tenant");
    cr_assert_eq(db_try(app, "ROLLBACK", NULL, state), 0);
    /* and through the API: b's restriction does not touch a's crm-1, nor a's grant b's */
    cr_assert_str_eq(value_of(detok1(a.admin, tok(r1, "email"), NULL)), "john.doe@example.com");
    cr_assert_eq(item_status(detok1(b.admin, tok(b1, "email"), NULL)), 423);
    cr_assert_eq(
        item_status(json_array_get(detok2(&b, "marketing", tok(b2, "email"), tok(b2, "name")), 0)),
        403, "a's grant for crm-1 is not b's");
    cr_assert_eq(
        item_status(json_array_get(detok2(&a, "marketing", tok(r1, "email"), tok(r2, "email")), 0)),
        0, "a's own grant");
}

Test(gates, a_restricted_subject_is_read_only_for_legal_obligation)
{
    struct vt t;
    json_t *r1, *r2;
    setup(&t, &r1, &r2);
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq(consent(&t, fmt("crm-%d", i), "marketing",
                             "{\"status\":\"granted\",\"source\":\"web\"}")
                         ->status,
                     200);
    }
    struct t_resp *r = api("POST", "/v1/subjects/crm-1/restriction", t.admin,
                           "{\"reason\":\"accuracy contested\"}");
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert(json_is_true(json_object_get(r->json, "restricted")));
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "reason")), "accuracy contested");
    const char *since = own(strdup(json_string_value(json_object_get(r->json, "since"))));
    /* placing it again changes nothing */
    r = api("POST", "/v1/subjects/crm-1/restriction", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "since")), since);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "reason")), "accuracy contested");

    const char *e1 = tok(r1, "email"), *e2 = tok(r2, "email");
    for (int k = 0; k < 2; k++) {
        const char *purpose = k == 0 ? "support" : "marketing";
        json_t *res = detok2(&t, purpose, e1, e2);
        json_t *err = json_object_get(json_array_get(res, 0), "error");
        cr_assert_eq(item_status(json_array_get(res, 0)), 423, "%s: %s", purpose, show(res));
        cr_assert_str_eq(json_string_value(json_object_get(err, "type")),
                         "https://custos.dev/problems/restricted");
        cr_assert_null(json_object_get(json_array_get(res, 0), "value"));
        cr_assert_str_eq(value_of(json_array_get(res, 1)), "john.doe@example.com",
                         "crm-2 is not restricted");
        assert_problem(api_p("GET", rec_path(rid(r1)), t.admin, purpose, NULL), 423, NULL);
    }
    cr_assert_null(
        strstr(api_p("GET", rec_path(rid(r1)), t.admin, "support", NULL)->body, "john.doe"));
    /* legal_obligation is exempt */
    json_t *res = detok2(&t, "legal", e1, e2);
    cr_assert_str_eq(value_of(json_array_get(res, 0)), "john.doe@example.com", "%s", show(res));
    cr_assert_eq(api_p("GET", rec_path(rid(r1)), t.admin, "legal", NULL)->status, 200);
    cr_assert_geq(outcomes(&t, "denied_restricted", "crm-1"), 4);

    cr_assert_eq(api("DELETE", "/v1/subjects/crm-1/restriction", t.admin, NULL)->status, 204);
    cr_assert_str_eq(value_of(json_array_get(detok2(&t, "support", e1, e2), 0)),
                     "john.doe@example.com");
    cr_assert_eq(api_p("GET", rec_path(rid(r1)), t.admin, "support", NULL)->status, 200);
    assert_problem(api("DELETE", "/v1/subjects/crm-1/restriction", t.admin, NULL), 404, NULL);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND"
                             " action IN ('restriction.set', 'restriction.clear')"
                             " AND subject_id = 'crm-1'",
                             t.id, NULL),
                 4, "set, set again, clear, clear refused");
}

Test(gates, bad_restriction_input_is_refused_and_changes_nothing)
{
    struct vt t;
    json_t *r1, *r2;
    setup(&t, &r1, &r2);
    const char *path = "/v1/subjects/crm-1/restriction";
    assert_problem(api("POST", path, t.admin, dump(json_pack("{s:s}", "reason", repeat('r', 501)))),
                   422, "/reason");
    assert_problem(api("POST", path, t.admin, "{\"reason\":7}"), 422, "/reason");
    assert_problem(api("POST", path, t.admin, "{\"reason\":\"a\\u0007b\"}"), 422, "/reason");
    assert_problem(api("POST", path, t.admin, "{\"why\":\"x\"}"), 422, "");
    assert_problem(api("POST", path, t.admin, "[\"x\"]"), 422, "");
    assert_problem(api("POST", "/v1/subjects/a%20b/restriction", t.admin, NULL), 404, NULL);
    assert_problem(api("POST", path, t_token(t.id, "records:write consent:write"), NULL), 403,
                   NULL);
    assert_problem(api("DELETE", path, t_token(t.id, "records:delete"), NULL), 403, NULL);
    cr_assert_eq(
        admin_count("SELECT count(*) FROM subject_restrictions WHERE tenant_id = $1", t.id, NULL),
        0);
    cr_assert_str_eq(value_of(detok1(t.admin, tok(r1, "email"), NULL)), "john.doe@example.com");
}

Test(gates, withdrawal_and_restriction_take_effect_on_the_next_read_on_another_node, .timeout = 120)
{
    struct vt t;
    json_t *r1, *r2;
    setup(&t, &r1, &r2);
    struct t_server second;
    const char *env[] = {"CUSTOS_SWEEP_INTERVAL=86400", NULL};
    cr_assert_eq(t_spawn(env, 1, &second), 0, "could not start a second server");
    const char *body = dump(json_pack("{s:[s]}", "tokens", tok(r1, "email")));
    struct t_resp r = {0};
    cr_assert_eq(
        consent(&t, "crm-1", "marketing", "{\"status\":\"granted\",\"source\":\"web\"}")->status,
        200);
    /* the second node reads (and caches what it may: keys, tokens) */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(t_request(&second, "POST", "/v1/detokenize", t.admin, body,
                               (const char *const[]){"X-Purpose: marketing",
                                                     "Content-Type: application/json", NULL},
                               &r),
                     0);
        cr_assert_eq(r.status, 200);
        cr_assert_not_null(strstr(r.body, "john.doe@example.com"), "%s", r.body);
        t_resp_free(&r);
    }
    /* withdrawn on the first node: the very next read on the second is refused */
    cr_assert_eq(
        consent(&t, "crm-1", "marketing", "{\"status\":\"withdrawn\",\"source\":\"web\"}")->status,
        200);
    cr_assert_eq(t_request(&second, "POST", "/v1/detokenize", t.admin, body,
                           (const char *const[]){"X-Purpose: marketing",
                                                 "Content-Type: application/json", NULL},
                           &r),
                 0);
    cr_assert_eq(r.status, 200);
    cr_assert_null(strstr(r.body, "john.doe"), "revealed after withdrawal: %s", r.body);
    cr_assert_not_null(strstr(r.body, "\"status\":403"), "%s", r.body);
    t_resp_free(&r);
    /* restricted on the first node: the next read on the second is 423, item and record */
    cr_assert_eq(api("POST", "/v1/subjects/crm-1/restriction", t.admin, NULL)->status, 200);
    cr_assert_eq(t_request(&second, "POST", "/v1/detokenize", t.admin, body,
                           (const char *const[]){"X-Purpose: support",
                                                 "Content-Type: application/json", NULL},
                           &r),
                 0);
    cr_assert_null(strstr(r.body, "john.doe"), "revealed while restricted: %s", r.body);
    cr_assert_not_null(strstr(r.body, "\"status\":423"), "%s", r.body);
    t_resp_free(&r);
    cr_assert_eq(t_request(&second, "GET", rec_path(rid(r1)), t.admin, NULL,
                           (const char *const[]){"X-Purpose: support", NULL}, &r),
                 0);
    cr_assert_eq(r.status, 423, "%s", r.body);
    t_resp_free(&r);
    /* lifted on the second node: the first reads again */
    cr_assert_eq(
        t_request(&second, "DELETE", "/v1/subjects/crm-1/restriction", t.admin, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 204, "%s", r.body);
    t_resp_free(&r);
    cr_assert_str_eq(value_of(detok1(t.admin, tok(r1, "email"), NULL)), "john.doe@example.com");
    cr_assert_eq(t_stop(&second), 0);
}

Test(gates, the_record_of_processing_counts_records_subjects_purposes_and_recent_accessors)
{
    struct vt t;
    json_t *r1, *r2;
    setup(&t, &r1, &r2);
    tokenize1(&t, "crm-1", json_pack("{s:s}", "name", "Second Record"));
    t_collection_put(t_shared(), t.admin, "notes",
                     "{\"fields\":{\"body\":{\"type\":\"text\"}},\"retention_days\":30}");
    /* reveals by two principals under two purposes */
    const char *agent = t_token_sub(t.id, "detokenize:*.*:masked", "agent-7");
    cr_assert_eq(api_p("POST", "/v1/detokenize", agent, "support",
                       dump(json_pack("{s:[s]}", "tokens", tok(r1, "email"))))
                     ->status,
                 200);
    cr_assert_eq(api_p("GET", rec_path(rid(r2)), t.admin, "legal", NULL)->status, 200);
    /* an access 100 days ago is outside the window, one 80 days ago inside */
#define INS(days, who)                                                                             \
    "INSERT INTO audit_log (tenant_id, ts, principal, action, collection, subject_id, purpose,"    \
    " outcome, incarnation) SELECT $1, now() - interval '" days " days', '" who "',"               \
    " 'detokenize', 'customers', 'crm-1', 'support', 'allowed', incarnation FROM tenants"          \
    " WHERE tenant_id = $1"
    char state[6];
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_try(admin, INS("100", "old-agent"), t.id, state), 0, "%s", state);
    cr_assert_eq(db_try(admin, INS("80", "recent-agent"), t.id, state), 0, "%s", state);
    /* another tenant's activity is not in this report */
    struct vt o;
    json_t *o1, *o2;
    setup(&o, &o1, &o2);
    cr_assert_eq(api_p("POST", "/v1/detokenize", t_token_sub(o.id, "detokenize:*.*:plain", "spy"),
                       "support", dump(json_pack("{s:[s]}", "tokens", tok(o1, "email"))))
                     ->status,
                 200);

    assert_problem(api("GET", "/v1/reports/processing", t_token(t.id, "dsr:manage"), NULL), 403,
                   NULL);
    struct t_resp *r = api("GET", "/v1/reports/processing", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "window_days")), 90);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 3, "%s", r->body);
    json_t *cols = json_object_get(r->json, "collections");
    cr_assert_eq(json_array_size(cols), 2, "%s", r->body);
    json_t *c = json_array_get(cols, 0);
    cr_assert_str_eq(json_string_value(json_object_get(c, "collection")), "customers");
    cr_assert_eq(json_integer_value(json_object_get(c, "records")), 3, "%s", show(c));
    cr_assert_eq(json_integer_value(json_object_get(c, "subjects")), 2, "%s", show(c));
    cr_assert(json_is_null(json_object_get(c, "retention_days")), "%s", show(c));
    const char *cats = show(json_object_get(c, "data_categories"));
    for (const char *want = "card_number\0date\0email\0name\0phone\0ssn\0text\0"; *want;
         want += strlen(want) + 1) {
        cr_assert_not_null(strstr(cats, fmt("\"%s\"", want)), "%s not in %s", want, cats);
    }
    const char *purposes = show(json_object_get(c, "purposes"));
    cr_assert_not_null(strstr(purposes, "\"purpose\":\"support\""), "%s", purposes);
    cr_assert_not_null(strstr(purposes, "\"lawful_basis\":\"contract\""), "%s", purposes);
    cr_assert_not_null(strstr(purposes, "\"purpose\":\"legal\""), "%s", purposes);
    cr_assert_not_null(strstr(purposes, "\"lawful_basis\":\"legal_obligation\""), "%s", purposes);
    const char *acc = show(json_object_get(c, "accessors"));
    cr_assert_not_null(strstr(acc, "\"principal\":\"agent-7\""), "%s", acc);
    cr_assert_not_null(strstr(acc, "\"principal\":\"test-user\""), "%s", acc);
    cr_assert_not_null(strstr(acc, "\"principal\":\"recent-agent\""), "%s", acc);
    cr_assert_null(strstr(acc, "old-agent"), "an access 100 days ago: %s", acc);
    cr_assert_null(strstr(r->body, "spy"), "another tenant's accessor: %s", r->body);
    cr_assert_null(strstr(r->body, "john.doe"), "a value in the report: %s", r->body);
    json_t *n = json_array_get(cols, 1);
    cr_assert_str_eq(json_string_value(json_object_get(n, "collection")), "notes");
    cr_assert_eq(json_integer_value(json_object_get(n, "retention_days")), 30);
    cr_assert_eq(json_integer_value(json_object_get(n, "records")), 0);
    cr_assert_eq(json_array_size(json_object_get(n, "accessors")), 0);
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND action = 'report.processing' AND outcome = 'allowed'",
                             t.id, NULL),
                 1);
}
