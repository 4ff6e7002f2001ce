/* Security tests: forged and malformed JWTs against cu_auth_verify, JWKS loading, reload, cache.
 * Tokens are minted by tests/support/jwt_mint.c; the clock is a constant. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "auth/scope.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "support/jwt_mint.h"

#define ISS "https://idp.example.com/"
#define AUD "custos"
#define NOW 1700000000LL
#define STD "\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"user-1\""
#define GOOD "{" STD ",\"tid\":\"acme\",\"scope\":\"records:write audit:read\",\"exp\":1700000600}"
#define RS_HDR(alg, kid) "{\"alg\":\"" alg "\",\"typ\":\"JWT\",\"kid\":\"" kid "\"}"
#define DEV_SECRET "dev-secret-0123456789abcdef-0123456789"

static struct mint_key *rsa;
static struct mint_key *ec256;
static struct mint_key *ec384;
static struct mint_key *ec521;
static char *jwks_path;
static struct cu_auth *auth;
static struct cu_arena *arena;
static struct cu_principal who;

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mint_cache_remove((long)getpid());
}

static struct cu_auth_opts
opts_for(const char *path)
{
    struct cu_auth_opts o = {0};
    o.jwks_file = path;
    o.issuer = ISS;
    o.audience = AUD;
    o.cache_entries = 100;
    o.leeway_seconds = 60;
    return o;
}

static const char *
jwks_all(void)
{
    const char *keys[] = {mint_jwk_json(rsa, NULL), mint_jwk_json(ec256, NULL),
                          mint_jwk_json(ec384, NULL), mint_jwk_json(ec521, NULL)};
    return mint_jwks_json(keys, 4);
}

static void
setup(void)
{
    arena = cu_arena_new();
    rsa = mint_key_rsa("rsa1", 2048);
    ec256 = mint_key_ec("ec256", CU_CURVE_P256);
    ec384 = mint_key_ec("ec384", CU_CURVE_P384);
    ec521 = mint_key_ec("ec521", CU_CURVE_P521);
    jwks_path = mint_write_file(jwks_all());
    struct cu_auth_opts o = opts_for(jwks_path);
    cr_assert_eq(cu_auth_new(&o, &auth), CU_OK, "%s", cu_err_reason());
}

static void
teardown(void)
{
    cu_auth_free(auth);
    auth = NULL;
    cu_arena_free(arena);
    mint_free_all();
}

static enum cu_err
verify_at(const char *token, long long now)
{
    return cu_auth_verify(auth, mint_bearer(token), now, arena, &who);
}

static enum cu_err
verify(const char *token)
{
    return verify_at(token, NOW);
}

static const char *
rs256(const char *payload)
{
    return mint_sign(rsa, "RS256", RS_HDR("RS256", "rsa1"), payload);
}

static const char *
with_claims(const char *claims)
{
    return cu_arena_printf(arena, "{" STD ",%s}", claims);
}

#define ACCEPTS(tok) cr_assert_eq(verify(tok), CU_OK, "expected acceptance: %s", cu_err_reason())
#define REJECTS(tok)                                                                               \
    cr_assert_eq(verify(tok), CU_ERR_UNAUTHORIZED, "expected 401, reason: %s", cu_err_reason())

TestSuite(auth_jwt, .init = setup, .fini = teardown, .timeout = 60);

/* ---- accepted tokens ---- */

Test(auth_jwt, accepts_rs256_and_fills_the_principal)
{
    ACCEPTS(rs256("{" STD ",\"tid\":\"acme\",\"scope\":\"records:write detokenize:*.*:masked\","
                  "\"roles\":[\"agent\"],\"amr\":[\"pwd\",\"mfa\"],\"exp\":1700000600}"));
    cr_assert_str_eq(who.sub, "user-1");
    cr_assert_str_eq(who.tenant, "acme");
    cr_assert_eq(who.nscopes, 2);
    cr_assert_str_eq(who.scopes[0], "records:write");
    cr_assert_str_eq(who.scopes[1], "detokenize:*.*:masked");
    cr_assert_eq(who.nroles, 1);
    cr_assert_str_eq(who.roles[0], "agent");
    cr_assert_eq(who.mfa, 1);
    cr_assert_eq(who.exp, 1700000600LL);
}

Test(auth_jwt, accepts_rs384_and_rs512)
{
    ACCEPTS(mint_sign(rsa, "RS384", RS_HDR("RS384", "rsa1"), GOOD));
    ACCEPTS(mint_sign(rsa, "RS512", RS_HDR("RS512", "rsa1"), GOOD));
}

Test(auth_jwt, accepts_es256_es384_es512)
{
    ACCEPTS(mint_sign(ec256, "ES256", RS_HDR("ES256", "ec256"), GOOD));
    ACCEPTS(mint_sign(ec384, "ES384", RS_HDR("ES384", "ec384"), GOOD));
    ACCEPTS(mint_sign(ec521, "ES512", RS_HDR("ES512", "ec521"), GOOD));
}

Test(auth_jwt, accepts_tokens_minted_by_libjwt)
{
    ACCEPTS(mint_libjwt(rsa, "RS256", GOOD));
    ACCEPTS(mint_libjwt(ec256, "ES256", GOOD));
}

Test(auth_jwt, accepts_scp_array_and_no_mfa_without_amr)
{
    ACCEPTS(rs256(with_claims("\"tid\":\"acme\",\"scp\":[\"audit:read\",\"records:search\"],"
                              "\"exp\":1700000600")));
    cr_assert_eq(who.nscopes, 2);
    cr_assert_str_eq(who.scopes[1], "records:search");
    cr_assert_eq(who.mfa, 0);
}

Test(auth_jwt, accepts_lowercase_bearer_scheme_and_typ_jwt_in_any_case)
{
    const char *tok =
        mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"typ\":\"jwt\",\"kid\":\"rsa1\"}", GOOD);
    cr_assert_eq(cu_auth_verify(auth, cu_arena_printf(arena, "bearer %s", tok), NOW, arena, &who),
                 CU_OK, "%s", cu_err_reason());
    ACCEPTS(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", GOOD));
}

/* ---- alg attacks ---- */

