/* Group commit of audit entries (see group_commit.h). */
#include "service/group_commit.h"

#include "service/audit.h"
#include "service/ident.h"
#include "service/svc.h"
#include "service/unit_commit.h"
#include "storage/vaultstore.h"

#include <stdlib.h>

enum cu_err
cu_audit_durable(struct cu_svc *s, const char *tenant, json_t *entries)
{
    if (s->audit_writer == NULL) {
        struct cu_tx *tx = NULL;
        enum cu_err rc = cu_tx_begin(s->db, tenant, &tx);
        if (rc != CU_OK) {
            json_decref(entries);
            return rc;
        }
        return cu_audit_write_commit(&tx, tenant, entries);
    }
    char *js = json_dumps(entries, JSON_COMPACT);
    json_decref(entries);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode audit entries");
    struct cu_params p;
    struct cu_unit u = {.tenant = tenant, .n = 1};
    cu_store_audit_insert_step(tenant, js, &p, &u.steps[0]);
    enum cu_err rc = cu_unit_commit_run(s->audit_writer, &u);
    free(js);
    if (rc != CU_OK) {
        /* fail closed: the access these entries record must not be answered */
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                          "could not write the audit entries");
    }
    return CU_OK;
}

void
cu_audit_refusal(struct cu_svc *s, struct cu_tx **tx, const struct cu_actor *a, const char *action,
                 const char *collection, const char *record_id, const char *outcome)
{
    if (tx != NULL) {
        cu_tx_abort(tx);
    }
    if (collection != NULL && !cu_ident_ok(collection)) {
        collection = NULL;
    }
    if (record_id != NULL && !cu_record_id_ok(record_id)) {
        record_id = NULL;
    }
    json_t *entries = json_array();
    json_array_append_new(entries, cu_audit_entry(a, action, collection, NULL, record_id, NULL,
                                                  NULL, NULL, outcome));
    enum cu_err ignored = cu_audit_durable(s, a->tenant, entries);
    (void)ignored;
}
