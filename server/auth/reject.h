/* Why a bearer token was refused, in a fixed vocabulary: each check of auth/ names its class,
 * and the client is told the class (problem detail and RFC 6750 error_description), never the
 * token, a claim value or a key. Invariant: every phrase and detail is a literal of the table
 * below, printable ASCII without '"' or '\' (it goes into a quoted header parameter). */
#ifndef CU_AUTH_REJECT_H
#define CU_AUTH_REJECT_H

#include "core/err.h"

/* X(name, phrase: the check that failed, hint: what to fix). The client detail is
 * "phrase: hint". */
#define CU_AUTH_REJECT_TABLE(X)                                                                    \
    X(CU_AUTH_MISSING, "missing token",                                                            \
      "send Authorization: Bearer <JWT from the identity provider>")                               \
    X(CU_AUTH_SEVERAL, "several authorization headers", "send exactly one")                        \
    X(CU_AUTH_NOT_BEARER, "not a bearer token", "the scheme must be Bearer, followed by a JWT")    \
    X(CU_AUTH_MALFORMED, "malformed",                                                              \
      "the token must be a compact JWS of at most 8 KiB (three base64url parts, JSON objects)")    \
    X(CU_AUTH_HEADER, "unsupported header",                                                        \
      "typ must be JWT or absent; crit, jwk, jku, x5u and x5c are refused")                        \
    X(CU_AUTH_ALG, "algorithm not allowed",                                                        \
      "sign with RS256/384/512 or ES256/384/512, matching the key named by kid")                   \
    X(CU_AUTH_UNKNOWN_KEY, "unknown key",                                                          \
      "the kid must name a signing key of the identity provider this service trusts")              \
    X(CU_AUTH_SIGNATURE, "bad signature", "the token was changed or signed with another key")      \
    X(CU_AUTH_EXPIRED, "expired", "get a new token from the identity provider")                    \
    X(CU_AUTH_NOT_YET_VALID, "not yet valid", "nbf or iat is in the future: check the clocks")     \
    X(CU_AUTH_ISSUER, "wrong issuer", "iss must be the issuer this service trusts")                \
    X(CU_AUTH_AUDIENCE, "wrong audience", "aud must name this service")                            \
    X(CU_AUTH_MISSING_CLAIM, "missing claim", "exp and sub are required")                          \
    X(CU_AUTH_BAD_CLAIM, "invalid claim",                                                          \
      "exp, nbf and iat must be integers; sub, scope, scp, roles and amr printable words")         \
    X(CU_AUTH_MISSING_TENANT, "missing tenant claim",                                              \
      "only a vault:admin token may omit the tenant claim")                                        \
    X(CU_AUTH_BAD_TENANT, "invalid tenant claim",                                                  \
      "the tenant claim must be a tenant id: 2 to 63 of a-z, 0-9 and -, not starting with -")

enum cu_auth_reject {
#define CU_X(name, phrase, hint) name,
    CU_AUTH_REJECT_TABLE(CU_X)
#undef CU_X
        CU_AUTH_REJECT__COUNT
};

/* The class's phrase (for error_description) and its client detail "phrase: hint" (static
 * strings, never NULL). */
const char *cu_auth_reject_phrase(enum cu_auth_reject why);
const char *cu_auth_reject_detail(enum cu_auth_reject why);
/* Attaches the class's detail as the public detail of this request (cu_err_public) and
 * returns CU_ERR_UNAUTHORIZED. */
enum cu_err cu_auth_reject(enum cu_auth_reject why);
/* The class whose detail is this pointer (cu_err_public_detail() after a refusal), or -1 when
 * detail is none of the table's. */
int cu_auth_reject_of(const char *detail);

/* CU_ENSURE and CU_CHECK for token checks: the reason (for the log) and the class (for the
 * client) at once. */
#define CU_AUTH_ENSURE(cond, why, ...)                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CU_BAIL(cu_auth_reject(why), __VA_ARGS__);                                             \
        }                                                                                          \
    } while (0)

#define CU_AUTH_CHECK(cond, why, ...)                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CU_FAIL(cu_auth_reject(why), __VA_ARGS__);                                             \
        }                                                                                          \
    } while (0)

#endif
