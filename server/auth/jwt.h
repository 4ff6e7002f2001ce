/* Bearer JWT verification hardened beyond libjwt 1.10.2: strict pre-parse (jose.h), alg bound to
 * the key's type (kid), claims (claims.h), verified tokens cached by SHA-256 of the token.
 * Invariant: no reason set by this module contains token, claim or key contents.
 * Accepted `typ`: absent or "JWT" (any case). RFC 9068 "at+jwt" is refused because libjwt 1.10.2
 * rejects it inside jwt_decode; configure the IdP to emit typ JWT or none. */
#ifndef CU_AUTH_JWT_H
#define CU_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "auth/jose.h"      /* limits, algs, cu_jwt_preparse: for callers of this facade */
#include "auth/principal.h" /* what cu_auth_verify fills */
#include "core/err.h"
#include "core/mem.h"

struct cu_auth_opts {
    const char *jwks_file;       /* may be NULL in dev when hs256 secret is set */
    const char *issuer;          /* required iss */
    const char *audience;        /* required aud (string or array containing it) */
    const char *tenant_claim;    /* default "tid" */
    const uint8_t *hs256_secret; /* only honoured when dev != 0; at least 32 bytes */
    size_t hs256_secret_len;
    int dev;
    size_t cache_entries; /* verified-token cache capacity, e.g. 10000; 0 disables it */
    int leeway_seconds;   /* 0..300, e.g. 60 */
    /* the keys by URL instead of jwks_file (idp.h): at most one of the three */
    const char *jwks_url;     /* https JWKS URL */
    int oidc_discovery;       /* 1: jwks_uri from <issuer>/.well-known/openid-configuration */
    const char *jwks_ca_file; /* CA bundle for the IdP (NULL: the system's) */
    int jwks_refresh_s;       /* default 300 */
    int jwks_min_refetch_s;   /* least seconds between refetches for unknown kids */
    int jwks_timeout_ms;      /* each HTTPS request, and a request's wait; default 2000 */
};

struct cu_idp_status;

struct cu_auth; /* process-scope: keys (by kid) + cache; thread-safe */

/* Copies opts (strings and secret) and loads the JWKS.
 * Errors: CU_ERR_CONFIG with a reason on bad options or a bad JWKS file. */
enum cu_err cu_auth_new(const struct cu_auth_opts *opts, struct cu_auth **out) CU_WUR;
/* Starts the JWKS refresher thread when the keys come by URL (after signals are blocked). */
enum cu_err cu_auth_start(struct cu_auth *a) CU_WUR;
/* 0 while keys by URL were never fetched (readiness); 1 otherwise. */
int cu_auth_keys_ready(struct cu_auth *a);
/* The refresher's counters into out: 1 when the keys come by URL, else 0 (out untouched). */
int cu_auth_idp_status(struct cu_auth *a, struct cu_idp_status *out);
/* Releases keys, cache and the wiped secret copy. NULL is fine. Not concurrent with verify. */
void cu_auth_free(struct cu_auth *a);
/* With keys by URL: asks the refresher to fetch now (SIGHUP) and returns CU_OK.
 * Re-reads the JWKS file (SIGHUP) into a new key set and swaps it in; verifications already
 * running finish with the old set. Clears the token cache so a removed key stops working at
 * once. On failure the old keys stay and the error (CU_ERR_CONFIG) is returned. Without a JWKS
 * file (dev) it only clears the cache. */
enum cu_err cu_auth_reload(struct cu_auth *a) CU_WUR;

/* authorization: the whole header value ("Bearer ..."); now = unix seconds (passed in for
 * testability). On success *out points into arena. CU_ERR_UNAUTHORIZED for anything wrong with
 * the token (reason via cu_err_set, never token contents). */
enum cu_err cu_auth_verify(struct cu_auth *a, const char *authorization, long long now,
                           struct cu_arena *arena, struct cu_principal *out) CU_WUR;

/* Writes into out (sig_len bytes) the low-S form of a raw r || s ECDSA signature on curve:
 * s replaced by n - s when s > n / 2. Returns 1 when s was replaced, 0 when sig already was
 * low-S, -1 when curve is not an ECDSA curve or sig_len is not twice its size. Both forms verify;
 * the low-S one is what anything keyed by a token uses. */
int cu_jwt_ecdsa_canonical(enum cu_jwk_curve curve, const uint8_t *sig, size_t sig_len,
                           uint8_t *out);

/* Cache counters since cu_auth_new (a hit skipped the signature check). Thread-safe. */
void cu_auth_stats(struct cu_auth *a, uint64_t *hits, uint64_t *misses);
/* Keys currently usable, and JWKS entries skipped at the last successful (re)load because of
 * their kty, use or alg (e.g. oct keys, encryption keys). */
void cu_auth_keys(struct cu_auth *a, size_t *loaded, size_t *skipped);

/* Dev-token minting with the HS256 secret (used by `custos dev-token`): an HS256 token with
 * iss, aud, sub, the tenant claim (omitted when tenant is NULL), scope, iat = now and
 * exp = now + ttl. *out is a heap string the caller frees with cu_free_str_wiped.
 * Errors: CU_ERR_CONFIG when opts is not dev or has no (≥ 32 byte) secret; CU_ERR_INVALID for
 * ttl ≤ 0 or missing sub; CU_ERR_INTERNAL when libjwt fails. */
enum cu_err cu_auth_mint_dev(const struct cu_auth_opts *opts, const char *tenant, const char *scope,
                             const char *sub, long long now, long long ttl, char **out) CU_WUR;

#endif
