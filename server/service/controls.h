/* The decision a reveal takes on its principal's facts (issue 12): the scopes of the token's
 * roles join its own; a role that requires MFA caps plain at masked without "mfa" in `amr`; an
 * interaction-bound role reveals only subjects with a live interaction of the principal; a
 * budgeted role reveals at most N values in plain per sliding hour. The roles' controls apply to
 * all of the principal's reveals, the strictest of them winning. Facts come from
 * storage/rolestore.h (cu_col_principal), read in the reveal's own round trip; the budget is
 * counted by the reveal's audit write (entries marked with cu_controls_count). */
#ifndef CU_SERVICE_CONTROLS_H
#define CU_SERVICE_CONTROLS_H

#include "service/vault.h"
#include "storage/db.h"

#include <jansson.h>

struct cu_controls {
    int active;                /* the token names roles: the rest applies */
    const char *const *scopes; /* token scopes ∪ role scopes (arena) */
    size_t nscopes;
    int mfa_required;      /* and the token has no mfa */
    long long budget;      /* plain reveals per hour; -1: none */
    long long used;        /* counted in the window, plus those of this request so far */
    long long retry_after; /* seconds, once the budget is spent */
    int spent;             /* a reveal of this request was refused for the budget */
    int bound;
    json_t *subjects; /* live interactions' subjects (owned; freed by cu_controls_cleanup) */
};

/* The roles claim as a JSON array text (arena), or NULL when the token names none (then the
 * reveal runs no facts step). */
const char *cu_controls_roles_json(const struct cu_actor *a, struct cu_arena *arena);
/* Reads the facts row (r may be NULL: no roles); never fails on a well-formed row. */
enum cu_err cu_controls_load(struct cu_controls *c, const struct cu_actor *a,
                             const struct cu_db_result *r, struct cu_arena *arena) CU_WUR;
void cu_controls_cleanup(struct cu_controls *c);
/* The level granted for collection.field under the expanded scopes and the MFA rule. */
enum cu_level cu_controls_granted(const struct cu_controls *c, const char *collection,
                                  const char *field);
/* Whether subject may be revealed at all: CU_OK, or CU_ERR_FORBIDDEN (no live interaction).
 * The refusals here touch no thread-local error state: a request that goes on and fails later
 * (503) must not carry their detail or wait. */
enum cu_err cu_controls_subject(const struct cu_controls *c, const char *subject) CU_WUR;
/* Whether one more reveal at level fits the budget: CU_OK (counted), or CU_ERR_RATE with
 * c->retry_after and c->spent set. Only plain reveals count. */
enum cu_err cu_controls_take(struct cu_controls *c, enum cu_level level) CU_WUR;
/* The request's answer is going out: a spent budget asks the client to wait (the HTTP layer's
 * Retry-After, through cu_err_retry_after). */
void cu_controls_answered(const struct cu_controls *c);
/* The fixed public text of a refusal (CU_ERR_FORBIDDEN or CU_ERR_RATE). */
const char *cu_controls_detail(enum cu_err e);
/* Marks an allowed entry at level so that the audit write counts it against the budget. */
void cu_controls_count(const struct cu_controls *c, enum cu_level level, json_t *entry);
/* The per-item problem of a refusal, with "retry_after" for CU_ERR_RATE (new reference). */
json_t *cu_controls_item_error(const struct cu_controls *c, enum cu_err e);
/* The outcome recorded for a refusal: denied_interaction or denied_budget. */
const char *cu_controls_outcome(enum cu_err e);

/* Budget alerts of the last hour for GET /v1/alerts: appended to list (a JSON array). */
enum cu_err cu_controls_alerts(struct cu_tx *tx, const char *tenant, json_t *list) CU_WUR;

#endif
