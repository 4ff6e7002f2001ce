/* HMAC-SHA-256 against RFC 4231 test cases 1-7, SHA-256 against FIPS 180-2 examples, and the
 * parts and streaming forms against the one-shot form. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crypto/hmac.h"
#include "crypto/secret.h"
#include "support/hex.h"

static void
check_hmac(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len,
           const char *expected_hex)
{
    uint8_t expected[32];
    uint8_t mac[32];
    size_t n = t_unhex(expected_hex, expected);
    cr_assert_eq(cu_hmac_sha256(key, key_len, msg, msg_len, mac), CU_OK);
    /* Case 5 is truncated to 128 bits: compare the published prefix only. */
    cr_assert_arr_eq(mac, expected, n);
}

Test(crypto_hmac, matches_rfc4231_case_1)
{
    uint8_t key[20];
    memset(key, 0x0b, sizeof(key));
    check_hmac(key, sizeof(key), "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

Test(crypto_hmac, matches_rfc4231_case_2_short_key)
{
    const char *msg = "what do ya want for nothing?";
    check_hmac((const uint8_t *)"Jefe", 4, msg, strlen(msg),
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Test(crypto_hmac, matches_rfc4231_case_3)
{
    uint8_t key[20];
    uint8_t msg[50];
    memset(key, 0xaa, sizeof(key));
    memset(msg, 0xdd, sizeof(msg));
    check_hmac(key, sizeof(key), msg, sizeof(msg),
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

Test(crypto_hmac, matches_rfc4231_case_4)
{
    uint8_t key[25];
    uint8_t msg[50];
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (uint8_t)(i + 1);
    }
    memset(msg, 0xcd, sizeof(msg));
    check_hmac(key, sizeof(key), msg, sizeof(msg),
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

Test(crypto_hmac, matches_rfc4231_case_5_truncated_to_128_bits)
{
    uint8_t key[20];
    memset(key, 0x0c, sizeof(key));
    check_hmac(key, sizeof(key), "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b");
}

Test(crypto_hmac, matches_rfc4231_case_6_key_longer_than_block)
{
    uint8_t key[131];
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    memset(key, 0xaa, sizeof(key));
    check_hmac(key, sizeof(key), msg, strlen(msg),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(crypto_hmac, matches_rfc4231_case_7_key_and_data_longer_than_block)
{
    uint8_t key[131];
    const char *msg = "This is a test using a larger than block-size key and a larger than "
                      "block-size data. The key needs to be hashed before being used by the "
                      "HMAC algorithm.";
    memset(key, 0xaa, sizeof(key));
    check_hmac(key, sizeof(key), msg, strlen(msg),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

Test(crypto_hmac, rekeys_its_reused_context_on_every_call)
{
    /* Alternate keys on one thread: a stale key in the reused context would break case 2. */
    uint8_t key1[20];
    memset(key1, 0x0b, sizeof(key1));
    for (int i = 0; i < 3; i++) {
        check_hmac(key1, sizeof(key1), "Hi There", 8,
                   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        check_hmac((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
                   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}

Test(crypto_hmac, accepts_an_empty_key_and_message)
{
    /* HMAC-SHA-256("", ""), as computed by `openssl dgst -sha256 -hmac ''`. */
    check_hmac(NULL, 0, NULL, 0,
               "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

Test(crypto_hmac, parts_equal_the_concatenation)
{
    const char *msg = "what do ya want for nothing?";
    struct cu_part parts[] = {{msg, 4}, {NULL, 0}, {msg + 4, 10}, {msg + 14, 14}};
    uint8_t mac[32];
    uint8_t expected[32];
    cr_assert_eq(cu_hmac_sha256_parts((const uint8_t *)"Jefe", 4, parts, 4, mac), CU_OK);
    t_unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", expected);
    cr_assert(cu_ct_equal(mac, expected, 32));
}

Test(crypto_hmac, writes_big_endian_length_prefixes)
{
    uint8_t b[4];
    cu_put_be32(b, 0x01020304u);
    cr_assert(b[0] == 1 && b[1] == 2 && b[2] == 3 && b[3] == 4);
}

Test(crypto_hmac, sha256_matches_fips_180_examples)
{
    uint8_t out[32];
    uint8_t expected[32];
    cr_assert_eq(cu_sha256((const uint8_t *)"abc", 3, out), CU_OK);
    t_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", expected);
    cr_assert_arr_eq(out, expected, 32);
    cr_assert_eq(cu_sha256(NULL, 0, out), CU_OK);
    t_unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", expected);
    cr_assert_arr_eq(out, expected, 32);
}

Test(crypto_hmac, streaming_sha256_matches_one_shot)
{
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    uint8_t out[32];
    uint8_t expected[32];
    struct cu_sha256_ctx c = {0};
    cr_assert_eq(cu_sha256_init(&c), CU_OK);
    for (size_t i = 0; i < strlen(msg); i += 5) {
        size_t n = strlen(msg) - i < 5 ? strlen(msg) - i : 5;
        cr_assert_eq(cu_sha256_update(&c, msg + i, n), CU_OK);
    }
    cr_assert_eq(cu_sha256_final(&c, out), CU_OK);
    cu_sha256_cleanup(&c);
    cu_sha256_cleanup(&c);
    t_unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", expected);
    cr_assert_arr_eq(out, expected, 32);
}

Test(crypto_hmac, streaming_sha256_refuses_an_uninitialised_context)
{
    struct cu_sha256_ctx c = {0};
    uint8_t out[32];
    cr_assert_eq(cu_sha256_update(&c, "x", 1), CU_ERR_CRYPTO);
    cr_assert_eq(cu_sha256_final(&c, out), CU_ERR_CRYPTO);
}
