/* JWK -> OpenSSL public key -> PEM and key queries (key generation and signing for tests live
 * in tests/support/jwk_keys.c).
 * Every OpenSSL call is checked == 1; failures carry no key bytes in their reason. */
#include "crypto/jwk.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "core/mem.h"

struct curve_def {
    enum cu_jwk_curve curve;
    const char *jwk_name;
    const char *ossl_name;
    size_t size;
    int bits;
};

static const struct curve_def curves[] = {
    {CU_CURVE_P256, "P-256", "prime256v1", 32, 256},
    {CU_CURVE_P384, "P-384", "secp384r1", 48, 384},
    {CU_CURVE_P521, "P-521", "secp521r1", 66, 521},
};

static const struct curve_def *
curve_def(enum cu_jwk_curve c)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (curves[i].curve == c) {
            return &curves[i];
        }
    }
    return NULL;
}

static const struct curve_def *
curve_by_ossl_name(const char *name)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (strcmp(curves[i].ossl_name, name) == 0) {
            return &curves[i];
        }
    }
    return NULL;
}

enum cu_jwk_curve
cu_jwk_curve_parse(const char *crv)
{
    for (size_t i = 0; crv != NULL && i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (strcmp(curves[i].jwk_name, crv) == 0) {
            return curves[i].curve;
        }
    }
    return CU_CURVE_NONE;
}

size_t
cu_jwk_curve_size(enum cu_jwk_curve c)
{
    const struct curve_def *d = curve_def(c);
    return d != NULL ? d->size : 0;
}

/* Writes pkey's SubjectPublicKeyInfo as a heap PEM string. */
static enum cu_err
pubkey_pem(EVP_PKEY *pkey, char **pem_out)
{
    enum cu_err rc = CU_OK;
    BIO *bio = BIO_new(BIO_s_mem());
    CU_CHECK(bio != NULL, CU_ERR_CRYPTO, "could not allocate a memory bio");
    CU_CHECK(PEM_write_bio_PUBKEY(bio, pkey) == 1, CU_ERR_CRYPTO, "could not write a public key");
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    CU_CHECK(len > 0 && data != NULL, CU_ERR_CRYPTO, "could not read the public key pem");
    *pem_out = cu_xstrndup(data, (size_t)len);
out:
    BIO_free(bio);
    return rc;
}

/* EVP_PKEY_fromdata for a public key of type name ("RSA", "EC") and a full public check. */
static enum cu_err
pkey_from_params(const char *name, OSSL_PARAM *params, EVP_PKEY **out)
{
    enum cu_err rc = CU_OK;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    CU_CHECK(ctx != NULL, CU_ERR_CRYPTO, "could not create a %s key context", name);
    CU_CHECK(EVP_PKEY_fromdata_init(ctx) == 1, CU_ERR_CRYPTO, "could not init %s import", name);
    CU_CHECK(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1, CU_ERR_INVALID,
             "jwk parameters do not form a valid %s public key", name);
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    CU_CHECK(check != NULL, CU_ERR_CRYPTO, "could not create a check context");
    CU_CHECK(EVP_PKEY_public_check(check) == 1, CU_ERR_INVALID,
             "jwk %s public key fails validation", name);
    *out = pkey;
    pkey = NULL;
out:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

enum cu_err
cu_jwk_rsa_pem(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, char **pem_out,
               struct cu_jwk_info *info)
{
    enum cu_err rc = CU_OK;
    BIGNUM *bn_n = NULL;
    BIGNUM *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;

    /* bound the work before OpenSSL sees the numbers */
    CU_CHECK(n_len > 0 && n_len <= CU_JWK_RSA_MAX_BITS / 8 && e_len > 0 && e_len <= 8,
             CU_ERR_INVALID, "rsa jwk parameter of unsupported size");
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    CU_CHECK(bn_n != NULL && bn_e != NULL, CU_ERR_CRYPTO, "could not allocate rsa numbers");
    CU_CHECK(BN_num_bits(bn_n) >= 512 && BN_is_odd(bn_n), CU_ERR_INVALID,
             "rsa jwk modulus is not a plausible modulus");
    CU_CHECK(BN_is_odd(bn_e) && BN_num_bits(bn_e) >= 2, CU_ERR_INVALID,
             "rsa jwk exponent must be odd and at least 3");
    bld = OSSL_PARAM_BLD_new();
    CU_CHECK(bld != NULL, CU_ERR_CRYPTO, "could not allocate a parameter builder");
    CU_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
                 OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1,
             CU_ERR_CRYPTO, "could not build rsa parameters");
    params = OSSL_PARAM_BLD_to_param(bld);
    CU_CHECK(params != NULL, CU_ERR_CRYPTO, "could not build rsa parameters");
    CU_TRY(pkey_from_params("RSA", params, &pkey));
    CU_TRY(pubkey_pem(pkey, pem_out));
    info->kind = CU_JWK_RSA;
    info->curve = CU_CURVE_NONE;
    info->bits = EVP_PKEY_get_bits(pkey);
out:
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}

