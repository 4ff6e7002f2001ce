/* The audit trail: an entry (who, what, which record and fields, purpose, level, outcome; never
 * a value), appended in the transaction of the access it records (fail closed), and the
 * refusals: denied scopes and undeclared purposes. */
#include "service/audit.h"

#include "service/ident.h"
#include "storage/vaultstore.h"

#include <stdlib.h>

static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *
cu_audit_entry(const struct cu_actor *a, const char *action, const char *collection, json_t *fields,
               const char *record_id, const char *subject_id, const char *purpose,
               const char *redaction, const char *outcome)
{
    json_t *e = json_object();
    json_object_set_new(e, "principal", json_string(a->principal ? a->principal : ""));
    json_object_set_new(e, "action", json_string(action));
    json_object_set_new(e, "collection", str_or_null(collection));
    json_object_set_new(e, "fields", fields != NULL ? fields : json_null());
    json_object_set_new(e, "record_id", str_or_null(record_id));
    json_object_set_new(e, "subject_id", str_or_null(subject_id));
    json_object_set_new(e, "purpose", str_or_null(purpose));
    json_object_set_new(e, "redaction", str_or_null(redaction));
    json_object_set_new(e, "outcome", json_string(outcome));
    json_object_set_new(e, "request_id", str_or_null(a->request_id));
    return e;
}

enum cu_err
cu_audit_write(struct cu_tx *tx, const char *tenant, json_t *entries)
{
    if (json_array_size(entries) == 0) {
        json_decref(entries);
        return CU_OK;
    }
    char *js = json_dumps(entries, JSON_COMPACT);
    json_decref(entries);
    CU_ENSURE(js != NULL, CU_ERR_INTERNAL, "could not encode audit entries");
    enum cu_err rc = cu_store_audit_insert(tx, tenant, js);
    free(js);
    if (rc != CU_OK) {
        /* fail closed: the operation this entry records must not happen without it */
        return cu_err_set(rc == CU_ERR_UNAVAILABLE ? rc : CU_ERR_INTERNAL, __FILE__, __LINE__,
                          "could not write the audit entry");
    }
    return CU_OK;
}

enum cu_err
cu_audit_write_commit(struct cu_tx **tx, const char *tenant, json_t *entries)
{
    if (json_array_size(entries) == 0) {
        json_decref(entries);
        return cu_tx_commit(tx);
    }
    char *js = json_dumps(entries, JSON_COMPACT);
    json_decref(entries);
    if (js == NULL) {
        cu_tx_abort(tx);
        return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "could not encode audit entries");
    }
    enum cu_err rc = cu_store_audit_insert_commit(tx, tenant, js);
    free(js);
    if (rc != CU_OK) {
        /* fail closed: the operation this entry records must not happen without it */
        return cu_err_set(rc == CU_ERR_UNAVAILABLE ? rc : CU_ERR_INTERNAL, __FILE__, __LINE__,
                          "could not write the audit entry");
    }
    return CU_OK;
}

void
cu_audit_denial(struct cu_svc *s, const struct cu_actor *a, const char *action,
                const char *collection)
{
    if (a->tenant == NULL) {
        return;
    }
    struct cu_tx *tx = NULL;
    if (cu_tx_begin(s->db, a->tenant, &tx) != CU_OK) {
        return;
    }
    /* the {c} path segment is not validated yet: it may hold anything, even a value */
    if (collection != NULL && !cu_ident_ok(collection)) {
        collection = NULL;
    }
    json_t *entries = json_array();
    json_array_append_new(
        entries, cu_audit_entry(a, action, collection, NULL, NULL, NULL, NULL, NULL, "denied"));
    if (cu_audit_write(tx, a->tenant, entries) != CU_OK) {
        cu_tx_abort(&tx);
        return;
    }
    enum cu_err ignored = cu_tx_commit(&tx);
    (void)ignored;
}


enum cu_err
cu_audit_one(struct cu_tx *tx, const struct cu_actor *a, const char *tenant, const char *action)
{
    json_t *entries = json_array();
    json_array_append_new(entries,
                          cu_audit_entry(a, action, NULL, NULL, NULL, NULL, NULL, NULL, "allowed"));
    return cu_audit_write(tx, tenant, entries);
}
