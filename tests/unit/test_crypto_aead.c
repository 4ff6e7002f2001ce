/* AES-256-GCM: McGrew-Viega test cases 13-18 (the 256-bit-key cases, also in NIST's GCM
 * specification), and the sealed layout's failure behaviour. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/ff1.h"
#include "crypto/hmac.h"
#include "support/hex.h"

struct gcm_vector {
    const char *name;
    const char *key;
    const char *iv;
    const char *aad;
    const char *pt;
    const char *ct;
    const char *tag;
};

#define K0 "0000000000000000000000000000000000000000000000000000000000000000"
#define K1 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define P60                                                                                        \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                             \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define A20 "feedfacedeadbeeffeedfacedeadbeefabaddad2"

static const struct gcm_vector vectors[] = {
    {"13", K0, "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"14", K0, "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"15", K1, "cafebabefacedbaddecaf888", "", P60 "1aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"16", K1, "cafebabefacedbaddecaf888", A20, P60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {"17", K1, "cafebabefacedbad", A20, P60,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
     "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    {"18", K1,
     "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
     "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
     A20, P60,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
     "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};

struct decoded {
    uint8_t key[32], iv[64], aad[32], pt[64], ct[64], tag[16];
    size_t iv_len, aad_len, pt_len, ct_len;
};

static void
decode(const struct gcm_vector *v, struct decoded *d)
{
    cr_assert_eq(t_unhex(v->key, d->key), 32);
    d->iv_len = t_unhex(v->iv, d->iv);
    d->aad_len = t_unhex(v->aad, d->aad);
    d->pt_len = t_unhex(v->pt, d->pt);
    d->ct_len = t_unhex(v->ct, d->ct);
    cr_assert_eq(t_unhex(v->tag, d->tag), 16);
    cr_assert_eq(d->pt_len, d->ct_len);
}

static void
check_vector(const struct gcm_vector *v)
{
    struct decoded d;
    uint8_t ct[64];
    uint8_t tag[16];
    uint8_t pt[64];
    decode(v, &d);
    cr_assert_eq(
        cu_aead_encrypt_raw(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.pt, d.pt_len, ct, tag),
        CU_OK, "test case %s", v->name);
    cr_assert_arr_eq(ct, d.ct, d.ct_len, "ciphertext of test case %s", v->name);
    cr_assert_arr_eq(tag, d.tag, 16, "tag of test case %s", v->name);
    cr_assert_eq(
        cu_aead_decrypt_raw(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.ct, d.ct_len, d.tag, pt),
        CU_OK, "test case %s", v->name);
    cr_assert_arr_eq(pt, d.pt, d.pt_len, "plaintext of test case %s", v->name);
}

Test(crypto_aead, matches_gcm_test_case_13_empty_plaintext)
{
    check_vector(&vectors[0]);
}

Test(crypto_aead, matches_gcm_test_case_14_one_zero_block)
{
    check_vector(&vectors[1]);
}

Test(crypto_aead, matches_gcm_test_case_15_four_blocks)
{
    check_vector(&vectors[2]);
}

Test(crypto_aead, matches_gcm_test_case_16_60_bytes_with_aad)
{
    check_vector(&vectors[3]);
}

Test(crypto_aead, matches_gcm_test_case_17_with_8_byte_iv)
{
    check_vector(&vectors[4]);
}

Test(crypto_aead, matches_gcm_test_case_18_with_60_byte_iv)
{
    check_vector(&vectors[5]);
}

Test(crypto_aead, reuses_its_thread_context_across_iv_lengths_and_directions)
{
    /* Twice through every vector in one thread: a context left in another IV length or
     * direction by the previous call must not leak into the next. */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
            check_vector(&vectors[i]);
        }
    }
}

Test(crypto_aead, rejects_raw_ciphertext_with_wrong_tag_and_wipes_output)
{
    struct decoded d;
    uint8_t pt[64];
    decode(&vectors[3], &d);
    d.tag[15] ^= 1;
    memset(pt, 0xee, sizeof(pt));
    cr_assert_eq(
        cu_aead_decrypt_raw(d.key, d.iv, d.iv_len, d.aad, d.aad_len, d.ct, d.ct_len, d.tag, pt),
        CU_ERR_CRYPTO);
    for (size_t i = 0; i < d.ct_len; i++) {
        cr_assert_eq(pt[i], 0, "byte %zu of released plaintext", i);
    }
}

