/* The services' shared context: process-scope objects every use case needs. Created in main.c.
 * Use cases take it plus the request's arena and principal; they know nothing of HTTP. */
#ifndef CU_SERVICE_SVC_H
#define CU_SERVICE_SVC_H

#include "auth/scope.h"
#include "core/err.h"
#include "core/mem.h"
#include "service/keyring.h"
#include "storage/db.h"

#include <jansson.h>

struct cu_unit_commit;
struct cu_rate_limits;

struct cu_svc {
    struct cu_db *db;
    struct cu_keyring *keyring;
    /* the group-commit writers (service/unit_commit.h) of reveals' audit entries
     * (service/group_commit.h) and of tokenize's rows; NULL: each request writes in a
     * transaction of its own. Two writers: a reveal never waits behind tokenize's writes. */
    struct cu_unit_commit *audit_writer;
    struct cu_unit_commit *unit_writer;
    /* the rate limits of tokenize, search and verify (service/ratelimit.h); NULL: none */
    const struct cu_rate_limits *rate;
};

/* What a use case did; the HTTP layer maps it to a status (services never pick one). The values
 * are stored with Idempotency-Keys, so that a replay answers like the first time: never
 * renumber them. A request that does nothing is an error (enum cu_err), not an outcome. */
enum cu_outcome {
    CU_OUTCOME_DONE = 0,     /* done, nothing new created (a replacement) */
    CU_OUTCOME_CREATED = 1,  /* everything asked for was created */
    CU_OUTCOME_PARTIAL = 2,  /* some items done, the others refused with per-item errors */
    CU_OUTCOME_ACCEPTED = 3, /* accepted; the rest happens in the background */
};

/* A problem found while validating input: appended by services, rendered by the HTTP layer. */
struct cu_problems {
    json_t *errors; /* array of {"pointer","detail"}; NULL when none */
};

/* A problem lists at most this many errors (api/openapi.yaml: Problem.errors maxItems); the
 * ones after it are dropped (the answer is the same 422). */
enum { CU_MAX_PROBLEMS = 100 };

void cu_problem_add(struct cu_problems *p, const char *pointer, const char *detail);

/* ^[a-z0-9][a-z0-9-]{1,62}$ */
int cu_tenant_id_ok(const char *s);

/* How many members of obj are not in allowed (NULL-terminated). */
size_t cu_unknown_members(json_t *obj, const char *const *allowed);

/* Counts a reveal at level in the metrics (reveals_plain, reveals_masked, ...). */
void cu_count_reveal(enum cu_level level);

/* A per-item problem object {"type","title","status","detail"[,"errors"]} (new reference);
 * detail borrowed (NULL: the code's title), errors stolen (may be NULL). */
json_t *cu_item_error(enum cu_err e, const char *detail, json_t *errors);

struct cu_db_result;
/* A list page {"<key>":[row(r, i, ctx) for the first limit rows], "next_cursor"}: r was read
 * with limit + 1 rows, so a row past limit means there is a next page, which starts after the
 * value of cursor_col in the page's last row. row may return NULL to skip a row. */
json_t *cu_page_json(const struct cu_db_result *r, int limit, const char *key, int cursor_col,
                     json_t *(*row)(const struct cu_db_result *r, int i, void *ctx), void *ctx);

/* Calls fn for every tenant, in id order, a page at a time (each page read in its own short
 * platform transaction, so fn may run transactions of its own). fn returning CU_ERR_UNAVAILABLE
 * stops the walk with it (the database is gone: the next pass retries); any other error is
 * fn's to log, and the walk goes on. For background passes (sweep, sealing). */
typedef enum cu_err (*cu_tenant_fn)(struct cu_svc *s, const char *tenant, void *ctx);
enum cu_err cu_tenants_each(struct cu_svc *s, cu_tenant_fn fn, void *ctx) CU_WUR;

#endif
