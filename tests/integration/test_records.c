/* The contract of a stored record: read (only the asked fields, at the asked level, for a
 * declared purpose), rectify (random tokens stay, a deterministic token follows its value),
 * delete (410 for the record and its tokens from then on), and a deterministic token shared by
 * several records.
 * Invariant: every test makes its own tenant. */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(record_read, .fini = cleanup_all);
TestSuite(rectify, .fini = cleanup_all);
TestSuite(delete, .fini = cleanup_all);
TestSuite(shared_token, .fini = cleanup_all);

/* ---- record read ---- */

Test(record_read, returns_only_the_requested_fields_at_the_requested_level)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    struct t_resp *r =
        api_p("GET", fmt("%s?redaction=masked&fields=email,card", rec_path(rid(rec))), t.admin,
              "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    assert_no_store(r);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 2, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(f, "email")), "j***@example.com");
    cr_assert_str_eq(json_string_value(json_object_get(f, "card")), "************1111");
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "id")), rid(rec));
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "subject_id")), "crm-1");
    json_t *toks = json_object_get(r->json, "tokens");
    cr_assert_str_eq(json_string_value(json_object_get(toks, "card")), tok(rec, "card"));
    cr_assert_null(json_object_get(toks, "phone"), "%s", r->body);

    r = api_p("GET", rec_path(rid(rec)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 7, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(f, "phone")), "+14155550100");
    cr_assert_str_eq(json_string_value(json_object_get(f, "name")), "Jonathan Smith");

    r = api_p("GET", fmt("%s?redaction=redacted&fields=ssn", rec_path(rid(rec))), t.admin,
              "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "fields"), "ssn")),
                     "[REDACTED]");
    assert_problem(
        api_p("GET", fmt("%s?redaction=bogus", rec_path(rid(rec))), t.admin, "support", NULL), 400,
        NULL);
    /* a masked grant caps a plain read */
    const char *masked = t_token(t.id, "detokenize:customers.*:masked");
    r = api_p("GET", fmt("%s?fields=phone", rec_path(rid(rec))), masked, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "fields"), "phone")),
        "+*******0100");
}

Test(record_read, needs_a_declared_x_purpose)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    assert_problem(api_p("GET", rec_path(rid(rec)), t.admin, NULL, NULL), 400, NULL);
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), t.admin, "marketing", NULL);
    assert_problem(r, 403, NULL);
    cr_assert_null(strstr(r->body, "john.doe"), "%s", r->body);
}

Test(record_read, unknown_foreign_and_malformed_ids_are_404_alike)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *rec = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    struct t_resp *foreign = api_p("GET", rec_path(rid(rec)), b.admin, "support", NULL);
    assert_problem(foreign, 404, NULL);
    cr_assert_null(strstr(foreign->body, "john.doe"), "%s", foreign->body);
    struct t_resp *unknown =
        api_p("GET", rec_path(fmt("rec_%s", random_hex(16))), a.admin, "support", NULL);
    assert_problem(unknown, 404, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(foreign->json, "detail")),
                     json_string_value(json_object_get(unknown->json, "detail")));
    assert_problem(api_p("GET", rec_path("nope"), a.admin, "support", NULL), 404, NULL);
    assert_problem(api_p("GET", rec_path(fmt("rec_%s", repeat('Z', 32))), a.admin, "support", NULL),
                   404, NULL);
    /* the record in another collection of the same tenant is not there either */
    cr_assert_eq(
        api("PUT", "/v1/collections/other", a.admin, "{\"fields\":{\"name\":{\"type\":\"name\"}}}")
            ->status,
        201);
    assert_problem(
        api_p("GET", fmt("/v1/collections/other/records/%s", rid(rec)), a.admin, "support", NULL),
        404, NULL);
}

Test(record_read, a_deleted_record_is_410)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    cr_assert_eq(api("DELETE", rec_path(rid(rec)), t.admin, NULL)->status, 204);
    assert_problem(api_p("GET", rec_path(rid(rec)), t.admin, "support", NULL), 410, NULL);
}

Test(record_read, a_read_with_no_granted_field_is_403)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *note_only = t_token(t.id, "detokenize:customers.note:plain");
    struct t_resp *r =
        api_p("GET", fmt("%s?fields=email", rec_path(rid(rec))), note_only, "support", NULL);
    assert_problem(r, 403, NULL);
    const char *none = t_token(t.id, "records:write");
    assert_problem(api_p("GET", rec_path(rid(rec)), none, "support", NULL), 403, NULL);
    /* the granted field alone comes back */
    r = api_p("GET", rec_path(rid(rec)), note_only, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 1, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(f, "note")), "prefers email");
    cr_assert_null(strstr(r->body, "john.doe"), "%s", r->body);
}

