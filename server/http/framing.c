/* Framing defences and what the headers say about the body: malformed header fields (RFC 9112
 * §5), ambiguous framing (§6.3), repeated meaningful headers, the body's length, Expect:
 * 100-continue and the JSON media type.
 *
 * MHD 0.9.75 lets malformed fields through: "Content-Length : 48" is stored under the name
 * "Content-Length " (so the body is not framed and runs as a second request), a bare CR stays
 * inside the value, and an obs-fold line is appended to the previous field's *name* in a copy
 * of it. Each is visible after parsing: names must be tokens, values free of controls, and a
 * value must sit right after its name in MHD's read buffer (a folded name was moved). */
#include "http/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct framing {
    int malformed;
    int content_length;
    int transfer_encoding;
    int te_not_chunked;
    int host;
    int duplicate; /* a header that carries meaning appears more than once */
    int purpose;
    int idempotency_key;
    int content_type;
};

/* RFC 9110 §5.6.2 tchar */
static int
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
field_well_formed(const char *key, const char *value)
{
    if (key == NULL || value == NULL || key[0] == '\0') {
        return 0;
    }
    size_t klen = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++, klen++) {
        if (!is_tchar(*p)) {
            return 0; /* whitespace, a control (a bare CR) or a separator in the name */
        }
    }
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p < 0x20 && *p != '\t') {
            return 0; /* a bare CR or another C0 control inside the value (DEL passes: RFC
                         9110 §5.5 lets a recipient keep it, and the value stays opaque) */
        }
    }
    /* MHD parses "name:value" in place: the value follows the name's NUL after optional
     * whitespace. A name that was extended by an obs-fold line lives in a copy elsewhere. */
    uintptr_t after_name = (uintptr_t)key + klen + 1;
    uintptr_t v = (uintptr_t)value;
    if (v < after_name || v - after_name > 256) {
        return 0;
    }
    for (const char *p = key + klen + 1; p < value; p++) {
        if (*p != ' ' && *p != '\t') {
            return 0;
        }
    }
    return 1;
}

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!field_well_formed(key, value)) {
        f->malformed = 1;
        return MHD_NO;
    }
    if (strcasecmp(key, "X-Purpose") == 0) {
        f->duplicate |= f->purpose++ > 0;
    } else if (strcasecmp(key, "Idempotency-Key") == 0) {
        f->duplicate |= f->idempotency_key++ > 0;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) == 0) {
        f->duplicate |= f->content_type++ > 0;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->content_length++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        if (value == NULL || strcmp(value, "chunked") != 0) {
            f->te_not_chunked = 1;
        }
    } else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
        f->host++;
    }
    return MHD_YES;
}

/* MHD 0.9.75 refuses neither malformed fields nor ambiguous framing itself (it smuggles, or
 * hangs). */
enum cu_http_headers
cu_http_headers_check(struct MHD_Connection *conn, const char *version)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &f);
    if (f.malformed) {
        return CU_HEADERS_MALFORMED;
    }
    if (f.content_length > 1 || f.transfer_encoding > 1 || f.te_not_chunked) {
        return CU_HEADERS_FRAMING;
    }
    if (f.content_length > 0 && f.transfer_encoding > 0) {
        return CU_HEADERS_FRAMING;
    }
    if (f.host > 1 || (f.host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)) {
        return CU_HEADERS_FRAMING;
    }
    return f.duplicate ? CU_HEADERS_DUPLICATE : CU_HEADERS_OK;
}

enum cu_http_body
cu_http_body_kind(struct MHD_Connection *conn, unsigned long long *len)
{
    *len = 0;
    if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
        NULL) {
        return CU_BODY_CHUNKED;
    }
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl == NULL) {
        return CU_BODY_NONE;
    }
    /* MHD has already refused a Content-Length that is not a number */
    *len = strtoull(cl, NULL, 10);
    return *len == 0 ? CU_BODY_NONE : CU_BODY_LENGTH;
}

int
cu_http_expects_continue(struct MHD_Connection *conn)
{
    const char *e = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return e != NULL && strcasecmp(e, "100-continue") == 0;
}

/* 1 when ct is type, optionally with charset=utf-8 (case-insensitive). */
static int
is_media_type(const char *ct, const char *type)
{
    if (ct == NULL) {
        return 0;
    }
    size_t n = strlen(type);
    if (strncasecmp(ct, type, n) != 0) {
        return 0;
    }
    const char *rest = ct + n;
    while (*rest == ' ') {
        rest++;
    }
    if (*rest == '\0') {
        return 1;
    }
    if (*rest != ';') {
        return 0;
    }
    rest++;
    while (*rest == ' ') {
        rest++;
    }
    return strcasecmp(rest, "charset=utf-8") == 0 || strcasecmp(rest, "charset=\"utf-8\"") == 0;
}

int
cu_http_is_json(const char *ct)
{
    return is_media_type(ct, "application/json");
}

int
cu_http_is_form(const char *ct)
{
    return is_media_type(ct, "application/x-www-form-urlencoded");
}
