/* The contract of roles and the contact-center controls on principals (issue 12 items 1-4):
 * PUT/GET /v1/roles, a token's `roles` claim expanding its scopes (read on every request, so a
 * change holds at once on another node), MFA step-up for plain, interaction-bound roles and
 * the hourly plain-reveal budget counted in the database across nodes.
 * Invariant: every test makes its own tenant. */
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(roles, .fini = cleanup_all);

/* A token of sub for t's tenant with these scopes, roles (JSON array text) and amr (JSON array
 * text or NULL). */
static char *
role_token(const struct vt *t, const char *scope, const char *sub, const char *roles,
           const char *amr)
{
    char *extra =
        fmt("{\"roles\":%s%s%s}", roles, amr != NULL ? ",\"amr\":" : "", amr != NULL ? amr : "");
    char *claims = own(t_claims(t->id, scope, sub, 3600, extra));
    return t_token_raw("rsa-1", "RS256", claims);
}

static void
put_role(const struct vt *t, const char *name, const char *body)
{
    struct t_resp *r = api("PUT", fmt("/v1/roles/%s", name), t->admin, body);
    cr_assert(r->status == 200 || r->status == 201, "PUT role %s: %ld %s", name, r->status,
              r->body);
}

/* Opens an interaction of principal with subject; its id. */
static const char *
open_interaction(const struct vt *t, const char *principal, const char *subject, int expires)
{
    char *tok = t_token(t->id, "interactions:write");
    struct t_resp *r =
        api("POST", "/v1/interactions", tok,
            dump(json_pack("{s:s, s:s, s:s, s:i}", "principal", principal, "subject_id", subject,
                           "channel", "voice", "expires_in", expires)));
    cr_assert_eq(r->status, 201, "open interaction: %ld %s", r->status, r->body);
    const char *id = json_string_value(json_object_get(r->json, "id"));
    cr_assert_not_null(id);
    return id;
}

/* Detokenizes on server s for purpose support; the 200 answer's results (a new reference). */
static json_t *
detok_on(const struct t_server *s, const char *bearer, const char *redaction, json_t *tokens)
{
    json_t *body = json_pack("{s:o}", "tokens", tokens);
    if (redaction != NULL) {
        json_object_set_new(body, "redaction", json_string(redaction));
    }
    const char *hdr[] = {"Content-Type: application/json", "X-Purpose: support", NULL};
    struct t_resp r;
    cr_assert_eq(t_request(s, "POST", "/v1/detokenize", bearer, dump(body), hdr, &r), 0);
    cr_assert_eq(r.status, 200, "detokenize: %ld %s", r.status, r.body);
    json_t *res = json_incref(json_object_get(r.json, "results"));
    t_resp_free(&r);
    return res;
}

static long long
audit_count(const struct vt *t, const char *principal, const char *outcome)
{
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    return db_count2(c,
                     fmt("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND principal = $2"
                         " AND outcome = '%s'",
                         outcome),
                     t->id, principal);
}

