/* Key generation, wrapping, the key-check value and the root key file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/aead.h"
#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/keys.h"
#include "crypto/secret.h"

static void
setup(void)
{
    /* Exercise the secure heap path, as the server does. */
    cu_secure_heap_init(64 * 1024);
}

TestSuite(crypto_keys, .init = setup);

Test(crypto_keys, generates_keys_of_the_requested_length_that_differ)
{
    struct cu_secret *a = NULL;
    struct cu_secret *b = NULL;
    cr_assert_eq(cu_key_generate(32, &a), CU_OK);
    cr_assert_eq(cu_key_generate(32, &b), CU_OK);
    cr_assert_eq(a->len, 32);
    cr_assert_not(cu_ct_equal(a->data, b->data, 32));
    cu_secret_free(a);
    cu_secret_free(b);
}

Test(crypto_keys, wraps_and_unwraps_round_trip)
{
    struct cu_secret *kek = NULL;
    struct cu_secret *key = NULL;
    struct cu_secret *back = NULL;
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    cr_assert_eq(cu_key_generate(32, &kek), CU_OK);
    cr_assert_eq(cu_key_generate(32, &key), CU_OK);
    cr_assert_eq(cu_key_wrap(kek, "tenant/t1/kek/1", key, &wrapped, &wrapped_len), CU_OK);
    cr_assert_eq(wrapped_len, cu_aead_sealed_len(32));
    cr_assert_eq(wrapped[0], CU_AEAD_VERSION);
    cr_assert(memmem(wrapped, wrapped_len, key->data, 32) == NULL, "key in clear in wrapping");
    cr_assert_eq(cu_key_unwrap(kek, "tenant/t1/kek/1", wrapped, wrapped_len, &back), CU_OK);
    cr_assert_eq(back->len, 32);
    cr_assert(cu_ct_equal(back->data, key->data, 32));
    free(wrapped);
    cu_secret_free(back);
    cu_secret_free(key);
    cu_secret_free(kek);
}

Test(crypto_keys, rejects_a_wrapped_key_moved_to_another_tenant)
{
    struct cu_secret *kek = NULL;
    struct cu_secret *key = NULL;
    struct cu_secret *back = (struct cu_secret *)1;
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    cr_assert_eq(cu_key_generate(32, &kek), CU_OK);
    cr_assert_eq(cu_key_generate(32, &key), CU_OK);
    cr_assert_eq(cu_key_wrap(kek, "tenant/t1/kek/1", key, &wrapped, &wrapped_len), CU_OK);
    cr_assert_eq(cu_key_unwrap(kek, "tenant/t2/kek/1", wrapped, wrapped_len, &back), CU_ERR_CRYPTO);
    cr_assert_null(back);
    cr_assert_eq(cu_key_unwrap(kek, "tenant/t1/kek/2", wrapped, wrapped_len, &back), CU_ERR_CRYPTO);
    cr_assert_null(back);
    free(wrapped);
    cu_secret_free(key);
    cu_secret_free(kek);
}

Test(crypto_keys, rejects_unwrapping_with_another_kek_or_tampered_input)
{
    struct cu_secret *kek = NULL;
    struct cu_secret *other = NULL;
    struct cu_secret *key = NULL;
    struct cu_secret *back = NULL;
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    cr_assert_eq(cu_key_generate(32, &kek), CU_OK);
    cr_assert_eq(cu_key_generate(32, &other), CU_OK);
    cr_assert_eq(cu_key_generate(32, &key), CU_OK);
    cr_assert_eq(cu_key_wrap(kek, "a", key, &wrapped, &wrapped_len), CU_OK);
    cr_assert_eq(cu_key_unwrap(other, "a", wrapped, wrapped_len, &back), CU_ERR_CRYPTO);
    wrapped[20] ^= 1;
    cr_assert_eq(cu_key_unwrap(kek, "a", wrapped, wrapped_len, &back), CU_ERR_CRYPTO);
    wrapped[20] ^= 1;
    cr_assert_eq(cu_key_unwrap(kek, "a", wrapped, 10, &back), CU_ERR_CRYPTO);
    cr_assert_null(back);
    free(wrapped);
    cu_secret_free(key);
    cu_secret_free(other);
    cu_secret_free(kek);
}

Test(crypto_keys, refuses_a_kek_that_is_not_32_bytes)
{
    struct cu_secret *kek = cu_secret_new(16);
    struct cu_secret *key = cu_secret_new(32);
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    cr_assert_eq(cu_key_wrap(kek, "a", key, &wrapped, &wrapped_len), CU_ERR_CRYPTO);
    cr_assert_null(wrapped);
    cu_secret_free(key);
    cu_secret_free(kek);
}

