/* JWK -> OpenSSL public key -> PEM, key queries, SHA-256, and test-only keygen and signing.
 * Every OpenSSL call is checked == 1; failures carry no key bytes in their reason. */
#include "crypto/jwk.h"

#include <pthread.h>
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

/* ---- tests and benchmarks only ---- */

void
cu_jwk_keypair_free(struct cu_jwk_keypair *kp)
{
    if (kp == NULL) {
        return;
    }
    cu_free_str_wiped(kp->priv_pem);
    free(kp->pub_pem);
    free(kp->a);
    free(kp->b);
    memset(kp, 0, sizeof(*kp));
}

static uint8_t *
bn_param(EVP_PKEY *pkey, const char *name, size_t *len)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        return NULL;
    }
    *len = (size_t)BN_num_bytes(bn);
    uint8_t *p = cu_xmalloc(*len);
    BN_bn2bin(bn, p);
    BN_free(bn);
    return p;
}

/* Fills kp (info, PEMs, JWK parameters) from a private key. */
static enum cu_err
keypair_fill(EVP_PKEY *pkey, struct cu_jwk_keypair *out)
{
    enum cu_err rc = CU_OK;
    BIO *bio = NULL;
    CU_TRY(pkey_info(pkey, &out->info));
    CU_TRY(pubkey_pem(pkey, &out->pub_pem));
    bio = BIO_new(BIO_s_mem());
    CU_CHECK(bio != NULL, CU_ERR_CRYPTO, "could not allocate a memory bio");
    CU_CHECK(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1, CU_ERR_CRYPTO,
             "could not write a private key");
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    CU_CHECK(len > 0, CU_ERR_CRYPTO, "could not read the private key pem");
    out->priv_pem = cu_xstrndup(data, (size_t)len);
    if (out->info.kind == CU_JWK_RSA) {
        out->a = bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &out->a_len);
        out->b = bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &out->b_len);
        CU_CHECK(out->a != NULL && out->b != NULL, CU_ERR_CRYPTO, "could not read n and e");
    } else {
        size_t size = cu_jwk_curve_size(out->info.curve);
        uint8_t point[1 + 2 * 66];
        size_t point_len = 0;
        CU_CHECK(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                                 sizeof(point), &point_len) == 1 &&
                     point_len == 1 + 2 * size && point[0] == 0x04,
                 CU_ERR_CRYPTO, "could not read the ec point");
        out->a = cu_xmalloc(size);
        out->b = cu_xmalloc(size);
        memcpy(out->a, point + 1, size);
        memcpy(out->b, point + 1 + size, size);
        out->a_len = out->b_len = size;
    }
out:
    BIO_free(bio);
    return rc;
}

enum cu_err
cu_jwk_keypair_generate(enum cu_jwk_kind kind, int bits, enum cu_jwk_curve curve,
                        struct cu_jwk_keypair *out)
{
    enum cu_err rc = CU_OK;
    EVP_PKEY *pkey = NULL;
    memset(out, 0, sizeof(*out));
    const struct curve_def *d = curve_def(curve);
    if (kind == CU_JWK_RSA) {
        CU_CHECK(bits >= 1024 && bits <= CU_JWK_RSA_MAX_BITS, CU_ERR_INVALID, "bad rsa size");
        pkey = EVP_RSA_gen((unsigned int)bits);
    } else {
        CU_CHECK(kind == CU_JWK_EC && d != NULL, CU_ERR_INVALID, "bad key kind or curve");
        pkey = EVP_EC_gen(d->ossl_name);
    }
    CU_CHECK(pkey != NULL, CU_ERR_CRYPTO, "could not generate a key");
    CU_TRY(keypair_fill(pkey, out));
out:
    EVP_PKEY_free(pkey);
    if (rc != CU_OK) {
        cu_jwk_keypair_free(out);
    }
    return rc;
}

