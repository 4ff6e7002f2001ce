/* Search by email is case-insensitive: the blind index is taken over the case-folded address,
 * while the stored value keeps the case it was given (the domain lower-cased). */
#include "vault_fixture.h"

#include "idp.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(search_email, .fini = fx_cleanup);

static json_t *
search(const struct fx_tenant *t, const char *value)
{
    struct t_resp *r = fx_api("POST", "/v1/collections/customers/search", t->admin, NULL,
                              fx_dump(json_pack("{s:s, s:s}", "field", "email", "value", value)));
    cr_assert_eq(r->status, 200, "search: %ld %s", r->status, r->body);
    return json_object_get(r->json, "records");
}

Test(search_email, an_address_is_found_however_its_case_is_typed)
{
    struct fx_tenant t = {0};
    fx_vault(&t);
    json_t *rec = fx_tokenize1(&t, "crm-1", json_pack("{s:s}", "email", "Ada@Example.com"));
    static const char *const typed[] = {"ADA@EXAMPLE.COM", "ada@example.com", "Ada@Example.com",
                                        "aDA@example.COM"};
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
        json_t *list = search(&t, typed[i]);
        cr_assert_eq(json_array_size(list), 1, "spelling %zu found %zu records", i,
                     json_array_size(list));
        cr_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")),
                         fx_id(rec));
    }
    cr_assert_eq(json_array_size(search(&t, "ada@example.org")), 0);

    /* the stored value keeps the case of its local part */
    struct t_resp *r = fx_api("POST", "/v1/detokenize", t.admin, "support",
                              fx_dump(json_pack("{s:[s]}", "tokens", fx_token(rec, "email"))));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *item = json_array_get(json_object_get(r->json, "results"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(item, "value")), "Ada@example.com");
}

Test(search_email, addresses_that_differ_only_in_case_find_each_other)
{
    struct fx_tenant t = {0};
    fx_vault(&t);
    fx_tokenize1(&t, "crm-1", json_pack("{s:s}", "email", "ada@example.com"));
    fx_tokenize1(&t, "crm-2", json_pack("{s:s}", "email", "ADA@EXAMPLE.COM"));
    cr_assert_eq(json_array_size(search(&t, "Ada@example.com")), 2);
}

/* A value indexed before emails were case-folded carries the index of its exact spelling (made
 * here by storing it while the field was a `string`, then retyping the field as the superuser):
 * that spelling still finds it, next to the records indexed since. */
Test(search_email, an_address_indexed_before_case_folding_is_still_found_by_its_spelling)
{
    struct fx_tenant t = {0};
    fx_tenant_create(&t);
    struct t_resp *r = fx_api("PUT", "/v1/collections/customers", t.admin, NULL,
                              "{\"fields\":{\"email\":{\"type\":\"string\",\"searchable\":true}}}");
    cr_assert_eq(r->status, 201, "collection: %ld %s", r->status, r->body);
    r = fx_api("PUT", "/v1/purposes/support", t.admin, NULL,
               "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    cr_assert_eq(r->status, 201);
    json_t *old = fx_tokenize1(&t, "crm-1", json_pack("{s:s}", "email", "Ada@example.com"));
    fx_admin_exec("UPDATE collections SET fields = jsonb_set(fields, '{email,type}', '\"email\"')"
                  " WHERE tenant_id = $1 AND name = 'customers'",
                  t.id);
    json_t *now = fx_tokenize1(&t, "crm-2", json_pack("{s:s}", "email", "ada@example.com"));

    json_t *list = search(&t, "Ada@example.com");
    cr_assert_eq(json_array_size(list), 2, "found %zu records", json_array_size(list));
    const char *a = json_string_value(json_object_get(json_array_get(list, 0), "id"));
    const char *b = json_string_value(json_object_get(json_array_get(list, 1), "id"));
    cr_assert(strcmp(a, b) != 0, "a record is listed twice");
    cr_assert((strcmp(a, fx_id(old)) == 0 && strcmp(b, fx_id(now)) == 0) ||
              (strcmp(a, fx_id(now)) == 0 && strcmp(b, fx_id(old)) == 0));
    /* another spelling finds only what was indexed case-folded */
    list = search(&t, "ADA@EXAMPLE.COM");
    cr_assert_eq(json_array_size(list), 1);
}
