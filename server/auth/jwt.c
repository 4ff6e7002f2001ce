/* Bearer JWT verification: the only file that includes libjwt. libjwt 1.10.2 checks the
 * signature and nothing else (no claims, alg taken from the token, NULL key = no check), so
 * everything around jwt_decode is ours: strict pre-parse, key chosen by kid and bound to alg,
 * claims, and a cache of verified tokens. Reasons never carry token, claim or key bytes. */
#include "auth/jwt.h"

#include <jwt.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/jwks.h"
#include "auth/scope.h"
#include "auth/tokencache.h"
#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/jwk.h"
#include "crypto/secret.h"

/* 9999-12-31T23:59:59Z: later times are garbage, and the bound keeps exp + leeway in range. */
#define MAX_TIME 253402300799LL
#define MAX_LEEWAY 300
#define MIN_HS256_SECRET 32
#define MAX_AMR 64


struct alg_def {
    enum cu_jwt_alg alg;
    const char *name;
    jwt_alg_t lib;
    enum cu_jwk_kind kind;
    enum cu_jwk_curve curve;
};

/* The allow-list: a token's alg must be spelled exactly as here. */
static const struct alg_def algs[] = {
    {CU_JWT_RS256, "RS256", JWT_ALG_RS256, CU_JWK_RSA, CU_CURVE_NONE},
    {CU_JWT_RS384, "RS384", JWT_ALG_RS384, CU_JWK_RSA, CU_CURVE_NONE},
    {CU_JWT_RS512, "RS512", JWT_ALG_RS512, CU_JWK_RSA, CU_CURVE_NONE},
    {CU_JWT_ES256, "ES256", JWT_ALG_ES256, CU_JWK_EC, CU_CURVE_P256},
    {CU_JWT_ES384, "ES384", JWT_ALG_ES384, CU_JWK_EC, CU_CURVE_P384},
    {CU_JWT_ES512, "ES512", JWT_ALG_ES512, CU_JWK_EC, CU_CURVE_P521},
    {CU_JWT_HS256, "HS256", JWT_ALG_HS256, CU_JWK_NONE, CU_CURVE_NONE},
};

/* Header members that would let the token choose its own key or rules (RFC 8725 3.10). */
static const char *const refused_headers[] = {"crit", "jwk", "jku", "x5u", "x5c"};

static const struct alg_def *
alg_def(enum cu_jwt_alg alg)
{
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (algs[i].alg == alg) {
            return &algs[i];
        }
    }
    return NULL;
}

const char *
cu_jwt_alg_name(enum cu_jwt_alg alg)
{
    const struct alg_def *d = alg_def(alg);
    return d != NULL ? d->name : "none";
}

struct cu_auth {
    char *jwks_file;
    char *issuer;
    char *audience;
    char *tenant_claim;
    uint8_t *secret; /* dev HS256 key, NULL unless dev; wiped on free */
    size_t secret_len;
    int leeway;
    pthread_mutex_t keys_lock; /* guards keys; readers take a reference and let go at once */
    struct cu_jwks *keys;      /* NULL when no JWKS file is configured */
    struct cu_tokencache *cache;
};

/* ---- strict pre-parse ---- */

static enum cu_err
decode_part(struct cu_arena *arena, const char *src, size_t len, const char *what, uint8_t **out,
            size_t *out_len)
{
    uint8_t *buf = cu_arena_alloc(arena, len * 3 / 4 + 1);
    if (cu_base64url_decode_to(src, len, buf, out_len) != CU_OK) {
        CU_BAIL(CU_ERR_UNAUTHORIZED, "token %s is not strict base64url", what);
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
        CU_BAIL(CU_ERR_UNAUTHORIZED, "token %s is not json without duplicates (column %d)", what,
                jerr.column);
    }
    cu_arena_defer(arena, defer_json_decref, j);
    if (!json_is_object(j)) {
        CU_BAIL(CU_ERR_UNAUTHORIZED, "token %s is not a json object", what);
    }
    *out = j;
    return CU_OK;
}

