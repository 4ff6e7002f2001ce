/* Bearer JWT verification: the only file that includes libjwt. libjwt 1.10.2 checks the
 * signature and nothing else (no claims, alg taken from the token, NULL key = no check), so
 * everything around jwt_decode is ours: strict pre-parse (jose.c), key chosen by kid and bound
 * to alg (here), claims (claims.c), and a cache of verified tokens (tokencache.c). Reasons never
 * carry token, claim or key bytes. */
#include "auth/jwt.h"

#include <jwt.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/claims.h"
#include "auth/idp.h"
#include "auth/jose.h"
#include "auth/jwks.h"
#include "auth/reject.h"
#include "auth/tokencache.h"
#include "crypto/hmac.h"
#include "crypto/jwk.h"
#include "crypto/secret.h"

#define MIN_HS256_SECRET 32

/* libjwt's name for each allow-listed alg (jose.c holds the list itself). */
static jwt_alg_t
lib_alg(enum cu_jwt_alg alg)
{
    switch (alg) {
    case CU_JWT_RS256:
        return JWT_ALG_RS256;
    case CU_JWT_RS384:
        return JWT_ALG_RS384;
    case CU_JWT_RS512:
        return JWT_ALG_RS512;
    case CU_JWT_ES256:
        return JWT_ALG_ES256;
    case CU_JWT_ES384:
        return JWT_ALG_ES384;
    case CU_JWT_ES512:
        return JWT_ALG_ES512;
    case CU_JWT_HS256:
        return JWT_ALG_HS256;
    default:
        return JWT_ALG_INVAL;
    }
}

struct cu_auth {
    char *jwks_file;
    char *issuer;
    char *audience;
    char *tenant_claim;
    struct cu_claims_rules rules; /* borrows the three strings above */
    uint8_t *secret;              /* dev HS256 key, NULL unless dev; wiped on free */
    size_t secret_len;
    int leeway;
    pthread_mutex_t keys_lock; /* guards keys; readers take a reference and let go at once */
    struct cu_jwks *keys;      /* NULL when no JWKS is configured, or none fetched yet */
    struct cu_tokencache *cache;
    struct cu_idp *idp; /* the keys by URL (CUSTOS_JWKS_URL / discovery), else NULL */
};

/* Swaps in a new key set (the file on SIGHUP, or a fetch by the idp thread) and empties the
 * token cache under the same lock: a verification that took the old keys holds the old
 * generation, so its cu_tokencache_put is dropped, and a removed key stops working at once. */
static void
install_keys(void *ctx, struct cu_jwks *fresh)
{
    struct cu_auth *a = ctx;
    pthread_mutex_lock(&a->keys_lock);
    struct cu_jwks *old = a->keys;
    a->keys = fresh;
    cu_tokencache_clear(a->cache);
    pthread_mutex_unlock(&a->keys_lock);
    cu_jwks_unref(old);
}

/* ---- lifecycle ---- */

