/* Strict JOSE pre-parse of a bearer token and the JWS alg allow-list (see jose.h). Runs before
 * any key is chosen, so everything here treats the token as hostile bytes. */
#include "auth/jose.h"

#include <string.h>
#include <strings.h>

#include "auth/reject.h"
#include "crypto/encode.h"

/* The allow-list: a token's alg must be spelled exactly as here. */
static const struct cu_jwt_alg_def algs[] = {
    {CU_JWT_RS256, "RS256", CU_JWK_RSA, CU_CURVE_NONE},
    {CU_JWT_RS384, "RS384", CU_JWK_RSA, CU_CURVE_NONE},
    {CU_JWT_RS512, "RS512", CU_JWK_RSA, CU_CURVE_NONE},
    {CU_JWT_ES256, "ES256", CU_JWK_EC, CU_CURVE_P256},
    {CU_JWT_ES384, "ES384", CU_JWK_EC, CU_CURVE_P384},
    {CU_JWT_ES512, "ES512", CU_JWK_EC, CU_CURVE_P521},
    {CU_JWT_HS256, "HS256", CU_JWK_NONE, CU_CURVE_NONE},
};

/* Header members that would let the token choose its own key or rules (RFC 8725 3.10). */
static const char *const refused_headers[] = {"crit", "jwk", "jku", "x5u", "x5c"};

const struct cu_jwt_alg_def *
cu_jwt_alg_def(enum cu_jwt_alg alg)
{
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (algs[i].alg == alg) {
            return &algs[i];
        }
    }
    return NULL;
}

const struct cu_jwt_alg_def *
cu_jwt_alg_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcmp(algs[i].name, name) == 0) {
            return &algs[i];
        }
    }
    return NULL;
}

const char *
cu_jwt_alg_name(enum cu_jwt_alg alg)
{
    const struct cu_jwt_alg_def *d = cu_jwt_alg_def(alg);
    return d != NULL ? d->name : "none";
}

static enum cu_err
decode_part(struct cu_arena *arena, const char *src, size_t len, const char *what, uint8_t **out,
            size_t *out_len)
{
    uint8_t *buf = cu_arena_alloc(arena, len * 3 / 4 + 1);
    if (cu_base64url_decode_to(src, len, buf, out_len) != CU_OK) {
        CU_BAIL(cu_auth_reject(CU_AUTH_MALFORMED), "token %s is not strict base64url", what);
    }
    *out = buf;
    return CU_OK;
}

static void
defer_json_decref(void *p)
{
    json_decref(p);
}

/* Parses JSON text that must be one object without duplicate members; owned by arena. */
static enum cu_err
parse_object(struct cu_arena *arena, const uint8_t *text, size_t len, const char *what,
             json_t **out)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        /* position only: jansson's text can quote the input */
        CU_BAIL(cu_auth_reject(CU_AUTH_MALFORMED),
                "token %s is not json without duplicates (column %d)", what, jerr.column);
    }
    cu_arena_defer(arena, defer_json_decref, j);
    if (!json_is_object(j)) {
        CU_BAIL(cu_auth_reject(CU_AUTH_MALFORMED), "token %s is not a json object", what);
    }
    *out = j;
    return CU_OK;
}

