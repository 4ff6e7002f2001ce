/* JWT attacks end to end (security): forged, malformed and misdirected bearer tokens sent over
 * HTTPS to the real server get a 401 naming the failed check, good tokens of every allowed alg get
 * in, and the JWKS reload, the dev HS256 mode and the route table are checked from outside.
 * Invariant: every 401 here also asserts the WWW-Authenticate value and a body that name the
 * check that failed in a fixed vocabulary (issue 15), and never quote the token. */
#include "client.h"
#include "tenant.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(absent, .fini = cleanup_all);
TestSuite(alg, .fini = cleanup_all);
TestSuite(kid, .fini = cleanup_all);
TestSuite(claims, .fini = cleanup_all);
TestSuite(tampering, .fini = cleanup_all);
TestSuite(headers, .fini = cleanup_all);
TestSuite(size, .fini = cleanup_all);
TestSuite(accepted, .fini = cleanup_all);
TestSuite(tenant, .fini = cleanup_all);
TestSuite(reload, .fini = cleanup_all);
TestSuite(dev, .fini = cleanup_all);
TestSuite(routes, .fini = cleanup_all);

/* ---- tokens ---- */

/* The standard claims (one hour) as owned JSON text. */
static char *
claims(const char *tenant, const char *scope, long long ttl, const char *extra)
{
    return own(t_claims(tenant, scope, "test-user", ttl, extra));
}

static char *
header(const char *alg, const char *kid)
{
    if (kid == NULL) {
        return fmt("{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    }
    return fmt("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
}

/* Signed by kid's key under sign_alg, whatever header_json says. */
static char *
signed_with(const char *kid, const char *sign_alg, const char *header_json,
            const char *payload_json)
{
    return mint_sign(t_idp_key(kid), sign_alg, header_json, payload_json);
}

/* The three parts of a token (owned copies). */
struct parts {
    char *h;
    char *p;
    char *s;
};

static struct parts
split(const char *token)
{
    struct parts out;
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    cr_assert_not_null(d2, "not a three-part token");
    out.h = fmt("%.*s", (int)(d1 - token), token);
    out.p = fmt("%.*s", (int)(d2 - d1 - 1), d1 + 1);
    out.s = fmt("%s", d2 + 1);
    return out;
}

/* ---- requests ---- */

/* Sends method path with the Authorization header value authz (NULL: none) and extra headers
 * (NULL terminated, may be NULL). The value goes through the header list so that its size is
 * not bounded by the harness. Returns the curl result (0 = a response arrived). */
static int
send_authz(const struct t_server *s, const char *method, const char *path, const char *authz,
           const char *const *extra, struct t_resp *r)
{
    const char *hl[16];
    size_t n = 0;
    if (authz != NULL) {
        hl[n++] = fmt("Authorization: %s", authz);
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++) {
        hl[n++] = extra[i];
    }
    hl[n] = NULL;
    return t_request(s, method, path, NULL, NULL, hl, r);
}

static const char *
bearer(const char *token)
{
    return fmt("Bearer %s", token);
}

/* The refusal vocabulary (issue 15): the phrase of each check, as the client sees it in
 * error_description and at the start of the problem detail. A copy of auth/reject.h's table:
 * this is the contract. */
static const char *const vocabulary[] = {
    "several authorization headers",
    "malformed",
    "unsupported header",
    "algorithm not allowed",
    "unknown key",
    "bad signature",
    "expired",
    "not yet valid",
    "wrong issuer",
    "wrong audience",
    "missing claim",
    "invalid claim",
    "missing tenant claim",
    "invalid tenant claim",
};

/* The phrase the current test expects every 401 to carry (NULL: any of the vocabulary). */
static const char *want_phrase;

static void
expect(const char *phrase)
{
    want_phrase = phrase;
}

/* status 401, the Bearer challenge naming the failed check in the fixed vocabulary, and a
 * problem whose detail starts with the same phrase. A request without bearer credentials gets
 * the bare challenge (RFC 6750 §3.1). */
static void
assert_401(const struct t_server *s, const char *what, struct t_resp *r)
{
    (void)s;
    cr_assert_eq(r->status, 401, "%s: got %ld %.300s", what, r->status, r->body);
    char v[512];
    cr_assert(t_header(r, "WWW-Authenticate", v, sizeof(v)), "%s: no WWW-Authenticate", what);
    cr_assert_not_null(r->json, "%s: body is not json", what);
    const char *rid = json_string_value(json_object_get(r->json, "request_id"));
    cr_assert_not_null(rid, "%s: no request_id in the problem", what);
    const char *detail = json_string_value(json_object_get(r->json, "detail"));
    cr_assert_not_null(detail, "%s: no detail", what);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "type")),
                     "https://custos.dev/problems/unauthorized", "%s", what);
    if (strcmp(v, "Bearer realm=\"custos\"") == 0) {
        cr_assert(want_phrase == NULL || strcmp(want_phrase, "missing token") == 0 ||
                      strcmp(want_phrase, "not a bearer token") == 0,
                  "%s: bare challenge, want %s", what, want_phrase);
        cr_assert(strncmp(detail, "missing token: ", 15) == 0 ||
                      strncmp(detail, "not a bearer token: ", 20) == 0,
                  "%s: detail %s", what, detail);
        return;
    }
    const char *phrase = NULL;
    for (size_t i = 0; i < sizeof(vocabulary) / sizeof(vocabulary[0]); i++) {
        const char *err = strcmp(vocabulary[i], "several authorization headers") == 0
                              ? "invalid_request"
                              : "invalid_token";
        if (strcmp(v, fmt("Bearer realm=\"custos\", error=\"%s\", error_description=\"%s\"", err,
                          vocabulary[i])) == 0) {
            phrase = vocabulary[i];
        }
    }
    cr_assert_not_null(phrase, "%s: WWW-Authenticate outside the vocabulary: %s", what, v);
    if (want_phrase != NULL) {
        cr_assert_str_eq(phrase, want_phrase, "%s: WWW-Authenticate %s", what, v);
    }
    cr_assert_eq(strncmp(detail, fmt("%s: ", phrase), strlen(phrase) + 2), 0,
                 "%s: the detail does not start with '%s': %s", what, phrase, detail);
}

/* Neither the detail nor the challenge quotes the token: no 8-byte run of authz appears. */
static void
assert_no_echo(const char *authz, const char *what, struct t_resp *r)
{
    if (authz == NULL || r->json == NULL) {
        return;
    }
    const char *detail = json_string_value(json_object_get(r->json, "detail"));
    char v[512] = "";
    (void)t_header(r, "WWW-Authenticate", v, sizeof(v));
    size_t n = strlen(authz);
    for (size_t i = 7; detail != NULL && i + 8 <= n && i < 4096; i++) {
        char run[9];
        memcpy(run, authz + i, 8);
        run[8] = '\0';
        cr_assert_null(strstr(detail, run), "%s: the detail echoes the token: %s", what, detail);
        cr_assert_null(strstr(v, run), "%s: the challenge echoes the token: %s", what, v);
    }
}

