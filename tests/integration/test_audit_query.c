/* Reports over the audit trail (issue 10): the exposure report lists exactly what a principal
 * was shown, in plain and masked apart, as JSON and as CSV safe from formula injection; another
 * tenant's auditor sees none of it; reveal-rate alerts follow the documented rule. */
#include "client.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(audit_query, .fini = cleanup_all);

/* POST /v1/detokenize of n copies of token for purpose support, as bearer; all items answered. */
static void
reveal_n(const char *bearer, const char *token, const char *redaction, int n)
{
    json_t *tokens = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(tokens, json_string(token));
    }
    json_t *res = detok(bearer, redaction, tokens);
    cr_assert_eq(json_array_size(res), (size_t)n);
}

static json_t *
find_row(json_t *rows, const char *subject, const char *field)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "subject_id")), subject) == 0 &&
            strcmp(json_string_value(json_object_get(row, "field")), field) == 0) {
            return row;
        }
    }
    return NULL;
}

Test(audit_query, the_exposure_report_lists_exactly_what_a_principal_saw)
{
    struct vt t = {0}, other = {0};
    vault_setup(&t);
    vault_setup(&other);
    json_t *a = tokenize1(
        &t, "crm-a",
        json_pack("{s:s, s:s}", "name", "Ada Exposed", "email", "ada.exposed@example.com"));
    json_t *b = tokenize1(
        &t, "+crm-formula",
        json_pack("{s:s, s:s}", "name", "Bob Exposed", "email", "bob.exposed@example.com"));
    const char *agent = t_token_sub(
        t.id, "detokenize:customers.name:plain detokenize:customers.email:masked", "agent-7");
    reveal_n(agent, tok(a, "name"), "plain", 2);
    reveal_n(agent, tok(b, "email"), "plain", 1); /* granted masked only */
    /* not the agent's: another principal's reveal, and a refused one of the agent */
    reveal_n(t.admin, tok(a, "email"), "plain", 1);
    struct t_resp *r =
        api_p("POST", "/v1/detokenize", t_token_sub(t.id, "records:search", "agent-7"), "support",
              fmt("{\"tokens\":[\"%s\"]}", tok(a, "email")));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);

    const char *auditor = t_token(t.id, "audit:read");
    r = api("GET", "/v1/audit/exposure?principal=agent-7", auditor, NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *plain = json_object_get(r->json, "plain");
    json_t *masked = json_object_get(r->json, "masked");
    cr_assert_eq(json_array_size(plain), 1, "%s", r->body);
    cr_assert_eq(json_array_size(masked), 1, "%s", r->body);
    json_t *p = find_row(plain, "crm-a", "name");
    cr_assert_not_null(p, "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(p, "count")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(p, "collection")), "customers");
    cr_assert_not_null(json_string_value(json_object_get(p, "first")));
    json_t *m = find_row(masked, "+crm-formula", "email");
    cr_assert_not_null(m, "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(m, "count")), 1);
    cr_assert_null(strstr(r->body, "Exposed"), "a value in the report");
    cr_assert_null(strstr(r->body, "exposed@"), "a value in the report");

    /* a window before the reveals is empty */
    r = api("GET", "/v1/audit/exposure?principal=agent-7&to=2000-01-01T00:00:00Z", auditor, NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "plain")), 0, "%s", r->body);

    /* CSV: RFC 4180 rows, the subject id that starts with + cannot become a formula */
    r = api("GET", "/v1/audit/exposure?principal=agent-7&format=csv", auditor, NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    char ctype[128];
    cr_assert(t_header(r, "Content-Type", ctype, sizeof(ctype)));
    cr_assert_not_null(strstr(ctype, "text/csv"), "%s", ctype);
    cr_assert(strncmp(r->body,
                      "exposure,subject_id,collection,field,count,first_seen,last_seen\r\n",
                      65) == 0,
              "%s", r->body);
    cr_assert_not_null(strstr(r->body, "\r\nplain,crm-a,customers,name,2,"), "%s", r->body);
    cr_assert_not_null(strstr(r->body, "\r\nmasked,\"'+crm-formula\",customers,email,1,"), "%s",
                       r->body);
    cr_assert_null(strstr(r->body, ",+crm"), "a cell starts with +: %s", r->body);

    /* the other tenant's auditor: nothing */
    r = api("GET", "/v1/audit/exposure?principal=agent-7", t_token(other.id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "plain")), 0, "%s", r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "masked")), 0, "%s", r->body);

    /* bad input: 400, and audit:read is required */
    assert_problem(api("GET", "/v1/audit/exposure", auditor, NULL), 400, "/query/principal");
    assert_problem(api("GET", "/v1/audit/exposure?principal=x&from=today", auditor, NULL), 400,
                   "/query/from");
    r = api("GET", "/v1/audit/exposure?principal=x&format=xml", auditor, NULL);
    cr_assert_eq(r->status, 400, "%ld %s", r->status, r->body);
    r = api("GET", "/v1/audit/exposure?principal=agent-7", t.admin, NULL);
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);
}

static json_t *
alert_for(json_t *alerts, const char *principal)
{
    size_t i;
    json_t *a;
    json_array_foreach(alerts, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "principal")), principal) == 0) {
            return a;
        }
    }
    return NULL;
}

Test(audit_query, a_principal_far_above_its_own_baseline_raises_an_alert)
{
    struct vt t = {0};
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-a", json_pack("{s:s}", "name", "Ada Alert"));
    const char *scope = "detokenize:customers.name:plain";
    /* burst: 25 reveals this hour and no history */
    reveal_n(t_token_sub(t.id, scope, "burst"), tok(a, "name"), "plain", 25);
    /* quiet: 5 this hour */
    reveal_n(t_token_sub(t.id, scope, "quiet"), tok(a, "name"), "plain", 5);
    /* steady: 25 this hour, but 10 an hour over the past week */
    reveal_n(t_token_sub(t.id, scope, "steady"), tok(a, "name"), "plain", 25);
    free(t_sql(fmt("INSERT INTO audit_log (tenant_id, principal, action, outcome, redaction,"
                   " incarnation, ts)"
                   " SELECT '%s', 'steady', 'detokenize', 'allowed', 'plain', t.incarnation,"
                   "  now() - interval '2 hours' - (g * interval '1 minute')"
                   " FROM tenants t, generate_series(1, 1660) g WHERE t.tenant_id = '%s'",
                   t.id, t.id)));

    /* the baseline is read from sealed entries: seal them (verification seals first) */
    struct t_resp *r = api("GET", "/v1/audit/verify", t_token(t.id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    r = api("GET", "/v1/alerts", t_token(t.id, "audit:read"), NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *alerts = json_object_get(r->json, "alerts");
    json_t *burst = alert_for(alerts, "burst");
    cr_assert_not_null(burst, "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(burst, "reveals")), 25, "%s", r->body);
    cr_assert_null(alert_for(alerts, "quiet"), "%s", r->body);
    cr_assert_null(alert_for(alerts, "steady"), "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r->json, "rule"), "factor")),
                 5);

    r = api("GET", "/v1/alerts", t.admin, NULL);
    cr_assert_eq(r->status, 403, "%ld %s", r->status, r->body);
}
