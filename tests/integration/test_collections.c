/* The contract of collections, over HTTPS against the real server and PostgreSQL: a tenant
 * admin declares each field's type and tokenization; PUT creates then replaces, GET and a
 * paginated list return the definitions, invalid ones are 422 with pointers, and a field that
 * holds data keeps its type.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(collections, .fini = cleanup_all);

Test(collections, put_creates_then_replaces_and_get_returns_the_definition)
{
    struct vt t;
    tenant_create(&t);
    struct t_resp *r = api("PUT", "/v1/collections/customers", t.admin, customers_def);
    cr_assert_eq(r->status, 201, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "customers");
    r = api("PUT", "/v1/collections/customers", t.admin, customers_def);
    cr_assert_eq(r->status, 200, "replace: %ld %s", r->status, r->body);
    r = api("GET", "/v1/collections/customers", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 7, "%s", r->body);
    json_t *phone = json_object_get(f, "phone");
    cr_assert_str_eq(json_string_value(json_object_get(phone, "type")), "phone");
    cr_assert_str_eq(json_string_value(json_object_get(phone, "tokenization")), "deterministic");
    cr_assert(json_is_true(json_object_get(phone, "searchable")));
    json_t *card = json_object_get(f, "card");
    cr_assert_str_eq(json_string_value(json_object_get(card, "tokenization")), "format_preserving");
    /* the default kind is random, the default searchability false */
    json_t *note = json_object_get(f, "note");
    cr_assert_str_eq(json_string_value(json_object_get(note, "tokenization")), "random");
    cr_assert(json_is_false(json_object_get(note, "searchable")));
    r = api("GET", "/v1/collections/nothere", t.admin, NULL);
    assert_problem(r, 404, NULL);
}

Test(collections, list_paginates_with_limit_and_an_opaque_cursor)
{
    struct vt t;
    tenant_create(&t);
    cr_assert_eq(api("PUT", "/v1/collections/customers", t.admin, customers_def)->status, 201);
    cr_assert_eq(api("PUT", "/v1/collections/accounts", t.admin,
                     "{\"fields\":{\"iban\":{\"type\":\"string\"}}}")
                     ->status,
                 201);
    struct t_resp *r = api("GET", "/v1/collections", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "collections")), 2, "%s", r->body);
    cr_assert(json_is_null(json_object_get(r->json, "next_cursor")), "%s", r->body);

    r = api("GET", "/v1/collections?limit=1", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *page = json_object_get(r->json, "collections");
    cr_assert_eq(json_array_size(page), 1, "%s", r->body);
    const char *first = json_string_value(json_object_get(json_array_get(page, 0), "name"));
    const char *cursor = json_string_value(json_object_get(r->json, "next_cursor"));
    cr_assert_not_null(cursor, "no next_cursor: %s", r->body);

    r = api("GET", fmt("/v1/collections?limit=1&cursor=%s", cursor), t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    page = json_object_get(r->json, "collections");
    cr_assert_eq(json_array_size(page), 1, "%s", r->body);
    const char *second = json_string_value(json_object_get(json_array_get(page, 0), "name"));
    cr_assert_not_null(first);
    cr_assert_not_null(second);
    cr_assert_str_neq(first, second);
    cr_assert(json_is_null(json_object_get(r->json, "next_cursor")), "%s", r->body);

    assert_problem(api("GET", "/v1/collections?limit=0", t.admin, NULL), 400, NULL);
    assert_problem(api("GET", "/v1/collections?limit=1001", t.admin, NULL), 400, NULL);
}

Test(collections, invalid_definitions_are_422_with_pointers_and_create_nothing)
{
    struct vt t;
    tenant_create(&t);
    static const struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"fields\":{\"x\":{\"type\":\"bogus\"}}}", "/fields/x/type"},
        {"{\"fields\":{\"x\":{\"type\":\"string\",\"tokenization\":\"weird\"}}}",
         "/fields/x/tokenization"},
        {"{\"fields\":{\"x\":{\"type\":\"string\",\"color\":\"red\"}}}", "/fields/x"},
        {"{\"fields\":{\"x\":{\"type\":\"name\",\"tokenization\":\"format_preserving\"}}}",
         "/fields/x/tokenization"},
        {"{\"fields\":{\"x\":{\"tokenization\":\"random\"}}}", "/fields/x/type"},
        {"{\"fields\":{\"x\":{\"type\":\"email\",\"searchable\":\"yes\"}}}",
         "/fields/x/searchable"},
        {"{\"fields\":{\"x\":{\"type\":42}}}", "/fields/x/type"},
        {"{\"fields\":{}}", "/fields"},
        {"{\"fields\":[]}", "/fields"},
        {"{}", "/fields"},
        {"{\"fields\":{\"Bad-Name\":{\"type\":\"string\"}}}", "/fields"},
        {"{\"fields\":{\"x\":{\"type\":\"string\"}},\"retention_days\":0}", "/retention_days"},
        {"{\"fields\":{\"x\":{\"type\":\"string\"}},\"retention_days\":\"7\"}", "/retention_days"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_resp *r = api("PUT", "/v1/collections/bad", t.admin, cases[i].body);
        assert_problem(r, 422, cases[i].pointer);
    }
    assert_problem(api("GET", "/v1/collections/bad", t.admin, NULL), 404, NULL);
}

