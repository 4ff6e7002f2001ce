/* Capture sessions in PostgreSQL (migrations/0017): a session is found by its id (the agent's
 * app, in its tenant) or by its secret's SHA-256 (the capture page, which knows no tenant: a
 * platform-level read gives the tenant). Results are owned by the arena. */
#ifndef CU_STORAGE_CAPTURESTORE_H
#define CU_STORAGE_CAPTURESTORE_H

#include "storage/db.h"

/* Inserts a pending session that expires expires_in seconds from now; fields_json is a JSON
 * array of field names. One row: expires_at. CU_ERR_CONFLICT when the id or hash exists. */
enum cu_col_capture_insert { CU_COL_CAPINS_EXPIRES_AT };
enum cu_err cu_store_capture_insert(struct cu_tx *tx, const char *tenant, const char *id,
                                    const uint8_t hash[32], const char *collection,
                                    const char *subject_id, const char *fields_json,
                                    const char *principal, int expires_in, struct cu_arena *arena,
                                    struct cu_db_result **out) CU_WUR;

/* A session by id in its tenant: 0 or 1 row. status is pending, completed or expired; record_id
 * and tokens ("" when none; tokens a JSON object field -> token of the record's live tokens). */
enum cu_col_capture {
    CU_COL_CAP_ID,
    CU_COL_CAP_STATUS,
    CU_COL_CAP_COLLECTION,
    CU_COL_CAP_SUBJECT_ID,
    CU_COL_CAP_FIELDS, /* JSON array text */
    CU_COL_CAP_CREATED_AT,
    CU_COL_CAP_EXPIRES_AT,
    CU_COL_CAP_RECORD_ID,
    CU_COL_CAP_TOKENS,
};
enum cu_err cu_store_capture_get(struct cu_tx *tx, const char *tenant, const char *id,
                                 struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* A session by its secret's hash, in a platform-level transaction (cu_tx_begin_read with no
 * tenant): 0 or 1 row, the columns of cu_col_capture then the tenant. */
enum { CU_COL_CAP_TENANT = CU_COL_CAP_TOKENS + 1 };
enum cu_err cu_store_capture_by_secret(struct cu_tx *tx, const uint8_t hash[32],
                                       struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* Moves the pending, unexpired session with this hash to completed with record_id; *done = 1
 * when it did, 0 when the session was used or expired meanwhile (the row lock orders two nodes'
 * attempts: the second one sees the first one's completion). */
enum cu_err cu_store_capture_complete(struct cu_tx *tx, const char *tenant, const uint8_t hash[32],
                                      const char *record_id, int *done) CU_WUR;

#endif
