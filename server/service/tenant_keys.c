/* A tenant's keys as use cases: rotate the KEK (tenant admin), its status, and the sweep that
 * re-wraps subject keys, destroys retired versions and forgets expired Idempotency-Keys for every
 * tenant. */
#include "service/tenants.h"

#include "core/log.h"
#include "service/audit.h"
#include "service/idempotency.h"
#include "storage/keystore.h"
#include "storage/vaultstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cu_err
cu_keys_rotate(struct cu_svc *s, const struct cu_actor *a, const struct cu_idem *idem, json_t **out)
{
    const char *tenant = a->tenant;
    struct cu_tx *tx = NULL;
    enum cu_err rc = CU_OK;
    int version = 0, hit = 0;
    enum cu_outcome outcome = CU_OUTCOME_ACCEPTED;
    *out = NULL;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    CU_TRY(cu_idem_check(tx, tenant, a->principal, idem, &hit, &outcome, out));
    if (hit) {
        CU_TRY(cu_audit_one(tx, a, tenant, "keys.rotate.replay"));
    } else {
        CU_TRY(cu_keyring_rotate(s->keyring, tx, tenant, &version));
        CU_TRY(cu_audit_one(tx, a, tenant, "keys.rotate"));
        *out = json_pack("{s:I, s:s}", "version", (json_int_t)version, "status", "rewrapping");
        CU_TRY(cu_idem_store(tx, tenant, a->principal, idem, CU_OUTCOME_ACCEPTED, *out));
    }
    rc = cu_tx_commit(&tx);
out:
    if (rc != CU_OK && *out != NULL) {
        json_decref(*out);
        *out = NULL;
    }
    cu_tx_abort(&tx);
    return rc;
}

enum cu_err
cu_keys_status(struct cu_svc *s, const char *tenant, json_t **out)
{
    struct cu_tx *tx = NULL;
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = CU_OK;
    CU_TRY(cu_tx_begin(s->db, tenant, &tx));
    int current = 0;
    CU_TRY(cu_store_tenant_lock_kek(tx, tenant, 0, &current, NULL));
    struct cu_db_result *r = NULL;
    CU_TRY(cu_store_kek_status(tx, tenant, arena, &r));
    json_t *versions = json_array();
    long long pending = 0, done = 0;
    for (int i = 0; i < cu_res_rows(r); i++) {
        int v = (int)cu_res_int(r, i, CU_COL_KEKST_VERSION);
        long long subjects = cu_res_int(r, i, CU_COL_KEKST_SUBJECT_KEYS);
        json_t *o = json_pack("{s:i, s:s, s:s, s:I, s:I}", "version", v, "state",
                              cu_res_text(r, i, CU_COL_KEKST_STATE), "created_at",
                              cu_res_text(r, i, CU_COL_KEKST_CREATED_AT), "subject_keys",
                              (json_int_t)subjects, "data_keys",
                              (json_int_t)cu_res_int(r, i, CU_COL_KEKST_DATA_KEYS));
        if (cu_res_text(r, i, CU_COL_KEKST_RETIRED_AT)[0] != '\0') {
            json_object_set_new(o, "retired_at",
                                json_string(cu_res_text(r, i, CU_COL_KEKST_RETIRED_AT)));
        }
        if (cu_res_text(r, i, CU_COL_KEKST_DESTROYED_AT)[0] != '\0') {
            json_object_set_new(o, "destroyed_at",
                                json_string(cu_res_text(r, i, CU_COL_KEKST_DESTROYED_AT)));
        }
        json_array_append_new(versions, o);
        if (v == current) {
            done += subjects;
        } else {
            pending += subjects;
        }
    }
    CU_TRY(cu_tx_commit(&tx));
    *out = json_pack("{s:i, s:o, s:{s:I, s:I, s:b}}", "current_version", current, "versions",
                     versions, "rewrap", "pending", (json_int_t)pending, "done", (json_int_t)done,
                     "complete", pending == 0);
out:
    cu_tx_abort(&tx);
    cu_arena_free(arena);
    return rc;
}

struct sweep_counts {
    int rewrapped;
    int destroyed;
};

/* One tenant of a sweep: re-wrap its stale subject keys (destroying versions nothing uses any
 * more), then forget its day-old idempotency keys. Failures are logged; the next pass retries. */
static enum cu_err
sweep_one(struct cu_svc *s, const char *tenant, void *ctx)
{
    struct sweep_counts *c = ctx;
    /* batches of 500 until the tenant has nothing stale */
    for (;;) {
        int done = 0, gone = 0;
        if (cu_keyring_rewrap(s->keyring, s->db, tenant, 500, &done, &gone) != CU_OK) {
            cu_log(CU_LOG_WARN, "key re-wrap failed", "tenant", tenant, "reason", cu_err_reason(),
                   NULL);
            break;
        }
        c->rewrapped += done;
        c->destroyed += gone;
        if (done < 500) {
            break;
        }
    }
    struct cu_tx *gc = NULL;
    if (cu_tx_begin(s->db, tenant, &gc) == CU_OK) {
        if (cu_store_idem_gc(gc, tenant) == CU_OK) {
            enum cu_err ignored = cu_tx_commit(&gc);
            (void)ignored;
        } else {
            cu_tx_abort(&gc);
        }
    }
    return CU_OK;
}

enum cu_err
cu_keys_sweep(struct cu_svc *s, int *rewrapped, int *destroyed)
{
    struct sweep_counts c = {0};
    enum cu_err rc = cu_tenants_each(s, sweep_one, &c);
    *rewrapped = c.rewrapped;
    *destroyed = c.destroyed;
    CU_GUARD(rc);
    /* and the platform's own idempotency keys */
    struct cu_tx *gc = NULL;
    if (cu_tx_begin(s->db, NULL, &gc) == CU_OK) {
        if (cu_tx_allow_platform_idem(gc) == CU_OK && cu_store_idem_gc(gc, NULL) == CU_OK) {
            enum cu_err ignored = cu_tx_commit(&gc);
            (void)ignored;
        } else {
            cu_tx_abort(&gc);
        }
    }
    return CU_OK;
}
