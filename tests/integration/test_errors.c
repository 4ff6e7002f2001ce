/* Errors that say what to fix (issue 15 item 7), end to end: a 403 names the scope it needed
 * (RFC 6750 insufficient_scope), purpose errors tell a missing X-Purpose (400), an undeclared
 * purpose and a missing consent (403, each its own problem type) apart, and a 401 names the
 * check that failed in a fixed vocabulary without quoting the token. */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

TestSuite(errors, .fini = cleanup_all);

static const char *
header_of(const struct t_resp *r, const char *name)
{
    char v[512];
    cr_assert(t_header(r, name, v, sizeof(v)), "no %s in %s", name, r->headers);
    return fmt("%s", v);
}

static const char *
str(const struct t_resp *r, const char *key)
{
    cr_assert_not_null(r->json, "not json: %s", r->body);
    const char *s = json_string_value(json_object_get(r->json, key));
    cr_assert_not_null(s, "no %s in %s", key, r->body);
    return s;
}

static void
assert_type(const struct t_resp *r, long status, const char *slug)
{
    cr_assert_eq(r->status, status, "want %ld, got %ld %s", status, r->status, r->body);
    cr_assert_str_eq(str(r, "type"), fmt("https://custos.dev/problems/%s", slug), "%s", r->body);
}

Test(errors, a_403_names_the_scope_the_route_needs)
{
    struct vt t;
    vault_setup(&t);
    char *reader = t_token(t.id, "audit:read");
    struct t_resp *r = api("POST", RECORDS, reader, records_body("crm-1", std_fields("+1415555")));
    assert_type(r, 403, "forbidden");
    cr_assert_str_eq(
        header_of(r, "WWW-Authenticate"),
        "Bearer realm=\"custos\", error=\"insufficient_scope\", scope=\"records:write\"");
    cr_assert_str_eq(str(r, "detail"), "The token lacks the scope records:write");
    /* nothing was stored */
    cr_assert_eq(stored_records(&t), 0);

    r = api("GET", "/v1/audit", t_token(t.id, "records:write"), NULL);
    assert_type(r, 403, "forbidden");
    cr_assert_str_eq(header_of(r, "WWW-Authenticate"),
                     "Bearer realm=\"custos\", error=\"insufficient_scope\", scope=\"audit:read\"");
    r = api("GET", "/v1/tenants", t.admin, NULL);
    cr_assert_str_eq(
        header_of(r, "WWW-Authenticate"),
        "Bearer realm=\"custos\", error=\"insufficient_scope\", scope=\"vault:admin\"");
}

Test(errors, a_missing_x_purpose_is_a_400_that_says_so)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *body = dump(json_pack("{s:[s]}", "tokens", tok(rec, "email")));
    struct t_resp *r = api_p("POST", "/v1/detokenize", t.admin, NULL, body);
    assert_type(r, 400, "bad-request");
    cr_assert(strstr(str(r, "detail"), "X-Purpose header is missing") != NULL, "%s", r->body);
    r = api_p("GET", rec_path(rid(rec)), t.admin, NULL, NULL);
    assert_type(r, 400, "bad-request");
    cr_assert(strstr(str(r, "detail"), "X-Purpose header is missing") != NULL, "%s", r->body);
}

Test(errors, an_undeclared_purpose_is_titled_as_such_not_as_a_missing_grant)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *body = dump(json_pack("{s:[s]}", "tokens", tok(rec, "email")));
    const struct t_resp *answers[] = {
        api_p("POST", "/v1/detokenize", t.admin, "marketing", body),
        api_p("POST", "/v1/detokenize", t.admin, "Bad Purpose!", body),
        api_p("GET", rec_path(rid(rec)), t.admin, "marketing", NULL),
    };
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        const struct t_resp *r = answers[i];
        assert_type(r, 403, "purpose-not-declared");
        cr_assert_str_eq(str(r, "title"), "The purpose is not declared", "%s", r->body);
        cr_assert(strstr(str(r, "detail"), "PUT /v1/purposes/{name}") != NULL, "%s", r->body);
        cr_assert_null(strstr(r->body, "marketing"), "the detail echoes the purpose: %s", r->body);
        /* not a token problem: no Bearer challenge */
        char v[256];
        cr_assert(!t_header(r, "WWW-Authenticate", v, sizeof(v)), "%zu: challenge %s", i, v);
    }
    cr_assert_null(strstr(answers[0]->body, "john.doe"));
}

