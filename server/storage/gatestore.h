/* Restrictions of processing, the consent ledger and the record of processing in PostgreSQL
 * (migration 0014). The ledger is append-only: this file has no statement that changes or
 * removes an event. Every statement names its tenant; row-level security is the second line.
 * Results are owned by the arena. */
#ifndef CU_STORAGE_GATESTORE_H
#define CU_STORAGE_GATESTORE_H

#include "storage/db.h"

/* A restriction. Columns: reason, principal, created_at, created ("t" when this call placed
 * it, "f" when it stood already). 0 rows: the subject is not restricted. */
enum cu_col_restriction {
    CU_COL_RESTR_REASON,
    CU_COL_RESTR_PRINCIPAL,
    CU_COL_RESTR_CREATED_AT,
    CU_COL_RESTR_CREATED,
};
/* Places it unless it stands; one row either way. */
enum cu_err cu_store_restriction_set(struct cu_tx *tx, const char *tenant, const char *subject,
                                     const char *reason, const char *principal,
                                     struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Lifts it; *lifted = 0 when none stood. */
enum cu_err cu_store_restriction_clear(struct cu_tx *tx, const char *tenant, const char *subject,
                                       int *lifted) CU_WUR;
enum cu_err cu_store_restriction_get(struct cu_tx *tx, const char *tenant, const char *subject,
                                     struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* Consent events. Columns: seq, purpose, status, source, evidence, principal, recorded_at. */
enum cu_col_consent {
    CU_COL_CONSENT_SEQ,
    CU_COL_CONSENT_PURPOSE,
    CU_COL_CONSENT_STATUS,
    CU_COL_CONSENT_SOURCE,
    CU_COL_CONSENT_EVIDENCE,
    CU_COL_CONSENT_PRINCIPAL,
    CU_COL_CONSENT_RECORDED_AT,
};
/* Appends one event (the purpose must be declared: a foreign key); one row, the event. */
enum cu_err cu_store_consent_append(struct cu_tx *tx, const char *tenant, const char *subject,
                                    const char *purpose, const char *status, const char *source,
                                    const char *evidence, const char *principal,
                                    const char *request_id, struct cu_arena *arena,
                                    struct cu_db_result **out) CU_WUR;
/* Appends a withdrawal for every purpose the subject currently consents to; one row per event
 * appended. */
enum cu_err cu_store_consent_withdraw_all(struct cu_tx *tx, const char *tenant, const char *subject,
                                          const char *source, const char *evidence,
                                          const char *principal, const char *request_id,
                                          struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* The subject's current state: the latest event per purpose, by purpose. */
enum cu_err cu_store_consent_current(struct cu_tx *tx, const char *tenant, const char *subject,
                                     struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Its history, oldest first, at most limit events after seq `after` (0: from the start). */
enum cu_err cu_store_consent_history(struct cu_tx *tx, const char *tenant, const char *subject,
                                     long long after, int limit, struct cu_arena *arena,
                                     struct cu_db_result **out) CU_WUR;

/* The gate facts of subjects for a purpose. Columns: subject_id, restricted ("t"/"f"),
 * consented ("t" when the subject's latest event for the purpose is a grant). */
enum cu_col_gate {
    CU_COL_GATE_SUBJECT_ID,
    CU_COL_GATE_RESTRICTED,
    CU_COL_GATE_CONSENTED,
};
/* The reveal's step (cu_store_reveal): one row per distinct subject of the tokens (a JSON array
 * of strings), ordered by subject_id (byte order, as strcmp); no row at all when the tenant has
 * no restriction and the purpose does not rest on consent (nothing to decide). Parameters:
 * tenant, purpose, tokens_json. */
extern const struct cu_stmt cu_q_reveal_gates;
/* The record read's step (cu_store_record_read): the facts of one record's subject, one row,
 * none when the tenant has no such record in the collection. Parameters: tenant, purpose,
 * collection, record id. */
extern const struct cu_stmt cu_q_record_gates;
/* One subject: exactly one row. */
enum cu_err cu_store_subject_gates(struct cu_tx *tx, const char *tenant, const char *subject,
                                   const char *purpose, struct cu_arena *arena,
                                   struct cu_db_result **out) CU_WUR;

/* The record of processing (GDPR Art. 30), one row per collection by name. Columns: name,
 * field types (JSON array text), retention_days ("" when none), records, subjects (live),
 * purposes used in the last `days` days (JSON array of {purpose, lawful_basis, accesses}),
 * accessors in that window (JSON array of {principal, accesses, last_access}). */
enum cu_col_report {
    CU_COL_REPORT_COLLECTION,
    CU_COL_REPORT_TYPES,
    CU_COL_REPORT_RETENTION_DAYS,
    CU_COL_REPORT_RECORDS,
    CU_COL_REPORT_SUBJECTS,
    CU_COL_REPORT_PURPOSES,
    CU_COL_REPORT_ACCESSORS,
};
enum cu_err cu_store_processing_report(struct cu_tx *tx, const char *tenant, int days,
                                       struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

#endif