enum cu_err
cu_auth_new(const struct cu_auth_opts *opts, struct cu_auth **out)
{
    enum cu_err rc = CU_OK;
    CU_ENSURE(opts != NULL && opts->issuer != NULL && opts->issuer[0] != '\0' &&
                  opts->audience != NULL && opts->audience[0] != '\0',
              CU_ERR_CONFIG, "auth needs an issuer and an audience");
    CU_ENSURE(opts->leeway_seconds >= 0 && opts->leeway_seconds <= CU_JWT_MAX_LEEWAY, CU_ERR_CONFIG,
              "auth leeway must be 0..%d seconds", CU_JWT_MAX_LEEWAY);
    int use_secret = opts->dev && opts->hs256_secret != NULL && opts->hs256_secret_len > 0;
    CU_ENSURE(!use_secret || opts->hs256_secret_len >= MIN_HS256_SECRET, CU_ERR_CONFIG,
              "dev hs256 secret must be at least %d bytes", MIN_HS256_SECRET);
    int by_url = opts->jwks_url != NULL || opts->oidc_discovery;
    CU_ENSURE(opts->jwks_file != NULL || by_url || use_secret, CU_ERR_CONFIG,
              "auth needs a jwks file, a jwks url or discovery (or a dev hs256 secret in dev "
              "mode)");
    CU_ENSURE((opts->jwks_file != NULL) + (opts->jwks_url != NULL) + (opts->oidc_discovery != 0) <=
                  1,
              CU_ERR_CONFIG,
              "CUSTOS_JWKS_FILE, CUSTOS_JWKS_URL and CUSTOS_OIDC_DISCOVERY exclude each other");
    CU_ENSURE(opts->tenant_claim == NULL || opts->tenant_claim[0] != '\0', CU_ERR_CONFIG,
              "auth tenant claim name is empty");

    struct cu_auth *a = cu_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->keys_lock, NULL);
    a->issuer = cu_xstrdup(opts->issuer);
    a->audience = cu_xstrdup(opts->audience);
    a->tenant_claim = cu_xstrdup(opts->tenant_claim != NULL ? opts->tenant_claim : "tid");
    a->leeway = opts->leeway_seconds;
    a->rules = (struct cu_claims_rules){a->issuer, a->audience, a->tenant_claim, a->leeway};
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
    if (by_url) {
        struct cu_idp_opts io = {.jwks_url = opts->jwks_url,
                                 .issuer = opts->issuer,
                                 .discovery = opts->oidc_discovery,
                                 .ca_file = opts->jwks_ca_file,
                                 .refresh_s = opts->jwks_refresh_s > 0 ? opts->jwks_refresh_s : 300,
                                 .min_refetch_s = opts->jwks_min_refetch_s,
                                 .timeout_ms =
                                     opts->jwks_timeout_ms > 0 ? opts->jwks_timeout_ms : 2000};
        CU_TRY(cu_idp_new(&io, install_keys, a, &a->idp));
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
    cu_idp_free(a->idp); /* its thread installs keys: stopped first */
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
    if (a->idp != NULL) {
        cu_idp_refresh_now(a->idp);
        return CU_OK;
    }
    struct cu_jwks *fresh = NULL;
    if (a->jwks_file != NULL) {
        CU_GUARD(cu_jwks_load(a->jwks_file, &fresh));
        install_keys(a, fresh);
        return CU_OK;
    }
    pthread_mutex_lock(&a->keys_lock);
    cu_tokencache_clear(a->cache);
    pthread_mutex_unlock(&a->keys_lock);
    return CU_OK;
}

enum cu_err
cu_auth_start(struct cu_auth *a)
{
    return a->idp != NULL ? cu_idp_start(a->idp) : CU_OK;
}

int
cu_auth_keys_ready(struct cu_auth *a)
{
    if (a->idp == NULL) {
        return 1;
    }
    struct cu_idp_status st;
    cu_idp_status(a->idp, &st);
    return st.loaded;
}

int
cu_auth_idp_status(struct cu_auth *a, struct cu_idp_status *out)
{
    if (a->idp == NULL) {
        return 0;
    }
    cu_idp_status(a->idp, out);
    return 1;
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

/* floor(n / 2) of each curve's group order n (n = 2 * half + 1), big-endian at the curve size.
 * An ECDSA signature (r, s) also verifies as (r, n - s): the same token exists in two spellings.
 * Both are valid JWS (RFC 7518 does not ask for low S, and OpenSSL, libjwt and most IdPs sign
 * with either), so both are accepted, and everything keyed by a token — the verified-token cache
 * — is keyed by its canonical form, the low-S one (s <= n / 2). */
static const uint8_t half_order_p256[] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
};
static const uint8_t half_order_p384[] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe3, 0xb1, 0xa6, 0xc0, 0xfa, 0x1b, 0x96, 0xef,
    0xac, 0x0d, 0x06, 0xd9, 0x24, 0x58, 0x53, 0xbd, 0x76, 0x76, 0x0c, 0xb5, 0x66, 0x62, 0x94, 0xb9,
};
static const uint8_t half_order_p521[] = {
    0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xfd, 0x28, 0xc3, 0x43, 0xc1, 0xdf, 0x97, 0xcb, 0x35,
    0xbf, 0xe6, 0x00, 0xa4, 0x7b, 0x84, 0xd2, 0xe8, 0x1d, 0xda, 0xe4, 0xdc, 0x44, 0xce,
    0x23, 0xd7, 0x5d, 0xb7, 0xdb, 0x8f, 0x48, 0x9c, 0x32, 0x04,
};

static const uint8_t *
half_order(enum cu_jwk_curve curve)
{
    return curve == CU_CURVE_P256   ? half_order_p256
           : curve == CU_CURVE_P384 ? half_order_p384
           : curve == CU_CURVE_P521 ? half_order_p521
                                    : NULL;
}

int
cu_jwt_ecdsa_canonical(enum cu_jwk_curve curve, const uint8_t *sig, size_t sig_len, uint8_t *out)
{
    const uint8_t *half = half_order(curve);
    size_t n = cu_jwk_curve_size(curve);
    if (half == NULL || sig_len != 2 * n) {
        return -1;
    }
    memcpy(out, sig, sig_len);
    const uint8_t *sv = sig + n;
    /* s is public: plain big-endian comparison and arithmetic */
    if (memcmp(sv, half, n) <= 0) {
        return 0;
    }
    /* out_s = n - s, with n = (half << 1) | 1, byte by byte from the least significant */
    unsigned borrow = 0;
    for (size_t i = n; i-- > 0;) {
        unsigned hi = i + 1 < n ? half[i + 1] >> 7 : 0;
        unsigned nb = ((unsigned)(half[i] << 1) & 0xffu) | hi | (i == n - 1 ? 1u : 0u);
        int d = (int)nb - (int)sv[i] - (int)borrow;
        borrow = d < 0;
        out[n + i] = (uint8_t)(d < 0 ? d + 256 : d);
    }
    return 1;
}

