/* application/x-www-form-urlencoded bodies (the WHATWG URL standard's parser, strict): pairs
 * split on '&', name and value on the first '=', '+' is a space, %HH a byte. Strict where the
 * standard is lenient, so that what a handler sees is never a guess: a malformed escape, a NUL
 * byte, a name outside [A-Za-z0-9_.-]{1,64}, a repeated name or more than CU_FORM_MAX_FIELDS
 * fields refuse the whole body. Decoded values live in the request arena (wiped with it);
 * problem details are fixed texts that never quote the body. */
#include "http/http.h"

#include <string.h>

static int
hexval(uint8_t c)
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

/* Decodes in[0..n) into out (room for n bytes); returns the decoded length, or -1 with *detail. */
static long
decode(const uint8_t *in, size_t n, char *out, const char **detail)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) {
                *detail = "A percent-escape in the form body is cut short";
                return -1;
            }
            int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
            if (h < 0 || l < 0) {
                *detail = "A percent-escape in the form body is not two hex digits";
                return -1;
            }
            c = (uint8_t)(h << 4 | l);
            i += 2;
        }
        if (c == '\0') {
            *detail = "The form body holds a NUL byte";
            return -1;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

static int
name_ok(const char *s, size_t n)
{
    if (n < 1 || n > CU_FORM_MAX_NAME) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

enum cu_err
cu_form_parse(struct cu_arena *arena, const uint8_t *data, size_t len, struct cu_form *out,
              const char **detail)
{
    memset(out, 0, sizeof(*out));
    *detail = NULL;
    out->fields = cu_arena_alloc(arena, CU_FORM_MAX_FIELDS * sizeof(*out->fields));
    size_t pos = 0;
    while (pos < len) {
        const uint8_t *amp = memchr(data + pos, '&', len - pos);
        size_t end = amp != NULL ? (size_t)(amp - data) : len;
        size_t plen = end - pos;
        const uint8_t *pair = data + pos;
        pos = end + 1;
        if (plen == 0) {
            continue; /* "a&&b", a leading or trailing '&' */
        }
        if (out->n == CU_FORM_MAX_FIELDS) {
            *detail = "The form body has more fields than allowed";
            return cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "too many form fields");
        }
        const uint8_t *eq = memchr(pair, '=', plen);
        size_t nlen = eq != NULL ? (size_t)(eq - pair) : plen;
        size_t vlen = eq != NULL ? plen - nlen - 1 : 0;
        char *name = cu_arena_alloc(arena, nlen + 1);
        char *value = cu_arena_alloc(arena, vlen + 1);
        long dn = decode(pair, nlen, name, detail);
        long dv = dn < 0 ? -1 : decode(eq != NULL ? eq + 1 : pair + plen, vlen, value, detail);
        if (dn < 0 || dv < 0) {
            return cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "malformed form body");
        }
        if (!name_ok(name, (size_t)dn)) {
            *detail = "A form field name is not 1 to 64 characters of A-Z a-z 0-9 _ . -";
            return cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "bad form field name");
        }
        for (size_t i = 0; i < out->n; i++) {
            if (strcmp(out->fields[i].name, name) == 0) {
                *detail = "A form field is repeated";
                return cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "repeated form field");
            }
        }
        out->fields[out->n].name = name;
        out->fields[out->n].value = value;
        out->fields[out->n].len = (size_t)dv;
        out->n++;
    }
    return CU_OK;
}