Test(roles, a_role_is_put_read_and_listed_and_bad_input_changes_nothing)
{
    struct vt t;
    vault_setup(&t);
    struct t_resp *r = api("PUT", "/v1/roles/agent", t.admin,
                           "{\"scopes\":[\"detokenize:customers.*:plain\",\"records:search\"],"
                           "\"plain_requires_mfa\":true,\"plain_reveals_per_hour\":20,"
                           "\"interaction_bound\":true}");
    cr_assert_eq(r->status, 201, "%ld %s", r->status, r->body);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "plain_reveals_per_hour")), 20);
    cr_assert(json_is_true(json_object_get(r->json, "plain_requires_mfa")));
    cr_assert(json_is_true(json_object_get(r->json, "interaction_bound")));
    r = api("PUT", "/v1/roles/agent", t.admin, "{\"scopes\":[\"records:write\"]}");
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert(json_is_null(json_object_get(r->json, "plain_reveals_per_hour")), "%s", r->body);
    cr_assert(json_is_false(json_object_get(r->json, "interaction_bound")));
    r = api("GET", "/v1/roles/agent", t.admin, NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r->json, "scopes"), 0)),
                     "records:write");
    put_role(&t, "supervisor", "{\"scopes\":[\"audit:read\"]}");
    r = api("GET", "/v1/roles?limit=1", t.admin, NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_eq(json_array_size(json_object_get(r->json, "roles")), 1);
    cr_assert(json_is_string(json_object_get(r->json, "next_cursor")), "%s", r->body);

    const char *bad[] = {
        "{\"scopes\":[\"vault:admin\"]}",
        "{\"scopes\":[\"detokenize:customers\"]}",
        "{\"scopes\":[\"no-such-scope\"]}",
        "{\"scopes\":\"records:write\"}",
        "{}",
        "{\"scopes\":[],\"plain_reveals_per_hour\":-1}",
        "{\"scopes\":[],\"plain_reveals_per_hour\":\"5\"}",
        "{\"scopes\":[],\"plain_requires_mfa\":1}",
        "{\"scopes\":[],\"other\":true}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_problem(api("PUT", "/v1/roles/agent", t.admin, bad[i]), 422, NULL);
    }
    assert_problem(api("PUT", "/v1/roles/Bad%20Name", t.admin, "{\"scopes\":[]}"), 422, "");
    /* nothing changed */
    r = api("GET", "/v1/roles/agent", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "scopes")), 1);
    assert_problem(api("GET", "/v1/roles/nobody", t.admin, NULL), 404, NULL);
    /* tenant:admin only, and another tenant's roles do not exist */
    assert_problem(api("GET", "/v1/roles", t_token(t.id, "records:write"), NULL), 403, NULL);
    struct vt o;
    tenant_create(&o);
    assert_problem(api("GET", "/v1/roles/agent", o.admin, NULL), 404, NULL);
    r = api("GET", "/v1/roles", o.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "roles")), 0);
    cr_assert_eq(audit_count(&t, "test-user", "allowed") > 0, 1);
}

Test(roles, a_tokens_roles_add_their_scopes_and_unknown_roles_grant_nothing)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    char *bearer = role_token(&t, "", "agent-1", "[\"writer\",\"reader\",\"ghost\"]", NULL);
    /* no role defined yet: nothing granted */
    assert_problem(api("POST", RECORDS, bearer, records_body("crm-2", std_fields("+14155550101"))),
                   403, NULL);
    cr_assert_eq(item_status(detok1(bearer, tok(rec, "email"), NULL)), 403);
    put_role(&t, "writer", "{\"scopes\":[\"records:write\"]}");
    put_role(&t, "reader", "{\"scopes\":[\"detokenize:customers.email:masked\"]}");
    cr_assert_eq(
        api("POST", RECORDS, bearer, records_body("crm-2", std_fields("+14155550101")))->status,
        201);
    json_t *item = detok1(bearer, tok(rec, "email"), NULL);
    cr_assert_str_eq(value_of(item), "j***@example.com");
    cr_assert_eq(item_status(detok1(bearer, tok(rec, "name"), NULL)), 403);
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), bearer, "support", NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "fields"), "email")),
        "j***@example.com");
    /* a role of another tenant with the same name grants nothing here */
    struct vt o;
    vault_setup(&o);
    json_t *orec = tokenize1(&o, "crm-1", std_fields("+14155550100"));
    char *obearer = role_token(&o, "", "agent-1", "[\"reader\"]", NULL);
    cr_assert_eq(item_status(detok1(obearer, tok(orec, "email"), NULL)), 403);
}

/* The record read takes the token's roles from its own facts (the dispatcher no longer reads
 * them for it): a token whose roles grant no detokenize scope at all is refused as before, 403
 * with the insufficient_scope challenge, audited; before the X-Purpose is even looked at. */
