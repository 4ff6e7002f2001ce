/* RFC 4180 cells with formula-injection neutralized (see csv.h). */
#include "service/csv.h"

#include <string.h>

void
cu_csv_cell(struct cu_buf *b, const char *s, size_t len, int first)
{
    if (!first) {
        cu_buf_append(b, ",", 1);
    }
    cu_buf_append(b, "\"", 1);
    if (len > 0 && strchr("=+-@\t\r", s[0]) != NULL) {
        cu_buf_append(b, "'", 1);
    }
    size_t from = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            cu_buf_append(b, s + from, i + 1 - from);
            cu_buf_append(b, "\"", 1);
            from = i + 1;
        }
    }
    cu_buf_append(b, s + from, len - from);
    cu_buf_append(b, "\"", 1);
}

void
cu_csv_end(struct cu_buf *b)
{
    cu_buf_append(b, "\r\n", 2);
}
