/* Key lifecycle helpers over aead.c and hmac.c: generation, wrapping, root key loading. */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mem.h"
#include "crypto/aead.h"
#include "crypto/encode.h"
#include "crypto/hmac.h"
#include "crypto/rand.h"

static const char key_check_label[] = "custos key check v1";

enum cu_err
cu_key_generate(size_t len, struct cu_secret **out)
{
    struct cu_secret *k = cu_secret_new(len);
    *out = NULL;
    enum cu_err rc = cu_rand_priv_bytes(k->data, k->len);
    if (rc != CU_OK) {
        cu_secret_free(k);
        return rc;
    }
    *out = k;
    return CU_OK;
}

enum cu_err
cu_key_wrap(const struct cu_secret *kek, const char *aad, const struct cu_secret *key,
            uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    CU_ENSURE(kek->len == CU_KEY_LEN, CU_ERR_CRYPTO, "could not wrap key: KEK is not 32 bytes");
    size_t n = cu_aead_sealed_len(key->len);
    uint8_t *buf = cu_xmalloc(n);
    size_t len = 0;
    enum cu_err rc =
        cu_aead_seal(kek->data, (const uint8_t *)aad, strlen(aad), key->data, key->len, buf, &len);
    if (rc != CU_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return CU_OK;
}

enum cu_err
cu_key_unwrap(const struct cu_secret *kek, const char *aad, const uint8_t *in, size_t in_len,
              struct cu_secret **out)
{
    *out = NULL;
    CU_ENSURE(kek->len == CU_KEY_LEN, CU_ERR_CRYPTO, "could not unwrap key: KEK is not 32 bytes");
    CU_ENSURE(in_len >= CU_AEAD_OVERHEAD, CU_ERR_CRYPTO,
              "could not unwrap key: wrapped key too short");
    /* Decrypt straight into the secure heap: the key never exists in ordinary memory. */
    struct cu_secret *k = cu_secret_new(cu_aead_opened_len(in_len));
    size_t len = 0;
    enum cu_err rc =
        cu_aead_open(kek->data, (const uint8_t *)aad, strlen(aad), in, in_len, k->data, &len);
    if (rc != CU_OK) {
        cu_secret_free(k);
        return rc;
    }
    *out = k;
    return CU_OK;
}

enum cu_err
cu_key_check_value(const struct cu_secret *root, uint8_t out[32])
{
    return cu_hmac_sha256(root->data, root->len, (const uint8_t *)key_check_label,
                          strlen(key_check_label), out);
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Reads at most CU_ROOT_KEY_FILE_MAX + 1 bytes of path into buf; *len receives the count. */
static enum cu_err
read_small_file(const char *path, char *buf, size_t *len)
{
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    CU_ENSURE(fd >= 0, CU_ERR_CONFIG, "could not read root key file \"%s\": %s", path,
              strerror(errno));
    size_t got = 0;
    while (got < CU_ROOT_KEY_FILE_MAX + 1) {
        ssize_t r = read(fd, buf + got, CU_ROOT_KEY_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            close(fd);
            CU_BAIL(CU_ERR_CONFIG, "could not read root key file \"%s\": %s", path, strerror(e));
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return CU_OK;
}

enum cu_err
cu_root_key_load_file(const char *path, struct cu_secret **out)
{
    enum cu_err rc = CU_OK;
    char buf[CU_ROOT_KEY_FILE_MAX + 1];
    size_t len = 0;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    *out = NULL;

    CU_TRY(read_small_file(path, buf, &len));
    CU_CHECK(len <= CU_ROOT_KEY_FILE_MAX, CU_ERR_CONFIG,
             "root key file \"%s\" is larger than 1 KiB", path);
    size_t start = 0;
    while (start < len && is_space(buf[start])) {
        start++;
    }
    size_t end = len;
    while (end > start && is_space(buf[end - 1])) {
        end--;
    }
    if (cu_base64_decode(buf + start, end - start, &raw, &raw_len) != CU_OK) {
        /* Replace the decoder's reason: it names an offset into the key. */
        CU_FAIL(CU_ERR_CONFIG, "root key file \"%s\" is not valid base64", path);
    }
    CU_CHECK(raw_len == CU_KEY_LEN, CU_ERR_CONFIG,
             "root key must be 32 bytes, got %zu (file \"%s\")", raw_len, path);
    *out = cu_secret_new_copy(raw, raw_len);
out:
    cu_wipe(buf, sizeof(buf));
    if (raw != NULL) {
        cu_wipe(raw, raw_len);
        free(raw);
    }
    return rc;
}

enum cu_err
cu_keygen_base64(char out[CU_KEYGEN_BUF])
{
    out[0] = '\0';
    struct cu_secret *k = NULL;
    CU_GUARD(cu_key_generate(CU_KEY_LEN, &k));
    cu_base64_encode_to(k->data, k->len, out);
    cu_secret_free(k);
    return CU_OK;
}