Test(collections, a_bad_name_in_the_path_is_refused)
{
    struct vt t;
    tenant_create(&t);
    const char *names[] = {"Bad-Name", "1abc",      "a%20b",        "%2e%2e",
                           "_x",       "caf%C3%A9", repeat('a', 64)};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct t_resp *r = api("PUT", fmt("/v1/collections/%s", names[i]), t.admin, customers_def);
        cr_assert(r->status >= 400 && r->status < 500, "%s gave %ld: %s", names[i], r->status,
                  r->body);
    }
    struct t_resp *r = api("GET", "/v1/collections", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "collections")), 0, "%s", r->body);
}

Test(collections, a_field_holding_data_keeps_its_type_but_new_fields_can_be_added)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *def = json_loads(customers_def, 0, NULL);
    cr_assert_not_null(def);

    json_t *changed = json_deep_copy(def);
    json_object_set_new(json_object_get(changed, "fields"), "phone",
                        json_pack("{s:s}", "type", "string"));
    assert_problem(api("PUT", "/v1/collections/customers", t.admin, dump(changed)), 409,
                   "/fields/phone");

    json_t *kind = json_deep_copy(def);
    json_object_set_new(json_object_get(kind, "fields"), "name",
                        json_pack("{s:s, s:s}", "type", "name", "tokenization", "deterministic"));
    assert_problem(api("PUT", "/v1/collections/customers", t.admin, dump(kind)), 409,
                   "/fields/name");

    json_t *dropped = json_deep_copy(def);
    json_object_del(json_object_get(dropped, "fields"), "note");
    assert_problem(api("PUT", "/v1/collections/customers", t.admin, dump(dropped)), 409,
                   "/fields/note");

    /* nothing of the refused changes stuck */
    struct t_resp *r = api("GET", "/v1/collections/customers", t.admin, NULL);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "phone"), "type")),
                     "phone");
    cr_assert_not_null(json_object_get(f, "note"));

    json_t *added = json_deep_copy(def);
    json_object_set_new(json_object_get(added, "fields"), "vip",
                        json_pack("{s:s}", "type", "string"));
    r = api("PUT", "/v1/collections/customers", t.admin, dump(added));
    cr_assert_eq(r->status, 200, "adding a field: %ld %s", r->status, r->body);
    cr_assert_not_null(json_object_get(json_object_get(r->json, "fields"), "vip"), "%s", r->body);
    json_t *rec = tokenize1(&t, "crm-2", json_pack("{s:s}", "vip", "gold"));
    cr_assert_str_eq(plain(&t, tok(rec, "vip")), "gold");
    json_decref(def);
}

Test(collections, tenant_admin_is_required)
{
    struct vt t;
    tenant_create(&t);
    const char *user = t_token(t.id, "records:write records:delete records:search "
                                     "detokenize:*.*:plain");
    assert_problem(api("PUT", "/v1/collections/customers", user, customers_def), 403, NULL);
    assert_problem(api("GET", "/v1/collections/customers", user, NULL), 403, NULL);
    assert_problem(api("GET", "/v1/collections", user, NULL), 403, NULL);
    assert_problem(api("PUT", "/v1/collections/customers", NULL, customers_def), 401, NULL);
    /* a tenant:admin of another tenant does not reach this one */
    struct t_resp *r = api("GET", "/v1/collections", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "collections")), 0, "%s", r->body);
}
