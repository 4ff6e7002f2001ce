/* Rate limits shared by every node (issue 12 items 5 and 7), database-backed: a key is (tenant,
 * bucket, subject) where subject is a principal or a token's digest; a policy allows at most
 * `limit` events in any sliding window of `window_ms` (the storage's log has a granularity of
 * window/32 and errs on the strict side: an event is forgotten between window and
 * window * 33/32 after it happened). Concurrent checks on several nodes take the key's row lock
 * in turn, so the limit holds exactly across nodes. One check is one statement: alone it costs
 * a round trip (cu_ratelimit_hit); folded into a caller's pipeline it costs none
 * (cu_ratelimit_step, then cu_ratelimit_read). Refused events are not counted. The counts commit
 * without waiting for the WAL flush (cu_store_rate_async_step): a crash of PostgreSQL may forget
 * the last fraction of a second of them, never more. */
#ifndef CU_SERVICE_RATELIMIT_H
#define CU_SERVICE_RATELIMIT_H

#include "service/svc.h"
#include "service/vault.h"
#include "storage/ratestore.h"

/* limit <= 0: no limit (nothing is counted, nothing is refused). */
struct cu_rate_policy {
    int limit;
    long long window_ms;
};

/* The configured limits (CUSTOS_RATE_*, config.c), per principal and tenant for tokenize
 * (records), search and verify (requests), and per token for verify attempts. */
struct cu_rate_limits {
    struct cu_rate_policy tokenize;
    struct cu_rate_policy search;
    struct cu_rate_policy verify;
    struct cu_rate_policy verify_token;
};

/* The outcome of one check, for the caller and the RateLimit-* answer. checked 0: no policy
 * applied (the other members are 0). reset_s: seconds until the oldest counted event leaves the
 * window (rounded up; when refused, the Retry-After). */
struct cu_rate_result {
    int checked;
    int allowed;
    int limit;
    int remaining;
    int reset_s;
    int window_s;
};

/* The policy of a bucket by name ("tokenize", "search", "verify"), or NULL when the bucket is
 * unknown or s has no limits. */
const struct cu_rate_policy *cu_ratelimit_policy(const struct cu_svc *s, const char *bucket);

/* Counts one event of weight cost (>= 1) under (tenant, bucket, subject), in a transaction of
 * its own (one round trip) shared with the checks of the same key and policy that wait on this
 * node at the same time (each still counted in order under the key's row lock; a batch that
 * fails fails each of its checks). out->allowed 0: refused (CU_OK all the same: the caller decides
 * what a refusal means). CU_ERR_UNAVAILABLE when the database is out of reach: callers fail
 * closed (503), never let an unchecked event through. A NULL or unlimited pol: out->checked 0. */
enum cu_err cu_ratelimit_hit(struct cu_svc *s, const char *tenant, const char *bucket,
                             const char *subject, const struct cu_rate_policy *pol, int cost,
                             struct cu_rate_result *out) CU_WUR;

/* The same check as one step of the caller's pipeline (in a transaction that may write):
 * fills p and step (see cu_store_rate_step); after the steps have run, cu_ratelimit_read turns
 * the step's result into out. pol must be limited (pol->limit > 0). */
void cu_ratelimit_step(const char *tenant, const char *bucket, const char *subject,
                       const struct cu_rate_policy *pol, int cost, struct cu_arena *arena,
                       struct cu_params *p, struct cu_db_result **res, struct cu_step *step);
enum cu_err cu_ratelimit_read(const struct cu_db_result *res, const struct cu_rate_policy *pol,
                              struct cu_rate_result *out) CU_WUR;

/* Audits a request that a limit refused (action, outcome "rate_limited"; collection only when
 * it is a valid name), through the group-commit writer: cheap under a flood of refusals. Best
 * effort: the request is refused either way. */
void cu_ratelimit_audit_refusal(struct cu_svc *s, const struct cu_actor *a, const char *action,
                                const char *collection);

/* Forgets the tenant's idle keys (idle longer than the longest window): for the sweep. */
enum cu_err cu_ratelimit_gc(struct cu_svc *s, const char *tenant) CU_WUR;

/* The same for every tenant (the sweep). */
enum cu_err cu_ratelimit_gc_all(struct cu_svc *s) CU_WUR;

/* Fills out from the configured numbers (limits, windows in seconds). */
void cu_ratelimit_limits(struct cu_rate_limits *out, int tokenize, int tokenize_window_s,
                         int search, int search_window_s, int verify, int verify_window_s,
                         int attempts, int attempts_window_s);

#endif