Test(auth_jwt, security_rejects_alg_none_in_any_case_with_and_without_signature)
{
    const char *names[] = {"none", "None", "NONE", "nOnE"};
    for (size_t i = 0; i < 4; i++) {
        const char *h =
            mint_b64url_str(cu_arena_printf(arena, "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", names[i]));
        const char *p = mint_b64url_str(GOOD);
        REJECTS(mint_join(h, p, ""));
        REJECTS(mint_join(h, p, mint_b64url_str("bogus-signature")));
    }
}

Test(auth_jwt, security_rejects_hs256_macd_with_the_rsa_public_pem)
{
    const char *pem = rsa->kp.pub_pem;
    REJECTS(mint_hs256(pem, strlen(pem), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", GOOD));
    REJECTS(mint_hs256(pem, strlen(pem), "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", GOOD));
}

Test(auth_jwt, security_rejects_hs256_macd_with_the_rsa_pem_even_in_dev_mode)
{
    struct cu_auth_opts o = opts_for(jwks_path);
    o.dev = 1;
    o.hs256_secret = (const uint8_t *)DEV_SECRET;
    o.hs256_secret_len = strlen(DEV_SECRET);
    cu_auth_free(auth);
    cr_assert_eq(cu_auth_new(&o, &auth), CU_OK, "%s", cu_err_reason());
    const char *pem = rsa->kp.pub_pem;
    REJECTS(mint_hs256(pem, strlen(pem), "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", GOOD));
    REJECTS(mint_hs256("", 0, "{\"alg\":\"HS256\"}", GOOD));
    ACCEPTS(mint_hs256(DEV_SECRET, strlen(DEV_SECRET), "{\"alg\":\"HS256\"}", GOOD));
}

Test(auth_jwt, security_rejects_hs256_when_not_dev_even_with_a_secret)
{
    struct cu_auth_opts o = opts_for(jwks_path);
    o.hs256_secret = (const uint8_t *)DEV_SECRET;
    o.hs256_secret_len = strlen(DEV_SECRET);
    cu_auth_free(auth);
    cr_assert_eq(cu_auth_new(&o, &auth), CU_OK, "%s", cu_err_reason());
    REJECTS(mint_hs256(DEV_SECRET, strlen(DEV_SECRET), "{\"alg\":\"HS256\"}", GOOD));
}

Test(auth_jwt, security_rejects_algs_outside_the_allow_list)
{
    const char *names[] = {"HS384", "HS512", "PS256", "ES256K", "EdDSA", "rs256", "RS256 ", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *h = cu_arena_printf(arena, "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", names[i]);
        REJECTS(mint_sign(rsa, "RS256", h, GOOD));
    }
    REJECTS(mint_sign(rsa, "RS256", "{\"kid\":\"rsa1\"}", GOOD));
    REJECTS(mint_sign(rsa, "RS256", "{\"alg\":256,\"kid\":\"rsa1\"}", GOOD));
}

Test(auth_jwt, security_rejects_rs256_header_naming_an_ec_kid)
{
    REJECTS(mint_sign(rsa, "RS256", RS_HDR("RS256", "ec256"), GOOD));
    REJECTS(mint_sign(ec256, "ES256", RS_HDR("RS256", "ec256"), GOOD));
    REJECTS(mint_sign(ec256, "ES256", RS_HDR("ES256", "rsa1"), GOOD));
}

Test(auth_jwt, security_rejects_es256_with_a_p384_kid)
{
    /* a P-384 key signing SHA-256 verifies in libjwt 1.10.2: the curve binding is ours */
    REJECTS(mint_sign(ec384, "ES256", RS_HDR("ES256", "ec384"), GOOD));
    REJECTS(mint_sign(ec256, "ES384", RS_HDR("ES384", "ec256"), GOOD));
    REJECTS(mint_sign(ec521, "ES384", RS_HDR("ES384", "ec521"), GOOD));
}

Test(auth_jwt, security_rejects_a_der_ecdsa_signature)
{
    REJECTS(mint_sign_der(ec256, "ES256", RS_HDR("ES256", "ec256"), GOOD));
    REJECTS(mint_sign_der(ec384, "ES384", RS_HDR("ES384", "ec384"), GOOD));
}

/* ---- kid ---- */

Test(auth_jwt, security_rejects_unknown_missing_and_malformed_kid)
{
    REJECTS(mint_sign(rsa, "RS256", RS_HDR("RS256", "rsa2"), GOOD));
    REJECTS(mint_sign(rsa, "RS256", RS_HDR("RS256", "RSA1"), GOOD));
    REJECTS(mint_sign(rsa, "RS256", RS_HDR("RS256", "../../dev/null"), GOOD));
    REJECTS(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\"}", GOOD));
    REJECTS(mint_sign(rsa, "RS256", RS_HDR("RS256", ""), GOOD));
    REJECTS(mint_sign(rsa, "RS256", RS_HDR("RS256", "rsa1\\u0000"), GOOD));
    REJECTS(mint_sign(rsa, "RS256", RS_HDR("RS256", "rsa1\\r\\n"), GOOD));
    REJECTS(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":7}", GOOD));
    char big[CU_JWT_MAX_KID + 2];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    REJECTS(mint_sign(rsa, "RS256",
                      cu_arena_printf(arena, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", big), GOOD));
}

Test(auth_jwt, security_rejects_embedded_key_and_crit_headers)
{
    const char *extra[] = {"\"jwk\":{\"kty\":\"oct\",\"k\":\"AA\"}", "\"jku\":\"http://x/\"",
                           "\"x5u\":\"http://x/\"", "\"x5c\":[\"AA\"]", "\"crit\":[\"exp\"]"};
    for (size_t i = 0; i < 5; i++) {
        const char *h = cu_arena_printf(arena, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",%s}", extra[i]);
        REJECTS(mint_sign(rsa, "RS256", h, GOOD));
    }
}

Test(auth_jwt, security_rejects_typ_other_than_jwt_including_at_jwt)
{
    REJECTS(
        mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa1\"}", GOOD));
    REJECTS(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"typ\":\"JOSE\",\"kid\":\"rsa1\"}", GOOD));
    REJECTS(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"typ\":1,\"kid\":\"rsa1\"}", GOOD));
}

/* ---- time ---- */