static int
printable(const char *s, size_t len)
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
    CU_ENSURE(json_is_string(alg), CU_ERR_UNAUTHORIZED, "header alg missing or not a string");
    const char *name = json_string_value(alg);
    CU_ENSURE(strcasecmp(name, "none") != 0, CU_ERR_UNAUTHORIZED, "alg none refused");
    out->alg = CU_JWT_ALG_NONE;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        if (strcmp(algs[i].name, name) == 0) {
            out->alg = algs[i].alg;
        }
    }
    CU_ENSURE(out->alg != CU_JWT_ALG_NONE, CU_ERR_UNAUTHORIZED, "alg not in the allow-list");
    for (size_t i = 0; i < sizeof(refused_headers) / sizeof(refused_headers[0]); i++) {
        CU_ENSURE(json_object_get(header, refused_headers[i]) == NULL, CU_ERR_UNAUTHORIZED,
                  "header member %s refused", refused_headers[i]);
    }
    /* libjwt 1.10.2 refuses any typ but JWT inside jwt_decode; refusing here says why */
    json_t *typ = json_object_get(header, "typ");
    CU_ENSURE(typ == NULL ||
                  (json_is_string(typ) && strcasecmp(json_string_value(typ), "JWT") == 0),
              CU_ERR_UNAUTHORIZED, "header typ is not JWT");
    json_t *kid = json_object_get(header, "kid");
    if (kid != NULL) {
        CU_ENSURE(json_is_string(kid), CU_ERR_UNAUTHORIZED, "header kid is not a string");
        size_t len = json_string_length(kid);
        CU_ENSURE(len > 0 && len <= CU_JWT_MAX_KID && printable(json_string_value(kid), len),
                  CU_ERR_UNAUTHORIZED, "header kid empty, over %d bytes or not printable",
                  CU_JWT_MAX_KID);
        out->kid = json_string_value(kid);
    }
    return CU_OK;
}

/* Split, decode all three parts, parse and check the header. Payload JSON is left for later
 * so a cache hit does not pay for it. */
static enum cu_err
preparse_header(const char *token, size_t len, struct cu_arena *arena, struct cu_jwt_parts *out)
{
    memset(out, 0, sizeof(*out));
    CU_ENSURE(len > 0 && len <= CU_JWT_MAX_TOKEN, CU_ERR_UNAUTHORIZED,
              "token empty or over %d bytes", CU_JWT_MAX_TOKEN);
    const char *d1 = memchr(token, '.', len);
    CU_ENSURE(d1 != NULL, CU_ERR_UNAUTHORIZED, "token is not three parts");
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    CU_ENSURE(d2 != NULL, CU_ERR_UNAUTHORIZED, "token is not three parts");
    const char *end = token + len;
    CU_ENSURE(memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) == NULL, CU_ERR_UNAUTHORIZED,
              "token is not three parts");
    size_t h_len = (size_t)(d1 - token);
    size_t p_len = (size_t)(d2 - d1 - 1);
    size_t s_len = (size_t)(end - d2 - 1);
    CU_ENSURE(h_len > 0 && p_len > 0, CU_ERR_UNAUTHORIZED, "token header or payload empty");
    CU_ENSURE(s_len > 0, CU_ERR_UNAUTHORIZED, "token signature empty");
    out->token = token;
    out->token_len = len;
    out->signing_input_len = (size_t)(d2 - token);

    uint8_t *header_json = NULL;
    size_t header_json_len = 0;
    CU_GUARD(decode_part(arena, token, h_len, "header", &header_json, &header_json_len));
    CU_GUARD(
        decode_part(arena, d1 + 1, p_len, "payload", &out->payload_json, &out->payload_json_len));
    CU_GUARD(decode_part(arena, d2 + 1, s_len, "signature", &out->sig, &out->sig_len));
    CU_ENSURE(out->sig_len > 0, CU_ERR_UNAUTHORIZED, "token signature empty");
    CU_GUARD(parse_object(arena, header_json, header_json_len, "header", &out->header));
    return check_header(out->header, out);
}

static enum cu_err
preparse_payload(struct cu_arena *arena, struct cu_jwt_parts *parts)
{
    return parse_object(arena, parts->payload_json, parts->payload_json_len, "payload",
                        &parts->payload);
}

enum cu_err
cu_jwt_preparse(const char *token, size_t len, struct cu_arena *arena, struct cu_jwt_parts *out)
{
    CU_GUARD(preparse_header(token, len, arena, out));
    return preparse_payload(arena, out);
}

/* ---- claims ---- */