/* A request with this Authorization value must be refused as above. */
static void
reject_authz_at(const char *method, const char *path, const char *authz, const char *what)
{
    struct t_resp r;
    cr_assert_eq(send_authz(t_shared(), method, path, authz, NULL, &r), 0, "%s: no response", what);
    assert_401(t_shared(), what, &r);
    assert_no_echo(authz, what, &r);
    t_resp_free(&r);
}

static void
reject_authz(const char *authz, const char *what)
{
    reject_authz_at("GET", "/v1/tenants", authz, what);
}

static void
reject(const char *token, const char *what)
{
    reject_authz(bearer(token), what);
}

static long
status_of_at(const struct t_server *s, const char *path, const char *token)
{
    struct t_resp r;
    cr_assert_eq(send_authz(s, "GET", path, token != NULL ? bearer(token) : NULL, NULL, &r), 0,
                 "%s: no response", path);
    long st = r.status;
    t_resp_free(&r);
    return st;
}

static void
accept_token(const char *token, const char *what)
{
    struct t_resp r;
    cr_assert_eq(send_authz(t_shared(), "GET", "/v1/tenants", bearer(token), NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s: got %ld %.300s", what, r.status, r.body);
    t_resp_free(&r);
}

/* ---- no usable Authorization ---- */

Test(absent, rejects_a_request_without_authorization)
{
    expect("missing token");
    reject_authz(NULL, "no header");
}

Test(absent, rejects_bearer_with_an_empty_token)
{
    reject_authz("Bearer ", "Bearer + space");
    reject_authz("Bearer", "Bearer alone");
}

Test(absent, rejects_basic_credentials)
{
    expect("not a bearer token");
    reject_authz("Basic dXNlcjpwYXNz", "Basic");
}

Test(absent, rejects_other_schemes_and_a_missing_scheme)
{
    char *good = t_operator_token();
    reject_authz(good, "token without scheme");
    reject_authz(fmt("Token %s", good), "Token scheme");
    reject_authz(fmt("Bearer  %s", good), "two spaces");
    reject_authz(fmt("Bearer\t%s", good), "tab");
    reject_authz(fmt("Bearer Bearer %s", good), "Bearer twice");
}

/* Which of two Authorization headers counts is up to the HTTP library: both must be refused.
 * Every case is tried before the verdict so that the report lists all that got through. */
Test(absent, rejects_two_authorization_headers)
{
    expect("several authorization headers");
    char *a = t_operator_token();
    char *b = t_token_sub(NULL, "vault:admin", "second-user");
    const char *cases[][2] = {
        {a, b},
        {a, "garbage"},
        {"garbage", a},
        {a, a},
    };
    char *served = fmt("%s", "");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *second[] = {fmt("Authorization: Bearer %s", cases[i][1]), NULL};
        struct t_resp r;
        cr_assert_eq(send_authz(t_shared(), "GET", "/v1/tenants", bearer(cases[i][0]), second, &r),
                     0);
        if (r.status != 401) {
            served = fmt("%s case %zu: %ld;", served, i, r.status);
        } else {
            assert_401(t_shared(), fmt("two Authorization headers, case %zu", i), &r);
        }
        t_resp_free(&r);
    }
    cr_assert_str_empty(served, "two Authorization headers got through:%s", served);
}

/* ---- alg ---- */

Test(alg, rejects_alg_none_without_signature)
{
    char *p = mint_b64url_str(claims(NULL, "vault:admin", 3600, NULL));
    const char *names[] = {"none", "None", "NONE", "nOnE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *h = mint_b64url_str(header(names[i], NULL));
        reject(mint_join(h, p, ""), fmt("alg %s, empty signature", names[i]));
        char *hk = mint_b64url_str(header(names[i], "rsa-1"));
        reject(mint_join(hk, p, ""), fmt("alg %s with kid, empty signature", names[i]));
        reject(fmt("%s.%s", h, p), fmt("alg %s, two parts", names[i]));
    }
}

Test(alg, rejects_alg_none_with_a_bogus_signature)
{
    expect("algorithm not allowed");
    char *p = mint_b64url_str(claims(NULL, "vault:admin", 3600, NULL));
    const char *names[] = {"none", "None", "NONE", "nOnE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *h = mint_b64url_str(header(names[i], "rsa-1"));
        reject(mint_join(h, p, mint_b64url_str("bogus")), fmt("alg %s, bogus sig", names[i]));
        /* a real RS256 signature over the same input, relabelled none */
        char *real = signed_with("rsa-1", "RS256", header(names[i], "rsa-1"),
                                 claims(NULL, "vault:admin", 3600, NULL));
        reject(real, fmt("alg %s, real RS256 signature", names[i]));
    }
}

/* RS256 -> HS256 confusion: the attacker MACs with the public key the server verifies with. */
Test(alg, rejects_hs256_keyed_with_the_rsa_public_key)
{
    expect("algorithm not allowed");
    const struct mint_key *k = t_idp_key("rsa-1");
    const char *pem = k->kp.pub_pem;
    size_t pem_len = strlen(pem);
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    const char *hdrs[] = {header("HS256", "rsa-1"), header("HS256", NULL)};
    for (size_t i = 0; i < 2; i++) {
        reject(mint_hs256(pem, pem_len, hdrs[i], body), fmt("HS256 with PEM, header %zu", i));
        size_t trimmed = pem_len;
        while (trimmed > 0 && pem[trimmed - 1] == '\n') {
            trimmed--;
        }
        reject(mint_hs256(pem, trimmed, hdrs[i], body),
               fmt("HS256 with PEM without final newline, header %zu", i));
        char *jwk = mint_jwk_json(k, NULL);
        reject(mint_hs256(jwk, strlen(jwk), hdrs[i], body), fmt("HS256 with JWK, header %zu", i));
    }
}

Test(alg, rejects_hs256_with_an_empty_or_guessable_key)
{
    expect("algorithm not allowed");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(mint_hs256("", 0, header("HS256", NULL), body), "HS256 empty key");
    reject(mint_hs256("", 0, header("HS256", "rsa-1"), body), "HS256 empty key, kid rsa-1");
    const char *keys[] = {"null", "undefined", "secret"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        reject(mint_hs256(keys[i], strlen(keys[i]), header("HS256", NULL), body),
               fmt("HS256 key %s", keys[i]));
    }
}

Test(alg, rejects_rs256_naming_an_ec_key)
{
    expect("algorithm not allowed");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", header("RS256", "ec-256"), body), "RS256 kid ec-256");
}

Test(alg, rejects_es256_naming_a_p384_key)
{
    expect("algorithm not allowed");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("ec-256", "ES256", header("ES256", "ec-384"), body), "ES256 kid ec-384");
    reject(signed_with("ec-384", "ES384", header("ES256", "ec-384"), body),
           "ES384 signature labelled ES256, kid ec-384");
    reject(signed_with("ec-256", "ES256", header("ES256", "rsa-1"), body), "ES256 kid rsa-1");
}

