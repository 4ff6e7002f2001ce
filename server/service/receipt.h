/* Erasure receipts (service/receipt.c): what DELETE /v1/subjects/{sid} and a DSR erasure hand
 * back, and what POST /v1/receipts/verify and `custos receipt-verify` check.
 * mac = lower-case hex of HMAC-SHA-256 under the tenant's audit key (tenant data key 'audit')
 * over the canonical encoding: the 26 bytes "custos-erasure-receipt-v1\n", then tenant,
 * subject_id, erased_at, records (decimal) and audit_seq (decimal), each as a 4-byte big-endian
 * length and its bytes. */
#ifndef CU_SERVICE_RECEIPT_H
#define CU_SERVICE_RECEIPT_H

#include "service/svc.h"
#include "service/vault.h"

/* The receipt object (new reference in *out), MAC'd under tenant's audit key read in tx. */
enum cu_err cu_receipt_make(struct cu_svc *s, struct cu_tx *tx, const char *tenant,
                            const char *subject, const char *erased_at, long long records,
                            long long audit_seq, json_t **out) CU_WUR;

/* Verifies an erasure receipt (borrowed) against the acting tenant's audit key, audited as a's
 * principal: *valid 1, or 0 when any member was changed or it is another tenant's receipt.
 * CU_ERR_INVALID + problems when it is not a receipt's shape. */
enum cu_err cu_receipt_verify(struct cu_svc *s, const struct cu_actor *a, json_t *receipt,
                              struct cu_problems *problems, int *valid) CU_WUR;

#endif