static enum cu_err
time_claim(json_t *payload, const char *name, int required, long long *out)
{
    json_t *v = json_object_get(payload, name);
    *out = LLONG_MIN;
    if (v == NULL) {
        CU_ENSURE(!required, CU_ERR_UNAUTHORIZED, "claim %s missing", name);
        return CU_OK;
    }
    CU_ENSURE(json_is_integer(v), CU_ERR_UNAUTHORIZED, "claim %s is not an integer", name);
    json_int_t t = json_integer_value(v);
    CU_ENSURE(t >= 0 && t <= MAX_TIME, CU_ERR_UNAUTHORIZED, "claim %s out of range", name);
    *out = t;
    return CU_OK;
}

static enum cu_err
check_times(const struct cu_tokencache_times *t, long long now, int leeway)
{
    /* each side is bounded by MAX_TIME and MAX_LEEWAY, so no sum overflows */
    CU_ENSURE(now <= t->exp + leeway, CU_ERR_UNAUTHORIZED, "token expired");
    CU_ENSURE(t->nbf == LLONG_MIN || t->nbf - leeway <= now, CU_ERR_UNAUTHORIZED,
              "token not valid yet (nbf)");
    CU_ENSURE(t->iat == LLONG_MIN || t->iat - leeway <= now, CU_ERR_UNAUTHORIZED,
              "token issued in the future (iat)");
    return CU_OK;
}

static int
tenant_ok(const char *s, size_t len)
{
    if (len < 2 || len > 63) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && c == '-');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

static int
scope_word_ok(const char *s, size_t len)
{
    return len > 0 && len <= CU_JWT_MAX_SCOPE_LEN && printable(s, len);
}

/* A JSON array of well-formed words (scp, roles) -> arena strings. */
static enum cu_err
word_array(struct cu_arena *arena, json_t *arr, const char *name, const char ***out, size_t *n)
{
    CU_ENSURE(json_is_array(arr), CU_ERR_UNAUTHORIZED, "claim %s is not an array", name);
    size_t count = json_array_size(arr);
    CU_ENSURE(count <= CU_JWT_MAX_SCOPES, CU_ERR_UNAUTHORIZED, "claim %s has over %d entries", name,
              CU_JWT_MAX_SCOPES);
    const char **words = cu_arena_alloc(arena, (count + 1) * sizeof(*words));
    for (size_t i = 0; i < count; i++) {
        json_t *w = json_array_get(arr, i);
        CU_ENSURE(json_is_string(w) && scope_word_ok(json_string_value(w), json_string_length(w)),
                  CU_ERR_UNAUTHORIZED, "claim %s entry %zu is not a printable word", name, i);
        words[i] = cu_arena_strdup(arena, json_string_value(w));
    }
    *out = words;
    *n = count;
    return CU_OK;
}

/* `scope` (RFC 8693: space-separated) -> arena strings; empty words are malformed. */
static enum cu_err
scope_string(struct cu_arena *arena, json_t *v, const char ***out, size_t *n)
{
    CU_ENSURE(json_is_string(v), CU_ERR_UNAUTHORIZED, "claim scope is not a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    size_t count = 0;
    const char **words = cu_arena_alloc(arena, (CU_JWT_MAX_SCOPES + 1) * sizeof(*words));
    for (size_t i = 0; i < len;) {
        const char *sp = memchr(s + i, ' ', len - i);
        size_t wlen = sp != NULL ? (size_t)(sp - (s + i)) : len - i;
        CU_ENSURE(scope_word_ok(s + i, wlen), CU_ERR_UNAUTHORIZED,
                  "claim scope word %zu is empty, too long or not printable", count);
        CU_ENSURE(count < CU_JWT_MAX_SCOPES, CU_ERR_UNAUTHORIZED, "claim scope has over %d words",
                  CU_JWT_MAX_SCOPES);
        words[count++] = cu_arena_strndup(arena, s + i, wlen);
        i += wlen + 1;
        CU_ENSURE(sp == NULL || i < len, CU_ERR_UNAUTHORIZED, "claim scope ends with a space");
    }
    *out = words;
    *n = count;
    return CU_OK;
}

static enum cu_err
check_aud(json_t *aud, const char *want)
{
    CU_ENSURE(aud != NULL, CU_ERR_UNAUTHORIZED, "claim aud missing");
    if (json_is_string(aud)) {
        CU_ENSURE(strcmp(json_string_value(aud), want) == 0, CU_ERR_UNAUTHORIZED,
                  "claim aud is not this audience");
        return CU_OK;
    }
    CU_ENSURE(json_is_array(aud), CU_ERR_UNAUTHORIZED, "claim aud is neither string nor array");
    int found = 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        CU_ENSURE(json_is_string(v), CU_ERR_UNAUTHORIZED, "claim aud entry %zu is not a string", i);
        found |= strcmp(json_string_value(v), want) == 0;
    }
    CU_ENSURE(found, CU_ERR_UNAUTHORIZED, "claim aud does not contain this audience");
    return CU_OK;
}

