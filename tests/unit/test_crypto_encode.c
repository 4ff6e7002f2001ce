/* Base64 (RFC 4648 section 10 vectors), base64url and hex: encoding and strict decoding. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"

static const char *rfc4648_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *rfc4648_b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
static const char *rfc4648_b64url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

Test(crypto_encode, encodes_rfc4648_base64_vectors)
{
    for (size_t i = 0; i < 7; i++) {
        size_t n = 0;
        char *s = cu_base64_encode((const uint8_t *)rfc4648_in[i], strlen(rfc4648_in[i]), &n);
        cr_assert_str_eq(s, rfc4648_b64[i]);
        cr_assert_eq(n, strlen(rfc4648_b64[i]));
        cr_assert_eq(n, cu_base64_encoded_len(strlen(rfc4648_in[i])));
        free(s);
    }
}

Test(crypto_encode, decodes_rfc4648_base64_vectors)
{
    for (size_t i = 0; i < 7; i++) {
        uint8_t *out = NULL;
        size_t n = 0;
        cr_assert_eq(cu_base64_decode(rfc4648_b64[i], strlen(rfc4648_b64[i]), &out, &n), CU_OK);
        cr_assert_eq(n, strlen(rfc4648_in[i]));
        cr_assert_arr_eq(out, rfc4648_in[i], n);
        free(out);
    }
}

Test(crypto_encode, round_trips_base64url_without_padding)
{
    for (size_t i = 0; i < 7; i++) {
        size_t n = 0;
        char *s = cu_base64url_encode((const uint8_t *)rfc4648_in[i], strlen(rfc4648_in[i]), &n);
        cr_assert_str_eq(s, rfc4648_b64url[i]);
        cr_assert_eq(n, cu_base64url_encoded_len(strlen(rfc4648_in[i])));
        uint8_t *out = NULL;
        size_t m = 0;
        cr_assert_eq(cu_base64url_decode(s, n, &out, &m), CU_OK);
        cr_assert_eq(m, strlen(rfc4648_in[i]));
        cr_assert_arr_eq(out, rfc4648_in[i], m);
        free(out);
        free(s);
    }
}

Test(crypto_encode, uses_the_url_alphabet_for_base64url)
{
    const uint8_t in[] = {0xfb, 0xff, 0xbf};
    size_t n = 0;
    char *s = cu_base64url_encode(in, 3, &n);
    cr_assert_str_eq(s, "-_-_");
    free(s);
    s = cu_base64_encode(in, 3, &n);
    cr_assert_str_eq(s, "+/+/");
    free(s);
}

Test(crypto_encode, round_trips_every_byte_value)
{
    uint8_t in[256];
    for (size_t i = 0; i < 256; i++) {
        in[i] = (uint8_t)i;
    }
    for (size_t len = 0; len <= 256; len += 1) {
        size_t n = 0;
        size_t m = 0;
        uint8_t *out = NULL;
        char *s = cu_base64_encode(in, len, &n);
        cr_assert_eq(cu_base64_decode(s, n, &out, &m), CU_OK);
        cr_assert_eq(m, len);
        cr_assert_arr_eq(out, in, len);
        free(out);
        free(s);
        s = cu_base64url_encode(in, len, &n);
        cr_assert_eq(cu_base64url_decode(s, n, &out, &m), CU_OK);
        cr_assert_eq(m, len);
        cr_assert_arr_eq(out, in, len);
        free(out);
        free(s);
    }
}

static void
assert_b64_rejects(const char *s)
{
    uint8_t *out = (uint8_t *)1;
    size_t n = 99;
    cr_assert_eq(cu_base64_decode(s, strlen(s), &out, &n), CU_ERR_INVALID, "accepted \"%s\"", s);
    cr_assert_null(out);
    cr_assert_eq(n, 0);
}

static void
assert_b64url_rejects(const char *s)
{
    uint8_t *out = (uint8_t *)1;
    size_t n = 99;
    cr_assert_eq(cu_base64url_decode(s, strlen(s), &out, &n), CU_ERR_INVALID, "accepted \"%s\"", s);
    cr_assert_null(out);
}

Test(crypto_encode, base64_rejects_missing_padding)
{
    assert_b64_rejects("Zg");
    assert_b64_rejects("Zg=");
    assert_b64_rejects("Zm8");
    assert_b64_rejects("Z");
}

Test(crypto_encode, base64_rejects_misplaced_or_excess_padding)
{
    assert_b64_rejects("====");
    assert_b64_rejects("Z===");
    assert_b64_rejects("Zg==Zg==");
    assert_b64_rejects("Z=g=");
    assert_b64_rejects("Zm=v");
    assert_b64_rejects("Zg===");
    assert_b64_rejects("=Zm9");
}

Test(crypto_encode, base64_rejects_whitespace_anywhere)
{
    assert_b64_rejects(" Zm9v");
    assert_b64_rejects("Zm9v ");
    assert_b64_rejects("Zm9v\n");
    assert_b64_rejects("Zm\n9v");
    assert_b64_rejects("Zm9vYg==\r\n");
}

Test(crypto_encode, base64_rejects_characters_outside_the_alphabet)
{
    assert_b64_rejects("Zm9-");
    assert_b64_rejects("Zm9_");
    assert_b64_rejects("Zm9*");
    assert_b64_rejects("Zm\xc3\xa9");
}

Test(crypto_encode, base64_rejects_an_embedded_nul)
{
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert_eq(cu_base64_decode("Zm\0v", 4, &out, &n), CU_ERR_INVALID);
}

Test(crypto_encode, base64_rejects_non_zero_unused_bits)
{
    /* "Zh==" and "Zm9=" decode to the same bytes as "Zg==" and "Zm8=" in lax decoders. */
    assert_b64_rejects("Zh==");
    assert_b64_rejects("Zm9=");
    assert_b64url_rejects("Zh");
    assert_b64url_rejects("Zm9");
}

