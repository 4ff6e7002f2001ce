/* Error codes, their HTTP status and public message; guard macros; a thread-local reason.
 * Invariant: a reason never contains a request value, only what the code knows. */
#ifndef CU_CORE_ERR_H
#define CU_CORE_ERR_H

#include <stdarg.h>

/* X(name, http status, problem type slug, public title) */
#define CU_ERR_TABLE(X)                                                                            \
    X(CU_OK, 200, "ok", "OK")                                                                      \
    X(CU_ERR_BAD_REQUEST, 400, "bad-request", "The request is malformed")                         \
    X(CU_ERR_BAD_JSON, 400, "invalid-json", "The body is not valid JSON")                         \
    X(CU_ERR_BAD_FRAMING, 400, "bad-framing", "The request framing is ambiguous")                 \
    X(CU_ERR_UNAUTHORIZED, 401, "unauthorized", "Missing or invalid bearer token")                \
    X(CU_ERR_FORBIDDEN, 403, "forbidden", "The token does not grant this operation")              \
    X(CU_ERR_PURPOSE, 403, "purpose-not-declared", "The purpose is not declared")                 \
    X(CU_ERR_CONSENT, 403, "consent-missing", "The subject has not consented to this purpose")    \
    X(CU_ERR_NOT_FOUND, 404, "not-found", "No such resource")                                     \
    X(CU_ERR_METHOD, 405, "method-not-allowed", "Method not allowed on this resource")            \
    X(CU_ERR_CONFLICT, 409, "conflict", "The request conflicts with the current state")           \
    X(CU_ERR_GONE, 410, "gone", "The resource has been erased")                                   \
    X(CU_ERR_TOO_LARGE, 413, "payload-too-large", "The request body is too large")                \
    X(CU_ERR_MEDIA_TYPE, 415, "unsupported-media-type", "The body must be application/json")      \
    X(CU_ERR_INVALID, 422, "validation-failed", "The request breaks the schema")                  \
    X(CU_ERR_LOCKED, 423, "restricted", "Processing of this subject is restricted")               \
    X(CU_ERR_RATE, 429, "rate-limited", "Too many requests")                                      \
    X(CU_ERR_INTERNAL, 500, "internal", "Internal error")                                         \
    X(CU_ERR_CRYPTO, 500, "internal", "Internal error")                                           \
    X(CU_ERR_CONFIG, 500, "internal", "Internal error")                                           \
    X(CU_ERR_UNAVAILABLE, 503, "unavailable", "The service is not ready; retry later")

enum cu_err {
#define CU_X(name, status, slug, title) name,
    CU_ERR_TABLE(CU_X)
#undef CU_X
        CU_ERR__COUNT
};

#define CU_WUR __attribute__((warn_unused_result))

/* The HTTP status, problem type slug and fixed public title of a code. Never NULL. */
int cu_err_status(enum cu_err e);
const char *cu_err_slug(enum cu_err e);
const char *cu_err_title(enum cu_err e);
const char *cu_err_name(enum cu_err e);

/* Records why an error happened, for the log (never for the client). Returns e. */
enum cu_err cu_err_set(enum cu_err e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The last reason recorded on this thread ("" if none); valid until the next cu_err_set. */
const char *cu_err_reason(void);
/* A fixed text (a string literal, never request values) for the client's problem detail,
 * attached where the error arises; returns e. The HTTP layer shows it unless the handler
 * chose a detail itself. */
enum cu_err cu_err_public(enum cu_err e, const char *detail);
/* The detail attached on this thread since the last cu_err_clear, or NULL. */
const char *cu_err_public_detail(void);
/* Forgets the reason, the public detail and the retry hint (at the start of each request). */
void cu_err_clear(void);
/* A wait the client is asked for (a 429, or a 200 with per-item 429s): the HTTP layer answers
 * it as Retry-After. The largest of a request's hints counts. */
void cu_err_retry_after(long long seconds);
/* The hint on this thread since the last cu_err_clear (0: none). */
long long cu_err_retry_hint(void);

/* Return at once: only while the function holds nothing to release. */
#define CU_GUARD(expr)                                                                             \
    do {                                                                                           \
        enum cu_err cu_guard_rc_ = (expr);                                                         \
        if (cu_guard_rc_ != CU_OK) {                                                               \
            return cu_guard_rc_;                                                                   \
        }                                                                                          \
    } while (0)

/* Record the reason and return err at once (the unconditional CU_ENSURE): replaces a
 * hand-written `return cu_err_set(err, __FILE__, __LINE__, ...)`. Same rule as CU_GUARD:
 * only while the function holds nothing to release; otherwise CU_FAIL. */
#define CU_BAIL(err, ...)                                                                          \
    do {                                                                                           \
        return cu_err_set((err), __FILE__, __LINE__, __VA_ARGS__);                                 \
    } while (0)

/* The error value of CU_BAIL without leaving: for expressions that must yield the code
 * (`return cond ? CU_OK : CU_ERR_AT(...)`, a callback's result). Prefer CU_BAIL. */
#define CU_ERR_AT(err, ...) cu_err_set((err), __FILE__, __LINE__, __VA_ARGS__)

#define CU_ENSURE(cond, err, ...)                                                                  \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CU_BAIL((err), __VA_ARGS__);                                                           \
        }                                                                                          \
    } while (0)

/* Set rc and jump to the function's single `out:` label. */
#define CU_TRY(expr)                                                                               \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc != CU_OK) {                                                                         \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define CU_FAIL(err, ...)                                                                          \
    do {                                                                                           \
        rc = CU_ERR_AT((err), __VA_ARGS__);                                                        \
        goto out;                                                                                  \
    } while (0)

#define CU_CHECK(cond, err, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CU_FAIL((err), __VA_ARGS__);                                                           \
        }                                                                                          \
    } while (0)

#endif
