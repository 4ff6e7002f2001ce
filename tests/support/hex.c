/* Hex for tests: decoding test vectors, encoding bytes and random identifiers. */
#include "support/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static int
nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

size_t
t_unhex(const char *hex, uint8_t *out)
{
    size_t len = strlen(hex);
    if (len % 2 != 0) {
        fprintf(stderr, "t_unhex: odd length %zu in test vector \"%s\"\n", len, hex);
        abort();
    }
    for (size_t i = 0; i < len / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fprintf(stderr, "t_unhex: not hex at %zu in test vector \"%s\"\n", 2 * i, hex);
            abort();
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return len / 2;
}

void
t_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *b = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void
t_random_hex(size_t n, char *out)
{
    uint8_t r[64];
    if (n > sizeof(r) || getrandom(r, n, 0) != (ssize_t)n) {
        abort();
    }
    t_hex(r, n, out);
}