Test(crypto_encode, base64url_rejects_padding_and_the_standard_alphabet)
{
    assert_b64url_rejects("Zg==");
    assert_b64url_rejects("Zm8=");
    assert_b64url_rejects("+/+/");
    assert_b64url_rejects("Zm9v ");
}

Test(crypto_encode, base64url_rejects_a_length_of_one_mod_four)
{
    assert_b64url_rejects("Z");
    assert_b64url_rejects("Zm9vY");
}

Test(crypto_encode, decodes_the_empty_string_to_zero_bytes)
{
    uint8_t *out = NULL;
    size_t n = 7;
    cr_assert_eq(cu_base64_decode("", 0, &out, &n), CU_OK);
    cr_assert_not_null(out);
    cr_assert_eq(n, 0);
    free(out);
}

Test(crypto_encode, encodes_and_decodes_hex)
{
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
    size_t n = 0;
    char *s = cu_hex_encode(in, sizeof(in), &n);
    cr_assert_str_eq(s, "0001abff");
    cr_assert_eq(n, 8);
    free(s);
    uint8_t *out = NULL;
    cr_assert_eq(cu_hex_decode("0001ABff", 8, &out, &n), CU_OK);
    cr_assert_eq(n, 4);
    cr_assert_arr_eq(out, in, 4);
    free(out);
}

Test(crypto_encode, hex_rejects_odd_length_and_bad_characters)
{
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert_eq(cu_hex_decode("abc", 3, &out, &n), CU_ERR_INVALID);
    cr_assert_eq(cu_hex_decode("zz", 2, &out, &n), CU_ERR_INVALID);
    cr_assert_eq(cu_hex_decode("0x", 2, &out, &n), CU_ERR_INVALID);
    cr_assert_null(out);
}

Test(crypto_encode, base64url_into_caller_storage_wipes_what_it_wrote_on_failure)
{
    uint8_t out[8];
    size_t n = 99;
    memset(out, 0xaa, sizeof(out));
    /* "QUJD" decodes to ABC before the bad character at offset 4 stops it */
    cr_assert_eq(cu_base64url_decode_to("QUJD*UJD", 8, out, &n), CU_ERR_INVALID);
    cr_assert_eq(n, 0);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(out[i], 0, "byte %zu left behind", i);
    }
    cr_assert_eq(cu_base64url_decode_to("QUJDRA", 6, out, &n), CU_OK);
    cr_assert_eq(n, 4);
    cr_assert_eq(memcmp(out, "ABCD", 4), 0);
}
