/* Test helper: mint good and hostile JWTs and JWKS files. Keys come from crypto/jwk.h (OpenSSL),
 * HS256 from OpenSSL HMAC, and one path through libjwt's own encoder as an independent minter.
 * Every string returned is owned by this module until mint_free_all() (call it in fini). */
#ifndef CU_TESTS_JWT_MINT_H
#define CU_TESTS_JWT_MINT_H

#include <stddef.h>

#include "support/jwk_keys.h"

struct mint_key {
    char kid[64];
    struct mint_keypair kp;
};

/* Key pairs, generated once per test run and per (kid, size) and cached on disk for the other
 * test processes of the run; abort on failure. Freed by mint_free_all(). */
struct mint_key *mint_key_rsa(const char *kid, int bits);
struct mint_key *mint_key_ec(const char *kid, enum cu_jwk_curve curve);
/* Removes the run's key cache; call from the runner (criterion ReportHook(POST_ALL)) with
 * getpid(). */
void mint_cache_remove(long runner);

/* base64url without padding. */
char *mint_b64url(const void *p, size_t n);
char *mint_b64url_str(const char *s);

/* The public JWK of k; extra (may be NULL) is appended verbatim inside the object, e.g.
 * "\"use\":\"sig\",\"alg\":\"RS256\"". */
char *mint_jwk_json(const struct mint_key *k, const char *extra);
/* {"keys":[jwk_json...]} from already rendered JWK objects. */
char *mint_jwks_json(const char *const *jwks, size_t n);
/* Writes content to a new mkstemp file under /tmp and returns its path (removed by
 * mint_free_all). mint_rewrite replaces the content of an existing path. */
char *mint_write_file(const char *content);
void mint_rewrite(const char *path, const char *content);

/* b64url(header_json) "." b64url(payload_json) "." b64url(signature by k for alg). ECDSA
 * signatures are raw R||S, or DER when der != 0. */
char *mint_sign(const struct mint_key *k, const char *alg, const char *header_json,
                const char *payload_json);
char *mint_sign_der(const struct mint_key *k, const char *alg, const char *header_json,
                    const char *payload_json);
/* Same, signed with HMAC-SHA256 keyed by key[0..key_len). */
char *mint_hs256(const void *key, size_t key_len, const char *header_json,
                 const char *payload_json);
/* Joins raw parts with dots (any may be ""), for attack tokens. */
char *mint_join(const char *a, const char *b, const char *c);
/* "Bearer " token. */
char *mint_bearer(const char *token);
/* A token from libjwt's jwt_encode_str (alg RS256..ES512, kid header, grants from payload_json). */
char *mint_libjwt(const struct mint_key *k, const char *alg, const char *payload_json);

/* Releases everything minted so far (wipes private keys, unlinks files). */
void mint_free_all(void);

#endif
