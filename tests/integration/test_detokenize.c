/* The contract of detokenize: a value comes back only for a declared purpose (and a consent
 * grant where the basis is consent), at the lower of the asked and the granted reveal level;
 * unknown and foreign tokens get the same 404, and batches answer in order.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(detokenize, .fini = cleanup_all);

Test(detokenize, x_purpose_is_required_and_must_be_declared)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *body = dump(json_pack("{s:[s]}", "tokens", tok(rec, "email")));
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, NULL, body), 400, NULL);
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "marketing", body), 403, NULL);
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "Bad Purpose!", body), 403, NULL);
    struct t_resp *r = api_p("POST", "/v1/detokenize", t.admin, "", body);
    cr_assert(r->status == 400 || r->status == 403, "%ld", r->status);
    /* a purpose of another tenant is not declared here */
    struct vt o;
    tenant_create(&o);
    cr_assert_eq(
        api("PUT", "/v1/purposes/billing", o.admin, "{\"lawful_basis\":\"contract\"}")->status,
        201);
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "billing", body), 403, NULL);
}

Test(detokenize, a_consent_purpose_reveals_nothing_without_a_grant)
{
    struct vt t;
    vault_setup(&t);
    cr_assert_eq(
        api("PUT", "/v1/purposes/marketing", t.admin, "{\"lawful_basis\":\"consent\"}")->status,
        201);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    /* no consent was ever granted for crm-1: API.md refuses the purpose (403) for it */
    struct t_resp *r =
        api_p("POST", "/v1/detokenize", t.admin, "marketing",
              dump(json_pack("{s:[s,s]}", "tokens", tok(rec, "email"), tok(rec, "name"))));
    cr_assert(r->status == 200 || r->status == 403, "%ld %s", r->status, r->body);
    if (r->status == 200) {
        json_t *res = json_object_get(r->json, "results");
        for (size_t i = 0; i < json_array_size(res); i++) {
            cr_expect_eq(item_status(json_array_get(res, i)), 403,
                         "revealed under a consent purpose without consent: %s",
                         show(json_array_get(res, i)));
        }
    }
    cr_assert_null(strstr(r->body, "john.doe"), "POST /v1/detokenize X-Purpose: marketing -> %s",
                   r->body);
    r = api_p("GET", rec_path(rid(rec)), t.admin, "marketing", NULL);
    cr_assert_eq(r->status, 403, "GET record X-Purpose: marketing -> %ld %s", r->status, r->body);
}

Test(detokenize, masks_follow_the_type_of_each_field)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *res =
        detok(t.admin, "masked",
              json_pack("[s,s,s,s,s,s,s]", tok(rec, "card"), tok(rec, "ssn"), tok(rec, "email"),
                        tok(rec, "phone"), tok(rec, "name"), tok(rec, "note"), tok(rec, "dob")));
    static const char *const masks[] = {"************1111", "***-**-6789",    "j***@example.com",
                                        "+*******0100",     "**********mith", "*********mail",
                                        "******5-17"};
    for (size_t i = 0; i < 7; i++) {
        json_t *item = json_array_get(res, i);
        cr_assert_str_eq(value_of(item), masks[i], "item %zu: %s", i, show(item));
        cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "masked");
    }
    /* a short value shows nothing */
    json_t *bob = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", "Bob"));
    cr_assert_str_eq(value_of(detok1(t.admin, tok(bob, "name"), "masked")), "***");
    res = detok(t.admin, "redacted",
                json_pack("[s,s,s]", tok(rec, "card"), tok(rec, "email"), tok(rec, "name")));
    for (size_t i = 0; i < 3; i++) {
        json_t *item = json_array_get(res, i);
        cr_assert_str_eq(value_of(item), "[REDACTED]");
        cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "redacted");
    }
}

Test(detokenize, the_level_is_the_lower_of_asked_and_granted)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *card = tok(rec, "card");
    const char *masked = t_token(t.id, "detokenize:customers.*:masked");
    json_t *item = detok1(masked, card, "plain");
    cr_assert_str_eq(value_of(item), "************1111");
    cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "masked");
    item = detok1(masked, card, NULL);
    cr_assert_str_eq(value_of(item), "************1111");
    item = detok1(masked, card, "redacted");
    cr_assert_str_eq(value_of(item), "[REDACTED]");
    cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "redacted");
    const char *redacted = t_token(t.id, "detokenize:*.card:redacted");
    item = detok1(redacted, card, "masked");
    cr_assert_str_eq(value_of(item), "[REDACTED]");
    /* the best of several grants wins */
    const char *both = t_token(t.id, "detokenize:customers.*:redacted detokenize:*.card:plain");
    cr_assert_str_eq(value_of(detok1(both, card, NULL)), "4111111111111111");
    cr_assert_str_eq(value_of(detok1(both, tok(rec, "email"), NULL)), "[REDACTED]");
    /* a grant on another collection gives nothing here */
    const char *elsewhere = t_token(t.id, "detokenize:accounts.*:plain");
    cr_assert_eq(item_status(detok1(elsewhere, card, NULL)), 403);
}

Test(detokenize, a_field_grant_reveals_that_field_only)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *email_only = t_token(t.id, "detokenize:customers.email:plain");
    json_t *res = detok(email_only, NULL, json_pack("[s,s]", tok(rec, "email"), tok(rec, "phone")));
    cr_assert_str_eq(value_of(json_array_get(res, 0)), "john.doe@example.com");
    json_t *denied = json_array_get(res, 1);
    cr_assert_eq(item_status(denied), 403, "%s", show(denied));
    cr_assert_str_eq(json_string_value(json_object_get(denied, "token")), tok(rec, "phone"));
}

