/* Test and tool helper: key generation and JWS signing with OpenSSL (see jwk_keys.h). */
#include "support/jwk_keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/mem.h"

/* OpenSSL's group name of a JWK curve; NULL when unknown. */
static const char *
curve_ossl_name(enum cu_jwk_curve c)
{
    switch (c) {
    case CU_CURVE_P256:
        return "prime256v1";
    case CU_CURVE_P384:
        return "secp384r1";
    case CU_CURVE_P521:
        return "secp521r1";
    default:
        return NULL;
    }
}

/* Reads pkey's public half back through the product's own PEM reader, so tests see a key
 * exactly as the server classifies it. */
static enum cu_err
pubkey_pem_and_info(EVP_PKEY *pkey, char **pem_out, struct cu_jwk_info *info)
{
    enum cu_err rc = CU_OK;
    BIO *bio = BIO_new(BIO_s_mem());
    CU_CHECK(bio != NULL, CU_ERR_CRYPTO, "could not allocate a memory bio");
    CU_CHECK(PEM_write_bio_PUBKEY(bio, pkey) == 1, CU_ERR_CRYPTO, "could not write a public key");
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    CU_CHECK(len > 0 && data != NULL, CU_ERR_CRYPTO, "could not read the public key pem");
    *pem_out = cu_xstrndup(data, (size_t)len);
    CU_TRY(cu_jwk_pem_info(*pem_out, (size_t)len, info));
out:
    BIO_free(bio);
    return rc;
}

void
mint_keypair_free(struct mint_keypair *kp)
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
    uint8_t *p = cu_xmalloc(*len ? *len : 1);
    BN_bn2bin(bn, p);
    BN_free(bn);
    return p;
}

/* Fills kp (info, PEMs, JWK parameters) from a private key. */
static enum cu_err
keypair_fill(EVP_PKEY *pkey, struct mint_keypair *out)
{
    enum cu_err rc = CU_OK;
    BIO *bio = NULL;
    CU_TRY(pubkey_pem_and_info(pkey, &out->pub_pem, &out->info));
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
mint_keypair_generate(enum cu_jwk_kind kind, int bits, enum cu_jwk_curve curve,
                      struct mint_keypair *out)
{
    enum cu_err rc = CU_OK;
    EVP_PKEY *pkey = NULL;
    memset(out, 0, sizeof(*out));
    const char *group = curve_ossl_name(curve);
    if (kind == CU_JWK_RSA) {
        CU_CHECK(bits >= 1024 && bits <= CU_JWK_RSA_MAX_BITS, CU_ERR_INVALID, "bad rsa size");
        pkey = EVP_RSA_gen((unsigned int)bits);
    } else {
        CU_CHECK(kind == CU_JWK_EC && group != NULL, CU_ERR_INVALID, "bad key kind or curve");
        pkey = EVP_EC_gen(group);
    }
    CU_CHECK(pkey != NULL, CU_ERR_CRYPTO, "could not generate a key");
    CU_TRY(keypair_fill(pkey, out));
out:
    EVP_PKEY_free(pkey);
    if (rc != CU_OK) {
        mint_keypair_free(out);
    }
    return rc;
}

enum cu_err
mint_keypair_from_pem(const char *priv_pem, struct mint_keypair *out)
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
        mint_keypair_free(out);
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
mint_jws_sign(const char *priv_pem, const char *alg, const void *msg, size_t len, int der,
              uint8_t **sig, size_t *sig_len)
{
    enum cu_err rc = CU_OK;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *mdctx = NULL;
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    struct mint_keypair kp = {0};
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
    CU_TRY(pubkey_pem_and_info(pkey, &kp.pub_pem, &kp.info));
    CU_CHECK(kp.info.kind == want, CU_ERR_INVALID, "key type does not match alg");
    mdctx = EVP_MD_CTX_new();
    CU_CHECK(mdctx != NULL, CU_ERR_CRYPTO, "could not allocate a digest context");
    CU_CHECK(EVP_DigestSignInit_ex(mdctx, NULL, md, NULL, NULL, pkey, NULL) == 1, CU_ERR_CRYPTO,
             "could not init signing");
    CU_CHECK(EVP_DigestSign(mdctx, NULL, &buf_len, msg, len) == 1, CU_ERR_CRYPTO,
             "could not size a signature");
    buf = cu_xmalloc(buf_len);
    CU_CHECK(EVP_DigestSign(mdctx, buf, &buf_len, msg, len) == 1, CU_ERR_CRYPTO, "could not sign");
    if (kp.info.kind == CU_JWK_EC && !der) {
        CU_TRY(der_to_raw(buf, buf_len, cu_jwk_curve_size(kp.info.curve), sig, sig_len));
        goto out;
    }
    *sig = buf;
    *sig_len = buf_len;
    buf = NULL;
out:
    free(buf);
    mint_keypair_free(&kp);
    EVP_MD_CTX_free(mdctx);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}