static enum cu_err
check_amr(json_t *amr, int *mfa)
{
    *mfa = 0;
    if (amr == NULL) {
        return CU_OK;
    }
    CU_ENSURE(json_is_array(amr) && json_array_size(amr) <= MAX_AMR, CU_ERR_UNAUTHORIZED,
              "claim amr is not an array of at most %d entries", MAX_AMR);
    size_t i;
    json_t *v;
    json_array_foreach(amr, i, v)
    {
        CU_ENSURE(json_is_string(v), CU_ERR_UNAUTHORIZED, "claim amr entry %zu is not a string", i);
        *mfa |= strcmp(json_string_value(v), "mfa") == 0;
    }
    return CU_OK;
}

/* Validates every claim of a signature-checked payload and fills the principal (arena). */
static enum cu_err
check_claims(const struct cu_auth *a, json_t *payload, long long now, struct cu_arena *arena,
             struct cu_principal *out, struct cu_tokencache_times *t)
{
    CU_GUARD(time_claim(payload, "exp", 1, &t->exp));
    CU_GUARD(time_claim(payload, "nbf", 0, &t->nbf));
    CU_GUARD(time_claim(payload, "iat", 0, &t->iat));
    CU_GUARD(check_times(t, now, a->leeway));

    json_t *iss = json_object_get(payload, "iss");
    CU_ENSURE(json_is_string(iss) && strcmp(json_string_value(iss), a->issuer) == 0,
              CU_ERR_UNAUTHORIZED, "claim iss missing or not the configured issuer");
    CU_GUARD(check_aud(json_object_get(payload, "aud"), a->audience));

    json_t *sub = json_object_get(payload, "sub");
    size_t sub_len = json_string_length(sub);
    CU_ENSURE(json_is_string(sub) && sub_len > 0 && sub_len <= CU_JWT_MAX_SUB, CU_ERR_UNAUTHORIZED,
              "claim sub missing, empty or over %d bytes", CU_JWT_MAX_SUB);
    for (const unsigned char *c = (const unsigned char *)json_string_value(sub); *c != '\0'; c++) {
        /* control characters in an identity end up in logs and audit rows */
        CU_ENSURE(*c >= 0x20 && *c != 0x7f, CU_ERR_UNAUTHORIZED, "claim sub has control bytes");
    }

    json_t *scope = json_object_get(payload, "scope");
    json_t *scp = json_object_get(payload, "scp");
    CU_ENSURE(scope == NULL || scp == NULL, CU_ERR_UNAUTHORIZED, "claims scope and scp both set");
    if (scope != NULL) {
        CU_GUARD(scope_string(arena, scope, &out->scopes, &out->nscopes));
    } else if (scp != NULL) {
        CU_GUARD(word_array(arena, scp, "scp", &out->scopes, &out->nscopes));
    }
    json_t *roles = json_object_get(payload, "roles");
    if (roles != NULL) {
        CU_GUARD(word_array(arena, roles, "roles", &out->roles, &out->nroles));
    }
    CU_GUARD(check_amr(json_object_get(payload, "amr"), &out->mfa));

    json_t *tenant = json_object_get(payload, a->tenant_claim);
    if (tenant != NULL) {
        CU_ENSURE(json_is_string(tenant) &&
                      tenant_ok(json_string_value(tenant), json_string_length(tenant)),
                  CU_ERR_UNAUTHORIZED, "tenant claim is not a tenant id");
        out->tenant = cu_arena_strdup(arena, json_string_value(tenant));
    } else {
        CU_ENSURE(cu_scope_has(out->scopes, out->nscopes, "vault:admin"), CU_ERR_UNAUTHORIZED,
                  "tenant claim missing without vault:admin");
    }
    out->sub = cu_arena_strdup(arena, json_string_value(sub));
    out->exp = t->exp;
    return CU_OK;
}