Test(alg, rejects_es256_with_a_der_signature)
{
    expect("bad signature");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(mint_sign_der(t_idp_key("ec-256"), "ES256", header("ES256", "ec-256"), body),
           "ES256 DER");
    reject(mint_sign_der(t_idp_key("ec-384"), "ES384", header("ES384", "ec-384"), body),
           "ES384 DER");
}

Test(alg, rejects_malformed_ecdsa_signatures)
{
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    struct parts t = split(signed_with("ec-256", "ES256", header("ES256", "ec-256"), body));
    uint8_t zero[64] = {0};
    reject(mint_join(t.h, t.p, mint_b64url(zero, sizeof(zero))), "r = s = 0");
    uint8_t ff[64];
    memset(ff, 0xff, sizeof(ff));
    reject(mint_join(t.h, t.p, mint_b64url(ff, sizeof(ff))), "r, s >= n");
    uint8_t short_sig[63] = {1};
    reject(mint_join(t.h, t.p, mint_b64url(short_sig, sizeof(short_sig))), "63 bytes");
    uint8_t long_sig[65] = {1};
    reject(mint_join(t.h, t.p, mint_b64url(long_sig, sizeof(long_sig))), "65 bytes");
}

Test(alg, rejects_algs_outside_the_allow_list)
{
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    const char *names[] = {"PS256", "ES256K", "EdDSA", "HS384", "HS512", "RS1", "rs256", "", "RSA"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        reject(signed_with("rsa-1", "RS256", header(names[i], "rsa-1"), body),
               fmt("alg \"%s\"", names[i]));
    }
    reject(signed_with("rsa-1", "RS256", "{\"typ\":\"JWT\",\"kid\":\"rsa-1\"}", body), "no alg");
    reject(signed_with("rsa-1", "RS256", "{\"alg\":null,\"kid\":\"rsa-1\"}", body), "alg null");
    reject(signed_with("rsa-1", "RS256", "{\"alg\":[\"RS256\"],\"kid\":\"rsa-1\"}", body),
           "alg array");
}

Test(alg, rejects_a_signature_of_another_rs_alg)
{
    expect("bad signature");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS512", header("RS256", "rsa-1"), body), "RS512 sig as RS256");
    reject(signed_with("rsa-1", "RS256", header("RS384", "rsa-1"), body), "RS256 sig as RS384");
}

/* ---- kid ---- */

Test(kid, rejects_an_unknown_kid)
{
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", header("RS256", "rsa-2"), body), "kid rsa-2");
    reject(signed_with("rsa-1", "RS256", header("RS256", "RSA-1"), body), "kid RSA-1");
    reject(signed_with("rsa-1", "RS256", header("RS256", "rsa-1 "), body), "kid with space");
}

Test(kid, rejects_a_path_traversal_kid)
{
    expect("unknown key");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", header("RS256", "../../dev/null"), body),
           "kid ../../dev/null");
    reject(signed_with("rsa-1", "RS256", header("RS256", "/etc/passwd"), body), "kid /etc/passwd");
}

Test(kid, rejects_a_kid_with_sql)
{
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", header("RS256", "' OR '1'='1"), body), "kid SQL");
    reject(signed_with("rsa-1", "RS256", header("RS256", "rsa-1' --"), body), "kid SQL comment");
}

Test(kid, rejects_a_10_kib_kid)
{
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", header("RS256", repeat('a', 10240)), body), "10 KiB kid");
    reject(signed_with("rsa-1", "RS256", header("RS256", repeat('a', 257)), body), "257-byte kid");
}

Test(kid, rejects_a_kid_with_control_characters)
{
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", header("RS256", "rsa-1\\u0000x"), body), "kid NUL");
    reject(signed_with("rsa-1", "RS256", header("RS256", "rsa-1\\r\\n"), body), "kid CRLF");
    reject(signed_with("rsa-1", "RS256", "{\"alg\":\"RS256\",\"kid\":\"\"}", body), "kid empty");
    reject(signed_with("rsa-1", "RS256", "{\"alg\":\"RS256\",\"kid\":1}", body), "kid number");
}

Test(kid, rejects_a_missing_kid)
{
    expect("unknown key");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", header("RS256", NULL), body), "RS256 no kid");
    reject(signed_with("ec-256", "ES256", header("ES256", NULL), body), "ES256 no kid");
}

/* ---- claims ---- */

static char *
rsa_token(const char *payload)
{
    return t_token_raw("rsa-1", "RS256", payload);
}

Test(claims, rejects_a_token_expired_beyond_the_leeway_and_accepts_one_within)
{
    expect("expired");
    reject(rsa_token(claims(NULL, "vault:admin", -120, NULL)), "exp = now - 120");
    accept_token(rsa_token(claims(NULL, "vault:admin", -30, NULL)), "exp = now - 30");
}

Test(claims, rejects_nbf_five_minutes_ahead)
{
    expect("not yet valid");
    long long now = (long long)time(NULL);
    reject(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"nbf\":%lld}", now + 300))),
           "nbf + 300");
    accept_token(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"nbf\":%lld}", now + 30))),
                 "nbf + 30 (within the leeway)");
}

Test(claims, rejects_iat_five_minutes_ahead)
{
    expect("not yet valid");
    long long now = (long long)time(NULL);
    reject(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"iat\":%lld}", now + 300))),
           "iat + 300");
}

Test(claims, rejects_a_token_without_exp)
{
    expect("missing claim");
    long long now = (long long)time(NULL);
    char *p = fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"test-user\",\"iat\":%lld,"
                  "\"scope\":\"vault:admin\"}",
                  t_env("CUSTOS_JWT_ISSUER"), t_env("CUSTOS_JWT_AUDIENCE"), now);
    reject(rsa_token(p), "no exp");
}

Test(claims, rejects_exp_that_is_not_a_sane_integer)
{
    expect("invalid claim");
    long long later = (long long)time(NULL) + 3600;
    const char *bad[] = {
        fmt("{\"exp\":\"%lld\"}", later),
        fmt("{\"exp\":%lld.5}", later),
        "{\"exp\":-1}",
        "{\"exp\":9223372036854775807}",
        "{\"exp\":1e300}",
        "{\"exp\":null}",
        "{\"exp\":true}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reject(rsa_token(claims(NULL, "vault:admin", 3600, bad[i])), fmt("extra %s", bad[i]));
    }
}