enum cu_err
cu_jwk_keypair_from_pem(const char *priv_pem, struct cu_jwk_keypair *out)
{
    enum cu_err rc = CU_OK;
    EVP_PKEY *pkey = NULL;
    memset(out, 0, sizeof(*out));
    BIO *bio = BIO_new_mem_buf(priv_pem, -1);
    CU_CHECK(bio != NULL, CU_ERR_CRYPTO, "could not allocate a memory bio");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    CU_CHECK(pkey != NULL, CU_ERR_INVALID, "not a pem private key");
    CU_TRY(keypair_fill(pkey, out));
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (rc != CU_OK) {
        cu_jwk_keypair_free(out);
    }
    return rc;
}

/* DER ECDSA-Sig-Value -> JWS raw R || S, each coordinate size bytes. */
static enum cu_err
der_to_raw(const uint8_t *der, size_t der_len, size_t size, uint8_t **sig, size_t *sig_len)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    CU_ENSURE(es != NULL, CU_ERR_CRYPTO, "could not parse an ecdsa signature");
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    uint8_t *raw = cu_xmalloc(2 * size);
    int ok = BN_bn2binpad(r, raw, (int)size) == (int)size &&
             BN_bn2binpad(s, raw + size, (int)size) == (int)size;
    ECDSA_SIG_free(es);
    if (!ok) {
        free(raw);
        CU_BAIL(CU_ERR_CRYPTO, "could not encode r and s");
    }
    *sig = raw;
    *sig_len = 2 * size;
    return CU_OK;
}

enum cu_err
cu_jwk_sign(const char *priv_pem, const char *alg, const void *msg, size_t len, int der,
            uint8_t **sig, size_t *sig_len)
{
    enum cu_err rc = CU_OK;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *mdctx = NULL;
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    struct cu_jwk_info info;
    BIO *bio = NULL;

    CU_CHECK(alg != NULL && strlen(alg) == 5, CU_ERR_INVALID, "unsupported alg");
    const char *md = strcmp(alg + 2, "256") == 0   ? "SHA256"
                     : strcmp(alg + 2, "384") == 0 ? "SHA384"
                     : strcmp(alg + 2, "512") == 0 ? "SHA512"
                                                   : NULL;
    enum cu_jwk_kind want = strncmp(alg, "RS", 2) == 0   ? CU_JWK_RSA
                            : strncmp(alg, "ES", 2) == 0 ? CU_JWK_EC
                                                         : CU_JWK_NONE;
    CU_CHECK(md != NULL && want != CU_JWK_NONE, CU_ERR_INVALID, "unsupported alg");
    bio = BIO_new_mem_buf(priv_pem, -1);
    CU_CHECK(bio != NULL, CU_ERR_CRYPTO, "could not allocate a memory bio");
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    CU_CHECK(pkey != NULL, CU_ERR_INVALID, "not a pem private key");
    CU_TRY(pkey_info(pkey, &info));
    CU_CHECK(info.kind == want, CU_ERR_INVALID, "key type does not match alg");
    mdctx = EVP_MD_CTX_new();
    CU_CHECK(mdctx != NULL, CU_ERR_CRYPTO, "could not allocate a digest context");
    CU_CHECK(EVP_DigestSignInit_ex(mdctx, NULL, md, NULL, NULL, pkey, NULL) == 1, CU_ERR_CRYPTO,
             "could not init signing");
    CU_CHECK(EVP_DigestSign(mdctx, NULL, &buf_len, msg, len) == 1, CU_ERR_CRYPTO,
             "could not size a signature");
    buf = cu_xmalloc(buf_len);
    CU_CHECK(EVP_DigestSign(mdctx, buf, &buf_len, msg, len) == 1, CU_ERR_CRYPTO, "could not sign");
    if (info.kind == CU_JWK_EC && !der) {
        CU_TRY(der_to_raw(buf, buf_len, cu_jwk_curve_size(info.curve), sig, sig_len));
        goto out;
    }
    *sig = buf;
    *sig_len = buf_len;
    buf = NULL;
out:
    free(buf);
    EVP_MD_CTX_free(mdctx);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}