Test(auth_jwt, security_rejects_expired_beyond_leeway_and_accepts_within)
{
    const char *tok = rs256(with_claims("\"tid\":\"acme\",\"exp\":1699999939"));
    REJECTS(tok);
    ACCEPTS(rs256(with_claims("\"tid\":\"acme\",\"exp\":1699999940")));
}

Test(auth_jwt, security_rejects_nbf_and_iat_in_the_future_beyond_leeway)
{
    REJECTS(rs256(with_claims("\"tid\":\"acme\",\"exp\":1700000600,\"nbf\":1700000061")));
    ACCEPTS(rs256(with_claims("\"tid\":\"acme\",\"exp\":1700000600,\"nbf\":1700000060")));
    REJECTS(rs256(with_claims("\"tid\":\"acme\",\"exp\":1700000600,\"iat\":1700000061")));
    ACCEPTS(rs256(with_claims("\"tid\":\"acme\",\"exp\":1700000600,\"iat\":1700000060")));
}

Test(auth_jwt, security_rejects_missing_or_non_integer_exp)
{
    const char *bad[] = {"",
                         ",\"exp\":\"1700000600\"",
                         ",\"exp\":1700000600.0",
                         ",\"exp\":1.7e9",
                         ",\"exp\":9223372036854775807",
                         ",\"exp\":99999999999999999999",
                         ",\"exp\":-1",
                         ",\"exp\":null",
                         ",\"exp\":true",
                         ",\"exp\":1700000600,\"nbf\":\"0\"",
                         ",\"exp\":1700000600,\"iat\":1.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REJECTS(rs256(with_claims(cu_arena_printf(arena, "\"tid\":\"acme\"%s", bad[i]))));
    }
}

/* ---- iss, aud, sub, tenant ---- */

Test(auth_jwt, security_rejects_wrong_issuer)
{
    const char *iss[] = {"https://evil.example.com/", "https://idp.example.com",
                         "HTTPS://IDP.EXAMPLE.COM/", ""};
    for (size_t i = 0; i < 4; i++) {
        REJECTS(rs256(cu_arena_printf(arena,
                                      "{\"iss\":\"%s\",\"aud\":\"" AUD "\",\"sub\":\"u\","
                                      "\"tid\":\"acme\",\"exp\":1700000600}",
                                      iss[i])));
    }
    REJECTS(rs256("{\"aud\":\"" AUD "\",\"sub\":\"u\",\"tid\":\"acme\",\"exp\":1700000600}"));
}

Test(auth_jwt, security_rejects_wrong_audience_and_accepts_an_array_containing_ours)
{
#define base "{\"iss\":\"" ISS "\",\"sub\":\"u\",\"tid\":\"acme\",\"exp\":1700000600%s}"
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"aud\":\"other\"")));
    REJECTS(rs256(cu_arena_printf(arena, base, "")));
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"aud\":[\"other\"]")));
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"aud\":[]")));
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"aud\":[\"" AUD "\",1]")));
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"aud\":\"CUSTOS\"")));
    ACCEPTS(rs256(cu_arena_printf(arena, base, ",\"aud\":[\"other\",\"" AUD "\"]")));
#undef base
}

Test(auth_jwt, security_rejects_missing_empty_or_long_sub)
{
#define base "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"tid\":\"acme\",\"exp\":1700000600%s}"
    REJECTS(rs256(cu_arena_printf(arena, base, "")));
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"sub\":\"\"")));
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"sub\":42")));
    REJECTS(rs256(cu_arena_printf(arena, base, ",\"sub\":\"a\\nb\"")));
    char big[CU_JWT_MAX_SUB + 2];
    memset(big, 's', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    REJECTS(rs256(cu_arena_printf(arena, base, cu_arena_printf(arena, ",\"sub\":\"%s\"", big))));
    big[CU_JWT_MAX_SUB] = '\0';
    ACCEPTS(rs256(cu_arena_printf(arena, base, cu_arena_printf(arena, ",\"sub\":\"%s\"", big))));
#undef base
}

Test(auth_jwt, security_rejects_missing_tenant_without_vault_admin)
{
    REJECTS(rs256(with_claims("\"scope\":\"tenant:admin\",\"exp\":1700000600")));
    REJECTS(rs256(with_claims("\"exp\":1700000600")));
}

Test(auth_jwt, accepts_vault_admin_without_tenant)
{
    ACCEPTS(rs256(with_claims("\"scope\":\"vault:admin\",\"exp\":1700000600")));
    cr_assert_null(who.tenant);
}

Test(auth_jwt, security_rejects_malformed_tenant_ids)
{
    const char *bad[] = {"\"Acme\"", "\"a\"", "\"-acme\"",  "\"ac_me\"",
                         "\"\"",     "7",     "[\"acme\"]", "\"acme \""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REJECTS(rs256(with_claims(cu_arena_printf(
            arena, "\"tid\":%s,\"scope\":\"vault:admin\",\"exp\":1700000600", bad[i]))));
    }
}

Test(auth_jwt, honours_a_configured_tenant_claim_name)
{
    struct cu_auth_opts o = opts_for(jwks_path);
    o.tenant_claim = "org";
    cu_auth_free(auth);
    cr_assert_eq(cu_auth_new(&o, &auth), CU_OK, "%s", cu_err_reason());
    REJECTS(rs256(with_claims("\"tid\":\"acme\",\"exp\":1700000600")));
    ACCEPTS(rs256(with_claims("\"org\":\"acme\",\"exp\":1700000600")));
    cr_assert_str_eq(who.tenant, "acme");
}

/* ---- scopes and other claims ---- */

Test(auth_jwt, security_rejects_malformed_scope_claims)
{
    const char *bad[] = {
        "\"scope\":\"a  b\"",  "\"scope\":\" a\"",    "\"scope\":\"a \"",
        "\"scope\":[\"a\"]",   "\"scp\":\"a b\"",     "\"scp\":[\"a\",1]",
        "\"scp\":[\"\"]",      "\"scp\":[\"a b\"]",   "\"scope\":\"a\",\"scp\":[\"a\"]",
        "\"scope\":\"a\\tb\"", "\"roles\":\"agent\"", "\"roles\":[null]",
        "\"amr\":\"mfa\"",     "\"amr\":[1]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        REJECTS(rs256(
            with_claims(cu_arena_printf(arena, "\"tid\":\"acme\",\"exp\":1700000600,%s", bad[i]))));
    }
}