Test(claims, rejects_a_wrong_issuer)
{
    expect("wrong issuer");
    const char *iss = t_env("CUSTOS_JWT_ISSUER");
    size_t n = strlen(iss);
    reject(rsa_token(claims(NULL, "vault:admin", 3600, "{\"iss\":\"https://evil.example/\"}")),
           "iss evil");
    /* the same issuer with its trailing slash removed (or one added) */
    char *changed = n > 0 && iss[n - 1] == '/' ? fmt("%.*s", (int)(n - 1), iss) : fmt("%s/", iss);
    reject(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"iss\":\"%s\"}", changed))),
           "iss trailing slash changed");
    char *upper = fmt("%s", iss);
    for (char *c = upper; *c != '\0'; c++) {
        if (*c >= 'a' && *c <= 'z') {
            *c = (char)(*c - 'a' + 'A');
        }
    }
    reject(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"iss\":\"%s\"}", upper))),
           "iss upper case");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, "{\"iss\":null}")), "iss null");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"iss\":[\"%s\"]}", iss))),
           "iss array");
}

Test(claims, rejects_a_wrong_audience)
{
    expect("wrong audience");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, "{\"aud\":\"other-api\"}")), "aud other");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, "{\"aud\":\"\"}")), "aud empty");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, "{\"aud\":null}")), "aud null");
    char *upper = fmt("%s", t_env("CUSTOS_JWT_AUDIENCE"));
    upper[0] = (char)(upper[0] >= 'a' && upper[0] <= 'z' ? upper[0] - 'a' + 'A' : 'X');
    reject(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"aud\":\"%s\"}", upper))),
           "aud case changed");
}

Test(claims, rejects_an_aud_array_without_ours_and_accepts_one_with_it)
{
    expect("wrong audience");
    const char *aud = t_env("CUSTOS_JWT_AUDIENCE");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, "{\"aud\":[\"a\",\"b\"]}")),
           "aud array without ours");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, "{\"aud\":[]}")), "aud empty array");
    reject(rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"aud\":[1,\"%s\"]}", aud))),
           "aud array with a number");
    accept_token(
        rsa_token(claims(NULL, "vault:admin", 3600, fmt("{\"aud\":[\"other\",\"%s\"]}", aud))),
        "aud array with ours");
}

Test(claims, rejects_a_missing_tenant_without_vault_admin)
{
    struct t_resp r;
    cr_assert_eq(
        send_authz(t_shared(), "GET", "/v1/keys", bearer(t_token(NULL, "tenant:admin")), NULL, &r),
        0);
    assert_401(t_shared(), "tenant:admin without tid on /v1/keys", &r);
    t_resp_free(&r);
    const char *bad[] = {"{\"tid\":123}", "{\"tid\":\"\"}", "{\"tid\":\"../x\"}", "{\"tid\":null}",
                         "{\"tid\":[\"t-1\"]}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reject_authz_at("GET", "/v1/keys",
                        bearer(rsa_token(claims(NULL, "tenant:admin", 3600, bad[i]))),
                        fmt("tenant claim %s", bad[i]));
    }
}

Test(claims, rejects_a_duplicate_claim)
{
    expect("malformed");
    /* t_claims renders {"iss":...}: a second member is put in front of the first */
    char *base = claims("t-000000000001", "tenant:admin", 3600, NULL);
    cr_assert_neq(status_of_at(t_shared(), "/v1/keys", rsa_token(base)), 401,
                  "the token without duplicates is refused already");
    const char *dups[] = {"\"sub\":\"admin\",", "\"tid\":\"t-000000000002\",",
                          "\"scope\":\"vault:admin\",", "\"exp\":9999999999,",
                          "\"iss\":\"https://evil.example/\","};
    for (size_t i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
        char *p = fmt("{%s%s", dups[i], base + 1);
        reject_authz_at("GET", "/v1/keys", bearer(rsa_token(p)), fmt("duplicate %s", dups[i]));
    }
}

Test(claims, rejects_a_payload_that_is_not_an_object)
{
    expect("malformed");
    const char *bad[] = {"[]", "null", "\"x\"", "1", "{", "{\"sub\":\"a\"} {}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reject(rsa_token(bad[i]), fmt("payload %s", bad[i]));
    }
}

/* ---- tampering ---- */

static char
flip_char(char c)
{
    return c == 'A' ? 'B' : 'A';
}

Test(tampering, rejects_a_reencoded_changed_payload)
{
    expect("bad signature");
    struct parts t = split(t_token("t-000000000001", "tenant:admin"));
    char *changed =
        mint_b64url_str(claims("t-000000000002", "tenant:admin vault:admin", 3600, NULL));
    reject(mint_join(t.h, changed, t.s), "payload re-encoded with another tenant and scope");
}

Test(tampering, rejects_a_flipped_bit_anywhere)
{
    struct parts t = split(t_operator_token());
    char *s = fmt("%s", t.s);
    s[strlen(s) / 2] = flip_char(s[strlen(s) / 2]);
    reject(mint_join(t.h, t.p, s), "signature bit flipped");
    char *s0 = fmt("%s", t.s);
    s0[0] = flip_char(s0[0]);
    reject(mint_join(t.h, t.p, s0), "first signature char changed");
    char *p = fmt("%s", t.p);
    p[strlen(p) / 2] = flip_char(p[strlen(p) / 2]);
    reject(mint_join(t.h, p, t.s), "payload bit flipped");
    char *h = fmt("%s", t.h);
    h[strlen(h) / 2] = flip_char(h[strlen(h) / 2]);
    reject(mint_join(h, t.p, t.s), "header bit flipped");
    /* the last character's spare bits: a non-canonical spelling of the same bytes */
    char *last = fmt("%s", t.s);
    size_t n = strlen(last);
    last[n - 1] = last[n - 1] == 'A' ? 'B' : last[n - 1] == 'Q' ? 'R' : last[n - 1];
    if (strcmp(last, t.s) != 0) {
        reject(mint_join(t.h, t.p, last), "signature spare bits set");
    }
}

Test(tampering, rejects_a_truncated_or_stripped_signature)
{
    struct parts t = split(t_operator_token());
    reject(mint_join(t.h, t.p, fmt("%.*s", (int)strlen(t.s) - 4, t.s)), "signature - 4 chars");
    reject(mint_join(t.h, t.p, fmt("%.*s", (int)strlen(t.s) - 1, t.s)), "signature - 1 char");
    reject(mint_join(t.h, t.p, fmt("%sAAAA", t.s)), "signature + 3 bytes");
    reject(mint_join(t.h, t.p, ""), "signature stripped");
    reject(fmt("%s.%s", t.h, t.p), "signature and its dot stripped");
}