Test(roles, a_record_read_whose_roles_grant_no_detokenize_scope_is_refused_and_audited)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    put_role(&t, "writer", "{\"scopes\":[\"records:write\"]}");
    char *bearer = role_token(&t, "records:search", "agent-403", "[\"writer\",\"ghost\"]", NULL);
    const char *purposes[] = {"support", NULL, "undeclared"};
    for (size_t i = 0; i < 3; i++) {
        struct t_resp *r = api_p("GET", rec_path(rid(rec)), bearer, purposes[i], NULL);
        assert_problem(r, 403, NULL);
        cr_assert_str_eq(json_string_value(json_object_get(r->json, "detail")),
                         "The token lacks the scope detokenize:<collection>.<field>:<level>");
        char v[256];
        cr_assert(t_header(r, "WWW-Authenticate", v, sizeof(v)));
        cr_assert_str_eq(v, "Bearer realm=\"custos\", error=\"insufficient_scope\","
                            " scope=\"detokenize:<collection>.<field>:<level>\"");
    }
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_count2(c,
                           "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                           " AND principal = $2 AND action = 'record.read' AND outcome = 'denied'"
                           " AND collection = 'customers' AND record_id IS NULL",
                           t.id, "agent-403"),
                 3);
    cr_assert_eq(audit_count(&t, "agent-403", "allowed"), 0);
    /* once a role grants a field, the same token reads it */
    put_role(&t, "writer", "{\"scopes\":[\"detokenize:customers.name:plain\"]}");
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), bearer, "support", NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
}

Test(roles, a_role_change_holds_on_the_next_request_on_another_node, .timeout = 90)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    put_role(&t, "agent", "{\"scopes\":[\"detokenize:customers.*:plain\"]}");
    char *bearer = role_token(&t, "", "agent-1", "[\"agent\"]", NULL);
    struct t_server b;
    cr_assert_eq(t_spawn(NULL, 0, &b), 0);
    json_t *res = detok_on(&b, bearer, NULL, json_pack("[s]", tok(rec, "name")));
    cr_assert_str_eq(value_of(json_array_get(res, 0)), "Jonathan Smith");
    json_decref(res);
    /* changed through the shared server, seen by node B at once */
    put_role(&t, "agent", "{\"scopes\":[\"detokenize:customers.*:masked\"]}");
    res = detok_on(&b, bearer, NULL, json_pack("[s]", tok(rec, "name")));
    cr_assert_str_neq(value_of(json_array_get(res, 0)), "Jonathan Smith");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 0), "redaction")),
                     "masked");
    json_decref(res);
    put_role(&t, "agent", "{\"scopes\":[]}");
    res = detok_on(&b, bearer, NULL, json_pack("[s]", tok(rec, "name")));
    cr_assert_eq(item_status(json_array_get(res, 0)), 403);
    json_decref(res);
    /* a route's own scope check sees the change too */
    struct t_resp r;
    const char *hdr[] = {"Content-Type: application/json", NULL};
    cr_assert_eq(t_request(&b, "POST", RECORDS, bearer,
                           records_body("crm-9", std_fields("+14155550109")), hdr, &r),
                 0);
    cr_assert_eq(r.status, 403, "%ld %s", r.status, r.body);
    t_resp_free(&r);
    put_role(&t, "agent", "{\"scopes\":[\"records:write\"]}");
    cr_assert_eq(t_request(&b, "POST", RECORDS, bearer,
                           records_body("crm-9", std_fields("+14155550109")), hdr, &r),
                 0);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    t_resp_free(&r);
    cr_assert_eq(t_stop(&b), 0);
}