Test(auth_jwt, security_caps_scope_count_and_length)
{
    struct cu_buf b;
    cu_buf_init(&b);
    for (int i = 0; i < CU_JWT_MAX_SCOPES; i++) {
        cu_buf_printf(&b, "%ss%d", i > 0 ? " " : "", i);
    }
    ACCEPTS(rs256(with_claims(cu_arena_printf(
        arena, "\"tid\":\"acme\",\"exp\":1700000600,\"scope\":\"%s\"", cu_buf_cstr(&b)))));
    cr_assert_eq(who.nscopes, CU_JWT_MAX_SCOPES);
    cu_buf_append_str(&b, " one-too-many");
    REJECTS(rs256(with_claims(cu_arena_printf(
        arena, "\"tid\":\"acme\",\"exp\":1700000600,\"scope\":\"%s\"", cu_buf_cstr(&b)))));
    cu_buf_cleanup(&b);
    char word[CU_JWT_MAX_SCOPE_LEN + 2];
    memset(word, 'w', sizeof(word) - 1);
    word[sizeof(word) - 1] = '\0';
    REJECTS(rs256(with_claims(
        cu_arena_printf(arena, "\"tid\":\"acme\",\"exp\":1700000600,\"scp\":[\"%s\"]", word))));
}

/* ---- signature and framing ---- */

Test(auth_jwt, security_rejects_tampered_payload_and_signature)
{
    const char *good = rs256(GOOD);
    const char *dot1 = strchr(good, '.');
    const char *dot2 = strchr(dot1 + 1, '.');
    const char *h = cu_arena_strndup(arena, good, (size_t)(dot1 - good));
    const char *s = dot2 + 1;
    /* same signature over another payload */
    REJECTS(mint_join(h, mint_b64url_str(with_claims("\"tid\":\"other\",\"exp\":1700000600")), s));
    /* one flipped bit in the first signature byte: 'A' (0) <-> 'Q' (16) in the top bits */
    char *flipped = cu_arena_strdup(arena, good);
    char *sig = flipped + (s - good);
    sig[0] = sig[0] == 'A' ? 'Q' : 'A';
    REJECTS(flipped);
    /* truncated signature: 4 characters = 3 bytes fewer */
    char *cut = cu_arena_strdup(arena, good);
    cut[strlen(cut) - 4] = '\0';
    REJECTS(cut);
    /* a canonical but short signature: its first 4 characters dropped */
    REJECTS(cu_arena_printf(arena, "%.*s%s", (int)(s - good), good, s + 4));
    cr_assert(strstr(cu_err_reason(), "modulus size") != NULL, "%s", cu_err_reason());
    /* signature of another valid token */
    const char *other = rs256(with_claims("\"tid\":\"other\",\"exp\":1700000600"));
    REJECTS(mint_join(h, cu_arena_strndup(arena, dot1 + 1, (size_t)(dot2 - dot1 - 1)),
                      strrchr(other, '.') + 1));
    ACCEPTS(good);
}

Test(auth_jwt, security_rejects_duplicate_claims_and_duplicate_header_members)
{
    REJECTS(rs256(with_claims("\"tid\":\"acme\",\"tid\":\"evil\",\"exp\":1700000600")));
    REJECTS(rs256(with_claims("\"tid\":\"acme\",\"scope\":\"a\",\"scope\":\"vault:admin\","
                              "\"exp\":1700000600")));
    REJECTS(rs256(with_claims("\"tid\":\"acme\",\"x\":{\"a\":1,\"a\":2},\"exp\":1700000600")));
    REJECTS(mint_sign(rsa, "RS256", "{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"rsa1\"}", GOOD));
    REJECTS(mint_sign(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"x\",\"kid\":\"rsa1\"}", GOOD));
}

Test(auth_jwt, security_rejects_oversize_tokens_before_decoding)
{
    char *big = cu_arena_alloc(arena, CU_JWT_MAX_TOKEN + 2);
    memset(big, 'A', CU_JWT_MAX_TOKEN + 1);
    big[10] = '.';
    big[20] = '.';
    REJECTS(big);
    cr_assert(strstr(cu_err_reason(), "over 8192 bytes") != NULL, "%s", cu_err_reason());
    big[CU_JWT_MAX_TOKEN] = '\0';
    REJECTS(big);
    cr_assert(strstr(cu_err_reason(), "over 8192 bytes") == NULL, "%s", cu_err_reason());
    char *huge = cu_arena_alloc(arena, (1 << 20) + 1);
    memset(huge, 'A', 1 << 20);
    REJECTS(huge);
}

Test(auth_jwt, security_rejects_garbage_and_wrong_part_counts)
{
    const char *good = rs256(GOOD);
    REJECTS("");
    REJECTS("garbage");
    REJECTS("a.b");
    REJECTS("..");
    REJECTS("...");
    REJECTS(cu_arena_printf(arena, "%s.", good));
    REJECTS(cu_arena_printf(arena, "%s.AAAA", good));
    REJECTS(cu_arena_printf(arena, ".%s", good));
    REJECTS(mint_join("", mint_b64url_str(GOOD), "AAAA"));
    REJECTS(mint_join(mint_b64url_str(RS_HDR("RS256", "rsa1")), "", "AAAA"));
    REJECTS(mint_join(mint_b64url_str("[1]"), mint_b64url_str(GOOD), "AAAA"));
    REJECTS(mint_join(mint_b64url_str("{\"alg\":\"RS256\""), mint_b64url_str(GOOD), "AAAA"));
    REJECTS(rs256("[]"));
    REJECTS(rs256("\"x\""));
}

