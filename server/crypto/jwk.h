/* JWK public parameters -> validated OpenSSL key -> PEM, and what a PEM key is.
 * Invariant: public keys only; the product never generates or holds a JWKS private key (test
 * and tool key pairs and signing: tests/support/jwk_keys.h). */
#ifndef CU_CRYPTO_JWK_H
#define CU_CRYPTO_JWK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum cu_jwk_kind { CU_JWK_NONE = 0, CU_JWK_RSA = 1, CU_JWK_EC = 2 };
enum cu_jwk_curve { CU_CURVE_NONE = 0, CU_CURVE_P256 = 1, CU_CURVE_P384 = 2, CU_CURVE_P521 = 3 };

/* What a converted key is: the verifier binds alg to these, never to the token's word. */
struct cu_jwk_info {
    enum cu_jwk_kind kind;
    enum cu_jwk_curve curve; /* CU_CURVE_NONE for RSA */
    int bits;                /* modulus bits (RSA) or field bits (EC) */
};

/* RSA limits on the modulus a JWKS may carry: below is refused at verification (policy in
 * auth/), above is refused here so one verification costs bounded time. */
enum { CU_JWK_RSA_MAX_BITS = 8192 };

/* The JWK "crv" name -> curve; CU_CURVE_NONE when unknown. */
enum cu_jwk_curve cu_jwk_curve_parse(const char *crv);
/* Bytes of one coordinate (and of R or S in a JWS signature): 32, 48, 66; 0 for NONE. */
size_t cu_jwk_curve_size(enum cu_jwk_curve c);

/* Builds an RSA public key from the big-endian modulus n and exponent e (JWK "n", "e" after
 * base64url decoding) and writes it as a PEM SubjectPublicKeyInfo. *pem_out is a heap string
 * the caller frees with free(); *info says what it is.
 * Errors: CU_ERR_INVALID for parameters that do not make a sane key (even or tiny e, modulus
 * over CU_JWK_RSA_MAX_BITS, failed OpenSSL checks); CU_ERR_CRYPTO when OpenSSL fails. */
enum cu_err cu_jwk_rsa_pem(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                           char **pem_out, struct cu_jwk_info *info) CU_WUR;

/* Builds an EC public key on curve from the coordinates x and y, each exactly
 * cu_jwk_curve_size(curve) bytes (RFC 7518 6.2.1.2), checks the point is on the curve and not
 * the point at infinity, and writes a PEM SubjectPublicKeyInfo (heap, caller frees with free()).
 * Errors: CU_ERR_INVALID for a wrong size or invalid point; CU_ERR_CRYPTO when OpenSSL fails. */
enum cu_err cu_jwk_ec_pem(enum cu_jwk_curve curve, const uint8_t *x, size_t x_len, const uint8_t *y,
                          size_t y_len, char **pem_out, struct cu_jwk_info *info) CU_WUR;

/* Reads a PEM public key (e.g. from cu_jwk_*_pem) and says what it is.
 * Errors: CU_ERR_INVALID when it is not an RSA or a P-256/384/521 EC public key. */
enum cu_err cu_jwk_pem_info(const char *pem, size_t pem_len, struct cu_jwk_info *out) CU_WUR;

#endif
