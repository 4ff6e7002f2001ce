/* The contract of purposes: why data may be revealed, each with a lawful basis; PUT, GET and
 * list, and an unknown basis is 422.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(purposes, .fini = cleanup_all);

Test(purposes, put_get_and_list)
{
    struct vt t;
    tenant_create(&t);
    struct t_resp *r = api("PUT", "/v1/purposes/support", t.admin,
                           "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    cr_assert_eq(r->status, 201, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "lawful_basis")), "contract");
    r = api("PUT", "/v1/purposes/support", t.admin,
            "{\"description\":\"Support\",\"lawful_basis\":\"legal_obligation\"}");
    cr_assert_eq(r->status, 200, "replace: %ld %s", r->status, r->body);
    r = api("GET", "/v1/purposes/support", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "support");
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "description")), "Support");
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "lawful_basis")),
                     "legal_obligation");
    cr_assert_eq(api("PUT", "/v1/purposes/fraud-check", t.admin,
                     "{\"lawful_basis\":\"legitimate_interests\"}")
                     ->status,
                 201);
    r = api("GET", "/v1/purposes", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 2, "%s", r->body);
    r = api("GET", "/v1/purposes?limit=1", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 1, "%s", r->body);
    const char *cursor = json_string_value(json_object_get(r->json, "next_cursor"));
    cr_assert_not_null(cursor, "%s", r->body);
    r = api("GET", fmt("/v1/purposes?limit=1&cursor=%s", cursor), t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 1, "%s", r->body);
    cr_assert(json_is_null(json_object_get(r->json, "next_cursor")), "%s", r->body);
    assert_problem(api("GET", "/v1/purposes/nope", t.admin, NULL), 404, NULL);
    const char *user = t_token(t.id, "records:write");
    assert_problem(api("GET", "/v1/purposes", user, NULL), 403, NULL);
    assert_problem(api("PUT", "/v1/purposes/x", user, "{\"lawful_basis\":\"contract\"}"), 403,
                   NULL);
}

Test(purposes, an_unknown_lawful_basis_is_422)
{
    struct vt t;
    tenant_create(&t);
    assert_problem(api("PUT", "/v1/purposes/support", t.admin, "{\"lawful_basis\":\"because\"}"),
                   422, "/lawful_basis");
    assert_problem(api("PUT", "/v1/purposes/support", t.admin, "{\"description\":\"x\"}"), 422,
                   "/lawful_basis");
    assert_problem(api("PUT", "/v1/purposes/support", t.admin, "{\"lawful_basis\":7}"), 422,
                   "/lawful_basis");
    assert_problem(api("PUT", "/v1/purposes/support", t.admin,
                       "{\"lawful_basis\":\"contract\",\"description\":42}"),
                   422, "/description");
    struct t_resp *r = api("PUT", "/v1/purposes/Bad!", t.admin, "{\"lawful_basis\":\"contract\"}");
    cr_assert(r->status >= 400 && r->status < 500, "%ld", r->status);
    r = api("GET", "/v1/purposes", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 0, "%s", r->body);
}
