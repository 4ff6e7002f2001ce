/* A JWKS file read into an immutable, refcounted key set: RSA and EC signature keys by kid,
 * each pre-converted to the PEM libjwt wants. Invariant: oct (symmetric) keys never load. */
#ifndef CU_AUTH_JWKS_H
#define CU_AUTH_JWKS_H

#include <stddef.h>

#include "core/err.h"
#include "crypto/jwk.h"

enum { CU_JWKS_MAX_FILE = 1 << 20, CU_JWKS_MAX_KEYS = 256 };

struct cu_jwks_key {
    char *kid;
    struct cu_jwk_info info;
    char *jwk_alg; /* the JWK's optional "alg" (NULL when absent): a token must then match it */
    char *pem;     /* SubjectPublicKeyInfo, NUL-terminated */
    size_t pem_len;
};

struct cu_jwks; /* immutable after load; shared between threads by reference count */

/* Reads and validates the JWKS file at path into a new set with one reference (caller's).
 * Keys of another kty, with use other than "sig", or an alg that is not an RS/ES JWS alg fitting
 * the key are skipped and counted. The file is refused (CU_ERR_CONFIG, reason without key
 * bytes) when it is not a JSON object with a "keys" array, is larger than CU_JWKS_MAX_FILE,
 * repeats a kid, has an RSA/EC key with bad parameters or kid, or leaves no usable key. */
enum cu_err cu_jwks_load(const char *path, struct cu_jwks **out) CU_WUR;
/* The same checks on a JWKS document in memory (len bytes, not NUL-terminated), e.g. fetched
 * from the identity provider's jwks_uri. */
enum cu_err cu_jwks_parse(const char *data, size_t len, struct cu_jwks **out) CU_WUR;

/* The key named kid (exact, case-sensitive bytes), or NULL. Valid while the caller holds a
 * reference to ks. */
const struct cu_jwks_key *cu_jwks_find(const struct cu_jwks *ks, const char *kid);

size_t cu_jwks_count(const struct cu_jwks *ks);
size_t cu_jwks_skipped(const struct cu_jwks *ks);

/* Takes another reference; returns ks. NULL is fine. */
struct cu_jwks *cu_jwks_ref(struct cu_jwks *ks);
/* Drops a reference; the last one frees the set. NULL is fine. */
void cu_jwks_unref(struct cu_jwks *ks);

#endif
