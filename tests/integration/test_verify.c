/* The contract of POST /v1/verify (issue 12 item 5): a spoken value is checked against a token's
 * stored value after normalization, answering only {"match"}; at most 5 attempts per token per
 * window, counted on every node; unknown tokens 404, erased ones 410; every attempt audited and
 * the candidate never stored. Invariant: every test makes its own tenant (the shared server's
 * defaults: 5 attempts per token per 900 s). */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(verify, .fini = cleanup_all);

static struct t_resp *
verify_on(const struct t_server *s, const char *bearer, const char *token, const char *value)
{
    struct t_resp *r = new_resp();
    char *body = dump(json_pack("{s:s, s:s}", "token", token, "value", value));
    cr_assert_eq(t_json(s, "POST", "/v1/verify", bearer, body, r), 0, "%s", r->error);
    return r;
}

/* match true/false of a 200 answer, which must hold nothing else */
static int
matched(const struct t_resp *r)
{
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    cr_assert(json_is_object(r->json) && json_object_size(r->json) == 1, "%s", r->body);
    json_t *m = json_object_get(r->json, "match");
    cr_assert(json_is_boolean(m), "%s", r->body);
    assert_no_store(r);
    return json_is_true(m);
}

static long
header_int(const struct t_resp *r, const char *name)
{
    char v[64];
    cr_assert(t_header(r, name, v, sizeof(v)), "no %s in %s", name, r->headers);
    return strtol(v, NULL, 10);
}

Test(verify, matches_the_stored_value_in_any_accepted_spelling)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *agent = t_token(t.id, "records:verify");
    const struct t_server *s = t_shared();
    cr_assert(matched(verify_on(s, agent, tok(rec, "phone"), "+1 (415) 555-0100")));
    cr_assert(matched(verify_on(s, agent, tok(rec, "phone"), "+1.415.555.0100")));
    cr_assert(!matched(verify_on(s, agent, tok(rec, "phone"), "+14155550199")));
    /* not a phone number at all: no match, and no hint why */
    cr_assert(!matched(verify_on(s, agent, tok(rec, "phone"), "four one five")));
    cr_assert(matched(verify_on(s, agent, tok(rec, "card"), "4111-1111-1111-1111")));
    cr_assert(!matched(verify_on(s, agent, tok(rec, "card"), "4111 1111 1111 1112")));
    cr_assert(matched(verify_on(s, agent, tok(rec, "email"), "JOHN.DOE@example.COM")));
    cr_assert(!matched(verify_on(s, agent, tok(rec, "email"), "jane.doe@example.com")));
    cr_assert(matched(verify_on(s, agent, tok(rec, "ssn"), "123456789")));
    cr_assert(matched(verify_on(s, agent, tok(rec, "dob"), "1990-05-17")));
    cr_assert(!matched(verify_on(s, agent, tok(rec, "dob"), "1990-05-18")));
    /* a prefix or an extension of the value is no match (no early exit on length either) */
    cr_assert(!matched(verify_on(s, agent, tok(rec, "name"), "Jonathan Smit")));
    cr_assert(!matched(verify_on(s, agent, tok(rec, "name"), "Jonathan Smithh")));
    cr_assert(matched(verify_on(s, agent, tok(rec, "name"), "  Jonathan Smith ")));
}

Test(verify, allows_five_attempts_per_token_then_429_with_retry_after)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *agent = t_token(t.id, "records:verify");
    const char *other = t_token_sub(t.id, "records:verify", "agent-other");
    for (int i = 0; i < 5; i++) {
        struct t_resp *r = verify_on(t_shared(), agent, tok(rec, "phone"), "+14155550111");
        cr_assert(!matched(r));
        cr_assert_eq(header_int(r, "RateLimit-Limit"), 5, "%s", r->headers);
        cr_assert_eq(header_int(r, "RateLimit-Remaining"), 4 - i, "%s", r->headers);
        long reset = header_int(r, "RateLimit-Reset");
        cr_assert(reset >= 1 && reset <= 930, "reset %ld", reset);
        char policy[64];
        cr_assert(t_header(r, "RateLimit-Policy", policy, sizeof(policy)));
        cr_assert_str_eq(policy, "5;w=900");
    }
    /* the sixth, even with the right value and by another principal: refused, not compared */
    struct t_resp *r = verify_on(t_shared(), other, tok(rec, "phone"), "+14155550100");
    assert_problem(r, 429, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "type")),
                     "https://custos.dev/problems/rate-limited");
    cr_assert_null(json_object_get(r->json, "match"));
    long retry = header_int(r, "Retry-After");
    cr_assert(retry >= 1 && retry <= 930, "Retry-After %ld", retry);
    cr_assert_eq(header_int(r, "RateLimit-Remaining"), 0);
    /* another token of the same record still has its own attempts */
    cr_assert(matched(verify_on(t_shared(), agent, tok(rec, "card"), "4111111111111111")));
}