Test(errors, a_missing_consent_is_its_own_problem_type)
{
    struct vt t;
    vault_setup(&t);
    cr_assert_eq(
        api("PUT", "/v1/purposes/marketing", t.admin, "{\"lawful_basis\":\"consent\"}")->status,
        201);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    struct t_resp *r = api_p("POST", "/v1/detokenize", t.admin, "marketing",
                             dump(json_pack("{s:[s]}", "tokens", tok(rec, "email"))));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *item = json_array_get(json_object_get(r->json, "results"), 0);
    json_t *err = json_object_get(item, "error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "type")),
                     "https://custos.dev/problems/consent-missing", "%s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(err, "status")), 403, "%s", r->body);
    cr_assert(strstr(json_string_value(json_object_get(err, "detail")), "has not consented") !=
                  NULL,
              "%s", r->body);
    cr_assert_null(json_object_get(item, "value"), "%s", r->body);

    r = api_p("GET", rec_path(rid(rec)), t.admin, "marketing", NULL);
    assert_type(r, 403, "consent-missing");
    cr_assert_str_eq(str(r, "title"), "The subject has not consented to this purpose");
    cr_assert_null(strstr(r->body, "john.doe"), "%s", r->body);
}

Test(errors, a_field_without_a_grant_says_which_scope_is_missing)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    char *narrow = t_token(t.id, "detokenize:customers.name:plain");
    json_t *item = detok1(narrow, tok(rec, "email"), NULL);
    cr_assert_eq(item_status(item), 403, "%s", show(item));
    json_t *err = json_object_get(item, "error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "detail")),
                     "The token lacks a detokenize:<collection>.<field>:<level> scope for this "
                     "field",
                     "%s", show(item));
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), t_token(t.id, "detokenize:other.*:plain"),
                             "support", NULL);
    assert_type(r, 403, "forbidden");
    cr_assert(strstr(str(r, "detail"), "detokenize:<collection>.<field>:<level>") != NULL, "%s",
              r->body);
}

/* One refused token: the challenge and the detail name the check, and nothing of the token. */
static void
refused(const char *token, const char *phrase)
{
    struct t_resp *r = api("GET", "/v1/keys", token, NULL);
    assert_type(r, 401, "unauthorized");
    cr_assert_str_eq(header_of(r, "WWW-Authenticate"),
                     fmt("Bearer realm=\"custos\", error=\"invalid_token\", "
                         "error_description=\"%s\"",
                         phrase));
    const char *detail = str(r, "detail");
    cr_assert_eq(strncmp(detail, fmt("%s: ", phrase), strlen(phrase) + 2), 0, "%s", detail);
    const char *sig = strrchr(token, '.');
    cr_assert_null(strstr(r->body, sig != NULL ? sig + 1 : token), "the body echoes the token");
}

/* A tenant:admin token for tenant under the test IdP's rsa-1 key, signed over the claims of
 * t_claims(ttl, extra) with the header given (NULL: t_token_raw's); the claims text freed. */
static char *
signed_claims(const char *header, const char *tenant, long long ttl, const char *extra)
{
    char *claims = t_claims(tenant, "tenant:admin", "u", ttl, extra);
    char *tok = header != NULL ? mint_sign(t_idp_key("rsa-1"), "RS256", header, claims)
                               : t_token_raw("rsa-1", "RS256", claims);
    free(claims);
    return tok;
}

Test(errors, a_401_names_the_check_that_failed)
{
    char tenant[32];
    t_tenant_id(tenant);
    refused(signed_claims(NULL, tenant, -3600, NULL), "expired");
    refused(signed_claims(NULL, tenant, 3600, "{\"aud\":\"someone-else\"}"), "wrong audience");
    refused(signed_claims(NULL, tenant, 3600, "{\"iss\":\"https://x/\"}"), "wrong issuer");
    refused(signed_claims("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"no-such-kid\"}", tenant,
                          3600, NULL),
            "unknown key");
    refused(signed_claims(NULL, NULL, 3600, NULL), "missing tenant claim");
    refused("not-a-jwt", "malformed");
    /* no credentials at all: the bare challenge (RFC 6750 §3.1), and the detail says what to send
     */
    struct t_resp *r = api("GET", "/v1/keys", NULL, NULL);
    assert_type(r, 401, "unauthorized");
    cr_assert_str_eq(header_of(r, "WWW-Authenticate"), "Bearer realm=\"custos\"");
    cr_assert(strstr(str(r, "detail"), "Authorization: Bearer") != NULL, "%s", r->body);
}

/* The limits api/openapi.yaml documents are the server's: a 422 lists at most 100 problems
 * (Problem.errors maxItems), and the fields parameter of a record read is at most 4095
 * characters (64 names and their commas). */
Test(errors, a_422_lists_at_most_100_problems)
{
    struct vt t;
    vault_setup(&t);
    json_t *records = json_array();
    for (int i = 0; i < 300; i++) {
        json_array_append_new(records, json_pack("{s:s, s:{s:s}}", "subject_id", "crm-1", "fields",
                                                 "email", "not-an-address"));
    }
    struct t_resp *r = api("POST", RECORDS, t.admin, dump(json_pack("{s:o}", "records", records)));
    assert_type(r, 422, "validation-failed");
    size_t n = json_array_size(json_object_get(r->json, "errors"));
    cr_assert(n >= 1 && n <= 100, "%zu problems listed", n);
    cr_assert_eq(stored_records(&t), 0);
}

Test(errors, a_fields_parameter_over_4095_characters_is_400)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    struct t_resp *r = api_p("GET", fmt("%s?fields=%s", rec_path(rid(rec)), repeat('a', 4096)),
                             t.admin, "support", NULL);
    assert_type(r, 400, "bad-request");
    cr_assert_str_eq(str(r, "detail"), "fields must be at most 4095 characters");
    r = api_p("GET", fmt("%s?fields=email,%s", rec_path(rid(rec)), repeat('a', 4000)), t.admin,
              "support", NULL);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
}