Test(roles, a_role_that_requires_mfa_reveals_plain_only_with_mfa_in_amr)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    put_role(&t, "agent",
             "{\"scopes\":[\"detokenize:customers.*:plain\"],\"plain_requires_mfa\":true}");
    char *pwd = role_token(&t, "", "agent-1", "[\"agent\"]", "[\"pwd\"]");
    char *none = role_token(&t, "", "agent-1", "[\"agent\"]", NULL);
    char *mfa = role_token(&t, "", "agent-1", "[\"agent\"]", "[\"pwd\",\"mfa\"]");
    const char *card = tok(rec, "card");
    json_t *item = detok1(pwd, card, "plain");
    cr_assert_str_eq(value_of(item), "************1111");
    cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "masked");
    cr_assert_str_eq(value_of(detok1(none, card, NULL)), "************1111");
    cr_assert_str_eq(value_of(detok1(mfa, card, NULL)), "4111111111111111");
    /* the record read follows the same rule */
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), pwd, "support", NULL);
    cr_assert_eq(r->status, 200);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "redaction"), "card")),
        "masked");
    cr_assert_null(strstr(r->body, "4111111111111111"));
    r = api_p("GET", rec_path(rid(rec)), mfa, "support", NULL);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "fields"), "card")),
                     "4111111111111111");
    /* the role's rule binds the token's own plain grants too (the strictest control wins) */
    char *own_scope = role_token(&t, "detokenize:*.*:plain", "agent-1", "[\"agent\"]", NULL);
    cr_assert_str_eq(value_of(detok1(own_scope, card, NULL)), "************1111");
}

Test(roles, an_interaction_bound_role_reveals_only_subjects_of_a_live_interaction)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-a", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-b", std_fields("+14155550101"));
    put_role(&t, "agent",
             "{\"scopes\":[\"detokenize:customers.*:plain\"],\"interaction_bound\":true}");
    char *agent = role_token(&t, "", "agent-7", "[\"agent\"]", NULL);
    json_t *res = detok(agent, "redacted", json_pack("[s,s]", tok(a, "name"), tok(b, "name")));
    cr_assert_eq(item_status(json_array_get(res, 0)), 403, "%s", show(res));
    cr_assert_eq(item_status(json_array_get(res, 1)), 403);
    assert_problem(api_p("GET", rec_path(rid(a)), agent, "support", NULL), 403, NULL);

    const char *id = open_interaction(&t, "agent-7", "crm-a", 600);
    /* another agent's interaction opens nothing for agent-7 */
    open_interaction(&t, "agent-8", "crm-b", 600);
    res = detok(agent, NULL, json_pack("[s,s]", tok(a, "name"), tok(b, "name")));
    cr_assert_str_eq(value_of(json_array_get(res, 0)), "Jonathan Smith");
    cr_assert_eq(item_status(json_array_get(res, 1)), 403, "%s", show(res));
    cr_assert_eq(api_p("GET", rec_path(rid(a)), agent, "support", NULL)->status, 200);
    assert_problem(api_p("GET", rec_path(rid(b)), agent, "support", NULL), 403, NULL);
    cr_assert_gt(audit_count(&t, "agent-7", "denied_interaction"), 3);

    /* wrap-up ends it at once; ending again is fine; unknown ids are 404 */
    char *cti = t_token(t.id, "interactions:write");
    cr_assert_eq(api("DELETE", fmt("/v1/interactions/%s", id), cti, NULL)->status, 204);
    cr_assert_eq(api("DELETE", fmt("/v1/interactions/%s", id), cti, NULL)->status, 204);
    cr_assert_eq(item_status(detok1(agent, tok(a, "name"), NULL)), 403);
    assert_problem(
        api("DELETE", "/v1/interactions/int_00000000000000000000000000000000", cti, NULL), 404,
        NULL);
    assert_problem(api("DELETE", "/v1/interactions/nope", cti, NULL), 404, NULL);
    struct vt o;
    tenant_create(&o);
    assert_problem(
        api("DELETE", fmt("/v1/interactions/%s", id), t_token(o.id, "interactions:write"), NULL),
        404, NULL);

    /* expiry: an interaction past its expires_at is not live */
    const char *id2 = open_interaction(&t, "agent-7", "crm-a", 600);
    cr_assert_str_eq(value_of(detok1(agent, tok(a, "name"), NULL)), "Jonathan Smith");
    free(t_sql(fmt("UPDATE interactions SET expires_at = now() - interval '1 second'"
                   " WHERE id = '%s'",
                   id2)));
    cr_assert_eq(item_status(detok1(agent, tok(a, "name"), NULL)), 403);
}