/* ---- rectify ---- */

Test(rectify, random_tokens_stay_and_reveal_the_new_value)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    struct t_resp *r =
        patch(&t, rid(rec),
              json_pack("{s:s, s:s}", "name", "Jane Doe-Smith", "email", "jane@example.com"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(tok(r->json, "name"), tok(rec, "name"));
    cr_assert_str_eq(tok(r->json, "email"), tok(rec, "email"));
    cr_assert_str_eq(tok(r->json, "phone"), tok(rec, "phone"));
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jane Doe-Smith");
    cr_assert_str_eq(plain(&t, tok(rec, "email")), "jane@example.com");
    /* untouched fields keep their values */
    cr_assert_str_eq(plain(&t, tok(rec, "note")), "prefers email");
    /* the search index follows */
    cr_assert_eq(json_array_size(search(t.admin, "email", "jane@example.com")), 1);
    cr_assert_eq(json_array_size(search(t.admin, "email", "john.doe@example.com")), 0);
    /* a field the record did not have yet */
    json_t *small = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", "Short Record"));
    r = patch(&t, rid(small), json_pack("{s:s}", "note", "added later"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(plain(&t, tok(r->json, "note")), "added later");
}

Test(rectify, a_deterministic_token_follows_the_value_and_the_old_one_is_410)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *old = tok(rec, "phone");
    struct t_resp *r = patch(&t, rid(rec), json_pack("{s:s}", "phone", "+14155550123"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    const char *fresh = tok(r->json, "phone");
    cr_assert(is_token(fresh, "tokd_"), "%s", fresh);
    cr_assert_str_neq(fresh, old);
    cr_assert_str_eq(plain(&t, fresh), "+14155550123");
    cr_assert_eq(item_status(detok1(t.admin, old, NULL)), 410);
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550100")), 0);
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550123")), 1);
    /* a format-preserving card token follows its value too */
    const char *old_card = tok(rec, "card");
    r = patch(&t, rid(rec), json_pack("{s:s}", "card", "5555 5555 5555 4444"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_neq(tok(r->json, "card"), old_card);
    cr_assert_str_eq(plain(&t, tok(r->json, "card")), "5555555555554444");
    cr_assert_eq(item_status(detok1(t.admin, old_card, NULL)), 410);
    /* back to the first value: the first token is live again */
    r = patch(&t, rid(rec), json_pack("{s:s}", "phone", "+1 415 555 0100"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(tok(r->json, "phone"), old);
    cr_assert_str_eq(plain(&t, old), "+14155550100");
    cr_assert_eq(item_status(detok1(t.admin, fresh, NULL)), 410);
}

Test(rectify, an_invalid_value_is_422_and_changes_nothing)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    assert_problem(patch(&t, rid(rec),
                         json_pack("{s:s, s:s}", "name", "Changed Name", "email", "not-an-email")),
                   422, "/fields/email");
    assert_problem(
        patch(&t, rid(rec),
              json_pack("{s:s, s:s}", "phone", "+14155550123", "card", "4111 1111 1111 1112")),
        422, "/fields/card");
    assert_problem(patch(&t, rid(rec), json_pack("{s:s}", "bogus", "x")), 422, "/fields/bogus");
    assert_problem(patch(&t, rid(rec), json_pack("{s:i}", "name", 5)), 422, "/fields/name");
    assert_problem(patch(&t, rid(rec), json_object()), 422, NULL);
    assert_problem(api("PATCH", rec_path(rid(rec)), t.admin, "{}"), 422, NULL);
    assert_problem(api("PATCH", rec_path(rid(rec)), t.admin,
                       "{\"fields\":{\"name\":\"X Y\"},\"subject_id\":\"crm-2\"}"),
                   422, NULL);
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jonathan Smith");
    cr_assert_str_eq(plain(&t, tok(rec, "email")), "john.doe@example.com");
    cr_assert_str_eq(plain(&t, tok(rec, "phone")), "+14155550100");
    cr_assert_str_eq(plain(&t, tok(rec, "card")), "4111111111111111");
    assert_problem(patch(&t, fmt("rec_%s", random_hex(16)), json_pack("{s:s}", "name", "A B")), 404,
                   NULL);
    const char *no_write = t_token(t.id, "records:delete detokenize:*.*:plain");
    assert_problem(
        api("PATCH", rec_path(rid(rec)), no_write, "{\"fields\":{\"name\":\"Changed Name\"}}"), 403,
        NULL);
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jonathan Smith");
}

Test(rectify, another_tenant_cannot_rectify_and_a_deleted_record_is_410)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *rec = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    assert_problem(patch(&b, rid(rec), json_pack("{s:s}", "name", "Hijacked Name")), 404, NULL);
    cr_assert_str_eq(plain(&a, tok(rec, "name")), "Jonathan Smith");
    cr_assert_eq(api("DELETE", rec_path(rid(rec)), a.admin, NULL)->status, 204);
    assert_problem(patch(&a, rid(rec), json_pack("{s:s}", "name", "After Delete")), 410, NULL);
}

/* ---- delete ---- */

Test(delete, a_deleted_record_and_its_tokens_answer_410)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *keep = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", "Kept Record"));
    struct t_resp *r = api("DELETE", rec_path(rid(rec)), t.admin, NULL);
    cr_assert_eq(r->status, 204, "%ld %s", r->status, r->body);
    const char *fields[] = {"name", "email", "phone", "card", "ssn", "note", "dob"};
    json_t *tokens = json_array();
    for (size_t i = 0; i < 7; i++) {
        json_array_append_new(tokens, json_string(tok(rec, fields[i])));
    }
    json_t *res = detok(t.admin, NULL, tokens);
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(item_status(json_array_get(res, i)), 410, "%s: %s", fields[i],
                     show(json_array_get(res, i)));
    }
    assert_problem(api("DELETE", rec_path(rid(rec)), t.admin, NULL), 410, NULL);
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550100")), 0);
    cr_assert_str_eq(plain(&t, tok(keep, "name")), "Kept Record");
    assert_problem(api("DELETE", rec_path(fmt("rec_%s", random_hex(16))), t.admin, NULL), 404,
                   NULL);
    assert_problem(api("DELETE", rec_path("nope"), t.admin, NULL), 404, NULL);
}

Test(delete, another_tenant_cannot_delete_and_records_delete_is_required)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *rec = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    assert_problem(api("DELETE", rec_path(rid(rec)), b.admin, NULL), 404, NULL);
    const char *no_delete = t_token(a.id, "records:write detokenize:*.*:plain");
    assert_problem(api("DELETE", rec_path(rid(rec)), no_delete, NULL), 403, NULL);
    cr_assert_str_eq(plain(&a, tok(rec, "email")), "john.doe@example.com");
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), a.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
}

/* ---- a deterministic token of several records ---- */

Test(shared_token, a_deterministic_token_outlives_the_deletion_of_one_of_its_records)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-2", std_fields("+14155550100"));
    const char *phone = tok(a, "phone");
    cr_assert_str_eq(phone, tok(b, "phone"));
    cr_assert_eq(api("DELETE", rec_path(rid(a)), t.admin, NULL)->status, 204);
    cr_assert_str_eq(plain(&t, phone), "+14155550100");
    json_t *list = search(t.admin, "phone", "+14155550100");
    cr_assert_eq(json_array_size(list), 1, "%s", show(list));
    cr_assert_str_eq(rid(json_array_get(list, 0)), rid(b));
    /* the other record's random tokens are its own */
    cr_assert_eq(item_status(detok1(t.admin, tok(a, "email"), NULL)), 410);
    cr_assert_str_eq(plain(&t, tok(b, "email")), "john.doe@example.com");
    cr_assert_eq(api("DELETE", rec_path(rid(b)), t.admin, NULL)->status, 204);
    cr_assert_eq(item_status(detok1(t.admin, phone, NULL)), 410);
}

Test(shared_token, rectifying_one_record_leaves_the_shared_token_live_for_the_other)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-2", std_fields("+14155550100"));
    const char *phone = tok(a, "phone");
    struct t_resp *r = patch(&t, rid(a), json_pack("{s:s}", "phone", "+14155550999"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(plain(&t, phone), "+14155550100");
    json_t *list = search(t.admin, "phone", "+14155550100");
    cr_assert_eq(json_array_size(list), 1, "%s", show(list));
    cr_assert_str_eq(rid(json_array_get(list, 0)), rid(b));
}