int
cu_jwt_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static enum cu_err
check_header(json_t *header, struct cu_jwt_parts *out)
{
    json_t *alg = json_object_get(header, "alg");
    CU_AUTH_ENSURE(json_is_string(alg), CU_AUTH_MALFORMED, "header alg missing or not a string");
    const char *name = json_string_value(alg);
    CU_AUTH_ENSURE(strcasecmp(name, "none") != 0, CU_AUTH_ALG, "alg none refused");
    const struct cu_jwt_alg_def *d = cu_jwt_alg_by_name(name);
    CU_AUTH_ENSURE(d != NULL, CU_AUTH_ALG, "alg not in the allow-list");
    out->alg = d->alg;
    for (size_t i = 0; i < sizeof(refused_headers) / sizeof(refused_headers[0]); i++) {
        CU_AUTH_ENSURE(json_object_get(header, refused_headers[i]) == NULL, CU_AUTH_HEADER,
                       "header member %s refused", refused_headers[i]);
    }
    /* libjwt 1.10.2 refuses any typ but JWT inside jwt_decode; refusing here says why */
    json_t *typ = json_object_get(header, "typ");
    CU_AUTH_ENSURE(typ == NULL ||
                       (json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0),
                   CU_AUTH_HEADER, "header typ is not JWT");
    json_t *kid = json_object_get(header, "kid");
    if (kid != NULL) {
        CU_AUTH_ENSURE(json_is_string(kid), CU_AUTH_MALFORMED, "header kid is not a string");
        size_t len = json_string_length(kid);
        CU_AUTH_ENSURE(
            len > 0 && len <= CU_JWT_MAX_KID && cu_jwt_printable(json_string_value(kid), len),
            CU_AUTH_MALFORMED, "header kid empty, over %d bytes or not printable", CU_JWT_MAX_KID);
        out->kid = json_string_value(kid);
    }
    return CU_OK;
}

/* Split, decode all three parts, parse and check the header. Payload JSON is left for later
 * so a cache hit does not pay for it. */
enum cu_err
cu_jwt_preparse_header(const char *token, size_t len, struct cu_arena *arena,
                       struct cu_jwt_parts *out)
{
    memset(out, 0, sizeof(*out));
    CU_AUTH_ENSURE(len > 0 && len <= CU_JWT_MAX_TOKEN, CU_AUTH_MALFORMED,
                   "token empty or over %d bytes", CU_JWT_MAX_TOKEN);
    const char *d1 = memchr(token, '.', len);
    CU_AUTH_ENSURE(d1 != NULL, CU_AUTH_MALFORMED, "token is not three parts");
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    CU_AUTH_ENSURE(d2 != NULL, CU_AUTH_MALFORMED, "token is not three parts");
    const char *end = token + len;
    CU_AUTH_ENSURE(memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) == NULL, CU_AUTH_MALFORMED,
                   "token is not three parts");
    size_t h_len = (size_t)(d1 - token);
    size_t p_len = (size_t)(d2 - d1 - 1);
    size_t s_len = (size_t)(end - d2 - 1);
    CU_AUTH_ENSURE(h_len > 0 && p_len > 0, CU_AUTH_MALFORMED, "token header or payload empty");
    CU_AUTH_ENSURE(s_len > 0, CU_AUTH_MALFORMED, "token signature empty");
    out->token = token;
    out->token_len = len;
    out->signing_input_len = (size_t)(d2 - token);

    uint8_t *header_json = NULL;
    size_t header_json_len = 0;
    CU_GUARD(decode_part(arena, token, h_len, "header", &header_json, &header_json_len));
    CU_GUARD(
        decode_part(arena, d1 + 1, p_len, "payload", &out->payload_json, &out->payload_json_len));
    CU_GUARD(decode_part(arena, d2 + 1, s_len, "signature", &out->sig, &out->sig_len));
    CU_AUTH_ENSURE(out->sig_len > 0, CU_AUTH_MALFORMED, "token signature empty");
    CU_GUARD(parse_object(arena, header_json, header_json_len, "header", &out->header));
    return check_header(out->header, out);
}

enum cu_err
cu_jwt_preparse_payload(struct cu_arena *arena, struct cu_jwt_parts *parts)
{
    return parse_object(arena, parts->payload_json, parts->payload_json_len, "payload",
                        &parts->payload);
}

enum cu_err
cu_jwt_preparse(const char *token, size_t len, struct cu_arena *arena, struct cu_jwt_parts *out)
{
    CU_GUARD(cu_jwt_preparse_header(token, len, arena, out));
    return cu_jwt_preparse_payload(arena, out);
}
