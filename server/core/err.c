/* Error table lookups and the thread-local reason buffer. */
#include "core/err.h"

#include <stdio.h>

struct cu_err_info {
    int status;
    const char *slug;
    const char *title;
    const char *name;
};

static const struct cu_err_info err_info[] = {
#define CU_X(name, status, slug, title) {status, slug, title, #name},
    CU_ERR_TABLE(CU_X)
#undef CU_X
};

static _Thread_local char err_reason[512];
static _Thread_local const char *err_public;
static _Thread_local long long err_retry;

static const struct cu_err_info *
info(enum cu_err e)
{
    if ((unsigned)e >= CU_ERR__COUNT) {
        return &err_info[CU_ERR_INTERNAL];
    }
    return &err_info[e];
}

int
cu_err_status(enum cu_err e)
{
    return info(e)->status;
}

const char *
cu_err_slug(enum cu_err e)
{
    return info(e)->slug;
}

const char *
cu_err_title(enum cu_err e)
{
    return info(e)->title;
}

const char *
cu_err_name(enum cu_err e)
{
    return info(e)->name;
}

enum cu_err
cu_err_set(enum cu_err e, const char *file, int line, const char *fmt, ...)
{
    int n = snprintf(err_reason, sizeof(err_reason), "%s:%d: ", file, line);
    if (n < 0 || (size_t)n >= sizeof(err_reason)) {
        return e;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_reason + n, sizeof(err_reason) - (size_t)n, fmt, ap);
    va_end(ap);
    return e;
}

const char *
cu_err_reason(void)
{
    return err_reason;
}

enum cu_err
cu_err_public(enum cu_err e, const char *detail)
{
    err_public = detail;
    return e;
}

const char *
cu_err_public_detail(void)
{
    return err_public;
}

void
cu_err_clear(void)
{
    err_reason[0] = '\0';
    err_public = NULL;
    err_retry = 0;
}

void
cu_err_retry_after(long long seconds)
{
    if (seconds > err_retry) {
        err_retry = seconds;
    }
}

long long
cu_err_retry_hint(void)
{
    return err_retry;
}
