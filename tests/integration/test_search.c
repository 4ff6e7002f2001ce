/* The contract of search: a searchable field finds records by its normalized value (blind
 * index), unsearchable and unknown fields are refused, and another tenant finds nothing.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(search, .fini = cleanup_all);

Test(search, finds_a_record_by_its_normalized_value)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    tokenize1(&t, "crm-2", std_fields("+14155550199"));
    json_t *list = search(t.admin, "phone", "+1 (415) 555-0100");
    cr_assert_eq(json_array_size(list), 1, "%s", show(list));
    json_t *hit = json_array_get(list, 0);
    cr_assert_str_eq(rid(hit), rid(rec));
    cr_assert_str_eq(json_string_value(json_object_get(hit, "subject_id")), "crm-1");
    cr_assert_str_eq(tok(hit, "phone"), tok(rec, "phone"));
    cr_assert_str_eq(tok(hit, "email"), tok(rec, "email"));
    /* the domain of an email is case-insensitive */
    list = search(t.admin, "email", "john.doe@EXAMPLE.com");
    cr_assert_eq(json_array_size(list), 2, "%s", show(list));
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550111")), 0);
    cr_assert_eq(json_array_size(search(t.admin, "email", "John.doe@example.com")), 2,
                 "an email is searched case-insensitively (issue 8)");
}

Test(search, refuses_unsearchable_and_unknown_fields_and_invalid_values)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    static const struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"field\":\"name\",\"value\":\"Jonathan Smith\"}", "/field"},
        {"{\"field\":\"card\",\"value\":\"4111111111111111\"}", "/field"},
        {"{\"field\":\"bogus\",\"value\":\"x\"}", "/field"},
        {"{\"field\":\"phone\",\"value\":\"4155550100\"}", "/value"},
        {"{\"field\":\"email\",\"value\":\"not-an-email\"}", "/value"},
        {"{\"field\":\"phone\",\"value\":14155550100}", "/value"},
        {"{\"field\":\"phone\"}", "/value"},
        {"{\"value\":\"+14155550100\"}", "/field"},
        {"{\"field\":\"phone\",\"value\":\"+14155550100\",\"limit\":5}", NULL},
        {"[]", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_resp *r = api("POST", "/v1/collections/customers/search", t.admin, cases[i].body);
        assert_problem(r, 422, cases[i].pointer);
    }
    const char *no_search = t_token(t.id, "records:write detokenize:*.*:plain");
    assert_problem(api("POST", "/v1/collections/customers/search", no_search,
                       "{\"field\":\"phone\",\"value\":\"+14155550100\"}"),
                   403, NULL);
    assert_problem(api("POST", "/v1/collections/nothere/search", t.admin,
                       "{\"field\":\"phone\",\"value\":\"+14155550100\"}"),
                   404, NULL);
}

Test(search, another_tenant_finds_nothing)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    tokenize1(&a, "crm-1", std_fields("+14155550100"));
    cr_assert_eq(json_array_size(search(b.admin, "phone", "+14155550100")), 0);
    cr_assert_eq(json_array_size(search(b.admin, "email", "john.doe@example.com")), 0);
    cr_assert_eq(json_array_size(search(a.admin, "phone", "+14155550100")), 1);
}