Test(tampering, rejects_a_signature_swapped_from_another_valid_token)
{
    expect("bad signature");
    struct parts a = split(t_operator_token());
    struct parts b = split(t_token_sub(NULL, "vault:admin", "other-user"));
    reject(mint_join(a.h, a.p, b.s), "signature of another token");
    struct parts e = split(t_token_raw("ec-256", "ES256", claims(NULL, "vault:admin", 3600, NULL)));
    reject(mint_join(a.h, a.p, e.s), "ES256 signature under an RS256 header");
}

Test(tampering, rejects_base64_padding)
{
    expect("malformed");
    struct parts t = split(t_operator_token());
    reject(mint_join(t.h, t.p, fmt("%s=", t.s)), "signature + '='");
    reject(mint_join(t.h, t.p, fmt("%s==", t.s)), "signature + '=='");
    reject(mint_join(fmt("%s=", t.h), t.p, t.s), "header + '='");
    reject(mint_join(t.h, fmt("%s=", t.p), t.s), "payload + '='");
}

Test(tampering, rejects_standard_base64_characters)
{
    expect("malformed");
    /* a signature without '-' or '_' is possible but rare: take another until one has them */
    for (int i = 0; i < 20; i++) {
        char *good = t_token_sub(NULL, "vault:admin", fmt("user-%d", i));
        char *std = fmt("%s", good);
        for (char *c = std; *c != '\0'; c++) {
            *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
        }
        if (strcmp(std, good) != 0) {
            reject(std, "standard base64 alphabet");
            return;
        }
    }
    cr_assert_fail("no token with '-' or '_' in 20 tries");
}

Test(tampering, rejects_extra_segments_and_whitespace)
{
    char *good = t_operator_token();
    reject(fmt("%s.", good), "trailing dot");
    reject(fmt("%s.AAAA", good), "fourth segment");
    reject(fmt(".%s", good), "leading dot");
    reject(fmt("%s..", good), "two trailing dots");
    struct parts t = split(good);
    reject(fmt("%s..%s.%s", t.h, t.p, t.s), "empty segment inside");
    reject(fmt("%s. %s.%s", t.h, t.p, t.s), "space after a dot");
    reject(fmt("%s.%s.%.*s %s", t.h, t.p, 10, t.s, t.s + 10), "space inside the signature");
}

Test(tampering, rejects_garbage)
{
    const char *garbage[] = {
        "garbage",  ".",           "..",        "...",         "a.b.c",
        "eyJ",      "eyJ.eyJ.eyJ", "null",      "{}",          "%00",
        "\xc3\xa9", "\x7f",        "a.b.c.d.e", "!!!.???.***", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        reject(garbage[i], fmt("garbage %zu", i));
    }
    reject(repeat('.', 3000), "3000 dots");
}

/* ---- header members that must not be honoured ---- */

Test(headers, rejects_a_duplicate_alg_in_the_header)
{
    expect("malformed");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    reject(signed_with("rsa-1", "RS256", "{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
                       body),
           "alg none then RS256");
    reject(signed_with("rsa-1", "RS256", "{\"alg\":\"RS256\",\"alg\":\"RS256\",\"kid\":\"rsa-1\"}",
                       body),
           "alg twice, equal");
    reject(signed_with("rsa-1", "RS256", "{\"alg\":\"RS256\",\"kid\":\"nope\",\"kid\":\"rsa-1\"}",
                       body),
           "kid twice");
}

static char *
header_with(const char *member)
{
    return fmt("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa-1\",%s}", member);
}

Test(headers, rejects_embedded_key_headers)
{
    expect("unsupported header");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    const char *members[] = {
        fmt("\"jwk\":%s", mint_jwk_json(t_idp_key("rsa-1"), NULL)),
        "\"jku\":\"https://127.0.0.1:9/jwks.json\"",
        "\"x5u\":\"https://127.0.0.1:9/cert.pem\"",
        "\"x5c\":[\"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\"]",
        "\"crit\":[\"exp\"]",
        "\"crit\":[]",
    };
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        reject(signed_with("rsa-1", "RS256", header_with(members[i]), body),
               fmt("header %.40s", members[i]));
    }
}

Test(headers, rejects_a_typ_other_than_jwt)
{
    expect("unsupported header");
    char *body = claims(NULL, "vault:admin", 3600, NULL);
    const char *typs[] = {"at+jwt", "JWS", "id_token", ""};
    for (size_t i = 0; i < sizeof(typs) / sizeof(typs[0]); i++) {
        char *h = fmt("{\"alg\":\"RS256\",\"typ\":\"%s\",\"kid\":\"rsa-1\"}", typs[i]);
        reject(signed_with("rsa-1", "RS256", h, body), fmt("typ %s", typs[i]));
    }
    accept_token(signed_with("rsa-1", "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", body),
                 "no typ");
}

Test(headers, rejects_a_header_that_is_not_an_object)
{
    expect("malformed");
    char *body = mint_b64url_str(claims(NULL, "vault:admin", 3600, NULL));
    const char *bad[] = {"[]", "\"RS256\"", "null", "{"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reject(mint_join(mint_b64url_str(bad[i]), body, "AAAA"), fmt("header %s", bad[i]));
    }
}

/* ---- size ---- */

/* A signed vault:admin token of exactly len bytes: a filler claim pads the payload, and JSON
 * spaces in the header reach the lengths that base64 of the payload alone skips. */
static char *
token_of_length(size_t len)
{
    const size_t sig64 = 342; /* RSA-2048 */
    size_t base = strlen(claims(NULL, "vault:admin", 3600, "{\"pad\":\"\"}"));
    for (int spaces = 0; spaces < 3; spaces++) {
        char *h = fmt("{\"alg\":\"RS256\",%.*s\"typ\":\"JWT\",\"kid\":\"rsa-1\"}", spaces, "   ");
        size_t h64 = (strlen(h) * 4 + 2) / 3;
        for (size_t fill = 0; fill < len; fill++) {
            size_t p64 = ((base + fill) * 4 + 2) / 3;
            if (h64 + 1 + p64 + 1 + sig64 != len) {
                continue;
            }
            char *p = claims(NULL, "vault:admin", 3600, fmt("{\"pad\":\"%s\"}", repeat('x', fill)));
            char *tok = signed_with("rsa-1", "RS256", h, p);
            cr_assert_eq(strlen(tok), len, "the clock moved a digit: %zu bytes", strlen(tok));
            return tok;
        }
    }
    cr_assert_fail("no token of %zu bytes", len);
    return NULL;
}