Test(auth_jwt, security_rejects_padding_standard_base64_and_whitespace)
{
    const char *good = rs256(GOOD);
    size_t len = strlen(good);
    REJECTS(cu_arena_printf(arena, "%s=", good));
    REJECTS(cu_arena_printf(arena, "%s==", good));
    REJECTS(cu_arena_printf(arena, "%s ", good));
    REJECTS(cu_arena_printf(arena, "%s\n", good));
    REJECTS(cu_arena_printf(arena, " %s", good));
    /* non-canonical last character: same bytes, another spelling */
    char *spelled = cu_arena_strdup(arena, good);
    const char *dot1 = strchr(good, '.');
    size_t h_len = (size_t)(dot1 - good);
    if (h_len % 4 != 0) {
        spelled[h_len - 1] = (char)(spelled[h_len - 1] + 1);
        REJECTS(spelled);
    }
    for (size_t i = 0; i < len; i++) {
        if (good[i] == '-' || good[i] == '_') {
            char *std = cu_arena_strdup(arena, good);
            std[i] = good[i] == '-' ? '+' : '/';
            REJECTS(std);
            break;
        }
    }
    ACCEPTS(good);
}

Test(auth_jwt, security_rejects_non_bearer_authorization)
{
    const char *good = rs256(GOOD);
    /* prefix, then the good token when with_token */
    const struct {
        const char *prefix;
        int with_token;
    } bad[] = {{"Basic dXNlcjpwYXNz", 0}, {"", 0},      {"Bearer", 0},   {"Bearer ", 0},
               {"Bearer  ", 1},           {"", 1},      {"Bearer\t", 1}, {"Token ", 1},
               {"Bearer: ", 1},           {"Bearer", 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *h =
            cu_arena_printf(arena, "%s%s", bad[i].prefix, bad[i].with_token ? good : "");
        cr_assert_eq(cu_auth_verify(auth, h, NOW, arena, &who), CU_ERR_UNAUTHORIZED, "%zu", i);
    }
    cr_assert_eq(cu_auth_verify(auth, NULL, NOW, arena, &who), CU_ERR_UNAUTHORIZED);
}

Test(auth_jwt, security_reasons_never_echo_token_contents)
{
    const char *planted = "PLANTEDzz";
    const char *toks[] = {
        rs256(with_claims("\"tid\":\"PLANTEDzz\",\"exp\":1700000600")),
        rs256("{\"iss\":\"PLANTEDzz\",\"aud\":\"" AUD "\",\"sub\":\"u\",\"tid\":\"acme\","
              "\"exp\":1700000600}"),
        rs256("{\"iss\":\"" ISS "\",\"aud\":\"PLANTEDzz\",\"sub\":\"u\",\"tid\":\"acme\","
              "\"exp\":1700000600}"),
        mint_sign(rsa, "RS256", RS_HDR("RS256", "PLANTEDzz"), GOOD),
        mint_sign(rsa, "RS256", "{\"alg\":\"PLANTEDzz\",\"kid\":\"rsa1\"}", GOOD),
        mint_join(mint_b64url_str("{\"alg\":\"PLANTEDzz"), "PLANTEDzz", "PLANTEDzz"),
        rs256(with_claims("\"tid\":\"acme\",\"exp\":\"PLANTEDzz\"")),
    };
    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
        REJECTS(toks[i]);
        cr_assert(strstr(cu_err_reason(), planted) == NULL, "leak in: %s", cu_err_reason());
    }
}

/* ---- cache ---- */

/* The cache counters must have moved by exactly these amounts since *base (then updated). */
static void
assert_cache_moved(uint64_t base[2], uint64_t hits, uint64_t misses, const char *what)
{
    uint64_t h = 0;
    uint64_t m = 0;
    cu_auth_stats(auth, &h, &m);
    cr_assert_eq(h - base[0], hits, "%s: %llu cache hits, expected %llu", what,
                 (unsigned long long)(h - base[0]), (unsigned long long)hits);
    cr_assert_eq(m - base[1], misses, "%s: %llu cache misses, expected %llu", what,
                 (unsigned long long)(m - base[1]), (unsigned long long)misses);
    base[0] = h;
    base[1] = m;
}

Test(auth_jwt, cache_hits_on_the_second_verification)
{
    const char *tok = rs256(GOOD);
    uint64_t hits = 0;
    uint64_t misses = 0;
    ACCEPTS(tok);
    cu_auth_stats(auth, &hits, &misses);
    cr_assert_eq(hits, 0);
    cr_assert_eq(misses, 1);
    ACCEPTS(tok);
    cu_auth_stats(auth, &hits, &misses);
    cr_assert_eq(hits, 1);
    cr_assert_eq(misses, 1);
    cr_assert_str_eq(who.tenant, "acme");
    cr_assert_eq(who.nscopes, 2);
    cr_assert_str_eq(who.scopes[1], "audit:read");
}

Test(auth_jwt, cache_does_not_serve_an_expired_token)
{
    const char *tok = rs256(GOOD);
    uint64_t base[2] = {0, 0};
    ACCEPTS(tok);
    ACCEPTS(tok);
    assert_cache_moved(base, 1, 1, "verified, then served from the cache");
    cr_assert_eq(verify_at(tok, 1700000600LL + 61), CU_ERR_UNAUTHORIZED);
    /* the expired entry is dropped on lookup: a miss, then the full check refuses it */
    assert_cache_moved(base, 0, 1, "expired");
    cr_assert_eq(verify_at(tok, 1700000600LL + 60), CU_OK, "%s", cu_err_reason());
    assert_cache_moved(base, 0, 1, "verified again after the drop");
}

Test(auth_jwt, cache_rechecks_nbf_on_a_hit)
{
    const char *tok = rs256(with_claims("\"tid\":\"acme\",\"exp\":1700000600,\"nbf\":1700000000"));
    uint64_t base[2] = {0, 0};
    ACCEPTS(tok);
    assert_cache_moved(base, 0, 1, "first verification");
    cr_assert_eq(verify_at(tok, NOW - 61), CU_ERR_UNAUTHORIZED);
    /* refused although the entry was found: the hit itself re-checked nbf */
    assert_cache_moved(base, 1, 0, "a hit before nbf");
}

Test(auth_jwt, cache_never_stores_a_rejected_token)
{
    const char *tok = rs256(with_claims("\"exp\":1700000600"));
    uint64_t base[2] = {0, 0};
    REJECTS(tok);
    REJECTS(tok);
    /* both consulted the cache and found nothing */
    assert_cache_moved(base, 0, 2, "a token without tenant, twice");
}

