/* Token generation: 128-bit values written as fixed-width base62 with unsigned __int128. */
#include "crypto/token.h"

#include <string.h>

#include "crypto/hmac.h"
#include "crypto/rand.h"
#include "crypto/secret.h"

__extension__ typedef unsigned __int128 u128;

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Writes prefix, the 22 base62 digits of the big-endian 128-bit value in bytes, and a NUL. */
static void
encode_token(const char *prefix, const uint8_t bytes[16], char *out)
{
    u128 v = 0;
    for (int i = 0; i < 16; i++) {
        v = v << 8 | bytes[i];
    }
    size_t plen = strlen(prefix);
    memcpy(out, prefix, plen);
    for (size_t k = CU_TOKEN_BODY_LEN; k > 0; k--) {
        out[plen + k - 1] = base62[(unsigned)(v % 62)];
        v /= 62;
    }
    out[plen + CU_TOKEN_BODY_LEN] = '\0';
}

enum cu_err
cu_token_random(char out[CU_TOKEN_BUF])
{
    uint8_t bytes[16];
    out[0] = '\0';
    CU_GUARD(cu_rand_bytes(bytes, sizeof(bytes)));
    encode_token(CU_TOKEN_PREFIX, bytes, out);
    cu_wipe(bytes, sizeof(bytes));
    return CU_OK;
}

enum cu_err
cu_token_deterministic(const uint8_t key[32], const char *context, const uint8_t *value, size_t len,
                       char out[CU_TOKEN_BUF])
{
    uint8_t mac[CU_SHA256_LEN];
    uint8_t prefix[4];
    size_t context_len = strlen(context);
    out[0] = '\0';
    CU_ENSURE(context_len <= UINT32_MAX, CU_ERR_CRYPTO, "could not derive token: context too long");
    cu_put_be32(prefix, (uint32_t)context_len);
    struct cu_part parts[] = {
        {prefix, sizeof(prefix)},
        {context, context_len},
        {value, len},
    };
    CU_GUARD(cu_hmac_sha256_parts(key, 32, parts, 3, mac));
    encode_token(CU_TOKEN_DET_PREFIX, mac, out);
    cu_wipe(mac, sizeof(mac));
    return CU_OK;
}

static int
base62_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'Z') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 36;
    }
    return -1;
}

/* Whether body is exactly 22 base62 digits, NUL-terminated, of a value below 2^128. */
static bool
body_ok(const char *body)
{
    u128 v = 0;
    const u128 max = ~(u128)0;
    for (size_t i = 0; i < CU_TOKEN_BODY_LEN; i++) {
        int d = base62_value(body[i]);
        if (d < 0) {
            return false;
        }
        if (v > (max - (unsigned)d) / 62) {
            return false;
        }
        v = v * 62 + (unsigned)d;
    }
    return body[CU_TOKEN_BODY_LEN] == '\0';
}

bool
cu_token_is_deterministic(const char *s)
{
    size_t plen = strlen(CU_TOKEN_DET_PREFIX);
    return strncmp(s, CU_TOKEN_DET_PREFIX, plen) == 0 && body_ok(s + plen);
}

bool
cu_token_is_wellformed(const char *s)
{
    size_t plen = strlen(CU_TOKEN_PREFIX);
    if (strncmp(s, CU_TOKEN_PREFIX, plen) == 0) {
        return body_ok(s + plen);
    }
    return cu_token_is_deterministic(s);
}
