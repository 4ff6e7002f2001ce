/* The refusal vocabulary of bearer tokens (auth/reject.h): every class has a phrase and a
 * detail fit for a quoted header parameter, and cu_auth_verify names the right class for each
 * kind of bad token (and never a token or claim byte). Tokens are minted by
 * tests/support/jwt_mint.c; the clock is a constant. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "auth/reject.h"
#include "core/mem.h"
#include "support/jwt_mint.h"

#define ISS "https://idp.example.com/"
#define AUD "custos"
#define NOW 1700000000LL
#define STD "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"user-1\""
#define HDR "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}"

static struct mint_key *rsa;
static struct mint_key *ec256;
static struct cu_auth *auth;
static struct cu_arena *arena;

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mint_cache_remove((long)getpid());
}

static void
setup(void)
{
    arena = cu_arena_new();
    rsa = mint_key_rsa("rsa1", 2048);
    ec256 = mint_key_ec("ec256", CU_CURVE_P256);
    const char *keys[] = {mint_jwk_json(rsa, NULL), mint_jwk_json(ec256, NULL)};
    struct cu_auth_opts o = {0};
    o.jwks_file = mint_write_file(mint_jwks_json(keys, 2));
    o.issuer = ISS;
    o.audience = AUD;
    o.cache_entries = 100;
    o.leeway_seconds = 60;
    cr_assert_eq(cu_auth_new(&o, &auth), CU_OK, "%s", cu_err_reason());
}

static void
teardown(void)
{
    cu_auth_free(auth);
    cu_arena_free(arena);
    mint_free_all();
}

TestSuite(auth_reject, .init = setup, .fini = teardown, .timeout = 60);

Test(auth_reject, every_class_has_a_phrase_and_a_header_safe_detail)
{
    for (int i = 0; i < CU_AUTH_REJECT__COUNT; i++) {
        const char *phrase = cu_auth_reject_phrase((enum cu_auth_reject)i);
        const char *detail = cu_auth_reject_detail((enum cu_auth_reject)i);
        cr_assert_gt(strlen(phrase), 0, "class %d has no phrase", i);
        /* the detail says the phrase first, then what to fix */
        cr_assert_eq(strncmp(detail, phrase, strlen(phrase)), 0, "%s: %s", phrase, detail);
        cr_assert_eq(strncmp(detail + strlen(phrase), ": ", 2), 0, "%s: %s", phrase, detail);
        cr_assert_gt(strlen(detail), strlen(phrase) + 2, "%s has no hint", phrase);
        /* RFC 6750 error_description: %x20-21 / %x23-5B / %x5D-7E */
        for (const char *c = detail; *c != '\0'; c++) {
            cr_assert(*c >= 0x20 && *c <= 0x7e && *c != '"' && *c != '\\',
                      "%s: byte 0x%02x cannot go into a quoted parameter", phrase,
                      (unsigned char)*c);
        }
        cr_assert_eq(cu_auth_reject_of(detail), i, "%s does not map back", phrase);
        for (int j = 0; j < i; j++) {
            cr_assert_str_neq(phrase, cu_auth_reject_phrase((enum cu_auth_reject)j),
                              "two classes share the phrase %s", phrase);
        }
    }
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", cu_auth_reject_detail(CU_AUTH_EXPIRED));
    cr_assert_eq(cu_auth_reject_of(copy), -1,
                 "an equal text that is not the table's own is no class");
    cr_assert_eq(cu_auth_reject_of(NULL), -1);
}

Test(auth_reject, reject_attaches_the_detail_and_returns_401)
{
    cu_err_clear();
    cr_assert_eq(cu_auth_reject(CU_AUTH_EXPIRED), CU_ERR_UNAUTHORIZED);
    cr_assert_eq(cu_err_public_detail(), cu_auth_reject_detail(CU_AUTH_EXPIRED));
}

/* authz must be refused with class want, and the detail must not hold the secret marker. */
static void
refused_as(const char *authz, enum cu_auth_reject want, const char *what)
{
    struct cu_principal who;
    cu_err_clear();
    enum cu_err rc = cu_auth_verify(auth, authz, NOW, arena, &who);
    cr_assert_eq(rc, CU_ERR_UNAUTHORIZED, "%s: accepted", what);
    const char *detail = cu_err_public_detail();
    cr_assert_not_null(detail, "%s: no detail (reason %s)", what, cu_err_reason());
    cr_assert_eq(cu_auth_reject_of(detail), (int)want, "%s: got '%s', want '%s' (reason %s)", what,
                 detail, cu_auth_reject_detail(want), cu_err_reason());
    cr_assert_null(strstr(detail, "s3cr3t"), "%s: the detail echoes the token", what);
}

static void
token_refused_as(const char *token, enum cu_auth_reject want, const char *what)
{
    refused_as(mint_bearer(token), want, what);
}