enum cu_err
cu_jwk_ec_pem(enum cu_jwk_curve curve, const uint8_t *x, size_t x_len, const uint8_t *y,
              size_t y_len, char **pem_out, struct cu_jwk_info *info)
{
    enum cu_err rc = CU_OK;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    uint8_t point[1 + 2 * 66];

    const struct curve_def *d = curve_def(curve);
    CU_CHECK(d != NULL, CU_ERR_INVALID, "unsupported ec curve");
    /* RFC 7518 6.2.1.2: coordinates MUST be the full size, so a short one is an error */
    CU_CHECK(x_len == d->size && y_len == d->size, CU_ERR_INVALID,
             "ec jwk coordinates are not %zu bytes", d->size);
    point[0] = 0x04; /* uncompressed: 04 || x || y */
    memcpy(point + 1, x, d->size);
    memcpy(point + 1 + d->size, y, d->size);
    bld = OSSL_PARAM_BLD_new();
    CU_CHECK(bld != NULL, CU_ERR_CRYPTO, "could not allocate a parameter builder");
    CU_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, d->ossl_name, 0) ==
                     1 &&
                 OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                                  1 + 2 * d->size) == 1,
             CU_ERR_CRYPTO, "could not build ec parameters");
    params = OSSL_PARAM_BLD_to_param(bld);
    CU_CHECK(params != NULL, CU_ERR_CRYPTO, "could not build ec parameters");
    CU_TRY(pkey_from_params("EC", params, &pkey));
    CU_TRY(pubkey_pem(pkey, pem_out));
    info->kind = CU_JWK_EC;
    info->curve = curve;
    info->bits = d->bits;
out:
    EVP_PKEY_free(pkey);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

static enum cu_err
pkey_info(EVP_PKEY *pkey, struct cu_jwk_info *out)
{
    memset(out, 0, sizeof(*out));
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        out->kind = CU_JWK_RSA;
        out->bits = EVP_PKEY_get_bits(pkey);
        return CU_OK;
    }
    CU_ENSURE(EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC, CU_ERR_INVALID,
              "key is neither rsa nor ec");
    char name[64];
    size_t name_len = 0;
    CU_ENSURE(EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                             &name_len) == 1,
              CU_ERR_INVALID, "ec key without a named group");
    const struct curve_def *d = curve_by_ossl_name(name);
    CU_ENSURE(d != NULL, CU_ERR_INVALID, "ec key on an unsupported curve");
    out->kind = CU_JWK_EC;
    out->curve = d->curve;
    out->bits = d->bits;
    return CU_OK;
}

enum cu_err
cu_jwk_pem_info(const char *pem, size_t pem_len, struct cu_jwk_info *out)
{
    enum cu_err rc = CU_OK;
    EVP_PKEY *pkey = NULL;
    CU_ENSURE(pem_len <= INT32_MAX, CU_ERR_INVALID, "pem too large");
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
    CU_CHECK(bio != NULL, CU_ERR_CRYPTO, "could not allocate a memory bio");
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    CU_CHECK(pkey != NULL, CU_ERR_INVALID, "not a pem public key");
    CU_TRY(pkey_info(pkey, out));
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}