/* ---- lifecycle ---- */

enum cu_err
cu_auth_new(const struct cu_auth_opts *opts, struct cu_auth **out)
{
    enum cu_err rc = CU_OK;
    CU_ENSURE(opts != NULL && opts->issuer != NULL && opts->issuer[0] != '\0' &&
                  opts->audience != NULL && opts->audience[0] != '\0',
              CU_ERR_CONFIG, "auth needs an issuer and an audience");
    CU_ENSURE(opts->leeway_seconds >= 0 && opts->leeway_seconds <= MAX_LEEWAY, CU_ERR_CONFIG,
              "auth leeway must be 0..%d seconds", MAX_LEEWAY);
    int use_secret = opts->dev && opts->hs256_secret != NULL && opts->hs256_secret_len > 0;
    CU_ENSURE(!use_secret || opts->hs256_secret_len >= MIN_HS256_SECRET, CU_ERR_CONFIG,
              "dev hs256 secret must be at least %d bytes", MIN_HS256_SECRET);
    CU_ENSURE(opts->jwks_file != NULL || use_secret, CU_ERR_CONFIG,
              "auth needs a jwks file (or a dev hs256 secret in dev mode)");
    CU_ENSURE(opts->tenant_claim == NULL || opts->tenant_claim[0] != '\0', CU_ERR_CONFIG,
              "auth tenant claim name is empty");

    struct cu_auth *a = cu_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->keys_lock, NULL);
    a->issuer = cu_xstrdup(opts->issuer);
    a->audience = cu_xstrdup(opts->audience);
    a->tenant_claim = cu_xstrdup(opts->tenant_claim != NULL ? opts->tenant_claim : "tid");
    a->leeway = opts->leeway_seconds;
    a->cache = cu_tokencache_new(opts->cache_entries);
    if (use_secret) {
        a->secret = cu_xmalloc(opts->hs256_secret_len);
        memcpy(a->secret, opts->hs256_secret, opts->hs256_secret_len);
        a->secret_len = opts->hs256_secret_len;
    }
    if (opts->jwks_file != NULL) {
        a->jwks_file = cu_xstrdup(opts->jwks_file);
        CU_TRY(cu_jwks_load(a->jwks_file, &a->keys));
    }
    *out = a;
    a = NULL;
out:
    cu_auth_free(a);
    return rc;
}

void
cu_auth_free(struct cu_auth *a)
{
    if (a == NULL) {
        return;
    }
    cu_jwks_unref(a->keys);
    cu_tokencache_free(a->cache);
    pthread_mutex_destroy(&a->keys_lock);
    cu_wipe(a->secret, a->secret_len);
    free(a->secret);
    free(a->jwks_file);
    free(a->issuer);
    free(a->audience);
    free(a->tenant_claim);
    free(a);
}

enum cu_err
cu_auth_reload(struct cu_auth *a)
{
    struct cu_jwks *fresh = NULL;
    if (a->jwks_file != NULL) {
        CU_GUARD(cu_jwks_load(a->jwks_file, &fresh));
    }
    pthread_mutex_lock(&a->keys_lock);
    struct cu_jwks *old = a->keys;
    if (fresh != NULL) {
        a->keys = fresh;
    }
    /* under the same lock as the swap: a verification that took the old keys holds the old
     * generation, so its cu_tokencache_put is dropped */
    cu_tokencache_clear(a->cache);
    pthread_mutex_unlock(&a->keys_lock);
    if (fresh != NULL) {
        cu_jwks_unref(old);
    }
    return CU_OK;
}

void
cu_auth_stats(struct cu_auth *a, uint64_t *hits, uint64_t *misses)
{
    size_t entries = 0;
    cu_tokencache_stats(a->cache, hits, misses, &entries);
}

void
cu_auth_keys(struct cu_auth *a, size_t *loaded, size_t *skipped)
{
    pthread_mutex_lock(&a->keys_lock);
    *loaded = cu_jwks_count(a->keys);
    *skipped = cu_jwks_skipped(a->keys);
    pthread_mutex_unlock(&a->keys_lock);
}