static enum cu_err
select_key(const struct cu_auth *a, const struct cu_jwks *keys, const struct cu_jwt_parts *parts,
           const uint8_t **key, size_t *key_len)
{
    const struct cu_jwt_alg_def *d = cu_jwt_alg_def(parts->alg);
    if (parts->alg == CU_JWT_HS256) {
        CU_AUTH_ENSURE(a->secret != NULL, CU_AUTH_ALG, "alg hs256 refused outside dev mode");
        *key = a->secret;
        *key_len = a->secret_len;
        return CU_OK;
    }
    CU_AUTH_ENSURE(keys != NULL, CU_AUTH_UNKNOWN_KEY, "no jwks loaded for an asymmetric alg");
    CU_AUTH_ENSURE(parts->kid != NULL, CU_AUTH_UNKNOWN_KEY, "header kid missing");
    const struct cu_jwks_key *k = cu_jwks_find(keys, parts->kid);
    CU_AUTH_ENSURE(k != NULL, CU_AUTH_UNKNOWN_KEY, "header kid names no loaded key");
    CU_AUTH_ENSURE(k->info.kind == d->kind, CU_AUTH_ALG, "alg %s does not fit the key type",
                   d->name);
    if (d->kind == CU_JWK_RSA) {
        CU_AUTH_ENSURE(k->info.bits >= 2048, CU_AUTH_UNKNOWN_KEY, "rsa key under 2048 bits");
        CU_AUTH_ENSURE(parts->sig_len == ((size_t)k->info.bits + 7) / 8, CU_AUTH_SIGNATURE,
                       "rsa signature is not the modulus size");
    } else {
        CU_AUTH_ENSURE(k->info.curve == d->curve, CU_AUTH_ALG,
                       "alg %s does not fit the key's curve", d->name);
        /* JWS wants raw R||S; a DER signature has another length */
        CU_AUTH_ENSURE(parts->sig_len == 2 * cu_jwk_curve_size(d->curve), CU_AUTH_SIGNATURE,
                       "ecdsa signature is not raw r||s of the curve size");
    }
    CU_AUTH_ENSURE(k->jwk_alg == NULL || strcmp(k->jwk_alg, d->name) == 0, CU_AUTH_ALG,
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

    CU_AUTH_ENSURE(authorization != NULL, CU_AUTH_MISSING, "no authorization header");
    CU_AUTH_ENSURE(strncasecmp(authorization, "Bearer ", 7) == 0, CU_AUTH_NOT_BEARER,
                   "authorization is not a bearer token");
    const char *token = authorization + 7;
    /* cap before any decoding: libjwt allocas strlen(token) */
    size_t len = strnlen(token, CU_JWT_MAX_TOKEN + 1);
    CU_AUTH_ENSURE(len <= CU_JWT_MAX_TOKEN, CU_AUTH_MALFORMED, "token over %d bytes",
                   CU_JWT_MAX_TOKEN);
    struct cu_jwt_parts parts;
    CU_GUARD(cu_jwt_preparse_header(token, len, arena, &parts));

    pthread_mutex_lock(&a->keys_lock);
    keys = cu_jwks_ref(a->keys);
    uint64_t generation = cu_tokencache_generation(a->cache);
    pthread_mutex_unlock(&a->keys_lock);
    if (a->idp != NULL && parts.alg != CU_JWT_HS256) {
        /* an outage of the IdP before any set came is a 503, not a bad token */
        if (keys == NULL) {
            cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "no jwks fetched yet");
            rc = cu_err_public(CU_ERR_UNAVAILABLE,
                               "the identity provider's keys are not loaded yet");
            goto out;
        }
        /* a kid seen for the first time: the IdP may have rolled its keys; one refetch, rate
         * limited, waited for at most the fetch timeout */
        if (parts.kid != NULL && cu_jwks_find(keys, parts.kid) == NULL &&
            cu_idp_refetch_for_kid(a->idp)) {
            cu_jwks_unref(keys);
            pthread_mutex_lock(&a->keys_lock);
            keys = cu_jwks_ref(a->keys);
            generation = cu_tokencache_generation(a->cache);
            pthread_mutex_unlock(&a->keys_lock);
        }
    }

    const uint8_t *key = NULL;
    size_t key_len = 0;
    CU_TRY(select_key(a, keys, &parts, &key, &key_len));

    uint8_t digest[CU_SHA256_LEN];
    struct cu_token_times times;
    if (cu_jwt_alg_def(parts.alg)->kind == CU_JWK_EC) {
        /* the cache knows a token by its low-S spelling: signing input, then raw r || s */
        size_t in_len = parts.signing_input_len;
        uint8_t *canon = cu_arena_alloc(arena, in_len + parts.sig_len);
        memcpy(canon, token, in_len);
        CU_AUTH_CHECK(cu_jwt_ecdsa_canonical(cu_jwt_alg_def(parts.alg)->curve, parts.sig,
                                             parts.sig_len, canon + in_len) >= 0,
                      CU_AUTH_SIGNATURE, "ecdsa signature is not raw r||s of the curve size");
        CU_TRY(cu_sha256(canon, in_len + parts.sig_len, digest));
    } else {
        CU_TRY(cu_sha256((const uint8_t *)token, len, digest));
    }
    if (cu_tokencache_get(a->cache, digest, now, a->leeway, arena, out, &times)) {
        CU_TRY(cu_claims_check_times(&times, now, a->leeway));
        goto out;
    }

    /* never a NULL or empty key: libjwt would then skip verification altogether */
    CU_AUTH_CHECK(key != NULL && key_len > 0 && key_len <= INT_MAX, CU_AUTH_UNKNOWN_KEY,
                  "no key to verify with");
    if (parts.alg == CU_JWT_HS256) {
        /* libjwt 1.10 compares HMACs with strcmp: check in constant time first, so that its
         * comparison only ever sees signatures that are right */
        uint8_t mac[CU_SHA256_LEN];
        CU_TRY(cu_hmac_sha256(key, key_len, (const uint8_t *)token, parts.signing_input_len, mac));
        int same = parts.sig_len == sizeof(mac) && cu_ct_equal(mac, parts.sig, sizeof(mac));
        cu_wipe(mac, sizeof(mac));
        CU_AUTH_CHECK(same, CU_AUTH_SIGNATURE, "hs256 signature does not match");
    }
    /* the payload must be a JSON object before libjwt sees it: its own parse failure would
     * read as a bad signature */
    CU_TRY(cu_jwt_preparse_payload(arena, &parts));
    int jrc = jwt_decode(&jwt, token, key, (int)key_len);
    CU_AUTH_CHECK(jrc == 0 && jwt != NULL, CU_AUTH_SIGNATURE, "signature rejected by libjwt (%d)",
                  jrc);
    CU_AUTH_CHECK(jwt_get_alg(jwt) == lib_alg(parts.alg), CU_AUTH_SIGNATURE,
                  "libjwt verified another alg than the header's");
    CU_TRY(cu_claims_check(&a->rules, parts.payload, now, arena, out, &times));
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
    return cu_auth_mint_dev_claims(opts, tenant, scope, sub, NULL, now, ttl, out);
}