Test(detokenize, without_any_detokenize_scope_every_item_is_403)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *none = t_token(t.id, "tenant:admin records:write records:search");
    const char *fields[] = {"name", "email", "phone", "card", "ssn", "note", "dob"};
    json_t *tokens = json_array();
    for (size_t i = 0; i < 7; i++) {
        json_array_append_new(tokens, json_string(tok(rec, fields[i])));
    }
    struct t_resp *r = api_p("POST", "/v1/detokenize", none, "support",
                             dump(json_pack("{s:o}", "tokens", tokens)));
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *res = json_object_get(r->json, "results");
    cr_assert_eq(json_array_size(res), 7);
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(item_status(json_array_get(res, i)), 403, "%s", show(json_array_get(res, i)));
    }
    cr_assert_null(strstr(r->body, "john.doe"), "%s", r->body);
    cr_assert_null(strstr(r->body, "Jonathan"), "%s", r->body);
}

Test(detokenize, unknown_and_foreign_tokens_get_the_same_404)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *mine = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    json_t *theirs = tokenize1(&b, "crm-9",
                               json_pack("{s:s, s:s, s:s, s:s}", "email", "secret.b@example.org",
                                         "phone", "+442071838750", "card", "5555 5555 5555 4444",
                                         "name", "Bartholomew B"));
    const char *unknown = fmt("tok_%s", "0123456789abcdefABCDEF");
    json_t *res =
        detok(a.admin, NULL,
              json_pack("[s,s,s,s,s,s]", unknown, tok(theirs, "email"), tok(theirs, "phone"),
                        tok(theirs, "card"), tok(theirs, "name"), tok(mine, "email")));
    json_t *first = json_object_get(json_array_get(res, 0), "error");
    cr_assert_eq(item_status(json_array_get(res, 0)), 404, "%s", show(json_array_get(res, 0)));
    for (size_t i = 1; i < 5; i++) {
        json_t *item = json_array_get(res, i);
        cr_assert_eq(item_status(item), 404, "item %zu: %s", i, show(item));
        cr_assert(json_equal(json_object_get(item, "error"), first),
                  "a foreign token answers differently:\n%s\n%s", show(item), show(first));
        cr_assert_null(json_object_get(item, "collection"), "%s", show(item));
        cr_assert_null(json_object_get(item, "field"), "%s", show(item));
    }
    cr_assert_str_eq(value_of(json_array_get(res, 5)), "john.doe@example.com");
    /* B's own tokens work for B */
    cr_assert_str_eq(plain(&b, tok(theirs, "email")), "secret.b@example.org");
    /* and a malformed token is just unknown */
    cr_assert_eq(item_status(detok1(a.admin, "not a token", NULL)), 404);
}

Test(detokenize, a_batch_of_1000_tokens_is_answered_in_order)
{
    struct vt t;
    vault_setup(&t);
    struct t_resp *r = api("POST", RECORDS, t.admin, batch_body(1000, "d"));
    cr_assert_eq(r->status, 201, "%ld %.300s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    json_t *tokens = json_array();
    /* in reverse, mixing fields, so that order is not the order of storage */
    for (size_t i = 1000; i-- > 0;) {
        json_array_append_new(tokens,
                              json_string(tok(json_array_get(list, i), i % 2 ? "name" : "email")));
    }
    json_t *sent = json_incref(tokens);
    json_t *res = detok(t.admin, NULL, tokens);
    for (size_t k = 0; k < 1000; k++) {
        size_t i = 999 - k;
        json_t *item = json_array_get(res, k);
        cr_assert_str_eq(json_string_value(json_object_get(item, "token")),
                         json_string_value(json_array_get(sent, k)));
        const char *want = i % 2 ? fmt("Person d %zu", i) : fmt("p%zu.d@example.com", i);
        cr_assert_str_eq(value_of(item), want, "item %zu", k);
    }
    json_decref(sent);
}

Test(detokenize, malformed_bodies_are_422)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *many = json_array();
    for (size_t i = 0; i < 1001; i++) {
        json_array_append_new(many, json_string(tok(rec, "email")));
    }
    static const struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"tokens\":[]}", "/tokens"},
        {"{\"tokens\":\"tok_x\"}", "/tokens"},
        {"{}", "/tokens"},
        {"{\"tokens\":[42]}", "/tokens/0"},
        {"{\"tokens\":[\"tok_a\",null]}", "/tokens/1"},
        {"{\"tokens\":[\"\"]}", "/tokens/0"},
        {"{\"tokens\":[\"tok_a\"],\"redaction\":\"bogus\"}", "/redaction"},
        {"{\"tokens\":[\"tok_a\"],\"redaction\":\"none\"}", "/redaction"},
        {"{\"tokens\":[\"tok_a\"],\"redaction\":1}", "/redaction"},
        {"{\"tokens\":[\"tok_a\"],\"extra\":1}", NULL},
        {"[\"tok_a\"]", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_problem(api_p("POST", "/v1/detokenize", t.admin, "support", cases[i].body), 422,
                       cases[i].pointer);
    }
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "support",
                         dump(json_pack("{s:o}", "tokens", many))),
                   422, "/tokens");
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "support",
                         dump(json_pack("{s:[s]}", "tokens", repeat('t', 129)))),
                   422, "/tokens/0");
}