Test(auth_jwt, cache_disabled_with_zero_entries)
{
    struct cu_auth_opts o = opts_for(jwks_path);
    o.cache_entries = 0;
    cu_auth_free(auth);
    cr_assert_eq(cu_auth_new(&o, &auth), CU_OK, "%s", cu_err_reason());
    const char *tok = rs256(GOOD);
    ACCEPTS(tok);
    ACCEPTS(tok);
    uint64_t hits = 0;
    uint64_t misses = 0;
    cu_auth_stats(auth, &hits, &misses);
    cr_assert_eq(hits, 0);
    cr_assert_eq(misses, 2);
}

/* ---- reload ---- */

Test(auth_jwt, reload_with_a_bad_file_keeps_the_old_keys)
{
    const char *tok = rs256(GOOD);
    mint_rewrite(jwks_path, "{\"keys\":[{\"kty\":\"RSA\"");
    cr_assert_eq(cu_auth_reload(auth), CU_ERR_CONFIG);
    ACCEPTS(tok);
    mint_rewrite(jwks_path, "{\"keys\":[]}");
    cr_assert_eq(cu_auth_reload(auth), CU_ERR_CONFIG);
    ACCEPTS(mint_sign(ec256, "ES256", RS_HDR("ES256", "ec256"), GOOD));
}

Test(auth_jwt, reload_removing_a_kid_makes_its_tokens_fail_at_once)
{
    const char *tok = rs256(GOOD);
    uint64_t base[2] = {0, 0};
    ACCEPTS(tok);
    ACCEPTS(tok);
    assert_cache_moved(base, 1, 1, "cached before the reload");
    const char *keys[] = {mint_jwk_json(ec256, NULL)};
    mint_rewrite(jwks_path, mint_jwks_json(keys, 1));
    cr_assert_eq(cu_auth_reload(auth), CU_OK, "%s", cu_err_reason());
    REJECTS(tok);
    ACCEPTS(mint_sign(ec256, "ES256", RS_HDR("ES256", "ec256"), GOOD));
}

Test(auth_jwt, reload_empties_the_cache_so_the_next_verification_checks_the_signature)
{
    const char *tok = rs256(GOOD);
    uint64_t base[2] = {0, 0};
    ACCEPTS(tok);
    ACCEPTS(tok);
    assert_cache_moved(base, 1, 1, "cached");
    cr_assert_eq(cu_auth_reload(auth), CU_OK, "%s", cu_err_reason());
    ACCEPTS(tok);
    assert_cache_moved(base, 0, 1, "first verification after the reload");
    ACCEPTS(tok);
    assert_cache_moved(base, 1, 0, "cached again");
}

Test(auth_jwt, reload_adding_a_kid_makes_its_tokens_pass)
{
    struct mint_key *rsa2 = mint_key_rsa("rsa2", 2048);
    const char *tok = mint_sign(rsa2, "RS256", RS_HDR("RS256", "rsa2"), GOOD);
    REJECTS(tok);
    const char *keys[] = {mint_jwk_json(rsa, NULL), mint_jwk_json(rsa2, NULL)};
    mint_rewrite(jwks_path, mint_jwks_json(keys, 2));
    cr_assert_eq(cu_auth_reload(auth), CU_OK, "%s", cu_err_reason());
    ACCEPTS(tok);
    ACCEPTS(rs256(GOOD));
}

struct hammer {
    const char *header;
    int failures;
};

static void *
hammer_verify(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 300; i++) {
        struct cu_arena *a = cu_arena_new();
        struct cu_principal p;
        if (cu_auth_verify(auth, h->header, NOW, a, &p) != CU_OK) {
            h->failures++;
        }
        cu_arena_free(a);
    }
    return NULL;
}

Test(auth_jwt, reload_under_load_fails_no_valid_request)
{
    struct hammer h[2] = {
        {mint_bearer(rs256(GOOD)), 0},
        {mint_bearer(mint_sign(ec256, "ES256", RS_HDR("ES256", "ec256"), GOOD)), 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, hammer_verify, &h[i]), 0);
    }
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(cu_auth_reload(auth), CU_OK, "%s", cu_err_reason());
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    cr_assert_eq(h[0].failures, 0);
    cr_assert_eq(h[1].failures, 0);
}

/* ---- JWKS loading ---- */

static enum cu_err
load(const char *const *jwks, size_t n)
{
    struct cu_auth_opts o = opts_for(mint_write_file(mint_jwks_json(jwks, n)));
    cu_auth_free(auth);
    auth = NULL;
    return cu_auth_new(&o, &auth);
}

Test(auth_jwt, jwks_skips_oct_keys_and_never_verifies_with_them)
{
    const char *keys[] = {"{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0\"}",
                          mint_jwk_json(rsa, NULL)};
    cr_assert_eq(load(keys, 2), CU_OK, "%s", cu_err_reason());
    size_t loaded = 0;
    size_t skipped = 0;
    cu_auth_keys(auth, &loaded, &skipped);
    cr_assert_eq(loaded, 1);
    cr_assert_eq(skipped, 1);
    REJECTS(mint_hs256("secretsecretsecret", 18, "{\"alg\":\"HS256\",\"kid\":\"hmac\"}", GOOD));
    ACCEPTS(rs256(GOOD));
}

Test(auth_jwt, jwks_refuses_a_duplicate_kid)
{
    struct mint_key *other = mint_key_ec("rsa1", CU_CURVE_P256);
    const char *keys[] = {mint_jwk_json(rsa, NULL), mint_jwk_json(other, NULL)};
    cr_assert_eq(load(keys, 2), CU_ERR_CONFIG);
}

Test(auth_jwt, jwks_skips_encryption_keys_and_foreign_algs)
{
    struct mint_key *enc = mint_key_ec("enc", CU_CURVE_P256);
    struct mint_key *ps = mint_key_ec("ps", CU_CURVE_P384);
    const char *keys[] = {mint_jwk_json(rsa, "\"use\":\"sig\",\"alg\":\"RS256\""),
                          mint_jwk_json(enc, "\"use\":\"enc\""),
                          mint_jwk_json(ps, "\"alg\":\"ES256\""),
                          "{\"kty\":\"OKP\",\"kid\":\"ed\"}"};
    cr_assert_eq(load(keys, 4), CU_OK, "%s", cu_err_reason());
    size_t loaded = 0;
    size_t skipped = 0;
    cu_auth_keys(auth, &loaded, &skipped);
    cr_assert_eq(loaded, 1);
    cr_assert_eq(skipped, 3);
    REJECTS(mint_sign(enc, "ES256", RS_HDR("ES256", "enc"), GOOD));
    ACCEPTS(rs256(GOOD));
    /* the key says RS256: the same key under RS512 is refused */
    REJECTS(mint_sign(rsa, "RS512", RS_HDR("RS512", "rsa1"), GOOD));
}