Test(roles, interactions_refuse_bad_input_and_need_their_scope)
{
    struct vt t;
    vault_setup(&t);
    char *cti = t_token(t.id, "interactions:write");
    const char *bad[] = {
        "{\"principal\":\"agent-7\",\"subject_id\":\"crm-1\",\"channel\":\"fax\"}",
        "{\"principal\":\"agent-7\",\"subject_id\":\"crm-1\",\"channel\":\"voice\","
        "\"expires_in\":10}",
        "{\"principal\":\"agent-7\",\"subject_id\":\"crm-1\",\"channel\":\"voice\","
        "\"expires_in\":86401}",
        "{\"principal\":\"\",\"subject_id\":\"crm-1\",\"channel\":\"voice\"}",
        "{\"principal\":\"a\\u0001b\",\"subject_id\":\"crm-1\",\"channel\":\"voice\"}",
        "{\"principal\":\"agent-7\",\"subject_id\":\"a b\",\"channel\":\"voice\"}",
        "{\"principal\":\"agent-7\",\"subject_id\":\"ada@example.com\",\"channel\":\"voice\"}",
        "{\"principal\":\"agent-7\",\"subject_id\":\"+447700900123\",\"channel\":\"voice\"}",
        "{\"principal\":\"agent-7\",\"channel\":\"voice\"}",
        "{\"principal\":\"agent-7\",\"subject_id\":\"crm-1\",\"channel\":\"voice\",\"x\":1}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_problem(api("POST", "/v1/interactions", cti, bad[i]), 422, NULL);
    }
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_count(c, "SELECT count(*) FROM interactions WHERE tenant_id = $1", t.id), 0);
    assert_problem(
        api("POST", "/v1/interactions", t.admin,
            "{\"principal\":\"agent-7\",\"subject_id\":\"crm-1\",\"channel\":\"voice\"}"),
        403, NULL);
    /* an Idempotency-Key replays the first answer */
    const char *body = "{\"principal\":\"agent-7\",\"subject_id\":\"crm-1\",\"channel\":\"chat\"}";
    struct t_resp *r1 =
        send_req("POST", "/v1/interactions", cti, NULL, "k-1", "application/json", body);
    struct t_resp *r2 =
        send_req("POST", "/v1/interactions", cti, NULL, "k-1", "application/json", body);
    cr_assert_eq(r1->status, 201, "%s", r1->body);
    cr_assert_eq(r2->status, 201, "%s", r2->body);
    cr_assert_str_eq(json_string_value(json_object_get(r1->json, "id")),
                     json_string_value(json_object_get(r2->json, "id")));
    cr_assert_eq(db_count(c, "SELECT count(*) FROM interactions WHERE tenant_id = $1", t.id), 1);
}

