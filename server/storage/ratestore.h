/* Rate limits shared by every node: one statement (custos_rate_hit, migration 0016) counts an
 * event under (tenant, bucket, subject) against a limit per sliding window, under the row's
 * lock, so that concurrent checks on several nodes are serialized and the limit is exact. It
 * runs alone (its own round trip) or as one step of a caller's pipeline (cu_store_rate_step). */
#ifndef CU_STORAGE_RATESTORE_H
#define CU_STORAGE_RATESTORE_H

#include "storage/db.h"

/* What is counted: bucket names the limit ("tokenize", "verify.token", ...), subject whom (a
 * principal, a token's digest); cost is the event's weight (>= 1). */
struct cu_rate_key {
    const char *bucket;
    const char *subject;
    long long window_ms;
    int limit;
    int cost;
};

/* One row. Columns: allowed ("t"/"f"), remaining (after this event), reset_ms (until the oldest
 * counted event leaves the window; 0 when none is counted). */
enum cu_col_rate {
    CU_COL_RATE_ALLOWED,
    CU_COL_RATE_REMAINING,
    CU_COL_RATE_RESET_MS,
};

/* Counts the event in tx (which must not be a read: the statement writes). */
enum cu_err cu_store_rate_hit(struct cu_tx *tx, const char *tenant, const struct cu_rate_key *k,
                              struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* The same as a step of the caller's pipeline (cu_tx_exec_steps): fills p (the caller's
 * storage, which must live until the steps have run; its texts are arena memory) and step. */
void cu_store_rate_step(const char *tenant, const struct cu_rate_key *k, struct cu_arena *arena,
                        struct cu_params *p, struct cu_db_result **out, struct cu_step *step);
/* A step that lets the transaction commit without waiting for its WAL flush
 * (synchronous_commit off, for this transaction only): for a transaction that writes nothing
 * but counts, whose loss in a crash of PostgreSQL is acceptable. Never in a transaction with
 * other writes (an audit entry must be durable). */
void cu_store_rate_async_step(struct cu_step *step);
/* Forgets the tenant's keys idle for longer than idle_s (longer than any window): *deleted. */
enum cu_err cu_store_rate_gc(struct cu_tx *tx, const char *tenant, long long idle_s,
                             long long *deleted) CU_WUR;

#endif
