/* HMAC-SHA-256 over one EVP_MAC_CTX per thread (0.23 us reused against 1.1 us for HMAC()), and
 * SHA-256. Invariant: the digest is fixed at context creation; every call passes its key (never
 * NULL, which would silently reuse the previous caller's key). The context keeps the last key
 * (OpenSSL holds it on the secure heap) until the next call or thread exit. */
#include "crypto/hmac.h"

#include <pthread.h>
#include <stdbool.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/secret.h"

static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;
static EVP_MD *sha256_alg;
static pthread_key_t mac_key;
static pthread_key_t md_key;
static bool tls_keys_ok;
static _Thread_local EVP_MAC_CTX *thread_mac;
static _Thread_local EVP_MD_CTX *thread_md;

static void
mac_free(void *p)
{
    EVP_MAC_CTX_free(p);
    /* Destructors run on the exiting thread: nothing may find the freed context afterwards. */
    thread_mac = NULL;
}

static void
md_free(void *p)
{
    EVP_MD_CTX_free(p);
    thread_md = NULL;
}

static void
hmac_init_once(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
    tls_keys_ok =
        pthread_key_create(&mac_key, mac_free) == 0 && pthread_key_create(&md_key, md_free) == 0;
}

static EVP_MAC_CTX *
mac_ctx(void)
{
    pthread_once(&hmac_once, hmac_init_once);
    if (hmac_alg == NULL) {
        return NULL;
    }
    if (thread_mac != NULL) {
        return thread_mac;
    }
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac_alg);
    if (c == NULL) {
        return NULL;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(c, params) != 1) {
        EVP_MAC_CTX_free(c);
        return NULL;
    }
    thread_mac = c;
    if (tls_keys_ok) {
        (void)pthread_setspecific(mac_key, c);
    }
    return c;
}

static EVP_MD_CTX *
md_ctx(void)
{
    pthread_once(&hmac_once, hmac_init_once);
    if (sha256_alg == NULL) {
        return NULL;
    }
    if (thread_md == NULL) {
        thread_md = EVP_MD_CTX_new();
        if (thread_md != NULL && tls_keys_ok) {
            (void)pthread_setspecific(md_key, thread_md);
        }
    }
    return thread_md;
}

enum cu_err
cu_hmac_sha256_parts(const uint8_t *key, size_t key_len, const struct cu_part *parts,
                     size_t n_parts, uint8_t out[CU_SHA256_LEN])
{
    EVP_MAC_CTX *c = mac_ctx();
    size_t out_len = 0;
    /* OpenSSL refuses a NULL key even when its length is 0; HMAC defines the empty key. */
    static const uint8_t empty_key[1];
    bool ok = c != NULL && EVP_MAC_init(c, key_len ? key : empty_key, key_len, NULL) == 1;
    for (size_t i = 0; ok && i < n_parts; i++) {
        ok = parts[i].len == 0 || EVP_MAC_update(c, parts[i].data, parts[i].len) == 1;
    }
    ok = ok && EVP_MAC_final(c, out, &out_len, CU_SHA256_LEN) == 1 && out_len == CU_SHA256_LEN;
    if (!ok) {
        cu_wipe(out, CU_SHA256_LEN);
        CU_BAIL(CU_ERR_CRYPTO, "could not compute HMAC-SHA-256");
    }
    return CU_OK;
}

enum cu_err
cu_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
               uint8_t out[CU_SHA256_LEN])
{
    struct cu_part part = {msg, msg_len};
    return cu_hmac_sha256_parts(key, key_len, &part, 1, out);
}

enum cu_err
cu_sha256(const uint8_t *msg, size_t len, uint8_t out[CU_SHA256_LEN])
{
    EVP_MD_CTX *c = md_ctx();
    unsigned int out_len = 0;
    bool ok = c != NULL && EVP_DigestInit_ex2(c, sha256_alg, NULL) == 1 &&
              (len == 0 || EVP_DigestUpdate(c, msg, len) == 1) &&
              EVP_DigestFinal_ex(c, out, &out_len) == 1 && out_len == CU_SHA256_LEN;
    CU_ENSURE(ok, CU_ERR_CRYPTO, "could not compute SHA-256");
    return CU_OK;
}

enum cu_err
cu_sha256_init(struct cu_sha256_ctx *c)
{
    pthread_once(&hmac_once, hmac_init_once);
    c->md = NULL;
    CU_ENSURE(sha256_alg != NULL, CU_ERR_CRYPTO, "could not fetch SHA-256");
    c->md = EVP_MD_CTX_new();
    CU_ENSURE(c->md != NULL, CU_ERR_CRYPTO, "could not allocate a SHA-256 context");
    CU_ENSURE(EVP_DigestInit_ex2(c->md, sha256_alg, NULL) == 1, CU_ERR_CRYPTO,
              "could not start SHA-256");
    return CU_OK;
}

enum cu_err
cu_sha256_update(struct cu_sha256_ctx *c, const void *data, size_t len)
{
    CU_ENSURE(c->md != NULL, CU_ERR_CRYPTO, "SHA-256 context not initialised");
    if (len == 0) {
        return CU_OK;
    }
    CU_ENSURE(EVP_DigestUpdate(c->md, data, len) == 1, CU_ERR_CRYPTO, "could not update SHA-256");
    return CU_OK;
}

enum cu_err
cu_sha256_final(struct cu_sha256_ctx *c, uint8_t out[CU_SHA256_LEN])
{
    CU_ENSURE(c->md != NULL, CU_ERR_CRYPTO, "SHA-256 context not initialised");
    unsigned int out_len = 0;
    CU_ENSURE(EVP_DigestFinal_ex(c->md, out, &out_len) == 1 && out_len == CU_SHA256_LEN,
              CU_ERR_CRYPTO, "could not finish SHA-256");
    return CU_OK;
}

void
cu_sha256_cleanup(struct cu_sha256_ctx *c)
{
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
}

void
cu_put_be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}