Test(size, accepts_a_token_of_exactly_8_kib)
{
    accept_token(token_of_length(8192), "8192-byte token");
}

Test(size, rejects_a_token_of_8_kib_plus_one)
{
    expect("malformed");
    reject(token_of_length(8193), "8193-byte signed token");
}

/* Over MHD's 64 KiB connection memory the server answers 431 and closes. libmicrohttpd sends
 * that answer itself, without reading the rest of the headers, so when the client is still
 * sending them the kernel resets the connection and the client's pending write fails before it
 * reads the answer: only the connection is cut. A request that fits the loopback socket buffers
 * (128 KiB here) is all sent before the refusal, and its answer is always read. Either way the
 * request is never served, never a 5xx, and the server stays up. */
static void
assert_oversize_refused(const char *authz, int must_answer, const char *what)
{
    struct t_resp r;
    int rc = send_authz(t_shared(), "GET", "/v1/tenants", authz, NULL, &r);
    cr_assert(rc == 0 || !must_answer, "%s: no response (%s)", what, r.error);
    if (rc == 0) {
        cr_assert(r.status == 401 || r.status == 431, "%s: got %ld", what, r.status);
        if (r.status == 401) {
            assert_401(t_shared(), what, &r);
        }
    }
    t_resp_free(&r);
    struct t_resp h;
    cr_assert_eq(t_request(t_shared(), "GET", "/healthz", NULL, NULL, NULL, &h), 0);
    cr_assert_eq(h.status, 200, "%s: the server is not healthy after it", what);
    t_resp_free(&h);
}

Test(size, rejects_tokens_between_8_kib_and_the_header_memory_limit)
{
    reject(repeat('a', 8193), "8193 bytes of garbage");
    reject(repeat('a', 16 * 1024), "16 KiB of garbage");
    struct parts t = split(t_operator_token());
    reject(mint_join(t.h, fmt("%s%s", t.p, repeat('A', 24 * 1024)), t.s), "24 KiB payload");
}

Test(size, refuses_tokens_over_the_header_memory_limit_with_431)
{
    assert_oversize_refused(bearer(repeat('a', 70 * 1024)), 1, "70 KiB token");
    /* more than the socket buffers take: still being written when the 431 comes (see above) */
    assert_oversize_refused(bearer(repeat('a', 200 * 1024)), 0, "200 KiB token");
}

/* libcurl will not build a request header of 1 MiB (it fails with "out of memory" before
 * sending a byte), so these go over a raw connection to a plain-HTTP server of their own: the
 * answer is a 431 or a cut connection, never a served request, and the server stays up. */
static void
assert_raw_oversize_refused(const struct t_server *s, const char *authz, const char *what)
{
    char *req = fmt("GET /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n", authz);
    int closed = 0;
    char *out = t_raw(s->port, NULL, req, strlen(req), 5000, &closed);
    cr_assert_not_null(out, "%s: could not connect", what);
    cr_assert(out[0] == '\0' || strncmp(out, "HTTP/1.1 431", 12) == 0, "%s: got %.80s", what, out);
    cr_assert(closed, "%s: the connection was left open", what);
    free(out);
    struct t_resp h;
    cr_assert_eq(t_request(s, "GET", "/healthz", NULL, NULL, NULL, &h), 0, "%s: %s", what, h.error);
    cr_assert_eq(h.status, 200, "%s: the server is not healthy after it", what);
    t_resp_free(&h);
}

Test(size, refuses_a_1_mib_token_without_serving_it)
{
    struct t_server plain;
    cr_assert_eq(t_spawn(NULL, 0, &plain), 0, "could not start a plain server");
    assert_raw_oversize_refused(&plain, bearer(repeat('a', 1024 * 1024)), "1 MiB token");
    struct parts t = split(t_operator_token());
    assert_raw_oversize_refused(
        &plain, bearer(mint_join(t.h, fmt("%s%s", t.p, repeat('A', 1024 * 1024)), t.s)),
        "1 MiB payload");
    cr_assert_eq(t_stop(&plain), 0, "the server did not exit 0 on SIGTERM");
}

/* ---- accepted ---- */