Test(auth_jwt, jwks_rsa_keys_under_2048_bits_never_verify)
{
    struct mint_key *small = mint_key_rsa("small", 1024);
    const char *keys[] = {mint_jwk_json(small, NULL)};
    cr_assert_eq(load(keys, 1), CU_OK, "%s", cu_err_reason());
    REJECTS(mint_sign(small, "RS256", RS_HDR("RS256", "small"), GOOD));
}

Test(auth_jwt, jwks_refuses_invalid_key_parameters)
{
    /* x and y swapped: not a point on P-256 */
    char *swapped =
        cu_arena_printf(arena,
                        "{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-256\",\"x\":\"%s\","
                        "\"y\":\"%s\"}",
                        mint_b64url(ec256->kp.b, 32), mint_b64url(ec256->kp.a, 32));
    const char *k1[] = {swapped};
    cr_assert_eq(load(k1, 1), CU_ERR_CONFIG);
    const char *k2[] = {cu_arena_printf(arena,
                                        "{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-256\","
                                        "\"x\":\"%s\",\"y\":\"%s\"}",
                                        mint_b64url(ec256->kp.a, 31),
                                        mint_b64url(ec256->kp.b, 32))};
    cr_assert_eq(load(k2, 1), CU_ERR_CONFIG);
    const char *k3[] = {"{\"kty\":\"RSA\",\"kid\":\"bad\",\"n\":\"AQAB\",\"e\":\"AQAB\"}"};
    cr_assert_eq(load(k3, 1), CU_ERR_CONFIG);
    const char *k4[] = {"{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-192\",\"x\":\"AA\","
                        "\"y\":\"AA\"}"};
    cr_assert_eq(load(k4, 1), CU_ERR_CONFIG);
    const char *k5[] = {cu_arena_printf(arena,
                                        "{\"kty\":\"RSA\",\"kid\":\"bad\",\"n\":\"%s=\","
                                        "\"e\":\"AQAB\"}",
                                        mint_b64url(rsa->kp.a, rsa->kp.a_len))};
    cr_assert_eq(load(k5, 1), CU_ERR_CONFIG);
}

Test(auth_jwt, jwks_refuses_bad_files)
{
    struct cu_auth_opts o = opts_for("/nonexistent/jwks.json");
    cu_auth_free(auth);
    auth = NULL;
    cr_assert_eq(cu_auth_new(&o, &auth), CU_ERR_CONFIG);
    const char *bodies[] = {
        "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[1]}", "not json", "{\"keys\":[],\"keys\":[]}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        o = opts_for(mint_write_file(bodies[i]));
        cr_assert_eq(cu_auth_new(&o, &auth), CU_ERR_CONFIG, "%zu", i);
    }
}

/* ---- options and dev tokens ---- */

Test(auth_jwt, refuses_incomplete_options)
{
    struct cu_auth_opts o = opts_for(jwks_path);
    struct cu_auth *a = NULL;
    o.issuer = NULL;
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG);
    o = opts_for(jwks_path);
    o.audience = "";
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG);
    o = opts_for(NULL);
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG);
    o.dev = 1;
    o.hs256_secret = (const uint8_t *)"short";
    o.hs256_secret_len = 5;
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG);
    o = opts_for(jwks_path);
    o.leeway_seconds = 3600;
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG);
}

static void
free_token(void *p)
{
    cu_free_str_wiped(p);
}

Test(auth_jwt, dev_tokens_verify_in_dev_mode_only)
{
    struct cu_auth_opts o = opts_for(NULL);
    o.dev = 1;
    o.hs256_secret = (const uint8_t *)DEV_SECRET;
    o.hs256_secret_len = strlen(DEV_SECRET);
    cu_auth_free(auth);
    cr_assert_eq(cu_auth_new(&o, &auth), CU_OK, "%s", cu_err_reason());
    char *tok = NULL;
    cr_assert_eq(
        cu_auth_mint_dev(&o, "acme", "records:write audit:read", "dev-user", NOW, 3600, &tok),
        CU_OK, "%s", cu_err_reason());
    cu_arena_defer(arena, free_token, tok);
    ACCEPTS(tok);
    cr_assert_str_eq(who.sub, "dev-user");
    cr_assert_str_eq(who.tenant, "acme");
    cr_assert_eq(who.nscopes, 2);
    /* RS tokens need a JWKS, which this instance has none of */
    REJECTS(rs256(GOOD));

    char *admin = NULL;
    cr_assert_eq(cu_auth_mint_dev(&o, NULL, "vault:admin", "op", NOW, 60, &admin), CU_OK);
    cu_arena_defer(arena, free_token, admin);
    ACCEPTS(admin);
    cr_assert_null(who.tenant);

    struct cu_auth_opts prod = opts_for(jwks_path);
    prod.hs256_secret = o.hs256_secret;
    prod.hs256_secret_len = o.hs256_secret_len;
    char *none = NULL;
    cr_assert_eq(cu_auth_mint_dev(&prod, "acme", "x", "u", NOW, 60, &none), CU_ERR_CONFIG);
    cu_auth_free(auth);
    cr_assert_eq(cu_auth_new(&prod, &auth), CU_OK, "%s", cu_err_reason());
    REJECTS(tok);
}

Test(auth_jwt, jwk_pem_info_reports_key_type_size_and_curve)
{
    struct cu_jwk_info info;
    cr_assert_eq(cu_jwk_pem_info(rsa->kp.pub_pem, strlen(rsa->kp.pub_pem), &info), CU_OK);
    cr_assert_eq(info.kind, CU_JWK_RSA);
    cr_assert_eq(info.bits, 2048);
    cr_assert_eq(cu_jwk_pem_info(ec521->kp.pub_pem, strlen(ec521->kp.pub_pem), &info), CU_OK);
    cr_assert_eq(info.kind, CU_JWK_EC);
    cr_assert_eq(info.curve, CU_CURVE_P521);
    cr_assert_eq(cu_jwk_pem_info("not a pem", 9, &info), CU_ERR_INVALID);
}

