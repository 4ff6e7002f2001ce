/* Test and tool helper: key pairs and JWS signatures (RS256..RS512, ES256..ES512) with OpenSSL.
 * Moved out of the product library: the server never holds a private key of a JWKS, and nothing
 * under server/ may call these. Key pairs are wiped when freed. */
#ifndef CU_TESTS_JWK_KEYS_H
#define CU_TESTS_JWK_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/jwk.h"

/* A generated key pair: private and public PEM (heap) and the JWK public parameters (heap):
 * RSA: a = n, b = e; EC: a = x, b = y (full size). Free with mint_keypair_free (wipes). */
struct mint_keypair {
    struct cu_jwk_info info;
    char *priv_pem;
    char *pub_pem;
    uint8_t *a;
    size_t a_len;
    uint8_t *b;
    size_t b_len;
};

/* Generates an RSA key of bits (kind CU_JWK_RSA) or an EC key on curve (kind CU_JWK_EC) into
 * *out (caller storage, released with mint_keypair_free, also emptied on failure).
 * Errors: CU_ERR_INVALID for a bad kind/curve; CU_ERR_CRYPTO when OpenSSL fails. */
enum cu_err mint_keypair_generate(enum cu_jwk_kind kind, int bits, enum cu_jwk_curve curve,
                                  struct mint_keypair *out) CU_WUR;
/* The same from a PEM private key (RSA or P-256/384/521 EC), e.g. one cached by a test run.
 * Errors: CU_ERR_INVALID when priv_pem is not such a key; CU_ERR_CRYPTO when OpenSSL fails. */
enum cu_err mint_keypair_from_pem(const char *priv_pem, struct mint_keypair *out) CU_WUR;
/* Wipes the private key and frees everything kp owns; kp is zeroed. NULL is fine. */
void mint_keypair_free(struct mint_keypair *kp);

/* Signs msg with priv_pem for the JWS alg ("RS256".."RS512", "ES256".."ES512"). ECDSA
 * signatures come out as JWS raw R||S, or as ASN.1 DER when der != 0 (for attack tests).
 * *sig is heap (free()). Errors: CU_ERR_INVALID for an unknown alg or a key of the wrong type;
 * CU_ERR_CRYPTO when OpenSSL fails. */
enum cu_err mint_jws_sign(const char *priv_pem, const char *alg, const void *msg, size_t len,
                          int der, uint8_t **sig, size_t *sig_len) CU_WUR;

#endif