Test(roles, a_budget_refuses_plain_reveals_past_it_per_item_with_retry_after_and_alerts)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    put_role(&t, "agent",
             "{\"scopes\":[\"detokenize:customers.*:plain\"],\"plain_reveals_per_hour\":3}");
    char *agent = role_token(&t, "", "agent-b", "[\"agent\"]", NULL);
    /* masked reveals do not count */
    json_t *res = detok(agent, "masked",
                        json_pack("[s,s,s,s]", tok(rec, "name"), tok(rec, "email"),
                                  tok(rec, "card"), tok(rec, "ssn")));
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(item_status(json_array_get(res, i)), 0, "%s", show(res));
    }
    json_t *body = json_pack("{s:[s,s,s,s,s]}", "tokens", tok(rec, "name"), tok(rec, "email"),
                             tok(rec, "card"), tok(rec, "ssn"), tok(rec, "note"));
    struct t_resp *r = api_p("POST", "/v1/detokenize", agent, "support", dump(body));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    res = json_object_get(r->json, "results");
    int revealed = 0, refused = 0;
    long long retry = 0;
    for (size_t i = 0; i < 5; i++) {
        json_t *item = json_array_get(res, i);
        if (item_status(item) == 0) {
            revealed++;
            continue;
        }
        cr_assert_eq(item_status(item), 429, "%s", show(item));
        retry = json_integer_value(json_object_get(json_object_get(item, "error"), "retry_after"));
        cr_assert(retry >= 1 && retry <= 3660, "retry_after %lld", retry);
        refused++;
    }
    cr_assert_eq(revealed, 3);
    cr_assert_eq(refused, 2);
    char header[32];
    cr_assert(t_header(r, "Retry-After", header, sizeof(header)), "no Retry-After");
    cr_assert_eq(strtoll(header, NULL, 10), retry);
    /* the record read is one plain reveal: refused whole */
    r = api_p("GET", rec_path(rid(rec)), agent, "support", NULL);
    assert_problem(r, 429, NULL);
    cr_assert(t_header(r, "Retry-After", header, sizeof(header)));
    cr_assert_null(strstr(r->body, "Jonathan"));
    /* masked still works; another principal of the same role has its own budget */
    cr_assert_eq(
        api_p("GET", fmt("%s?redaction=masked", rec_path(rid(rec))), agent, "support", NULL)
            ->status,
        200);
    char *other = role_token(&t, "", "agent-c", "[\"agent\"]", NULL);
    cr_assert_str_eq(value_of(detok1(other, tok(rec, "name"), NULL)), "Jonathan Smith");
    cr_assert_eq(audit_count(&t, "agent-b", "denied_budget"), 3);
    /* audited and alerted */
    r = api("GET", "/v1/alerts", t_token(t.id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *alerts = json_object_get(r->json, "alerts");
    int found = 0;
    for (size_t i = 0; i < json_array_size(alerts); i++) {
        json_t *al = json_array_get(alerts, i);
        if (strcmp(json_string_value(json_object_get(al, "type")), "budget_exceeded") == 0 &&
            strcmp(json_string_value(json_object_get(al, "principal")), "agent-b") == 0) {
            cr_assert_eq(json_integer_value(json_object_get(al, "refusals")), 3);
            found = 1;
        }
    }
    cr_assert(found, "no budget alert: %s", r->body);
    /* raising the budget holds on the next request */
    put_role(&t, "agent",
             "{\"scopes\":[\"detokenize:customers.*:plain\"],\"plain_reveals_per_hour\":10}");
    cr_assert_str_eq(value_of(detok1(agent, tok(rec, "name"), NULL)), "Jonathan Smith");
}

/* Two nodes, four clients at once, one plain value per request. The budget is read with the
 * reveal and counted when its audit entry is durable, so requests in flight at the same time
 * may each see the last free unit: the claim (README, security model) is at most budget + k - 1
 * plain reveals for k concurrent single-value requests of one principal. */
struct hammer {
    const struct t_server *s;
    const char *bearer;
    const char *body;
    int allowed;
    int refused;
};

static void *
hammer_run(void *arg)
{
    struct hammer *h = arg;
    const char *hdr[] = {"Content-Type: application/json", "X-Purpose: support", NULL};
    for (int n = 0; n < 500 && h->refused < 3; n++) {
        struct t_resp r;
        if (t_request(h->s, "POST", "/v1/detokenize", h->bearer, h->body, hdr, &r) != 0) {
            continue;
        }
        json_t *item = json_array_get(json_object_get(r.json, "results"), 0);
        json_t *err = json_object_get(item, "error");
        if (r.status == 200 && err == NULL) {
            h->allowed++;
        } else if (r.status == 200 && json_integer_value(json_object_get(err, "status")) == 429) {
            h->refused++;
        }
        t_resp_free(&r);
    }
    return NULL;
}

Test(roles, a_budget_holds_across_two_nodes, .timeout = 120)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    enum { BUDGET = 12, CLIENTS = 4 };
    put_role(&t, "agent",
             fmt("{\"scopes\":[\"detokenize:customers.*:plain\"],\"plain_reveals_per_hour\":%d}",
                 BUDGET));
    char *agent = role_token(&t, "", "agent-x", "[\"agent\"]", NULL);
    struct t_server b;
    cr_assert_eq(t_spawn(NULL, 0, &b), 0);
    /* one after the other, alternating nodes: exact */
    const char *hdr[] = {"Content-Type: application/json", "X-Purpose: support", NULL};
    const char *body = dump(json_pack("{s:[s]}", "tokens", tok(rec, "name")));
    int seq_allowed = 0;
    for (int i = 0; i < 8; i++) {
        struct t_resp r;
        cr_assert_eq(
            t_request(i % 2 ? &b : t_shared(), "POST", "/v1/detokenize", agent, body, hdr, &r), 0);
        json_t *item = json_array_get(json_object_get(r.json, "results"), 0);
        seq_allowed += json_object_get(item, "error") == NULL;
        t_resp_free(&r);
    }
    cr_assert_eq(seq_allowed, 8);
    /* then four clients at once, two per node, until each is refused */
    struct hammer h[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        h[i] = (struct hammer){.s = i % 2 ? &b : t_shared(), .bearer = agent, .body = body};
        cr_assert_eq(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    int allowed = seq_allowed;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        allowed += h[i].allowed;
    }
    long long counted = audit_count(&t, "agent-x", "allowed");
    cr_assert_eq(counted, allowed, "answers and audit disagree: %d vs %lld", allowed, counted);
    cr_assert_geq(allowed, BUDGET, "the budget was not reached: %d", allowed);
    cr_assert_leq(allowed, BUDGET + CLIENTS - 1, "two nodes revealed %d with a budget of %d",
                  allowed, BUDGET);
    cr_assert_eq(t_stop(&b), 0);
}

/* The principal's facts (roles, live interactions, budget use) join the reveal's one read round
 * trip: a reveal by an interaction-bound, budgeted role costs what any reveal costs, one read and
 * its share of a group commit (counted by the server, no timing; the fewest over a few tries, as
 * in test_group_commit: background work only ever adds). */
Test(roles, a_guarded_reveal_is_still_one_read_round_trip_and_a_group_commit, .timeout = 90)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-rt", std_fields("+14155550100"));
    put_role(&t, "agent",
             "{\"scopes\":[\"detokenize:customers.*:plain\"],\"interaction_bound\":true,"
             "\"plain_reveals_per_hour\":1000,\"plain_requires_mfa\":true}");
    open_interaction(&t, "agent-rt", "crm-rt", 600);
    char *agent = role_token(&t, "", "agent-rt", "[\"agent\"]", "[\"mfa\"]");
    struct t_server s;
    const char *env[] = {"CUSTOS_SWEEP_INTERVAL=86400", NULL};
    cr_assert_eq(t_spawn(env, 1, &s), 0);
    json_t *res = detok_on(&s, agent, NULL, json_pack("[s]", tok(rec, "name")));
    cr_assert_str_eq(value_of(json_array_get(res, 0)), "Jonathan Smith"); /* warms the caches */
    json_decref(res);
    unsigned long long best = ~0ULL, best_commits = ~0ULL;
    for (int attempt = 0; attempt < 10 && best != 2; attempt++) {
        unsigned long long trips = t_metric(&s, "custos_db_round_trips_total");
        unsigned long long commits = t_metric(&s, "custos_db_commits_total");
        res = detok_on(&s, agent, NULL, json_pack("[s]", tok(rec, "name")));
        cr_assert_str_eq(value_of(json_array_get(res, 0)), "Jonathan Smith");
        json_decref(res);
        unsigned long long dt = t_metric(&s, "custos_db_round_trips_total") - trips;
        if (dt < best) {
            best = dt;
            best_commits = t_metric(&s, "custos_db_commits_total") - commits;
        }
        if (best != 2) {
            usleep(300 * 1000);
        }
    }
    cr_assert_eq(best, 2, "a guarded reveal: one read, one group commit (saw %llu)", best);
    cr_assert_eq(best_commits, 1, "the only COMMIT is the group commit's (saw %llu)", best_commits);
    cr_assert_eq(t_stop(&s), 0);
}