/* ---- verification ---- */

/* Picks the one key this token may be checked with: the dev secret for HS256, else the JWKS
 * key named by kid whose type, size or curve, and optional JWK alg fit the header alg. */
static enum cu_err
select_key(const struct cu_auth *a, const struct cu_jwks *keys, const struct cu_jwt_parts *parts,
           const uint8_t **key, size_t *key_len)
{
    const struct alg_def *d = alg_def(parts->alg);
    if (parts->alg == CU_JWT_HS256) {
        CU_ENSURE(a->secret != NULL, CU_ERR_UNAUTHORIZED, "alg hs256 refused outside dev mode");
        *key = a->secret;
        *key_len = a->secret_len;
        return CU_OK;
    }
    CU_ENSURE(keys != NULL, CU_ERR_UNAUTHORIZED, "no jwks loaded for an asymmetric alg");
    CU_ENSURE(parts->kid != NULL, CU_ERR_UNAUTHORIZED, "header kid missing");
    const struct cu_jwks_key *k = cu_jwks_find(keys, parts->kid);
    CU_ENSURE(k != NULL, CU_ERR_UNAUTHORIZED, "header kid names no loaded key");
    CU_ENSURE(k->info.kind == d->kind, CU_ERR_UNAUTHORIZED, "alg %s does not fit the key type",
              d->name);
    if (d->kind == CU_JWK_RSA) {
        CU_ENSURE(k->info.bits >= 2048, CU_ERR_UNAUTHORIZED, "rsa key under 2048 bits");
        CU_ENSURE(parts->sig_len == ((size_t)k->info.bits + 7) / 8, CU_ERR_UNAUTHORIZED,
                  "rsa signature is not the modulus size");
    } else {
        CU_ENSURE(k->info.curve == d->curve, CU_ERR_UNAUTHORIZED,
                  "alg %s does not fit the key's curve", d->name);
        /* JWS wants raw R||S; a DER signature has another length */
        CU_ENSURE(parts->sig_len == 2 * cu_jwk_curve_size(d->curve), CU_ERR_UNAUTHORIZED,
                  "ecdsa signature is not raw r||s of the curve size");
    }
    CU_ENSURE(k->jwk_alg == NULL || strcmp(k->jwk_alg, d->name) == 0, CU_ERR_UNAUTHORIZED,
              "alg %s differs from the key's alg", d->name);
    *key = (const uint8_t *)k->pem;
    *key_len = k->pem_len;
    return CU_OK;
}

enum cu_err
cu_auth_verify(struct cu_auth *a, const char *authorization, long long now, struct cu_arena *arena,
               struct cu_principal *out)
{
    enum cu_err rc = CU_OK;
    struct cu_jwks *keys = NULL;
    jwt_t *jwt = NULL;
    memset(out, 0, sizeof(*out));

    CU_ENSURE(authorization != NULL, CU_ERR_UNAUTHORIZED, "no authorization header");
    CU_ENSURE(strncasecmp(authorization, "Bearer ", 7) == 0, CU_ERR_UNAUTHORIZED,
              "authorization is not a bearer token");
    const char *token = authorization + 7;
    /* cap before any decoding: libjwt allocas strlen(token) */
    size_t len = strnlen(token, CU_JWT_MAX_TOKEN + 1);
    CU_ENSURE(len <= CU_JWT_MAX_TOKEN, CU_ERR_UNAUTHORIZED, "token over %d bytes",
              CU_JWT_MAX_TOKEN);
    struct cu_jwt_parts parts;
    CU_GUARD(preparse_header(token, len, arena, &parts));

    pthread_mutex_lock(&a->keys_lock);
    keys = cu_jwks_ref(a->keys);
    uint64_t generation = cu_tokencache_generation(a->cache);
    pthread_mutex_unlock(&a->keys_lock);

    const uint8_t *key = NULL;
    size_t key_len = 0;
    CU_TRY(select_key(a, keys, &parts, &key, &key_len));

    uint8_t digest[CU_SHA256_LEN];
    struct cu_tokencache_times times;
    CU_TRY(cu_sha256((const uint8_t *)token, len, digest));
    if (cu_tokencache_get(a->cache, digest, now, a->leeway, arena, out, &times)) {
        CU_TRY(check_times(&times, now, a->leeway));
        goto out;
    }