enum cu_err
cu_auth_mint_dev_claims(const struct cu_auth_opts *opts, const char *tenant, const char *scope,
                        const char *sub, const char *claims_json, long long now, long long ttl,
                        char **out)
{
    enum cu_err rc = CU_OK;
    jwt_t *jwt = NULL;
    CU_ENSURE(opts != NULL && opts->dev && opts->hs256_secret != NULL &&
                  opts->hs256_secret_len >= MIN_HS256_SECRET && opts->hs256_secret_len <= INT_MAX,
              CU_ERR_CONFIG, "dev tokens need dev mode and a hs256 secret of at least %d bytes",
              MIN_HS256_SECRET);
    CU_ENSURE(opts->issuer != NULL && opts->audience != NULL, CU_ERR_CONFIG,
              "dev tokens need an issuer and an audience");
    CU_ENSURE(sub != NULL && sub[0] != '\0' && ttl > 0 && ttl <= CU_JWT_MAX_TIME && now >= 0 &&
                  now <= CU_JWT_MAX_TIME - ttl,
              CU_ERR_INVALID, "dev token needs a sub and a positive ttl");
    const char *tenant_claim = opts->tenant_claim != NULL ? opts->tenant_claim : "tid";

    CU_CHECK(jwt_new(&jwt) == 0, CU_ERR_INTERNAL, "could not create a jwt");
    /* first: a claim below that it repeats then fails (libjwt refuses to add a grant twice) */
    CU_CHECK(claims_json == NULL || jwt_add_grants_json(jwt, claims_json) == 0, CU_ERR_INVALID,
             "the extra claims are not a JSON object of new claims");
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
