/* Base64, base64url and hex codecs. Pure code; strict, and table-free on the decode path so the
 * time taken does not index memory by secret characters (root keys pass through here). */
#include "crypto/encode.h"

#include <stdbool.h>
#include <stdlib.h>

#include "core/mem.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
cu_base64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t
cu_base64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

static void
check_encode_size(size_t n)
{
    /* An input this large cannot exist in memory twice; treat it as an allocation failure. */
    if (n > (SIZE_MAX - 4) / 4 * 3 - 3) {
        abort();
    }
}

/* Writes the encoding and a NUL; returns the length without the NUL. */
static size_t
b64_encode(const uint8_t *in, size_t len, char *out, const char *alphabet, bool pad)
{
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    size_t rest = len - i;
    if (rest > 0) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (rest == 2) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (rest == 2) {
            out[o++] = alphabet[v >> 6 & 63];
        } else if (pad) {
            out[o++] = '=';
        }
        if (pad) {
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    return o;
}

char *
cu_base64_encode(const uint8_t *in, size_t len, size_t *out_len)
{
    check_encode_size(len);
    char *out = cu_xmalloc(cu_base64_encoded_len(len) + 1);
    *out_len = b64_encode(in, len, out, b64_std, true);
    return out;
}

void
cu_base64_encode_to(const uint8_t *in, size_t len, char *out)
{
    (void)b64_encode(in, len, out, b64_std, true);
}

char *
cu_base64url_encode(const uint8_t *in, size_t len, size_t *out_len)
{
    check_encode_size(len);
    char *out = cu_xmalloc(cu_base64url_encoded_len(len) + 1);
    *out_len = b64_encode(in, len, out, b64_url, false);
    return out;
}

char *
cu_hex_encode(const uint8_t *in, size_t len, size_t *out_len)
{
    static const char digits[] = "0123456789abcdef";
    if (len > (SIZE_MAX - 1) / 2) {
        abort();
    }
    char *out = cu_xmalloc(len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[len * 2] = '\0';
    *out_len = len * 2;
    return out;
}

/* The 6-bit value of c, or -1. Arithmetic rather than a table lookup (see the file comment). */
static int
b64_value(unsigned char c, bool url)
{
    int v = -1;
    v = (c >= 'A' && c <= 'Z') ? c - 'A' : v;
    v = (c >= 'a' && c <= 'z') ? c - 'a' + 26 : v;
    v = (c >= '0' && c <= '9') ? c - '0' + 52 : v;
    v = (c == (url ? '-' : '+')) ? 62 : v;
    v = (c == (url ? '_' : '/')) ? 63 : v;
    return v;
}

/* Decodes into buf, which holds in_len * 3 / 4 bytes; on failure buf[0..that) is wiped. */
static enum cu_err
b64_decode_to(const char *in, size_t in_len, bool url, uint8_t *buf, size_t *out_len)
{
    *out_len = 0;
    size_t data_len = in_len;
    if (!url) {
        CU_ENSURE(in_len % 4 == 0, CU_ERR_INVALID, "invalid base64: length is not a multiple of 4");
        /* At most two '=' and only at the very end. */
        if (data_len > 0 && in[data_len - 1] == '=') {
            data_len--;
            if (in[data_len - 1] == '=') {
                data_len--;
            }
        }
    }
    CU_ENSURE(data_len % 4 != 1, CU_ERR_INVALID, "invalid base64: truncated final quantum");

    size_t n = data_len / 4 * 3 + (data_len % 4 ? data_len % 4 - 1 : 0);
    size_t o = 0;
    uint32_t acc = 0;
    size_t i;
    for (i = 0; i < data_len; i++) {
        int v = b64_value((unsigned char)in[i], url);
        if (v < 0) {
            break;
        }
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            buf[o++] = (uint8_t)(acc >> 16);
            buf[o++] = (uint8_t)(acc >> 8);
            buf[o++] = (uint8_t)acc;
            acc = 0;
        }
    }
    bool ok = i == data_len;
    if (ok && data_len % 4 == 2) {
        /* 12 bits carry one byte; the low 4 must be zero for the encoding to be canonical. */
        ok = (acc & 0xf) == 0;
        buf[o++] = (uint8_t)(acc >> 4);
    } else if (ok && data_len % 4 == 3) {
        ok = (acc & 0x3) == 0;
        buf[o++] = (uint8_t)(acc >> 10);
        buf[o++] = (uint8_t)(acc >> 2);
    }
    acc = 0;
    if (!ok) {
        /* The partial output may be key material. */
        cu_wipe(buf, o);
        CU_BAIL(CU_ERR_INVALID, "invalid base64: bad character or non-canonical end at offset %zu",
                i);
    }
    *out_len = n;
    return CU_OK;
}

static enum cu_err
b64_decode(const char *in, size_t in_len, bool url, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t cap = in_len * 3 / 4;
    uint8_t *buf = cu_xmalloc(cap ? cap : 1);
    enum cu_err rc = b64_decode_to(in, in_len, url, buf, out_len);
    if (rc != CU_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    return CU_OK;
}

enum cu_err
cu_base64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    return b64_decode(in, in_len, false, out, out_len);
}

enum cu_err
cu_base64url_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    return b64_decode(in, in_len, true, out, out_len);
}

enum cu_err
cu_base64url_decode_to(const char *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    return b64_decode_to(in, in_len, true, out, out_len);
}

static int
hex_value(unsigned char c)
{
    int v = -1;
    v = (c >= '0' && c <= '9') ? c - '0' : v;
    v = (c >= 'a' && c <= 'f') ? c - 'a' + 10 : v;
    v = (c >= 'A' && c <= 'F') ? c - 'A' + 10 : v;
    return v;
}

enum cu_err
cu_hex_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    CU_ENSURE(in_len % 2 == 0, CU_ERR_INVALID, "invalid hex: odd length");
    size_t n = in_len / 2;
    uint8_t *buf = cu_xmalloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value((unsigned char)in[2 * i]);
        int lo = hex_value((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            cu_wipe(buf, n);
            free(buf);
            CU_BAIL(CU_ERR_INVALID, "invalid hex: bad character at offset %zu", 2 * i);
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = buf;
    *out_len = n;
    return CU_OK;
}
