/* Group commit of write units (issue 9): a unit is one request's writes, a few pipelined
 * statements and a check of their results; a writer (service/writer.h) runs the units of
 * concurrent requests in one transaction, one round trip for the statements and one for the
 * COMMIT, then wakes every request. When the batch's transaction fails (a statement or a check
 * of any unit), each unit runs once more alone, so one request's failure (a conflict, an
 * idempotency clash) costs its batch-mates that retry and nothing else. cu_unit_commit_run
 * returns CU_OK only after the unit is committed. */
#ifndef CU_SERVICE_UNIT_COMMIT_H
#define CU_SERVICE_UNIT_COMMIT_H

#include "core/err.h"
#include "service/writer.h"
#include "storage/db.h"

enum { CU_UNIT_MAX_STEPS = 8 };

struct cu_unit {
    const char *tenant; /* row-level security: its statements run as this tenant */
    struct cu_step steps[CU_UNIT_MAX_STEPS]; /* their params: the caller's, alive until done */
    int n;
    /* Called after the steps ran, before the COMMIT, with their results in the steps' out
     * (valid during the call only): CU_OK, or the error that undoes the unit (set with
     * cu_err_set). NULL: nothing to check. */
    enum cu_err (*check)(void *ctx);
    void *ctx;
};

struct cu_unit_commit;

/* Starts the writer; it writes through db (one pooled connection while a batch is written). */
enum cu_err cu_unit_commit_new(struct cu_db *db, struct cu_unit_commit **out) CU_WUR;
/* Writes what is queued, then stops the writer and frees it. NULL is fine. */
void cu_unit_commit_free(struct cu_unit_commit *uc);
/* Runs u in a transaction shared with concurrent units and waits: CU_OK once committed; else
 * the unit's own error when it failed alone (CU_ERR_CONFLICT for a unique violation or a
 * failed check), CU_ERR_UNAVAILABLE when the database could not be reached. The caller must
 * hold no pooled connection while it waits. */
enum cu_err cu_unit_commit_run(struct cu_unit_commit *uc, struct cu_unit *u) CU_WUR;
void cu_unit_commit_stats(struct cu_unit_commit *uc, struct cu_writer_stats *out);

#endif
