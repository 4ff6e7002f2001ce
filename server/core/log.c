/* JSON-lines logger: one write(2) per line so lines from threads never interleave. */
#include "core/log.h"

#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum cu_log_level min_level = CU_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
cu_log_set_level(enum cu_log_level level)
{
    min_level = level;
}

static void
put_json_string(struct cu_buf *b, const char *s)
{
    cu_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            cu_buf_append(b, esc, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            cu_buf_printf(b, "\\u%04x", *p);
        } else {
            cu_buf_append(b, p, 1);
        }
    }
    cu_buf_append(b, "\"", 1);
}

static void
begin_line(struct cu_buf *b, enum cu_log_level level, const char *msg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    cu_buf_printf(b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", when, ts.tv_nsec / 1000000,
                  level_names[level]);
    put_json_string(b, msg);
}

static void
end_line(struct cu_buf *b)
{
    cu_buf_append(b, "}\n", 2);
    ssize_t off = 0;
    while ((size_t)off < b->len) {
        ssize_t n = write(STDERR_FILENO, b->data + off, b->len - (size_t)off);
        if (n <= 0) {
            break;
        }
        off += n;
    }
    cu_buf_cleanup(b);
}

void
cu_log(enum cu_log_level level, const char *msg, ...)
{
    if (level < min_level) {
        return;
    }
    struct cu_buf b;
    cu_buf_init(&b);
    begin_line(&b, level, msg);
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (key == NULL) {
            break;
        }
        const char *value = va_arg(ap, const char *);
        cu_buf_append(&b, ",", 1);
        put_json_string(&b, key);
        cu_buf_append(&b, ":", 1);
        put_json_string(&b, value);
    }
    va_end(ap);
    end_line(&b);
}

void
cu_log_request(const char *request_id, const char *method, const char *route, int status,
               double duration_ms, const char *tenant, const char *error_reason)
{
    if (CU_LOG_INFO < min_level) {
        return;
    }
    struct cu_buf b;
    cu_buf_init(&b);
    begin_line(&b, status >= 500 ? CU_LOG_ERROR : CU_LOG_INFO, "request");
    cu_buf_append_str(&b, ",\"request_id\":");
    put_json_string(&b, request_id);
    cu_buf_append_str(&b, ",\"method\":");
    put_json_string(&b, method);
    cu_buf_append_str(&b, ",\"route\":");
    put_json_string(&b, route);
    cu_buf_printf(&b, ",\"status\":%d,\"duration_ms\":%.3f", status, duration_ms);
    if (tenant != NULL && tenant[0] != '\0') {
        cu_buf_append_str(&b, ",\"tenant\":");
        put_json_string(&b, tenant);
    }
    if (error_reason != NULL && error_reason[0] != '\0') {
        cu_buf_append_str(&b, ",\"reason\":");
        put_json_string(&b, error_reason);
    }
    end_line(&b);
}