Test(crypto_keys, computes_the_key_check_value_as_an_hmac_of_a_fixed_label)
{
    struct cu_secret *root = cu_secret_new(32);
    uint8_t kcv[32];
    uint8_t expected[32];
    memset(root->data, 0x42, 32);
    cr_assert_eq(cu_key_check_value(root, kcv), CU_OK);
    cr_assert_eq(
        cu_hmac_sha256(root->data, 32, (const uint8_t *)"custos key check v1", 19, expected),
        CU_OK);
    cr_assert_arr_eq(kcv, expected, 32);
    root->data[0] ^= 1;
    cr_assert_eq(cu_key_check_value(root, kcv), CU_OK);
    cr_assert_arr_neq(kcv, expected, 32);
    cu_secret_free(root);
}

/* Writes content to a new temporary file and returns its path (static buffer). */
static const char *
temp_file(const void *content, size_t len)
{
    static char path[64];
    strcpy(path, "/tmp/custos-test-rootkey-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Base64 of bytes 0..n-1 plus surrounding text. */
static const char *
key_file(size_t n, const char *before, const char *after)
{
    uint8_t raw[64];
    char b64[128];
    char content[256];
    for (size_t i = 0; i < n; i++) {
        raw[i] = (uint8_t)i;
    }
    cu_base64_encode_to(raw, n, b64);
    snprintf(content, sizeof(content), "%s%s%s", before, b64, after);
    return temp_file(content, strlen(content));
}

static void
assert_load_fails(const char *path, const char *reason)
{
    struct cu_secret *k = (struct cu_secret *)1;
    cu_err_clear();
    cr_assert_eq(cu_root_key_load_file(path, &k), CU_ERR_CONFIG);
    cr_assert_null(k);
    cr_assert(strstr(cu_err_reason(), reason) != NULL, "reason was \"%s\"", cu_err_reason());
}

Test(crypto_keys, loads_a_valid_root_key_file)
{
    const char *path = key_file(32, "", "");
    struct cu_secret *k = NULL;
    cr_assert_eq(cu_root_key_load_file(path, &k), CU_OK);
    cr_assert_eq(k->len, 32);
    for (size_t i = 0; i < 32; i++) {
        cr_assert_eq(k->data[i], i);
    }
    cu_secret_free(k);
    unlink(path);
}

Test(crypto_keys, loads_a_root_key_with_whitespace_around_it)
{
    const char *path = key_file(32, " \t\n", "\r\n\n  ");
    struct cu_secret *k = NULL;
    cr_assert_eq(cu_root_key_load_file(path, &k), CU_OK);
    cr_assert_eq(k->len, 32);
    cr_assert_eq(k->data[31], 31);
    cu_secret_free(k);
    unlink(path);
}

Test(crypto_keys, loads_what_keygen_writes)
{
    char b64[CU_KEYGEN_BUF];
    cr_assert_eq(cu_keygen_base64(b64), CU_OK);
    cr_assert_eq(strlen(b64), 44);
    char line[CU_KEYGEN_BUF + 1];
    snprintf(line, sizeof(line), "%s\n", b64);
    const char *path = temp_file(line, strlen(line));
    struct cu_secret *k = NULL;
    cr_assert_eq(cu_root_key_load_file(path, &k), CU_OK);
    cr_assert_eq(k->len, 32);
    cu_secret_free(k);
    unlink(path);
}

Test(crypto_keys, rejects_a_root_key_file_that_is_not_base64)
{
    const char *path = temp_file("this is not base64!\n", 20);
    assert_load_fails(path, "root key file");
    assert_load_fails(path, "is not valid base64");
    unlink(path);
}

Test(crypto_keys, rejects_whitespace_inside_the_root_key)
{
    const char *path = temp_file("AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=", 45);
    assert_load_fails(path, "is not valid base64");
    unlink(path);
}

Test(crypto_keys, rejects_a_31_byte_root_key)
{
    const char *path = key_file(31, "", "\n");
    assert_load_fails(path, "root key must be 32 bytes, got 31");
    unlink(path);
}

Test(crypto_keys, rejects_a_33_byte_root_key)
{
    const char *path = key_file(33, "", "\n");
    assert_load_fails(path, "root key must be 32 bytes, got 33");
    unlink(path);
}

Test(crypto_keys, rejects_an_empty_root_key_file)
{
    const char *path = temp_file("\n", 1);
    assert_load_fails(path, "root key must be 32 bytes, got 0");
    unlink(path);
}

Test(crypto_keys, rejects_a_missing_root_key_file)
{
    assert_load_fails("/nonexistent/custos/root.key", "could not read root key file");
}

Test(crypto_keys, rejects_a_root_key_file_over_one_kib)
{
    char big[CU_ROOT_KEY_FILE_MAX + 10];
    memset(big, 'A', sizeof(big));
    const char *path = temp_file(big, sizeof(big));
    assert_load_fails(path, "larger than 1 KiB");
    unlink(path);
}

Test(crypto_keys, never_puts_key_bytes_in_the_failure_reason)
{
    /* A 33-byte key whose base64 is distinctive; the reason must not contain any of it. */
    const char *path = key_file(33, "", "");
    assert_load_fails(path, "32 bytes");
    cr_assert_null(strstr(cu_err_reason(), "AAECAwQF"));
    unlink(path);
}