/* A sealed message of a 40-byte plaintext under a fixed key and AAD, for the failure tests. */
static const uint8_t seal_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                     23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t seal_aad[] = "tenant=t1|collection=people|record=r1|field=email|v=1";
static const uint8_t seal_pt[] = "alice@example.com, born 1970-01-01, x42";

static size_t
seal_sample(uint8_t *out)
{
    size_t out_len = 0;
    cr_assert_eq(
        cu_aead_seal(seal_key, seal_aad, sizeof(seal_aad), seal_pt, sizeof(seal_pt), out, &out_len),
        CU_OK);
    cr_assert_eq(out_len, cu_aead_sealed_len(sizeof(seal_pt)));
    return out_len;
}

/* Opens in under the sample key and AAD (optionally changed), asserting failure and that no
 * plaintext byte was released. */
static void
assert_open_fails(const uint8_t *key, const uint8_t *aad, size_t aad_len, const uint8_t *in,
                  size_t in_len)
{
    uint8_t out[128];
    size_t out_len = 12345;
    memset(out, 0xee, sizeof(out));
    cr_assert_eq(cu_aead_open(key, aad, aad_len, in, in_len, out, &out_len), CU_ERR_CRYPTO);
    cr_assert_eq(out_len, 0);
    for (size_t i = 0; i < cu_aead_opened_len(in_len); i++) {
        cr_assert_eq(out[i], 0, "byte %zu of the output buffer", i);
    }
}

Test(crypto_aead, seals_and_opens_round_trip)
{
    uint8_t sealed[128];
    uint8_t out[128];
    size_t out_len = 0;
    size_t n = seal_sample(sealed);
    cr_assert_eq(n, 1 + 12 + sizeof(seal_pt) + 16);
    cr_assert_eq(sealed[0], CU_AEAD_VERSION);
    cr_assert_eq(cu_aead_open(seal_key, seal_aad, sizeof(seal_aad), sealed, n, out, &out_len),
                 CU_OK);
    cr_assert_eq(out_len, sizeof(seal_pt));
    cr_assert_arr_eq(out, seal_pt, sizeof(seal_pt));
}

Test(crypto_aead, seals_and_opens_empty_plaintext)
{
    uint8_t sealed[CU_AEAD_OVERHEAD];
    uint8_t out[1];
    size_t n = 0;
    size_t out_len = 1;
    cr_assert_eq(cu_aead_seal(seal_key, NULL, 0, NULL, 0, sealed, &n), CU_OK);
    cr_assert_eq(n, CU_AEAD_OVERHEAD);
    cr_assert_eq(cu_aead_open(seal_key, NULL, 0, sealed, n, out, &out_len), CU_OK);
    cr_assert_eq(out_len, 0);
}

Test(crypto_aead, uses_a_fresh_nonce_for_every_seal)
{
    uint8_t a[128];
    uint8_t b[128];
    size_t n = seal_sample(a);
    cr_assert_eq(seal_sample(b), n);
    cr_assert_neq(memcmp(a + 1, b + 1, 12), 0, "nonce repeated");
    cr_assert_neq(memcmp(a + 13, b + 13, n - 13), 0, "ciphertext repeated");
}

Test(crypto_aead, rejects_wrong_key)
{
    uint8_t sealed[128];
    uint8_t key[32];
    size_t n = seal_sample(sealed);
    memcpy(key, seal_key, sizeof(key));
    key[31] ^= 0x80;
    assert_open_fails(key, seal_aad, sizeof(seal_aad), sealed, n);
}

Test(crypto_aead, rejects_ciphertext_moved_to_another_record)
{
    uint8_t sealed[128];
    static const uint8_t other[] = "tenant=t1|collection=people|record=r2|field=email|v=1";
    size_t n = seal_sample(sealed);
    assert_open_fails(seal_key, other, sizeof(other), sealed, n);
    assert_open_fails(seal_key, seal_aad, sizeof(seal_aad) - 1, sealed, n);
    assert_open_fails(seal_key, NULL, 0, sealed, n);
}

