/* FF1 against the nine NIST SP 800-38G sample vectors (FF1-AES128, -AES192 and -AES256 samples
 * 1-9, radix 10 and 36, from NIST's "Cryptographic Standards and Guidelines: Examples with
 * Intermediate Values", FF1samples.pdf), plus the domain limits of SP 800-38G rev. 1. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crypto/ff1.h"
#include "support/hex.h"

/* Numerals of a string over 0-9a-z. */
static size_t
numerals(const char *s, uint8_t *out)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    }
    return n;
}

struct ff1_sample {
    int number;
    const char *key;
    unsigned radix;
    const char *tweak;
    const char *pt;
    const char *ct;
};

#define K128 "2b7e151628aed2a6abf7158809cf4f3c"
#define K192 K128 "ef4359d8d580aa4f"
#define K256 K192 "7f036d6f04fc6a94"
#define T10 "39383736353433323130"
#define T11 "3737373770717273373737"

static const struct ff1_sample samples[] = {
    {1, K128, 10, "", "0123456789", "2433477484"},
    {2, K128, 10, T10, "0123456789", "6124200773"},
    {3, K128, 36, T11, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
    {4, K192, 10, "", "0123456789", "2830668132"},
    {5, K192, 10, T10, "0123456789", "2496655549"},
    {6, K192, 36, T11, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"},
    {7, K256, 10, "", "0123456789", "6657667009"},
    {8, K256, 10, T10, "0123456789", "1001623463"},
    {9, K256, 36, T11, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"},
};

static void
check_sample(int number)
{
    const struct ff1_sample *s = &samples[number - 1];
    uint8_t key[32], tweak[16], pt[32], ct[32], out[32];
    size_t key_len = t_unhex(s->key, key);
    size_t tweak_len = t_unhex(s->tweak, tweak);
    size_t n = numerals(s->pt, pt);
    cr_assert_eq(numerals(s->ct, ct), n);
    cr_assert_eq(cu_ff1_encrypt(key, key_len, tweak, tweak_len, s->radix, pt, n, out), CU_OK,
                 "sample %d", number);
    cr_assert_arr_eq(out, ct, n, "ciphertext of sample %d", number);
    cr_assert_eq(cu_ff1_decrypt(key, key_len, tweak, tweak_len, s->radix, ct, n, out), CU_OK,
                 "sample %d", number);
    cr_assert_arr_eq(out, pt, n, "plaintext of sample %d", number);
}

Test(crypto_ff1, matches_nist_sample_1_aes128_radix10_empty_tweak)
{
    check_sample(1);
}

Test(crypto_ff1, matches_nist_sample_2_aes128_radix10_with_tweak)
{
    check_sample(2);
}

Test(crypto_ff1, matches_nist_sample_3_aes128_radix36)
{
    check_sample(3);
}

Test(crypto_ff1, matches_nist_sample_4_aes192_radix10_empty_tweak)
{
    check_sample(4);
}

Test(crypto_ff1, matches_nist_sample_5_aes192_radix10_with_tweak)
{
    check_sample(5);
}

Test(crypto_ff1, matches_nist_sample_6_aes192_radix36)
{
    check_sample(6);
}

Test(crypto_ff1, matches_nist_sample_7_aes256_radix10_empty_tweak)
{
    check_sample(7);
}

Test(crypto_ff1, matches_nist_sample_8_aes256_radix10_with_tweak)
{
    check_sample(8);
}

Test(crypto_ff1, matches_nist_sample_9_aes256_radix36)
{
    check_sample(9);
}

Test(crypto_ff1, matches_all_samples_in_sequence_on_one_thread)
{
    for (int round = 0; round < 2; round++) {
        for (int i = 1; i <= 9; i++) {
            check_sample(i);
        }
    }
}

Test(crypto_ff1, encrypts_decimal_strings_with_the_convenience_form)
{
    uint8_t key[32];
    uint8_t tweak[10];
    char out[16];
    char back[16];
    t_unhex(K256, key);
    t_unhex(T10, tweak);
    cr_assert_eq(cu_ff1_encrypt_digits(key, tweak, sizeof(tweak), "0123456789", out), CU_OK);
    cr_assert_str_eq(out, "1001623463");
    cr_assert_eq(cu_ff1_decrypt_digits(key, tweak, sizeof(tweak), out, back), CU_OK);
    cr_assert_str_eq(back, "0123456789");
}

Test(crypto_ff1, round_trips_every_length_from_minimum_to_maximum)
{
    uint8_t key[32];
    uint8_t in[CU_FF1_MAX_LEN], ct[CU_FF1_MAX_LEN], back[CU_FF1_MAX_LEN];
    t_unhex(K256, key);
    const unsigned radixes[] = {2, 10, 16, 36};
    for (size_t r = 0; r < 4; r++) {
        unsigned radix = radixes[r];
        for (size_t n = cu_ff1_min_len(radix); n <= CU_FF1_MAX_LEN; n++) {
            for (size_t i = 0; i < n; i++) {
                in[i] = (uint8_t)((i * 7 + n) % radix);
            }
            cr_assert_eq(cu_ff1_encrypt(key, 32, (const uint8_t *)"t", 1, radix, in, n, ct), CU_OK);
            for (size_t i = 0; i < n; i++) {
                cr_assert_lt(ct[i], radix);
            }
            cr_assert_eq(cu_ff1_decrypt(key, 32, (const uint8_t *)"t", 1, radix, ct, n, back),
                         CU_OK);
            cr_assert_arr_eq(back, in, n, "radix %u length %zu", radix, n);
        }
    }
}

Test(crypto_ff1, round_trips_a_long_tweak)
{
    uint8_t key[16];
    uint8_t tweak[300];
    uint8_t in[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2};
    uint8_t ct[12], back[12];
    t_unhex(K128, key);
    memset(tweak, 0x5c, sizeof(tweak));
    cr_assert_eq(cu_ff1_encrypt(key, 16, tweak, sizeof(tweak), 10, in, 12, ct), CU_OK);
    cr_assert_eq(cu_ff1_decrypt(key, 16, tweak, sizeof(tweak), 10, ct, 12, back), CU_OK);
    cr_assert_arr_eq(back, in, 12);
}

Test(crypto_ff1, gives_different_ciphertexts_for_different_tweaks)
{
    uint8_t key[32];
    char a[24], b[24];
    t_unhex(K256, key);
    cr_assert_eq(cu_ff1_encrypt_digits(key, (const uint8_t *)"tenant-a", 8, "4111111111111111", a),
                 CU_OK);
    cr_assert_eq(cu_ff1_encrypt_digits(key, (const uint8_t *)"tenant-b", 8, "4111111111111111", b),
                 CU_OK);
    cr_assert_str_neq(a, b);
}

Test(crypto_ff1, computes_minimum_lengths_for_a_million_element_domain)
{
    cr_assert_eq(cu_ff1_min_len(10), 6);
    cr_assert_eq(cu_ff1_min_len(36), 4);
    cr_assert_eq(cu_ff1_min_len(2), 20);
    cr_assert_eq(cu_ff1_min_len(16), 5);
    cr_assert_eq(cu_ff1_min_len(1), 0);
    cr_assert_eq(cu_ff1_min_len(37), 0);
}

Test(crypto_ff1, rejects_domains_below_a_million)
{
    uint8_t key[32] = {0};
    uint8_t in[8] = {0};
    uint8_t out[8];
    cr_assert_eq(cu_ff1_encrypt(key, 32, NULL, 0, 10, in, 5, out), CU_ERR_INVALID);
    cr_assert_eq(cu_ff1_encrypt(key, 32, NULL, 0, 36, in, 3, out), CU_ERR_INVALID);
    cr_assert_eq(cu_ff1_encrypt(key, 32, NULL, 0, 10, in, 6, out), CU_OK);
    char digits[8];
    cr_assert_eq(cu_ff1_encrypt_digits(key, NULL, 0, "12345", digits), CU_ERR_INVALID);
    cr_assert_str_eq(digits, "");
}

Test(crypto_ff1, rejects_strings_longer_than_the_maximum)
{
    uint8_t key[32] = {0};
    uint8_t in[CU_FF1_MAX_LEN + 1] = {0};
    uint8_t out[CU_FF1_MAX_LEN + 1];
    char digits[CU_FF1_MAX_LEN + 2];
    char res[CU_FF1_MAX_LEN + 2];
    cr_assert_eq(cu_ff1_encrypt(key, 32, NULL, 0, 10, in, CU_FF1_MAX_LEN + 1, out), CU_ERR_INVALID);
    memset(digits, '7', CU_FF1_MAX_LEN + 1);
    digits[CU_FF1_MAX_LEN + 1] = '\0';
    cr_assert_eq(cu_ff1_encrypt_digits(key, NULL, 0, digits, res), CU_ERR_INVALID);
}

Test(crypto_ff1, rejects_numerals_outside_the_radix_and_bad_radixes)
{
    uint8_t key[32] = {0};
    uint8_t in[8] = {0, 1, 2, 3, 4, 5, 6, 10};
    uint8_t out[8];
    char digits[16];
    cr_assert_eq(cu_ff1_encrypt(key, 32, NULL, 0, 10, in, 8, out), CU_ERR_INVALID);
    cr_assert_eq(cu_ff1_encrypt(key, 32, NULL, 0, 1, in, 8, out), CU_ERR_INVALID);
    cr_assert_eq(cu_ff1_encrypt(key, 32, NULL, 0, 37, in, 8, out), CU_ERR_INVALID);
    cr_assert_eq(cu_ff1_encrypt_digits(key, NULL, 0, "1234a678", digits), CU_ERR_INVALID);
    cr_assert_eq(cu_ff1_encrypt_digits(key, NULL, 0, "1234 678", digits), CU_ERR_INVALID);
}

Test(crypto_ff1, rejects_keys_of_the_wrong_length)
{
    uint8_t key[33] = {0};
    uint8_t in[8] = {0};
    uint8_t out[8];
    cr_assert_eq(cu_ff1_encrypt(key, 33, NULL, 0, 10, in, 8, out), CU_ERR_CRYPTO);
    cr_assert_eq(cu_ff1_encrypt(key, 15, NULL, 0, 10, in, 8, out), CU_ERR_CRYPTO);
    cr_assert_eq(cu_ff1_encrypt(key, 0, NULL, 0, 10, in, 8, out), CU_ERR_CRYPTO);
}
