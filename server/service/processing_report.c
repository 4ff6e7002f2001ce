/* The record of processing activities (GDPR Art. 30) of a tenant: per collection, the data
 * categories (field types), retention, live record and subject counts, and from the audit trail
 * of the last CU_REPORT_WINDOW_DAYS days the purposes (with their lawful bases) data was
 * processed for and the principals who processed it. Counts and ids only, never a value. */
#include "service/gates.h"

#include "service/audit.h"
#include "storage/gatestore.h"
#include "storage/vaultstore.h"

enum { DECLARED_MAX = 1000 };

/* A JSON array column of the report (NULL on a malformed one: a bug). */
static json_t *
json_col(const struct cu_db_result *r, int row, int col)
{
    return json_loads(cu_res_text(r, row, col), 0, NULL);
}

enum cu_err
cu_gates_processing_report_api(struct cu_svc *s, const struct cu_actor *a, json_t **out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_tx *tx = NULL;
    json_t *collections = json_array(), *declared = json_array();
    enum cu_err rc = CU_OK;
    struct cu_db_result *pr = NULL, *r = NULL;
    CU_TRY(cu_tx_begin(s->db, a->tenant, &tx));
    CU_TRY(cu_store_purpose_list(tx, a->tenant, NULL, DECLARED_MAX, arena, &pr));
    CU_TRY(cu_store_processing_report(tx, a->tenant, CU_REPORT_WINDOW_DAYS, arena, &r));
    for (int i = 0; i < cu_res_rows(pr); i++) {
        json_array_append_new(
            declared, json_pack("{s:s, s:s, s:s}", "name", cu_res_text(pr, i, CU_COL_PURPOSE_NAME),
                                "lawful_basis", cu_res_text(pr, i, CU_COL_PURPOSE_LAWFUL_BASIS),
                                "description", cu_res_text(pr, i, CU_COL_PURPOSE_DESCRIPTION)));
    }
    for (int i = 0; i < cu_res_rows(r); i++) {
        json_t *types = json_col(r, i, CU_COL_REPORT_TYPES);
        json_t *purposes = json_col(r, i, CU_COL_REPORT_PURPOSES);
        json_t *accessors = json_col(r, i, CU_COL_REPORT_ACCESSORS);
        const char *ret = cu_res_text(r, i, CU_COL_REPORT_RETENTION_DAYS);
        if (types == NULL || purposes == NULL || accessors == NULL) {
            json_decref(types);
            json_decref(purposes);
            json_decref(accessors);
            CU_FAIL(CU_ERR_INTERNAL, "malformed report row");
        }
        json_array_append_new(
            collections,
            json_pack("{s:s, s:o, s:o, s:I, s:I, s:o, s:o}", "collection",
                      cu_res_text(r, i, CU_COL_REPORT_COLLECTION), "data_categories", types,
                      "retention_days",
                      ret[0] ? json_integer(cu_res_int(r, i, CU_COL_REPORT_RETENTION_DAYS))
                             : json_null(),
                      "records", (json_int_t)cu_res_int(r, i, CU_COL_REPORT_RECORDS), "subjects",
                      (json_int_t)cu_res_int(r, i, CU_COL_REPORT_SUBJECTS), "purposes", purposes,
                      "accessors", accessors));
    }
    CU_TRY(cu_audit_one(tx, a, a->tenant, "report.processing"));
    CU_TRY(cu_tx_commit(&tx));
    *out = json_pack("{s:s, s:i, s:O, s:O}", "tenant", a->tenant, "window_days",
                     CU_REPORT_WINDOW_DAYS, "purposes", declared, "collections", collections);
out:
    cu_tx_abort(&tx);
    json_decref(collections);
    json_decref(declared);
    cu_arena_free(arena);
    return rc;
}
