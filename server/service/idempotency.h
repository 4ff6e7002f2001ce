/* Idempotency-Keys of writes: remembered with the outcome and answer of the first request, in
 * the same transaction as the write. */
#ifndef CU_SERVICE_IDEMPOTENCY_H
#define CU_SERVICE_IDEMPOTENCY_H

#include "service/svc.h"
#include "service/vault.h"
#include "storage/db.h"

#include <jansson.h>

/* Looks the key up in tx: the tenant's keys, or the platform's (per principal) when tenant is
 * NULL (the transaction must then see platform rows). k NULL or without a key: *hit = 0.
 * *hit = 1 with *outcome and *out (new reference) for a replay; CU_ERR_CONFLICT when the key
 * stood for another request. */
enum cu_err cu_idem_check(struct cu_tx *tx, const char *tenant, const char *principal,
                          const struct cu_idem *k, int *hit, enum cu_outcome *outcome,
                          json_t **out) CU_WUR;
/* Remembers the outcome and answer (borrowed) of the key's request in tx. */
enum cu_err cu_idem_store(struct cu_tx *tx, const char *tenant, const char *principal,
                          const struct cu_idem *k, enum cu_outcome outcome, json_t *answer) CU_WUR;

#endif
