/* The retention sweep: records older than their collection's retention_days are erased (marked
 * deleted, values dropped: their tokens answer 410) in bounded batches, each one transaction
 * with one audit entry per record; subjects under legal hold are skipped, and the skip is
 * audited at most once a day per subject. Safe with several sweepers at once: a batch locks its
 * rows FOR UPDATE SKIP LOCKED, so two never take the same record. */
#include "service/subjects.h"

#include "core/log.h"
#include "service/audit.h"
#include "storage/subjectstore.h"

#include <stdio.h>

static const struct cu_actor retention_actor = {.principal = "system:retention"};

static enum cu_err
batch(struct cu_svc *s, const char *tenant, int limit, int *n)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    struct cu_actor a = retention_actor;
    a.tenant = tenant;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_retention_batch(tx, tenant, limit, arena, &r));
    *n = cu_res_rows(r);
    if (*n == 0) {
        goto out;
    }
    json_t *audit = json_array();
    for (int i = 0; i < *n; i++) {
        json_array_append_new(audit, cu_audit_entry(&a, "retention.erase",
                                                    cu_res_text(r, i, CU_COL_EXP_COLLECTION), NULL,
                                                    cu_res_text(r, i, CU_COL_EXP_ID),
                                                    cu_res_text(r, i, CU_COL_EXP_SUBJECT_ID), NULL,
                                                    NULL, "erased"));
    }
    rc = cu_audit_write_commit(&tx, tenant, audit);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

static enum cu_err
held(struct cu_svc *s, const char *tenant)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    struct cu_actor a = retention_actor;
    a.tenant = tenant;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_retention_held(tx, tenant, 1000, arena, &r));
    json_t *audit = json_array();
    for (int i = 0; i < cu_res_rows(r); i++) {
        json_array_append_new(audit, cu_audit_entry(&a, "retention.skip", NULL, NULL, NULL,
                                                    cu_res_text(r, i, 0), NULL, NULL,
                                                    "skipped_legal_hold"));
    }
    rc = cu_audit_write_commit(&tx, tenant, audit);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_retention_sweep(struct cu_svc *s, const char *tenant, int limit, long long *erased)
{
    *erased = 0;
    int n = 0;
    do {
        CU_GUARD(batch(s, tenant, limit, &n));
        *erased += n;
    } while (n == limit);
    return held(s, tenant);
}

static enum cu_err
sweep_one(struct cu_svc *s, const char *tenant, void *ctx)
{
    long long *total = ctx, n = 0;
    enum cu_err rc = cu_retention_sweep(s, tenant, 500, &n);
    *total += n;
    if (rc != CU_OK && rc != CU_ERR_UNAVAILABLE) {
        cu_log(CU_LOG_WARN, "retention sweep failed", "tenant", tenant, "reason", cu_err_reason(),
               NULL);
    }
    return rc;
}

enum cu_err
cu_retention_sweep_all(struct cu_svc *s, long long *erased)
{
    *erased = 0;
    return cu_tenants_each(s, sweep_one, erased);
}
