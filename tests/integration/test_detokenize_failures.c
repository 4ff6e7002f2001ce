/* Detokenize and record reads when a dependency fails: a keyring failure (a KEK version that is
 * not there, a wrapped subject key that does not unwrap) fails the whole request with 503 and
 * returns nothing; only a value that does not open answers like an unknown token (404).
 * Each test breaks only its own tenant's rows, as the superuser. */
#include "vault_fixture.h"

#include "idp.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(detokenize_failures, .fini = fx_cleanup);

static json_t *
store(struct fx_tenant *t)
{
    fx_vault(t);
    return fx_tokenize1(
        t, "crm-1", json_pack("{s:s, s:s}", "name", "Ada Lovelace", "email", "ada@example.com"));
}

static struct t_resp *
detokenize(const struct fx_tenant *t, const char *token)
{
    return fx_api("POST", "/v1/detokenize", t->admin, "support",
                  fx_dump(json_pack("{s:[s]}", "tokens", token)));
}

/* A 503 problem that carries no value and left no "not found" in the trail. */
static void
assert_outage(const struct fx_tenant *t, const struct t_resp *r)
{
    cr_assert_eq(r->status, 503, "wanted 503, got %ld: %s", r->status, r->body);
    cr_assert_null(strstr(r->body, "Lovelace"), "a value in the answer");
    cr_assert_null(strstr(r->body, "results"), "per-item results in a failed request");
    cr_assert_eq(fx_admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                                " AND outcome = 'not_found'",
                                t->id, NULL),
                 0, "the outage was audited as absence");
}

Test(detokenize_failures, a_missing_kek_version_is_503_for_the_request_not_a_404_item)
{
    struct fx_tenant t = {0};
    json_t *rec = store(&t);
    /* the subject key now names a KEK version the keyring cannot find (and misses the cache) */
    fx_admin_exec("UPDATE subject_keys SET kek_version = 999, wrapped = wrapped || '\\x00'::bytea"
                  " WHERE tenant_id = $1",
                  t.id);
    assert_outage(&t, detokenize(&t, fx_token(rec, "name")));
    struct t_resp *r =
        fx_api("GET", fx_fmt(FX_RECORDS "/%s", fx_id(rec)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 503, "record read: %ld %s", r->status, r->body);
}

Test(detokenize_failures, a_subject_key_that_does_not_unwrap_is_503_not_a_404_item)
{
    struct fx_tenant t = {0};
    json_t *rec = store(&t);
    fx_admin_exec("UPDATE subject_keys SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20)"
                  " # 1) WHERE tenant_id = $1",
                  t.id);
    assert_outage(&t, detokenize(&t, fx_token(rec, "name")));
    struct t_resp *r =
        fx_api("GET", fx_fmt(FX_RECORDS "/%s", fx_id(rec)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 503, "record read: %ld %s", r->status, r->body);
}

Test(detokenize_failures, a_value_that_does_not_open_still_answers_like_an_unknown_token)
{
    struct fx_tenant t = {0};
    json_t *rec = store(&t);
    fx_admin_exec("UPDATE record_values SET ciphertext = set_byte(ciphertext, 20,"
                  " get_byte(ciphertext, 20) # 1) WHERE tenant_id = $1 AND field = 'name'",
                  t.id);
    struct t_resp *r = detokenize(&t, fx_token(rec, "name"));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *item = json_array_get(json_object_get(r->json, "results"), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(item, "error"), "status")), 404,
                 "%s", r->body);
    cr_assert_null(json_object_get(item, "value"));
}
