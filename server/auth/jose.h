/* The JOSE layer of bearer tokens: the JWS alg allow-list and a strict pre-parse that needs no
 * key and no configuration (split, base64url, JSON objects, header rules). No libjwt here.
 * Invariant: no reason set by this module contains token contents. */
#ifndef CU_AUTH_JOSE_H
#define CU_AUTH_JOSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "crypto/jwk.h"

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

/* One allow-listed alg: its JOSE spelling and the key it needs (kind CU_JWK_NONE: HS256's
 * shared secret; curve CU_CURVE_NONE for RSA). Static storage. */
struct cu_jwt_alg_def {
    enum cu_jwt_alg alg;
    const char *name;
    enum cu_jwk_kind kind;
    enum cu_jwk_curve curve;
};

/* The definition of alg, or NULL for CU_JWT_ALG_NONE and unknown values. */
const struct cu_jwt_alg_def *cu_jwt_alg_def(enum cu_jwt_alg alg);
/* The definition spelled exactly name ("RS256"), or NULL when name is not allow-listed. */
const struct cu_jwt_alg_def *cu_jwt_alg_by_name(const char *name);
/* The alg name as in a JOSE header ("RS256"), or "none". */
const char *cu_jwt_alg_name(enum cu_jwt_alg alg);

/* 1 when s[0..len) is all printable ASCII without space (0x21..0x7e): kid, scope words. */
int cu_jwt_printable(const char *s, size_t len);

/* A token split and decoded by cu_jwt_preparse; every pointer is owned by the arena given to it
 * (the json_t objects are released by a deferred json_decref). */
struct cu_jwt_parts {
    const char *token; /* the caller's bytes, not copied */
    size_t token_len;
    size_t signing_input_len; /* header "." payload */
    json_t *header;           /* an object; members checked as below */
    uint8_t *payload_json;    /* decoded payload bytes */
    size_t payload_json_len;
    json_t *payload; /* an object once parsed; claims are NOT validated here */
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
/* The same in two steps, so that a cache hit does not pay for the payload JSON: the header step
 * fills everything but out->payload; the payload step parses it (same errors). */
enum cu_err cu_jwt_preparse_header(const char *token, size_t len, struct cu_arena *arena,
                                   struct cu_jwt_parts *out) CU_WUR;
enum cu_err cu_jwt_preparse_payload(struct cu_arena *arena, struct cu_jwt_parts *parts) CU_WUR;

#endif