Test(accepted, accepts_every_allowed_asymmetric_alg)
{
    static const struct {
        const char *kid;
        const char *alg;
    } ok[] = {
        {"rsa-1", "RS256"},  {"rsa-1", "RS384"},  {"rsa-1", "RS512"},
        {"ec-256", "ES256"}, {"ec-384", "ES384"}, {"ec-521", "ES512"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *body = claims(NULL, "vault:admin", 3600, NULL);
        accept_token(t_token_raw(ok[i].kid, ok[i].alg, body), ok[i].alg);
    }
}

Test(accepted, accepts_a_token_from_libjwts_own_encoder)
{
    accept_token(mint_libjwt(t_idp_key("rsa-1"), "RS256", claims(NULL, "vault:admin", 3600, NULL)),
                 "libjwt RS256");
    accept_token(mint_libjwt(t_idp_key("ec-256"), "ES256", claims(NULL, "vault:admin", 3600, NULL)),
                 "libjwt ES256");
}

Test(accepted, accepts_scopes_as_an_scp_array)
{
    char *p = claims(NULL, NULL, 3600, "{\"scp\":[\"vault:admin\"]}");
    accept_token(rsa_token(p), "scp array");
}

Test(accepted, answers_403_not_401_to_a_good_token_without_the_scope)
{
    const struct {
        const char *method;
        const char *path;
        const char *token;
        const char *scope; /* the scope the 403 must name */
    } cases[] = {
        {"GET", "/v1/tenants", t_token("t-000000000001", "vault:adminx"), "vault:admin"},
        {"GET", "/v1/tenants", t_token("t-000000000001", "tenant:admin"), "vault:admin"},
        {"GET", "/v1/tenants", t_token("t-000000000001", "records:write"), "vault:admin"},
        {"GET", "/v1/keys", t_token("t-000000000001", "records:write"), "tenant:admin"},
        {"POST", "/v1/keys/rotate", t_token("t-000000000001", "audit:read"), "tenant:admin"},
        {"GET", "/v1/audit", t_token("t-000000000001", "records:write"), "audit:read"},
        {"GET", "/v1/collections/c/records/r", t_token("t-000000000001", "records:write"),
         "detokenize:<collection>.<field>:<level>"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_resp r;
        cr_assert_eq(send_authz(t_shared(), cases[i].method, cases[i].path, bearer(cases[i].token),
                                NULL, &r),
                     0);
        cr_assert_eq(r.status, 403, "%s %s case %zu: got %ld %s", cases[i].method, cases[i].path, i,
                     r.status, r.body);
        /* RFC 6750 §3.1: insufficient_scope naming the scope, and the detail says it too */
        char v[256];
        cr_assert(t_header(&r, "WWW-Authenticate", v, sizeof(v)), "case %zu: no challenge", i);
        cr_assert_str_eq(v,
                         fmt("Bearer realm=\"custos\", error=\"insufficient_scope\", scope=\"%s\"",
                             cases[i].scope),
                         "case %zu", i);
        cr_assert_str_eq(json_string_value(json_object_get(r.json, "detail")),
                         fmt("The token lacks the scope %s", cases[i].scope), "case %zu: %s", i,
                         r.body);
        t_resp_free(&r);
    }
}

/* ---- tenant binding ---- */

static long long
current_version(const char *tenant)
{
    struct t_resp r;
    cr_assert_eq(
        t_request(t_shared(), "GET", "/v1/keys", t_token(tenant, "tenant:admin"), NULL, NULL, &r),
        0);
    cr_assert_eq(r.status, 200, "keys of %s: %ld %s", tenant, r.status, r.body);
    json_t *v = json_object_get(r.json, "current_version");
    cr_assert(json_is_integer(v), "no current_version: %s", r.body);
    long long out = json_integer_value(v);
    t_resp_free(&r);
    return out;
}

Test(tenant, headers_and_query_cannot_change_the_tokens_tenant)
{
    char a[32], b[32];
    t_tenant_id(a);
    t_tenant_id(b);
    t_tenant_create(t_shared(), a, "auth test");
    t_tenant_create(t_shared(), b, "auth test");
    cr_assert_eq(current_version(a), 1);
    cr_assert_eq(current_version(b), 1);

    const char *hdr[] = {fmt("X-Tenant-ID: %s", b), fmt("X-Forwarded-Tenant: %s", b), NULL};
    struct t_resp r;
    cr_assert_eq(send_authz(t_shared(), "POST", fmt("/v1/keys/rotate?tenant=%s&tid=%s", b, b),
                            bearer(t_token(a, "tenant:admin")), hdr, &r),
                 0);
    cr_assert_eq(r.status, 202, "rotate: %ld %s", r.status, r.body);
    t_resp_free(&r);
    cr_assert_eq(current_version(a), 2, "the rotation did not act for the token's tenant");
    cr_assert_eq(current_version(b), 1, "a header or query moved the rotation to another tenant");

    /* reading with B in the header still shows A */
    cr_assert_eq(send_authz(t_shared(), "GET", fmt("/v1/keys?tenant=%s", b),
                            bearer(t_token(a, "tenant:admin")), hdr, &r),
                 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "current_version")), 2);
    t_resp_free(&r);
}

Test(tenant, a_token_for_an_unknown_tenant_is_authenticated_but_finds_nothing)
{
    char c[32];
    t_tenant_id(c);
    long st = status_of_at(t_shared(), "/v1/keys", t_token(c, "tenant:admin"));
    cr_assert_neq(st, 401, "a valid token for a tenant not created yet gave 401");
    cr_assert(st == 404 || st == 200, "got %ld", st);
}

/* ---- spawned servers ---- */

/* t_spawn, and on failure the end of the server's log in the assertion message. */
static void
spawn(const char *const *env, struct t_server *srv, const char *what)
{
    if (t_spawn(env, 1, srv) == 0) {
        return;
    }
    char tail[2048] = "";
    FILE *f = fopen(srv->log_path, "r");
    if (f != NULL) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > (long)sizeof(tail) - 1 ? size - (long)sizeof(tail) + 1 : 0, SEEK_SET);
        size_t n = fread(tail, 1, sizeof(tail) - 1, f);
        tail[n] = '\0';
        fclose(f);
    }
    cr_assert_fail("could not start %s; its log ends with:\n%s", what, tail);
}

/* ---- JWKS reload on SIGHUP ---- */

static char *
jwks_of(const char *const *kids, size_t n)
{
    const char *jwks[8];
    for (size_t i = 0; i < n; i++) {
        jwks[i] = mint_jwk_json(t_idp_key(kids[i]), "\"use\":\"sig\"");
    }
    return mint_jwks_json(jwks, n);
}

/* Waits until the spawned server's log holds `count` lines with msg (30 s at most). */
static void
wait_for_log(const struct t_server *s, const char *msg, int count)
{
    long long deadline = t_now_ms() + 30000;
    for (;;) {
        int seen = 0;
        FILE *f = fopen(s->log_path, "r");
        if (f != NULL) {
            char line[4096];
            while (fgets(line, sizeof(line), f) != NULL) {
                seen += strstr(line, msg) != NULL;
            }
            fclose(f);
        }
        if (seen >= count) {
            return;
        }
        cr_assert_lt(t_now_ms(), deadline, "the server never logged \"%s\" (%d times)", msg, count);
        usleep(50 * 1000);
    }
}

Test(reload, sighup_drops_a_removed_key_and_keeps_the_old_set_on_a_bad_file)
{
    char *path = fmt("%s/jwks-auth-%d.json", t_env("CUSTOS_TEST_WORKDIR"), (int)getpid());
    const char *all[] = {"rsa-1", "ec-256", "ec-384", "ec-521"};
    mint_rewrite(path, jwks_of(all, 4));
    const char *env[] = {fmt("CUSTOS_JWKS_FILE=%s", path), NULL};
    struct t_server srv;
    spawn(env, &srv, "a server with a copy of the JWKS");

    char *ec = t_token_raw("ec-256", "ES256", claims(NULL, "vault:admin", 3600, NULL));
    char *rsa = t_operator_token();
    cr_assert_eq(status_of_at(&srv, "/v1/tenants", ec), 200, "ec-256 token before the reload");
    cr_assert_eq(status_of_at(&srv, "/v1/tenants", rsa), 200, "rsa-1 token before the reload");

    const char *fewer[] = {"rsa-1", "ec-384", "ec-521"};
    mint_rewrite(path, jwks_of(fewer, 3));
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    wait_for_log(&srv, "reloaded the JWKS", 1);
    usleep(300 * 1000);
    struct t_resp r;
    cr_assert_eq(send_authz(&srv, "GET", "/v1/tenants", bearer(ec), NULL, &r), 0);
    assert_401(&srv, "ec-256 token after its key was removed (cached before)", &r);
    t_resp_free(&r);
    cr_assert_eq(status_of_at(&srv, "/v1/tenants", rsa), 200, "rsa-1 token after the reload");

    mint_rewrite(path, "{\"keys\":[{\"kty\":");
    cr_assert_eq(kill(srv.pid, SIGHUP), 0);
    wait_for_log(&srv, "kept the old JWKS", 1);
    usleep(300 * 1000);
    cr_assert_eq(status_of_at(&srv, "/v1/tenants", rsa), 200, "rsa-1 token after a bad file");
    cr_assert_eq(status_of_at(&srv, "/v1/tenants", ec), 401, "ec-256 came back with a bad file");

    cr_assert_eq(t_stop(&srv), 0, "the spawned server did not exit 0");
    unlink(path);
}