    /* never a NULL or empty key: libjwt would then skip verification altogether */
    CU_CHECK(key != NULL && key_len > 0 && key_len <= INT_MAX, CU_ERR_UNAUTHORIZED,
             "no key to verify with");
    if (parts.alg == CU_JWT_HS256) {
        /* libjwt 1.10 compares HMACs with strcmp: check in constant time first, so that its
         * comparison only ever sees signatures that are right */
        uint8_t mac[CU_SHA256_LEN];
        CU_TRY(cu_hmac_sha256(key, key_len, (const uint8_t *)token, parts.signing_input_len,
                              mac));
        int same = parts.sig_len == sizeof(mac) && cu_ct_equal(mac, parts.sig, sizeof(mac));
        cu_wipe(mac, sizeof(mac));
        CU_CHECK(same, CU_ERR_UNAUTHORIZED, "hs256 signature does not match");
    }
    int jrc = jwt_decode(&jwt, token, key, (int)key_len);
    CU_CHECK(jrc == 0 && jwt != NULL, CU_ERR_UNAUTHORIZED, "signature rejected by libjwt (%d)",
             jrc);
    CU_CHECK(jwt_get_alg(jwt) == alg_def(parts.alg)->lib, CU_ERR_UNAUTHORIZED,
             "libjwt verified another alg than the header's");
    CU_TRY(preparse_payload(arena, &parts));
    CU_TRY(check_claims(a, parts.payload, now, arena, out, &times));
    cu_tokencache_put(a->cache, generation, digest, out, &times);
out:
    jwt_free(jwt);
    cu_jwks_unref(keys);
    if (rc != CU_OK) {
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

/* ---- dev tokens ---- */

enum cu_err
cu_auth_mint_dev(const struct cu_auth_opts *opts, const char *tenant, const char *scope,
                 const char *sub, long long now, long long ttl, char **out)
{
    enum cu_err rc = CU_OK;
    jwt_t *jwt = NULL;
    CU_ENSURE(opts != NULL && opts->dev && opts->hs256_secret != NULL &&
                  opts->hs256_secret_len >= MIN_HS256_SECRET && opts->hs256_secret_len <= INT_MAX,
              CU_ERR_CONFIG, "dev tokens need dev mode and a hs256 secret of at least %d bytes",
              MIN_HS256_SECRET);
    CU_ENSURE(opts->issuer != NULL && opts->audience != NULL, CU_ERR_CONFIG,
              "dev tokens need an issuer and an audience");
    CU_ENSURE(sub != NULL && sub[0] != '\0' && ttl > 0 && ttl <= MAX_TIME && now >= 0 &&
                  now <= MAX_TIME - ttl,
              CU_ERR_INVALID, "dev token needs a sub and a positive ttl");
    const char *tenant_claim = opts->tenant_claim != NULL ? opts->tenant_claim : "tid";

    CU_CHECK(jwt_new(&jwt) == 0, CU_ERR_INTERNAL, "could not create a jwt");
    CU_CHECK(jwt_add_grant(jwt, "iss", opts->issuer) == 0 &&
                 jwt_add_grant(jwt, "aud", opts->audience) == 0 &&
                 jwt_add_grant(jwt, "sub", sub) == 0 &&
                 jwt_add_grant_int(jwt, "iat", (long)now) == 0 &&
                 jwt_add_grant_int(jwt, "exp", (long)(now + ttl)) == 0,
             CU_ERR_INTERNAL, "could not add dev token claims");
    CU_CHECK(tenant == NULL || jwt_add_grant(jwt, tenant_claim, tenant) == 0, CU_ERR_INTERNAL,
             "could not add the tenant claim");
    CU_CHECK(scope == NULL || jwt_add_grant(jwt, "scope", scope) == 0, CU_ERR_INTERNAL,
             "could not add the scope claim");
    CU_CHECK(jwt_set_alg(jwt, JWT_ALG_HS256, opts->hs256_secret, (int)opts->hs256_secret_len) == 0,
             CU_ERR_INTERNAL, "could not set hs256");
    char *token = jwt_encode_str(jwt);
    CU_CHECK(token != NULL, CU_ERR_INTERNAL, "could not encode a dev token");
    *out = token;
out:
    jwt_free(jwt);
    return rc;
}
