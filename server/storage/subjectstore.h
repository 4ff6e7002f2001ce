/* Data subjects in PostgreSQL: a subject's records and values, its access history, erasure,
 * legal holds, the retention sweep's batches and DSR requests. Every statement names its tenant;
 * row-level security is the second line. Results are owned by the arena. */
#ifndef CU_STORAGE_SUBJECTSTORE_H
#define CU_STORAGE_SUBJECTSTORE_H

#include "storage/db.h"

/* Serializes erasure, legal holds and retention for one subject: a transaction-level advisory
 * lock on (tenant, subject), released at its end. */
enum cu_err cu_store_subject_lock(struct cu_tx *tx, const char *tenant,
                                  const char *subject) CU_WUR;

/* The live records of a subject with their values, one row per value (a record without values:
 * one row, field NULL), ordered by collection, creation, id and field. */
enum cu_col_svalue {
    CU_COL_SV_RECORD_ID,
    CU_COL_SV_COLLECTION,
    CU_COL_SV_CREATED_AT,
    CU_COL_SV_FIELD,
    CU_COL_SV_KEY_VERSION,
    CU_COL_SV_CIPHERTEXT,
    CU_COL_SV_TOKEN,
    CU_COL_SV_KEK_VERSION,
    CU_COL_SV_WRAPPED,
    CU_COL_SV_TYPE,
    CU_COL_SV_INC,
};
enum cu_err cu_store_subject_values(struct cu_tx *tx, const char *tenant, const char *subject,
                                    struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* The subject's audit entries of the tenant's current incarnation, oldest first, at most
 * limit: who accessed its data when (GDPR Art. 15(1)(c)). */
enum cu_col_saccess {
    CU_COL_SA_SEQ,
    CU_COL_SA_TS,
    CU_COL_SA_PRINCIPAL,
    CU_COL_SA_ACTION,
    CU_COL_SA_COLLECTION,
    CU_COL_SA_FIELDS, /* JSON array text, "" when none */
    CU_COL_SA_RECORD_ID,
    CU_COL_SA_PURPOSE,
    CU_COL_SA_REDACTION,
    CU_COL_SA_OUTCOME,
};
enum cu_err cu_store_subject_access(struct cu_tx *tx, const char *tenant, const char *subject,
                                    int limit, struct cu_arena *arena,
                                    struct cu_db_result **out) CU_WUR;

/* Crypto-shredding: locks the subject's key rows (a write of its data in flight finishes first
 * and is erased too), then deletes them and the values and marks its live records deleted.
 * One row: records marked now, records the subject ever had (0: unknown subject), key rows
 * deleted, erased_at (ISO 8601 UTC, ms). */
enum cu_col_erase {
    CU_COL_ERASE_RECORDS,
    CU_COL_ERASE_TOTAL,
    CU_COL_ERASE_KEYS,
    CU_COL_ERASE_AT,
};
enum cu_err cu_store_subject_erase(struct cu_tx *tx, const char *tenant, const char *subject,
                                   struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Audit entries (the JSON of cu_store_audit_insert); the result has their seq, one row each. */
enum cu_err cu_store_audit_insert_seq(struct cu_tx *tx, const char *tenant,
                                      const char *audit_json, struct cu_arena *arena,
                                      struct cu_db_result **out) CU_WUR;

/* Legal holds. Columns: reason, principal, created_at. 0 rows: not held. */
enum cu_col_hold {
    CU_COL_HOLD_REASON,
    CU_COL_HOLD_PRINCIPAL,
    CU_COL_HOLD_CREATED_AT,
};
enum cu_err cu_store_hold_get(struct cu_tx *tx, const char *tenant, const char *subject,
                              struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Places or replaces a hold; first locks the subject's live records (a running retention batch
 * finishes first, a later one skips them). *created = 1 when new. */
enum cu_err cu_store_hold_put(struct cu_tx *tx, const char *tenant, const char *subject,
                              const char *reason, const char *principal, int *created) CU_WUR;
/* *deleted = 1 when there was one. */
enum cu_err cu_store_hold_delete(struct cu_tx *tx, const char *tenant, const char *subject,
                                 int *deleted) CU_WUR;

/* Retention: marks deleted (and drops the values of) at most limit records older than their
 * collection's retention_days whose subject is not held, skipping rows other sweepers hold
 * (SKIP LOCKED). Columns: id, collection, subject_id. */
enum cu_col_expired {
    CU_COL_EXP_ID,
    CU_COL_EXP_COLLECTION,
    CU_COL_EXP_SUBJECT_ID,
};
enum cu_err cu_store_retention_batch(struct cu_tx *tx, const char *tenant, int limit,
                                     struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Held subjects with expired records whose skip was not audited in the last day (now marked as
 * audited). Columns: subject_id, expired records. */
enum cu_err cu_store_retention_held(struct cu_tx *tx, const char *tenant, int limit,
                                    struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* DSR requests. Columns: id, subject_id, type, regulation, status, received_at, due_at,
 * extended_at, extension_reason, blocked_reason, completed_at, receipt (JSON text or ""),
 * overdue ("t"/"f"). */
enum cu_col_dsr {
    CU_COL_DSR_ID,
    CU_COL_DSR_SUBJECT_ID,
    CU_COL_DSR_TYPE,
    CU_COL_DSR_REGULATION,
    CU_COL_DSR_STATUS,
    CU_COL_DSR_RECEIVED_AT,
    CU_COL_DSR_DUE_AT,
    CU_COL_DSR_EXTENDED_AT,
    CU_COL_DSR_EXTENSION_REASON,
    CU_COL_DSR_BLOCKED_REASON,
    CU_COL_DSR_COMPLETED_AT,
    CU_COL_DSR_RECEIPT,
    CU_COL_DSR_OVERDUE,
};
/* received_at and due_at: seconds since the epoch. Returns the row. */
enum cu_err cu_store_dsr_insert(struct cu_tx *tx, const char *tenant, const char *id,
                                const char *subject, const char *type, const char *regulation,
                                long long received_at, long long due_at, const char *principal,
                                struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* for_update: locks the row. Also column CU_COL_DSR_OVERDUE + 1: received_at in epoch seconds. */
enum cu_err cu_store_dsr_get(struct cu_tx *tx, const char *tenant, const char *id, int for_update,
                             struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* status NULL: any; overdue: only open requests past due. After id `after`, limit rows. */
enum cu_err cu_store_dsr_list(struct cu_tx *tx, const char *tenant, const char *status,
                              int overdue, const char *after, int limit, struct cu_arena *arena,
                              struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_dsr_extend(struct cu_tx *tx, const char *tenant, const char *id,
                                long long due_at, const char *reason) CU_WUR;
/* status: completed or blocked; blocked_reason and receipt_json may be NULL. */
enum cu_err cu_store_dsr_finish(struct cu_tx *tx, const char *tenant, const char *id,
                                const char *status, const char *blocked_reason,
                                const char *receipt_json) CU_WUR;
/* Open requests of the tenant: past due, and due within 7 days. One row, two columns. */
enum cu_err cu_store_dsr_counts(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                                struct cu_db_result **out) CU_WUR;

#endif
