/* Framing defences and what the headers say about the body: ambiguous framing (RFC 9112
 * §6.3), the body's length, Expect: 100-continue and the JSON media type. */
#include "http/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct framing {
    int content_length;
    int transfer_encoding;
    int te_not_chunked;
    int host;
};

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
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

/* MHD 0.9.75 does not refuse ambiguous framing itself (it smuggles, or hangs). */
int
cu_http_framing_ok(struct MHD_Connection *conn, const char *version)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &f);
    if (f.content_length > 1 || f.transfer_encoding > 1 || f.te_not_chunked) {
        return 0;
    }
    if (f.content_length > 0 && f.transfer_encoding > 0) {
        return 0;
    }
    if (f.host > 1 || (f.host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)) {
        return 0;
    }
    return 1;
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

int
cu_http_is_json(const char *ct)
{
    if (ct == NULL) {
        return 0;
    }
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0) {
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