static const char *
rs(const char *claims)
{
    return mint_sign(rsa, "RS256", HDR, cu_arena_printf(arena, "{%s}", claims));
}

Test(auth_reject, each_failed_check_names_its_class)
{
    const char *good = STD ",\"tid\":\"acme\",\"exp\":1700000600";
    refused_as(NULL, CU_AUTH_MISSING, "no header");
    refused_as("Basic dXNlcjpzM2NyM3Q=", CU_AUTH_NOT_BEARER, "basic");
    token_refused_as("s3cr3t", CU_AUTH_MALFORMED, "one part");
    token_refused_as("s3cr3t.s3cr3t.s3cr3t", CU_AUTH_MALFORMED, "not json");
    token_refused_as(
        mint_sign(rsa, "RS256", "{\"alg\":\"none\",\"kid\":\"rsa1\"}", "{\"sub\":\"s3cr3t\"}"),
        CU_AUTH_ALG, "alg none");
    token_refused_as(mint_sign(rsa, "RS256", "{\"alg\":\"HS512\",\"kid\":\"rsa1\"}", "{}"),
                     CU_AUTH_ALG, "alg outside the allow-list");
    token_refused_as(mint_sign(ec256, "ES256", "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", "{}"),
                     CU_AUTH_ALG, "alg of another key type");
    token_refused_as(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"s3cr3t\"}", "{}"),
                     CU_AUTH_UNKNOWN_KEY, "unknown kid");
    token_refused_as(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\"}", "{}"), CU_AUTH_UNKNOWN_KEY,
                     "no kid");
    token_refused_as(
        mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":\"x\"}", "{}"),
        CU_AUTH_HEADER, "jku");
    token_refused_as(
        mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"at+jwt\"}", "{}"),
        CU_AUTH_HEADER, "typ");
    /* a valid token whose payload was swapped after signing */
    const char *t = rs(good);
    const char *d1 = strchr(t, '.');
    const char *d2 = strchr(d1 + 1, '.');
    const char *forged =
        cu_arena_printf(arena, "%.*s.%s%s", (int)(d1 - t), t,
                        mint_b64url_str("{" STD ",\"tid\":\"s3cr3t\",\"exp\":1700000600}"), d2);
    token_refused_as(forged, CU_AUTH_SIGNATURE, "payload swapped");
    token_refused_as(rs(STD ",\"tid\":\"acme\",\"exp\":1699990000"), CU_AUTH_EXPIRED, "expired");
    token_refused_as(rs(STD ",\"tid\":\"acme\",\"exp\":1700000600,\"nbf\":1700009000"),
                     CU_AUTH_NOT_YET_VALID, "nbf ahead");
    token_refused_as(rs(STD ",\"tid\":\"acme\",\"exp\":1700000600,\"iat\":1700009000"),
                     CU_AUTH_NOT_YET_VALID, "iat ahead");
    token_refused_as(rs("\"iss\":\"https://s3cr3t/\",\"aud\":\"" AUD "\",\"sub\":\"u\","
                        "\"tid\":\"acme\",\"exp\":1700000600"),
                     CU_AUTH_ISSUER, "wrong issuer");
    token_refused_as(rs("\"iss\":\"" ISS "\",\"aud\":\"s3cr3t\",\"sub\":\"u\","
                        "\"tid\":\"acme\",\"exp\":1700000600"),
                     CU_AUTH_AUDIENCE, "wrong audience");
    token_refused_as(rs(STD ",\"tid\":\"acme\""), CU_AUTH_MISSING_CLAIM, "no exp");
    token_refused_as(rs(STD ",\"tid\":\"acme\",\"exp\":\"s3cr3t\""), CU_AUTH_BAD_CLAIM,
                     "exp a string");
    token_refused_as(rs(STD ",\"tid\":\"acme\",\"exp\":1700000600,\"scope\":\"a  b\""),
                     CU_AUTH_BAD_CLAIM, "scope with an empty word");
    token_refused_as(rs(STD ",\"exp\":1700000600,\"scope\":\"records:write\""),
                     CU_AUTH_MISSING_TENANT, "no tenant");
    token_refused_as(rs(STD ",\"tid\":\"S3CR3T!\",\"exp\":1700000600"), CU_AUTH_BAD_TENANT,
                     "tenant not an id");
}

Test(auth_reject, a_cached_token_that_expired_is_refused_as_expired)
{
    const char *t = rs(STD ",\"tid\":\"acme\",\"exp\":1700000600");
    struct cu_principal who;
    cr_assert_eq(cu_auth_verify(auth, mint_bearer(t), NOW, arena, &who), CU_OK, "%s",
                 cu_err_reason());
    cu_err_clear();
    cr_assert_eq(cu_auth_verify(auth, mint_bearer(t), 1700000600LL + 61, arena, &who),
                 CU_ERR_UNAUTHORIZED);
    cr_assert_eq(cu_err_public_detail(), cu_auth_reject_detail(CU_AUTH_EXPIRED));
}