Test(crypto_aead, rejects_ciphertext_with_flipped_nonce_bit)
{
    uint8_t sealed[128];
    size_t n = seal_sample(sealed);
    for (size_t i = 1; i < 13; i++) {
        sealed[i] ^= 0x01;
        assert_open_fails(seal_key, seal_aad, sizeof(seal_aad), sealed, n);
        sealed[i] ^= 0x01;
    }
}

Test(crypto_aead, rejects_ciphertext_with_flipped_ciphertext_bit)
{
    uint8_t sealed[128];
    size_t n = seal_sample(sealed);
    for (size_t i = 13; i < n - 16; i++) {
        sealed[i] ^= 0x40;
        assert_open_fails(seal_key, seal_aad, sizeof(seal_aad), sealed, n);
        sealed[i] ^= 0x40;
    }
}

Test(crypto_aead, rejects_ciphertext_with_flipped_tag_bit)
{
    uint8_t sealed[128];
    size_t n = seal_sample(sealed);
    for (size_t i = n - 16; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            sealed[i] ^= (uint8_t)(1u << bit);
            assert_open_fails(seal_key, seal_aad, sizeof(seal_aad), sealed, n);
            sealed[i] ^= (uint8_t)(1u << bit);
        }
    }
}

Test(crypto_aead, rejects_truncated_ciphertext)
{
    uint8_t sealed[128];
    size_t n = seal_sample(sealed);
    for (size_t len = 0; len < n; len++) {
        assert_open_fails(seal_key, seal_aad, sizeof(seal_aad), sealed, len);
    }
}

Test(crypto_aead, rejects_ciphertext_with_extra_trailing_byte)
{
    uint8_t sealed[128];
    size_t n = seal_sample(sealed);
    sealed[n] = 0;
    assert_open_fails(seal_key, seal_aad, sizeof(seal_aad), sealed, n + 1);
}

Test(crypto_aead, rejects_unknown_version_byte)
{
    uint8_t sealed[128];
    size_t n = seal_sample(sealed);
    static const uint8_t versions[] = {0x00, 0x02, 0x81, 0xff};
    for (size_t i = 0; i < sizeof(versions); i++) {
        sealed[0] = versions[i];
        assert_open_fails(seal_key, seal_aad, sizeof(seal_aad), sealed, n);
    }
}

Test(crypto_aead, opens_correctly_after_a_failed_open_on_the_same_thread)
{
    uint8_t sealed[128];
    uint8_t out[128];
    size_t out_len = 0;
    size_t n = seal_sample(sealed);
    sealed[n - 1] ^= 1;
    assert_open_fails(seal_key, seal_aad, sizeof(seal_aad), sealed, n);
    sealed[n - 1] ^= 1;
    cr_assert_eq(cu_aead_open(seal_key, seal_aad, sizeof(seal_aad), sealed, n, out, &out_len),
                 CU_OK);
    cr_assert_arr_eq(out, seal_pt, sizeof(seal_pt));
}

static void *
use_every_context(void *arg)
{
    (void)arg;
    uint8_t sealed[128];
    uint8_t out[128];
    uint8_t mac[32];
    size_t n = 0;
    size_t m = 0;
    char digits[16];
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(cu_aead_seal(seal_key, seal_aad, sizeof(seal_aad), seal_pt, sizeof(seal_pt),
                                  sealed, &n),
                     CU_OK);
        cr_assert_eq(cu_aead_open(seal_key, seal_aad, sizeof(seal_aad), sealed, n, out, &m), CU_OK);
        cr_assert_arr_eq(out, seal_pt, sizeof(seal_pt));
        cr_assert_eq(cu_hmac_sha256(seal_key, 32, sealed, n, mac), CU_OK);
        cr_assert_eq(cu_sha256(sealed, n, mac), CU_OK);
        cr_assert_eq(cu_ff1_encrypt_digits(seal_key, NULL, 0, "123456789", digits), CU_OK);
    }
    return NULL;
}

Test(crypto_aead, works_on_many_threads_and_releases_their_contexts_at_exit)
{
    /* Under the sanitizer build, LeakSanitizer reports a per-thread context of an exited thread
     * that was not freed. */
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(pthread_create(&t[i], NULL, use_every_context, NULL), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
    }
}
