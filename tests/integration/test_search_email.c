/* Search by email is case-insensitive: the blind index is taken over the case-folded address,
 * while the stored value keeps the case it was given (the domain lower-cased). */
#include "client.h"
#include "tenant.h"
#include "vault.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <string.h>

TestSuite(search_email, .fini = cleanup_all);

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

static json_t *
search_email(const struct vt *t, const char *value)
{
    struct t_resp *r = api_p("POST", "/v1/collections/customers/search", t->admin, NULL,
                             dump(json_pack("{s:s, s:s}", "field", "email", "value", value)));
    cr_assert_eq(r->status, 200, "search: %ld %s", r->status, r->body);
    return json_object_get(r->json, "records");
}

Test(search_email, an_address_is_found_however_its_case_is_typed)
{
    struct vt t = {0};
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s}", "email", "Ada@Example.com"));
    static const char *const typed[] = {"ADA@EXAMPLE.COM", "ada@example.com", "Ada@Example.com",
                                        "aDA@example.COM"};
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
        json_t *list = search_email(&t, typed[i]);
        cr_assert_eq(json_array_size(list), 1, "spelling %zu found %zu records", i,
                     json_array_size(list));
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")),
                         rid(rec));
    }
    cr_assert_eq(json_array_size(search_email(&t, "ada@example.org")), 0);

    /* the stored value keeps the case of its local part */
    struct t_resp *r = api_p("POST", "/v1/detokenize", t.admin, "support",
                             dump(json_pack("{s:[s]}", "tokens", tok(rec, "email"))));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *item = json_array_get(json_object_get(r->json, "results"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(item, "value")), "Ada@example.com");
}

Test(search_email, addresses_that_differ_only_in_case_find_each_other)
{
    struct vt t = {0};
    vault_setup(&t);
    tokenize1(&t, "crm-1", json_pack("{s:s}", "email", "ada@example.com"));
    tokenize1(&t, "crm-2", json_pack("{s:s}", "email", "ADA@EXAMPLE.COM"));
    cr_assert_eq(json_array_size(search_email(&t, "Ada@example.com")), 2);
}

/* A value indexed before emails were case-folded carries the index of its exact spelling (made
 * here by storing it while the field was a `string`, then retyping the field as the superuser):
 * that spelling still finds it, next to the records indexed since. */
Test(search_email, an_address_indexed_before_case_folding_is_still_found_by_its_spelling)
{
    struct vt t = {0};
    tenant_create(&t);
    struct t_resp *r = api_p("PUT", "/v1/collections/customers", t.admin, NULL,
                             "{\"fields\":{\"email\":{\"type\":\"string\",\"searchable\":true}}}");
    cr_assert_eq(r->status, 201, "collection: %ld %s", r->status, r->body);
    r = api_p("PUT", "/v1/purposes/support", t.admin, NULL,
              "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    cr_assert_eq(r->status, 201);
    json_t *old = tokenize1(&t, "crm-1", json_pack("{s:s}", "email", "Ada@example.com"));
    admin_exec("UPDATE collections SET fields = jsonb_set(fields, '{email,type}', '\"email\"')"
               " WHERE tenant_id = $1 AND name = 'customers'",
               t.id);
    json_t *now = tokenize1(&t, "crm-2", json_pack("{s:s}", "email", "ada@example.com"));

    json_t *list = search_email(&t, "Ada@example.com");
    cr_assert_eq(json_array_size(list), 2, "found %zu records", json_array_size(list));
    const char *a = json_string_value(json_object_get(json_array_get(list, 0), "id"));
    const char *b = json_string_value(json_object_get(json_array_get(list, 1), "id"));
    cr_assert(strcmp(a, b) != 0, "a record is listed twice");
    cr_assert((strcmp(a, rid(old)) == 0 && strcmp(b, rid(now)) == 0) ||
              (strcmp(a, rid(now)) == 0 && strcmp(b, rid(old)) == 0));
    /* another spelling finds only what was indexed case-folded */
    list = search_email(&t, "ADA@EXAMPLE.COM");
    cr_assert_eq(json_array_size(list), 1);
}