/* ---- dev mode: HS256 only with CUSTOS_DEV=1 ---- */

/* Writes 48 random bytes to a new file in the work directory; returns its path (owned). */
static char *
write_secret(void)
{
    char *path = fmt("%s/hs256-auth-%d.key", t_env("CUSTOS_TEST_WORKDIR"), (int)getpid());
    uint8_t secret[48];
    cr_assert_eq(getrandom(secret, sizeof(secret), 0), (ssize_t)sizeof(secret));
    /* the server strips trailing newlines: keep the last byte away from them */
    for (size_t i = 0; i < sizeof(secret); i++) {
        if (secret[i] == '\n' || secret[i] == '\r') {
            secret[i] = 'x';
        }
    }
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(secret, 1, sizeof(secret), f), sizeof(secret));
    cr_assert_eq(fclose(f), 0);
    explicit_bzero(secret, sizeof(secret));
    return path;
}

/* Runs cmd through the shell; returns its output (owned) and sets *status (exit code, or -1). */
static char *
run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    char *out = own(calloc(1, 65536));
    size_t n = fread(out, 1, 65535, p);
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

Test(dev, a_dev_token_works_only_on_a_dev_server)
{
    char *secret = write_secret();
    const char *env[] = {"CUSTOS_DEV=1", fmt("CUSTOS_JWT_HS256_SECRET_FILE=%s", secret), NULL};
    struct t_server srv;
    spawn(env, &srv, "a dev server");

    cr_assert_eq(setenv("CUSTOS_DEV", "1", 1), 0);
    cr_assert_eq(setenv("CUSTOS_JWT_HS256_SECRET_FILE", secret, 1), 0);
    int st = 0;
    char *out = run(fmt("'%s' dev-token --scope vault:admin 2>&1", t_env("CUSTOS_TEST_BIN")), &st);
    cr_assert_eq(setenv("CUSTOS_DEV", "0", 1), 0);
    cr_assert_eq(unsetenv("CUSTOS_JWT_HS256_SECRET_FILE"), 0);
    cr_assert_eq(st, 0, "dev-token failed: %s", out);
    out[strcspn(out, "\r\n")] = '\0';
    (void)split(out);

    cr_assert_eq(status_of_at(&srv, "/v1/tenants", out), 200, "the dev token on the dev server");
    /* the dev server still refuses HS256 under another secret */
    char *forged = mint_hs256("0123456789abcdef0123456789abcdef0123456789abcdef", 48,
                              header("HS256", NULL), claims(NULL, "vault:admin", 3600, NULL));
    struct t_resp r;
    cr_assert_eq(send_authz(&srv, "GET", "/v1/tenants", bearer(forged), NULL, &r), 0);
    assert_401(&srv, "HS256 under another secret on the dev server", &r);
    t_resp_free(&r);
    cr_assert_eq(t_stop(&srv), 0);

    reject(out, "the dev HS256 token on the shared non-dev server");
    unlink(secret);
}

/* Runs `custos serve` with extra environment; it must exit non-zero within 5 s. */
static void
assert_serve_refuses(const char *env_assign, const char *expect_in_output)
{
    int port = 20000 + (int)(getpid() % 10000);
    int st = 0;
    char *out = run(fmt("CUSTOS_DEV=0 CUSTOS_LISTEN=127.0.0.1:%d %s timeout -s KILL 5 '%s' serve "
                        "2>&1",
                        port, env_assign, t_env("CUSTOS_TEST_BIN")),
                    &st);
    cr_assert_neq(st, 0, "serve started with %s: %s", env_assign, out);
    cr_assert_neq(st, 137, "serve kept running with %s (killed after 5 s)", env_assign);
    cr_assert_neq(st, -1, "serve died of a signal with %s: %s", env_assign, out);
    cr_assert_not_null(strstr(out, expect_in_output), "no message naming %s in: %s",
                       expect_in_output, out);
}

Test(dev, an_hs256_secret_without_dev_mode_stops_the_server)
{
    assert_serve_refuses("CUSTOS_JWT_HS256_SECRET=0123456789abcdef0123456789abcdef0123456789",
                         "CUSTOS_JWT_HS256_SECRET");
    char *secret = write_secret();
    assert_serve_refuses(fmt("CUSTOS_JWT_HS256_SECRET_FILE='%s'", secret),
                         "CUSTOS_JWT_HS256_SECRET");
    unlink(secret);
}

/* ---- every non-public route wants a token ---- */

Test(routes, every_protected_route_refuses_a_missing_or_garbage_token)
{
    static const struct {
        const char *method;
        const char *path;
    } routes[] = {
        {"GET", "/v1/tenants"},       {"POST", "/v1/tenants"},     {"GET", "/v1/tenants/x1"},
        {"DELETE", "/v1/tenants/x1"}, {"POST", "/v1/keys/rotate"}, {"GET", "/v1/keys"},
    };
    const char *tokens[] = {NULL, bearer("garbage"), bearer("a.b.c"), "Basic dXNlcjpwYXNz"};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        for (size_t j = 0; j < sizeof(tokens) / sizeof(tokens[0]); j++) {
            reject_authz_at(routes[i].method, routes[i].path, tokens[j],
                            fmt("%s %s token %zu", routes[i].method, routes[i].path, j));
        }
    }
    const char *public_paths[] = {"/healthz", "/readyz", "/metrics"};
    for (size_t i = 0; i < sizeof(public_paths) / sizeof(public_paths[0]); i++) {
        struct t_resp r;
        cr_assert_eq(t_request(t_shared(), "GET", public_paths[i], NULL, NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 200, "%s without a token: %ld", public_paths[i], r.status);
        t_resp_free(&r);
    }
}

Test(routes, a_bad_token_is_refused_before_the_body_is_looked_at)
{
    const char *const hdr[] = {"Content-Type: text/plain", NULL};
    struct t_resp r;
    cr_assert_eq(t_request(t_shared(), "POST", "/v1/tenants", NULL, "not json", hdr, &r), 0);
    assert_401(t_shared(), "POST /v1/tenants, no token, bad body", &r);
    t_resp_free(&r);
    cr_assert_eq(t_json(t_shared(), "POST", "/v1/tenants", "garbage", "{", &r), 0);
    assert_401(t_shared(), "POST /v1/tenants, garbage token, truncated json", &r);
    t_resp_free(&r);
}
