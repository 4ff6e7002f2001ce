/* FF1 (SP 800-38G rev. 1, Algorithms 7 and 8) with BIGNUM for NUM_radix/STR_radix and one reused
 * AES-ECB context per thread for PRF and CIPH. Step numbers in comments refer to Algorithm 7. */
#include "crypto/ff1.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "core/mem.h"
#include "crypto/hmac.h"
#include "crypto/secret.h"

#define BLOCK 16
#define ROUNDS 10

static pthread_once_t ff1_once = PTHREAD_ONCE_INIT;
/* AES-128, -192 and -256 in ECB mode, fetched once. */
static EVP_CIPHER *ecb[3];
static pthread_key_t ctx_key;
static bool ctx_key_ok;
static _Thread_local EVP_CIPHER_CTX *thread_ctx;

static void
ctx_free(void *p)
{
    EVP_CIPHER_CTX_free(p);
    /* Destructors run on the exiting thread: nothing may find the freed context afterwards. */
    thread_ctx = NULL;
}

static void
ff1_init_once(void)
{
    ecb[0] = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
    ecb[1] = EVP_CIPHER_fetch(NULL, "AES-192-ECB", NULL);
    ecb[2] = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, ctx_free) == 0;
}

/* The thread's ECB context keyed with key, or NULL. */
static EVP_CIPHER_CTX *
keyed_ctx(const uint8_t *key, size_t key_len)
{
    pthread_once(&ff1_once, ff1_init_once);
    if (key_len != 16 && key_len != 24 && key_len != 32) {
        return NULL;
    }
    EVP_CIPHER *cipher = ecb[(key_len - 16) / 8];
    if (cipher == NULL) {
        return NULL;
    }
    if (thread_ctx == NULL) {
        thread_ctx = EVP_CIPHER_CTX_new();
        if (thread_ctx == NULL) {
            return NULL;
        }
        if (ctx_key_ok) {
            (void)pthread_setspecific(ctx_key, thread_ctx);
        }
    }
    if (EVP_EncryptInit_ex2(thread_ctx, cipher, key, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(thread_ctx, 0) != 1) {
        return NULL;
    }
    return thread_ctx;
}

/* CIPH_K: one AES block. */
static bool
aes_block(EVP_CIPHER_CTX *c, const uint8_t in[BLOCK], uint8_t out[BLOCK])
{
    int n = 0;
    return EVP_EncryptUpdate(c, out, &n, in, BLOCK) == 1 && n == BLOCK;
}

size_t
cu_ff1_min_len(unsigned radix)
{
    if (radix < CU_FF1_MIN_RADIX || radix > CU_FF1_MAX_RADIX) {
        return 0;
    }
    size_t len = 0;
    uint64_t domain = 1;
    while (domain < CU_FF1_MIN_DOMAIN) {
        domain *= radix;
        len++;
    }
    return len < 2 ? 2 : len;
}

/* x = NUM_radix(digits[0..len)). */
static bool
num_radix(BIGNUM *x, const uint8_t *digits, size_t len, unsigned radix)
{
    BN_zero(x);
    for (size_t i = 0; i < len; i++) {
        if (BN_mul_word(x, radix) != 1 || BN_add_word(x, digits[i]) != 1) {
            return false;
        }
    }
    return true;
}

/* digits[0..m) = STR^m_radix(x); consumes x. */
static bool
str_radix(BIGNUM *x, size_t m, unsigned radix, uint8_t *digits)
{
    for (size_t k = m; k > 0; k--) {
        BN_ULONG r = BN_div_word(x, radix);
        if (r == (BN_ULONG)-1) {
            return false;
        }
        digits[k - 1] = (uint8_t)r;
    }
    return BN_is_zero(x);
}

static bool
pow_radix(BIGNUM *out, unsigned radix, size_t e)
{
    if (BN_one(out) != 1) {
        return false;
    }
    for (size_t i = 0; i < e; i++) {
        if (BN_mul_word(out, radix) != 1) {
            return false;
        }
    }
    return true;
}

/* R = PRF(P || Q): CBC-MAC with a zero IV, resumed from y0 = CIPH_K(P). */
static bool
prf(EVP_CIPHER_CTX *c, const uint8_t y0[BLOCK], const uint8_t *q, size_t q_len, uint8_t r[BLOCK])
{
    memcpy(r, y0, BLOCK);
    for (size_t off = 0; off < q_len; off += BLOCK) {
        for (size_t j = 0; j < BLOCK; j++) {
            r[j] ^= q[off + j];
        }
        if (!aes_block(c, r, r)) {
            return false;
        }
    }
    return true;
}

/* S = first d bytes of R || CIPH_K(R xor [1]^16) || CIPH_K(R xor [2]^16) || ... (step 6.iii). */
static bool
expand(EVP_CIPHER_CTX *c, const uint8_t r[BLOCK], size_t d, uint8_t *s)
{
    memcpy(s, r, BLOCK);
    for (size_t j = 1; j * BLOCK < d; j++) {
        uint8_t blk[BLOCK];
        memcpy(blk, r, BLOCK);
        /* d <= 28 here, so j fits the last byte of [j]^16. */
        blk[BLOCK - 1] ^= (uint8_t)j;
        bool ok = aes_block(c, blk, s + j * BLOCK);
        cu_wipe(blk, sizeof(blk));
        if (!ok) {
            return false;
        }
    }
    return true;
}

static enum cu_err
ff1(bool encrypt, const uint8_t *key, size_t key_len, const uint8_t *tweak, size_t tweak_len,
    unsigned radix, const uint8_t *in, size_t n, uint8_t *out, bool small)
{
    enum cu_err rc = CU_OK;
    BN_CTX *bn = NULL;
    uint8_t *q = NULL;
    size_t q_len = 0;
    uint8_t a[CU_FF1_MAX_LEN];
    uint8_t b[CU_FF1_MAX_LEN];
    uint8_t p[BLOCK];
    uint8_t y0[BLOCK];
    uint8_t r[BLOCK];
    uint8_t s[2 * BLOCK];

    size_t min_len = cu_ff1_min_len(radix);
    CU_CHECK(min_len != 0, CU_ERR_INVALID, "could not run FF1: radix %u out of range", radix);
    if (small) {
        /* the 2016 edition's floor, radix^minlen >= 100 (see cu_ff1_encrypt_small_digits) */
        min_len = 2;
    }
    CU_CHECK(n >= min_len && n <= CU_FF1_MAX_LEN, CU_ERR_INVALID,
             "could not run FF1: length %zu outside %zu..%d for radix %u", n, min_len,
             CU_FF1_MAX_LEN, radix);
    CU_CHECK(tweak_len <= UINT32_MAX, CU_ERR_INVALID, "could not run FF1: tweak too long");
    for (size_t i = 0; i < n; i++) {
        CU_CHECK(in[i] < radix, CU_ERR_INVALID, "could not run FF1: numeral out of range");
    }
    EVP_CIPHER_CTX *c = keyed_ctx(key, key_len);
    CU_CHECK(c != NULL, CU_ERR_CRYPTO, "could not run FF1: no AES context for a %zu-byte key",
             key_len);

    /* Steps 1-2: split into A (u numerals) and B (v numerals). */
    size_t u = n / 2;
    size_t v = n - u;
    size_t la = u;
    size_t lb = v;
    memcpy(a, in, u);
    memcpy(b, in + u, v);

    bn = BN_CTX_new();
    CU_CHECK(bn != NULL, CU_ERR_CRYPTO, "could not run FF1: no BN_CTX");
    BN_CTX_start(bn);
    BIGNUM *pow_u = BN_CTX_get(bn);
    BIGNUM *pow_v = BN_CTX_get(bn);
    BIGNUM *x = BN_CTX_get(bn);
    BIGNUM *y = BN_CTX_get(bn);
    CU_CHECK(BN_CTX_get(bn) != NULL && pow_radix(pow_u, radix, u) && pow_radix(pow_v, radix, v),
             CU_ERR_CRYPTO, "could not run FF1: bignum failure");

    /* Step 3: b = ceil(ceil(v * log2(radix)) / 8), which is the byte length of radix^v - 1
     * (exact, with no floating point: radix^v - 1 has exactly ceil(v * log2(radix)) bits). */
    CU_CHECK(BN_copy(x, pow_v) != NULL && BN_sub_word(x, 1) == 1, CU_ERR_CRYPTO,
             "could not run FF1: bignum failure");
    size_t b_len = ((size_t)BN_num_bits(x) + 7) / 8;
    /* Step 4. */
    size_t d = 4 * ((b_len + 3) / 4) + 4;

    /* Step 5: P = [1]^1 [2]^1 [1]^1 [radix]^3 [10]^1 [u mod 256]^1 [n]^4 [t]^4. */
    memset(p, 0, sizeof(p));
    p[0] = 1;
    p[1] = 2;
    p[2] = 1;
    p[5] = (uint8_t)radix; /* [radix]^3, and radix <= 36 */
    p[6] = 10;
    p[7] = (uint8_t)(u % 256);
    cu_put_be32(p + 8, (uint32_t)n);
    cu_put_be32(p + 12, (uint32_t)tweak_len);
    CU_CHECK(aes_block(c, p, y0), CU_ERR_CRYPTO, "could not run FF1: AES failed");

    /* Step 6.i: Q = T || [0]^((-t-b-1) mod 16) || [i]^1 || [NUM_radix(B)]^b. */
    size_t pad = (BLOCK - (tweak_len + b_len + 1) % BLOCK) % BLOCK;
    q_len = tweak_len + pad + 1 + b_len;
    q = cu_xcalloc(1, q_len);
    if (tweak_len > 0) {
        memcpy(q, tweak, tweak_len);
    }

    for (int round = 0; round < ROUNDS; round++) {
        int i = encrypt ? round : ROUNDS - 1 - round;
        /* Encryption feeds B to the round function, decryption A (Algorithm 8, step 6.i). */
        const uint8_t *fed = encrypt ? b : a;
        size_t fed_len = encrypt ? lb : la;
        q[tweak_len + pad] = (uint8_t)i;
        CU_CHECK(num_radix(x, fed, fed_len, radix) &&
                     BN_bn2binpad(x, q + tweak_len + pad + 1, (int)b_len) == (int)b_len,
                 CU_ERR_CRYPTO, "could not run FF1: bignum failure");
        /* Steps 6.ii-6.iv. */
        CU_CHECK(prf(c, y0, q, q_len, r) && expand(c, r, d, s), CU_ERR_CRYPTO,
                 "could not run FF1: AES failed");
        CU_CHECK(BN_bin2bn(s, (int)d, y) != NULL, CU_ERR_CRYPTO,
                 "could not run FF1: bignum failure");
        /* Step 6.v-6.vii: c = (NUM(A) +/- y) mod radix^m, C = STR^m(c). */
        size_t m = i % 2 == 0 ? u : v;
        BIGNUM *mod = i % 2 == 0 ? pow_u : pow_v;
        const uint8_t *other = encrypt ? a : b;
        size_t other_len = encrypt ? la : lb;
        bool ok = num_radix(x, other, other_len, radix) &&
                  (encrypt ? BN_add(x, x, y) : BN_sub(x, x, y)) == 1 &&
                  BN_nnmod(x, x, mod, bn) == 1;
        CU_CHECK(ok, CU_ERR_CRYPTO, "could not run FF1: bignum failure");
        /* Steps 6.viii-6.ix: encryption A = B, B = C; decryption B = A, A = C. */
        if (encrypt) {
            memcpy(a, b, lb);
            la = lb;
            CU_CHECK(str_radix(x, m, radix, b), CU_ERR_CRYPTO, "could not run FF1: bignum failure");
            lb = m;
        } else {
            memcpy(b, a, la);
            lb = la;
            CU_CHECK(str_radix(x, m, radix, a), CU_ERR_CRYPTO, "could not run FF1: bignum failure");
            la = m;
        }
    }
    /* Step 7. */
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
out:
    if (rc != CU_OK) {
        cu_wipe(out, n);
    }
    cu_wipe(a, sizeof(a));
    cu_wipe(b, sizeof(b));
    cu_wipe(r, sizeof(r));
    cu_wipe(s, sizeof(s));
    cu_wipe(y0, sizeof(y0));
    if (q != NULL) {
        cu_wipe(q, q_len);
        free(q);
    }
    if (bn != NULL) {
        /* BN_CTX_free clears every bignum it handed out (BN_clear_free). */
        BN_CTX_end(bn);
        BN_CTX_free(bn);
    }
    return rc;
}

enum cu_err
cu_ff1_encrypt(const uint8_t *key, size_t key_len, const uint8_t *tweak, size_t tweak_len,
               unsigned radix, const uint8_t *in, size_t n, uint8_t *out)
{
    return ff1(true, key, key_len, tweak, tweak_len, radix, in, n, out, false);
}

enum cu_err
cu_ff1_decrypt(const uint8_t *key, size_t key_len, const uint8_t *tweak, size_t tweak_len,
               unsigned radix, const uint8_t *in, size_t n, uint8_t *out)
{
    return ff1(false, key, key_len, tweak, tweak_len, radix, in, n, out, false);
}

static enum cu_err
ff1_digits(bool encrypt, const uint8_t key[32], const uint8_t *tweak, size_t tweak_len,
           const char *digits, char *out, bool small)
{
    enum cu_err rc = CU_OK;
    uint8_t num[CU_FF1_MAX_LEN] = {0};
    size_t n = strnlen(digits, CU_FF1_MAX_LEN + 1);
    CU_CHECK(n <= CU_FF1_MAX_LEN, CU_ERR_INVALID, "could not run FF1: more than %d digits",
             CU_FF1_MAX_LEN);
    for (size_t i = 0; i < n; i++) {
        CU_CHECK(digits[i] >= '0' && digits[i] <= '9', CU_ERR_INVALID,
                 "could not run FF1: non-digit at offset %zu", i);
        num[i] = (uint8_t)(digits[i] - '0');
    }
    CU_TRY(ff1(encrypt, key, 32, tweak, tweak_len, 10, num, n, num, small));
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)('0' + num[i]);
    }
    out[n] = '\0';
out:
    if (rc != CU_OK) {
        out[0] = '\0';
    }
    cu_wipe(num, sizeof(num));
    return rc;
}

enum cu_err
cu_ff1_encrypt_digits(const uint8_t key[32], const uint8_t *tweak, size_t tweak_len,
                      const char *digits, char *out)
{
    return ff1_digits(true, key, tweak, tweak_len, digits, out, false);
}

enum cu_err
cu_ff1_decrypt_digits(const uint8_t key[32], const uint8_t *tweak, size_t tweak_len,
                      const char *digits, char *out)
{
    return ff1_digits(false, key, tweak, tweak_len, digits, out, false);
}

enum cu_err
cu_ff1_encrypt_small_digits(const uint8_t key[32], const uint8_t *tweak, size_t tweak_len,
                            const char *digits, char *out)
{
    return ff1_digits(true, key, tweak, tweak_len, digits, out, true);
}

enum cu_err
cu_ff1_decrypt_small_digits(const uint8_t key[32], const uint8_t *tweak, size_t tweak_len,
                            const char *digits, char *out)
{
    return ff1_digits(false, key, tweak, tweak_len, digits, out, true);
}
