/* Audit entries: written in the transaction of the access they record, so that an access whose
 * entry cannot be written does not happen (fail closed). Never a value in an entry. The
 * whole-request denial of a scope (cu_audit_denial) is declared in vault.h for the HTTP layer. */
#ifndef CU_SERVICE_AUDIT_H
#define CU_SERVICE_AUDIT_H

#include "service/vault.h"
#include "storage/db.h"

#include <jansson.h>

/* An entry (new reference); string arguments are borrowed and may be NULL; fields (a JSON array
 * of field names) is stolen. */
json_t *cu_audit_entry(const struct cu_actor *a, const char *action, const char *collection,
                       json_t *fields, const char *record_id, const char *subject_id,
                       const char *purpose, const char *redaction, const char *outcome);
/* Appends entries (a JSON array, always stolen, also on failure) in tx; any failure fails the
 * caller's operation. */
enum cu_err cu_audit_write(struct cu_tx *tx, const char *tenant, json_t *entries) CU_WUR;
/* One allowed entry of an action on the tenant itself (no collection, record or fields), in tx. */
enum cu_err cu_audit_one(struct cu_tx *tx, const struct cu_actor *a, const char *tenant,
                         const char *action) CU_WUR;
/* The same as the transaction's last statement: it commits (one round trip for both) and, like
 * cu_tx_commit, consumes *tx (always ends it and sets it to NULL). */
enum cu_err cu_audit_write_commit(struct cu_tx **tx, const char *tenant, json_t *entries) CU_WUR;

#endif
