/* Bearer JWT verification hardened beyond libjwt 1.10.2: strict pre-parse, alg bound to the
 * key's type (kid), claims checked here, verified tokens cached by SHA-256 of the token.
 * Invariant: no reason set by this module contains token, claim or key contents.
 * Accepted `typ`: absent or "JWT" (any case). RFC 9068 "at+jwt" is refused because libjwt 1.10.2
 * rejects it inside jwt_decode; configure the IdP to emit typ JWT or none. */
#ifndef CU_AUTH_JWT_H
#define CU_AUTH_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

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
};

struct cu_principal {
    const char *sub;     /* arena-owned */
    const char *tenant;  /* NULL only with vault:admin */
    const char **scopes; /* from `scope` (space separated) or `scp` (array of strings) */
    size_t nscopes;
    const char **roles; /* optional `roles` array */
    size_t nroles;
    int mfa; /* "mfa" in amr */
    long long exp;
};

/* Token limits: checked before any decoding. */
enum {
    CU_JWT_MAX_TOKEN = 8192,
    CU_JWT_MAX_KID = 256,
    CU_JWT_MAX_SUB = 255,
    CU_JWT_MAX_SCOPES = 256,
    CU_JWT_MAX_SCOPE_LEN = 200,
};

enum cu_jwt_alg {
    CU_JWT_ALG_NONE = 0, /* never accepted; the zero value so that "unset" is never valid */
    CU_JWT_RS256,
    CU_JWT_RS384,
    CU_JWT_RS512,
    CU_JWT_ES256,
    CU_JWT_ES384,
    CU_JWT_ES512,
    CU_JWT_HS256,
};

/* The alg name as in a JOSE header ("RS256"), or "none". */
const char *cu_jwt_alg_name(enum cu_jwt_alg alg);

/* A token split and decoded by cu_jwt_preparse; every pointer is owned by the arena given to it
 * (the json_t objects are released by a deferred json_decref). */
struct cu_jwt_parts {
    const char *token; /* the caller's bytes, not copied */
    size_t token_len;
    size_t signing_input_len; /* header "." payload */
    json_t *header;           /* an object; members checked as below */
    uint8_t *payload_json;    /* decoded payload bytes */
    size_t payload_json_len;
    json_t *payload; /* an object; claims are NOT validated yet */
    enum cu_jwt_alg alg;
    const char *kid; /* NULL when absent; 1..256 printable ASCII bytes */
    uint8_t *sig;    /* decoded signature, never empty */
    size_t sig_len;
};

/* Everything about a token that needs no key and no configuration: length ≤ CU_JWT_MAX_TOKEN,
 * exactly three strict base64url parts (header, payload non-empty; signature non-empty), header
 * and payload JSON objects without duplicate members, alg in the allow-list (HS256 included;
 * whether HS256 is allowed is decided by cu_auth_verify), no crit/jwk/jku/x5u/x5c, typ absent
 * or "JWT", kid well-formed when present. token need not be NUL-terminated.
 * Errors: CU_ERR_UNAUTHORIZED with a reason naming the rule (never the contents). */
enum cu_err cu_jwt_preparse(const char *token, size_t len, struct cu_arena *arena,
                            struct cu_jwt_parts *out) CU_WUR;

struct cu_auth; /* process-scope: keys (by kid) + cache; thread-safe */

/* Copies opts (strings and secret) and loads the JWKS.
 * Errors: CU_ERR_CONFIG with a reason on bad options or a bad JWKS file. */
enum cu_err cu_auth_new(const struct cu_auth_opts *opts, struct cu_auth **out) CU_WUR;
/* Releases keys, cache and the wiped secret copy. NULL is fine. Not concurrent with verify. */
void cu_auth_free(struct cu_auth *a);
/* Re-reads the JWKS file (SIGHUP) into a new key set and swaps it in; verifications already
 * running finish with the old set. Clears the token cache so a removed key stops working at
 * once. On failure the old keys stay and the error (CU_ERR_CONFIG) is returned. Without a JWKS
 * file (dev) it only clears the cache. */
enum cu_err cu_auth_reload(struct cu_auth *a) CU_WUR;

/* authorization: the whole header value ("Bearer ..."); now = unix seconds (passed in for
 * testability). On success *out points into arena. CU_ERR_UNAUTHORIZED for anything wrong with
 * the token (reason via cu_err_set, never token contents). */
enum cu_err cu_auth_verify(struct cu_auth *a, const char *authorization, long long now,
                           struct cu_arena *arena, struct cu_principal *out) CU_WUR;

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