Test(verify, unknown_tokens_are_404_and_erased_ones_410_and_bad_bodies_422)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *rec = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    const char *agent = t_token(a.id, "records:verify");
    const struct t_server *s = t_shared();
    assert_problem(verify_on(s, agent, "tok_000000000000000000000x", "x"), 404, NULL);
    /* another tenant's token looks unknown */
    assert_problem(verify_on(s, t_token(b.id, "records:verify"), tok(rec, "phone"),
                             "+14155550100"),
                   404, NULL);
    const char *bad[] = {"{}", "[]", "{\"token\":\"t\"}", "{\"value\":\"v\"}",
                         "{\"token\":\"\",\"value\":\"v\"}", "{\"token\":\"t\",\"value\":\"\"}",
                         "{\"token\":5,\"value\":\"v\"}", "{\"token\":\"t\",\"value\":\"v\",\"x\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_problem(api("POST", "/v1/verify", agent, bad[i]), 422, NULL);
    }
    assert_problem(api("POST", "/v1/verify", agent, "{"), 400, NULL);
    /* records:verify is the grant: a reader without it is refused (and audited) */
    assert_problem(verify_on(s, a.admin, tok(rec, "phone"), "+14155550100"), 403, NULL);
    struct t_resp *d = api("DELETE", rec_path(rid(rec)), a.admin, NULL);
    cr_assert_eq(d->status, 204, "%ld %s", d->status, d->body);
    assert_problem(verify_on(s, agent, tok(rec, "phone"), "+14155550100"), 410, NULL);
}

Test(verify, every_attempt_is_audited_without_the_candidate)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *agent = t_token_sub(t.id, "records:verify", "agent-7");
    cr_assert(matched(verify_on(t_shared(), agent, tok(rec, "phone"), "+14155550100")));
    /* the planted candidate: no digits, so that no id or time in a log can hold it by chance */
    cr_assert(!matched(verify_on(t_shared(), agent, tok(rec, "name"), "Quokka Zebrafish")));
    assert_problem(verify_on(t_shared(), agent, "tok_unknownunknownunknown1", "x"), 404, NULL);
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_count2(c,
                           "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'verify'"
                           " AND principal = 'agent-7' AND collection = 'customers'"
                           " AND fields && '{phone,name}' AND record_id = $2"
                           " AND subject_id = 'crm-1' AND outcome IN ('match', 'no_match')",
                           t.id, rid(rec)),
                 2);
    cr_assert_eq(db_count(c,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = 'verify'"
                          " AND outcome = 'not_found' AND record_id IS NULL",
                          t.id),
                 1);
    /* the planted candidate is nowhere: not in the trail, not in the attempt counts, not in the
     * server's log */
    cr_assert_eq(db_count(c,
                          "SELECT count(*) FROM audit_log a WHERE tenant_id = $1"
                          " AND (a::text ILIKE '%quokka%')",
                          t.id),
                 0);
    cr_assert_eq(db_count(c,
                          "SELECT count(*) FROM rate_limits r WHERE tenant_id = $1"
                          " AND (r::text ILIKE '%quokka%' OR r.subject LIKE 'tok_%')",
                          t.id),
                 0);
    FILE *f = fopen(t_env("CUSTOS_TEST_SERVER_LOG"), "r");
    cr_assert_not_null(f);
    char line[4096];
    while (fgets(line, sizeof(line), f) != NULL) {
        cr_assert_null(strcasestr(line, "quokka"), "the candidate reached the log: %s", line);
    }
    fclose(f);
}
