/* Detokenize and record reads when a dependency fails: a keyring failure (a KEK version that is
 * not there, a wrapped subject key that does not unwrap) fails the whole request with 503 and
 * returns nothing; only a value that does not open answers like an unknown token (404).
 * Each test breaks only its own tenant's rows, as the superuser. */
#include "client.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <string.h>

TestSuite(detokenize_failures, .fini = cleanup_all);

/* Runs a statement as the superuser (bypasses row-level security), with one text parameter. */
static void
admin_exec(const char *sql, const char *p1)
{
    PGconn *c = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    PGresult *r = PQexecParams(c, sql, 1, NULL, &p1, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s failed", sql);
}

/* The first column of a query as the superuser, as a number. */
static long long
admin_count(const char *sql, const char *p1, const char *p2)
{
    return db_count2(db_open("CUSTOS_TEST_ADMIN_DB_URL"), sql, p1, p2);
}

static json_t *
store(struct vt *t)
{
    vault_setup(t);
    return tokenize1(t, "crm-1",
                     json_pack("{s:s, s:s}", "name", "Ada Lovelace", "email", "ada@example.com"));
}

static struct t_resp *
detokenize(const struct vt *t, const char *token)
{
    return api_p("POST", "/v1/detokenize", t->admin, "support",
                 dump(json_pack("{s:[s]}", "tokens", token)));
}

/* A 503 problem that carries no value and left no "not found" in the trail. */
static void
assert_outage(const struct vt *t, const struct t_resp *r)
{
    cr_assert_eq(r->status, 503, "wanted 503, got %ld: %s", r->status, r->body);
    cr_assert_null(strstr(r->body, "Lovelace"), "a value in the answer");
    cr_assert_null(strstr(r->body, "results"), "per-item results in a failed request");
    cr_assert_eq(admin_count("SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                             " AND outcome = 'not_found'",
                             t->id, NULL),
                 0, "the outage was audited as absence");
}

Test(detokenize_failures, a_missing_kek_version_is_503_for_the_request_not_a_404_item)
{
    struct vt t = {0};
    json_t *rec = store(&t);
    /* the subject key now names a KEK version the keyring cannot find (and misses the cache) */
    admin_exec("UPDATE subject_keys SET kek_version = 999, wrapped = wrapped || '\\x00'::bytea"
               " WHERE tenant_id = $1",
               t.id);
    assert_outage(&t, detokenize(&t, tok(rec, "name")));
    struct t_resp *r = api_p("GET", fmt(RECORDS "/%s", rid(rec)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 503, "record read: %ld %s", r->status, r->body);
}

Test(detokenize_failures, a_subject_key_that_does_not_unwrap_is_503_not_a_404_item)
{
    struct vt t = {0};
    json_t *rec = store(&t);
    admin_exec("UPDATE subject_keys SET wrapped = set_byte(wrapped, 20, get_byte(wrapped, 20)"
               " # 1) WHERE tenant_id = $1",
               t.id);
    assert_outage(&t, detokenize(&t, tok(rec, "name")));
    struct t_resp *r = api_p("GET", fmt(RECORDS "/%s", rid(rec)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 503, "record read: %ld %s", r->status, r->body);
}

Test(detokenize_failures, a_value_that_does_not_open_still_answers_like_an_unknown_token)
{
    struct vt t = {0};
    json_t *rec = store(&t);
    admin_exec("UPDATE record_values SET ciphertext = set_byte(ciphertext, 20,"
               " get_byte(ciphertext, 20) # 1) WHERE tenant_id = $1 AND field = 'name'",
               t.id);
    struct t_resp *r = detokenize(&t, tok(rec, "name"));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *item = json_array_get(json_object_get(r->json, "results"), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(item, "error"), "status")), 404,
                 "%s", r->body);
    cr_assert_null(json_object_get(item, "value"));
}
