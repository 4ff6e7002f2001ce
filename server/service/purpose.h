/* Purposes inside the service layer: the X-Purpose check that every read of personal data passes
 * (the consent and restriction rules: service/gates.h). Purpose CRUD is declared in vault.h. */
#ifndef CU_SERVICE_PURPOSE_H
#define CU_SERVICE_PURPOSE_H

#include "core/mem.h"
#include "storage/db.h"

/* X-Purpose in tx: CU_ERR_BAD_REQUEST when missing, CU_ERR_PURPOSE when not a declared purpose
 * of tenant (both with a public detail). *basis: its lawful basis (arena). */
enum cu_err cu_purpose_check(struct cu_tx *tx, const char *tenant, const char *purpose,
                             struct cu_arena *arena, const char **basis) CU_WUR;
/* The same in two halves, for reads that fetch the purpose in their own pipeline: the header's
 * form first (before any query), then the decision on the purpose's row (cu_store_purpose_get's
 * columns; no row: undeclared). */
enum cu_err cu_purpose_name_check(const char *purpose) CU_WUR;
enum cu_err cu_purpose_decide(const struct cu_db_result *r, const char **basis) CU_WUR;

#endif