/* ---- pre-parser and base64url ---- */

Test(auth_jwt, b64url_decoder_is_strict)
{
    /* the one base64url decoder (crypto/encode.h) that token parts and JWKS members go through */
    uint8_t out[16];
    size_t n = 0;
    cr_assert_eq(cu_base64url_decode_to("QUJD", 4, out, &n), CU_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(out, "ABC", 3), 0);
    cr_assert_eq(cu_base64url_decode_to("QUI", 3, out, &n), CU_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(cu_base64url_decode_to("QQ", 2, out, &n), CU_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(cu_base64url_decode_to("", 0, out, &n), CU_OK);
    cr_assert_eq(n, 0);
    const char *bad[] = {"QUI=", "QQ==", "Q", "QR", "QUJ", "QU+D", "QU/D", "QU D", "QU\nD"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(cu_base64url_decode_to(bad[i], strlen(bad[i]), out, &n), CU_ERR_INVALID, "%s",
                     bad[i]);
    }
}

Test(auth_jwt, preparse_splits_a_token_without_a_nul_terminator)
{
    const char *tok = rs256(GOOD);
    size_t len = strlen(tok);
    char *copy = cu_arena_alloc(arena, len);
    memcpy(copy, tok, len); /* no NUL: the pre-parser must respect len */
    struct cu_jwt_parts parts;
    cr_assert_eq(cu_jwt_preparse(copy, len, arena, &parts), CU_OK, "%s", cu_err_reason());
    cr_assert_eq(parts.alg, CU_JWT_RS256);
    cr_assert_str_eq(parts.kid, "rsa1");
    cr_assert_eq(parts.sig_len, 256);
    cr_assert(json_is_object(parts.payload));
    cr_assert_str_eq(cu_jwt_alg_name(parts.alg), "RS256");
}

/* ---- ECDSA malleability (issue 14) ---- */

/* A token of k whose signature is high-S (OpenSSL signs with a random nonce, so half of its
 * signatures are), and *low the same token with s replaced by n - s. */
static const char *
high_s_token(struct mint_key *k, const char *alg, const char *hdr, enum cu_jwk_curve curve,
             const char **low)
{
    for (int tries = 0; tries < 200; tries++) {
        const char *tok = mint_sign(k, alg, hdr, GOOD);
        const char *s = strrchr(tok, '.') + 1;
        uint8_t *sig = NULL;
        size_t len = 0;
        cr_assert_eq(cu_base64url_decode(s, strlen(s), &sig, &len), CU_OK);
        uint8_t canon[132];
        int replaced = cu_jwt_ecdsa_canonical(curve, sig, len, canon);
        cr_assert(replaced >= 0);
        if (replaced) {
            /* the low form is n - s: flipping it again gives back the original */
            uint8_t back[132];
            cr_assert_eq(cu_jwt_ecdsa_canonical(curve, canon, len, back), 0);
            size_t blen = 0;
            char *b = cu_base64url_encode(canon, len, &blen);
            *low = cu_arena_printf(arena, "%.*s%s", (int)(s - tok), tok, b);
            free(b);
            free(sig);
            return tok;
        }
        free(sig);
    }
    cr_assert_fail("no high-S signature in 200 tries");
    return NULL;
}

/* An ECDSA signature (r, s) also verifies as (r, n - s). Both spellings are valid JWS and are
 * accepted (OpenSSL, libjwt and most IdPs sign with either S), but they are one token: the
 * second spelling is a cache hit of the first, never a second entry. */
Test(auth_jwt, security_ecdsa_high_s_is_the_same_token)
{
    struct {
        struct mint_key **k;
        const char *alg, *hdr;
        enum cu_jwk_curve curve;
    } cases[] = {{&ec256, "ES256", RS_HDR("ES256", "ec256"), CU_CURVE_P256},
                 {&ec384, "ES384", RS_HDR("ES384", "ec384"), CU_CURVE_P384},
                 {&ec521, "ES512", RS_HDR("ES512", "ec521"), CU_CURVE_P521}};
    for (size_t c = 0; c < 3; c++) {
        const char *low = NULL;
        const char *high =
            high_s_token(*cases[c].k, cases[c].alg, cases[c].hdr, cases[c].curve, &low);
        cr_assert_str_neq(high, low);
        uint64_t h0 = 0, m0 = 0, h1 = 0, m1 = 0;
        cu_auth_stats(auth, &h0, &m0);
        ACCEPTS(low);
        ACCEPTS(high);
        cu_auth_stats(auth, &h1, &m1);
        cr_assert_eq(m1 - m0, 1, "%s: the flipped signature is a second token", cases[c].alg);
        cr_assert_eq(h1 - h0, 1, "%s: the flipped signature missed the cache", cases[c].alg);
    }
}

Test(auth_jwt, ecdsa_canonical_refuses_wrong_sizes)
{
    uint8_t sig[64] = {0}, out[64];
    cr_assert_eq(cu_jwt_ecdsa_canonical(CU_CURVE_P256, sig, 63, out), -1);
    cr_assert_eq(cu_jwt_ecdsa_canonical(CU_CURVE_NONE, sig, 64, out), -1);
    cr_assert_eq(cu_jwt_ecdsa_canonical(CU_CURVE_P256, sig, 64, out), 0);
}

/* ---- the JWKS by URL: options (the fetching itself: tests/integration/test_jwks_url.c) ---- */

Test(auth_jwt, jwks_sources_exclude_each_other_and_a_url_must_be_https)
{
    struct cu_auth *a = NULL;
    struct cu_auth_opts o = opts_for(jwks_path);
    o.jwks_url = "https://127.0.0.1:9/jwks.json";
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG, "a file and a URL accepted together");
    cr_assert_null(a);
    o.jwks_file = NULL;
    o.jwks_url = "http://127.0.0.1:9/jwks.json";
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG, "plain http accepted");
    o.jwks_url = NULL;
    o.oidc_discovery = 1;
    o.issuer = "http://idp.example/";
    cr_assert_eq(cu_auth_new(&o, &a), CU_ERR_CONFIG, "discovery from an http issuer accepted");
}
