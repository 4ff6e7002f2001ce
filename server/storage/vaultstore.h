/* Collections, purposes, records, values, tokens, audit entries and idempotency keys in
 * PostgreSQL. Batches travel as one JSON parameter expanded by json_to_recordset, so a request
 * of 1000 records costs a fixed number of statements, not one per value. Every statement names
 * its tenant; row-level security is the second line. Results are owned by the arena. */
#ifndef CU_STORAGE_VAULTSTORE_H
#define CU_STORAGE_VAULTSTORE_H

#include "storage/db.h"

/* Collections. Columns: name, fields (jsonb text), retention_days ("" when none), created_at,
 * updated_at, has_data ("t"/"f"; "f" in lists), the tenant's incarnation ("" in lists). */
enum cu_col_collection {
    CU_COL_COLL_NAME,
    CU_COL_COLL_FIELDS,
    CU_COL_COLL_RETENTION_DAYS,
    CU_COL_COLL_CREATED_AT,
    CU_COL_COLL_UPDATED_AT,
    CU_COL_COLL_HAS_DATA,
    CU_COL_COLL_INC,
};
/* lock: 0 none; < 0 FOR KEY SHARE (writers of records: the definition they encode with cannot
 * change under them); > 0 FOR UPDATE (a change of the definition waits for those writers). */
enum cu_err cu_store_collection_get(struct cu_tx *tx, const char *tenant, const char *name,
                                    int lock, struct cu_arena *arena,
                                    struct cu_db_result **out) CU_WUR;
/* The same as one step of the caller's pipeline (p: the caller's, alive until it has run). */
void cu_store_collection_get_step(const char *tenant, const char *name, int lock,
                                  struct cu_params *p, struct cu_db_result **out,
                                  struct cu_step *step);
enum cu_err cu_store_collection_list(struct cu_tx *tx, const char *tenant, const char *after,
                                     int limit, struct cu_arena *arena,
                                     struct cu_db_result **out) CU_WUR;
/* Inserts or replaces; *created = 1 when it was new. retention_days <= 0: none. */
enum cu_err cu_store_collection_put(struct cu_tx *tx, const char *tenant, const char *name,
                                    const char *fields_json, int retention_days,
                                    int *created) CU_WUR;

/* Purposes. Columns: name, description, lawful_basis, created_at, updated_at. */
enum cu_col_purpose {
    CU_COL_PURPOSE_NAME,
    CU_COL_PURPOSE_DESCRIPTION,
    CU_COL_PURPOSE_LAWFUL_BASIS,
    CU_COL_PURPOSE_CREATED_AT,
    CU_COL_PURPOSE_UPDATED_AT,
};
enum cu_err cu_store_purpose_get(struct cu_tx *tx, const char *tenant, const char *name,
                                 struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_purpose_list(struct cu_tx *tx, const char *tenant, const char *after,
                                  int limit, struct cu_arena *arena,
                                  struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_purpose_put(struct cu_tx *tx, const char *tenant, const char *name,
                                 const char *description, const char *lawful_basis,
                                 int *created) CU_WUR;

/* Batches (JSON arrays of objects with the listed members):
 * records: [{"id","collection","subject_id"}]
 * values:  [{"record_id","collection","field","key_version","ct" (hex),"bi" (hex or null),
 *            "token"}]
 * tokens:  [{"token","record_id","collection","field"}]
 * audit:   [{"principal","action","collection","fields":[...],"record_id","subject_id",
 *            "purpose","redaction","outcome","request_id"}] */
/* records + values + tokens + audit of one tokenize request, in one statement. */
enum cu_err cu_store_write_batch(struct cu_tx *tx, const char *tenant, const char *records_json,
                                 const char *values_json, const char *tokens_json,
                                 const char *audit_json) CU_WUR;
/* The same, and the transaction ends with it: consumes *tx (cu_tx_exec_commit). */
enum cu_err cu_store_write_batch_commit(struct cu_tx **tx, const char *tenant,
                                        const char *records_json, const char *values_json,
                                        const char *tokens_json, const char *audit_json) CU_WUR;
/* The same write as one step of the caller's pipeline (p: the caller's, alive until the steps
 * have run): a group-committed tokenize (service/unit_commit.h). */
void cu_store_write_batch_step(const char *tenant, const char *records_json,
                               const char *values_json, const char *tokens_json,
                               const char *audit_json, struct cu_params *p, struct cu_step *step);
/* Replaces values of existing (record, field) pairs (rectification). */
enum cu_err cu_store_values_upsert(struct cu_tx *tx, const char *tenant,
                                   const char *values_json) CU_WUR;
/* Inserts the names [{token, collection, field}] (unshared) that are free; the result has one
 * row (column 0: the token) per name inserted. */
enum cu_err cu_store_token_names_reserve(struct cu_tx *tx, const char *tenant,
                                         const char *names_json, struct cu_arena *arena,
                                         struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_tokens_insert(struct cu_tx *tx, const char *tenant,
                                   const char *tokens_json) CU_WUR;
/* Marks tokens no longer standing for a record's field: [{"token","record_id","field"}]. */
enum cu_err cu_store_tokens_revoke(struct cu_tx *tx, const char *tenant,
                                   const char *tokens_json) CU_WUR;
enum cu_err cu_store_audit_insert(struct cu_tx *tx, const char *tenant,
                                  const char *audit_json) CU_WUR;
/* The same, and the transaction ends with it: consumes *tx (cu_tx_exec_commit). */
enum cu_err cu_store_audit_insert_commit(struct cu_tx **tx, const char *tenant,
                                         const char *audit_json) CU_WUR;

/* Detokenize lookup for a list of tokens (JSON array of strings), one row per (token, record)
 * match, ordered by token (byte order, as strcmp) and live ones first per token. Columns: token,
 * collection, field, record_id, subject_id,
 * state ("live", "deleted", "revoked", "erased"), key_version, ciphertext, kek_version, wrapped,
 * field type, the tenant's incarnation. Tokens with no row are unknown. */
enum cu_col_detokenize {
    CU_COL_DETOK_TOKEN,
    CU_COL_DETOK_COLLECTION,
    CU_COL_DETOK_FIELD,
    CU_COL_DETOK_RECORD_ID,
    CU_COL_DETOK_SUBJECT_ID,
    CU_COL_DETOK_STATE,
    CU_COL_DETOK_KEY_VERSION,
    CU_COL_DETOK_CIPHERTEXT,
    CU_COL_DETOK_KEK_VERSION,
    CU_COL_DETOK_WRAPPED,
    CU_COL_DETOK_TYPE,
    CU_COL_DETOK_INC,
};
enum cu_err cu_store_detokenize(struct cu_tx *tx, const char *tenant, const char *tokens_json,
                                struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* The same lookup as one step of the caller's pipeline (verify: with its attempt count, in one
 * round trip): fills p (the caller's storage, alive until the steps have run) and step. */
void cu_store_detokenize_step(const char *tenant, const char *tokens_json, struct cu_params *p,
                              struct cu_db_result **out, struct cu_step *step);
/* What a reveal needs, in one round trip (one snapshot in a read, cu_tx_begin_read): the
 * purpose (columns cu_col_purpose, no row when undeclared) and the tokens' rows (columns
 * cu_col_detokenize), and the subjects' restriction and consent to the purpose (columns
 * cu_col_gate of storage/gatestore.h, one row per subject of the tokens). The policy facts still
 * to come (interaction, budget) join this pipeline as further steps. */
enum cu_err cu_store_reveal(struct cu_tx *tx, const char *tenant, const char *purpose,
                            const char *tokens_json, struct cu_arena *arena,
                            struct cu_db_result **purpose_out, struct cu_db_result **tokens_out,
                            struct cu_db_result **gates_out,
                            const struct cu_step *principal /* the principal's facts (storage/
                            rolestore.h, cu_store_principal_step) for a token naming roles, or
                            NULL */) CU_WUR;
/* A statement of this file by name (NULL when none): for the test that keeps the bench's SQL
 * (tests/bench/sql/) identical to the service's. */
const struct cu_stmt *cu_store_stmt(const char *name);
/* cu_store_audit_insert as one step of the caller's pipeline (p: the caller's, alive until it
 * has run): a group commit joins the entries of a tenant's concurrent requests in one INSERT. */
void cu_store_audit_insert_step(const char *tenant, const char *audit_json, struct cu_params *p,
                                struct cu_step *step);

/* One record. Row 0 columns: id, collection, subject_id, deleted ("t"/"f"), created_at,
 * updated_at. 0 rows: unknown. */
enum cu_col_record {
    CU_COL_RECORD_ID,
    CU_COL_RECORD_COLLECTION,
    CU_COL_RECORD_SUBJECT_ID,
    CU_COL_RECORD_DELETED,
    CU_COL_RECORD_CREATED_AT,
    CU_COL_RECORD_UPDATED_AT,
};
enum cu_err cu_store_record_get(struct cu_tx *tx, const char *tenant, const char *collection,
                                const char *id, int for_update, struct cu_arena *arena,
                                struct cu_db_result **out) CU_WUR;
/* Its values. Columns: field, key_version, ciphertext, token, kek_version, wrapped (the last
 * two empty, wrapped NULL, when the subject's key is gone). */
enum cu_col_value {
    CU_COL_VALUE_FIELD,
    CU_COL_VALUE_KEY_VERSION,
    CU_COL_VALUE_CIPHERTEXT,
    CU_COL_VALUE_TOKEN,
    CU_COL_VALUE_KEK_VERSION,
    CU_COL_VALUE_WRAPPED,
};
enum cu_err cu_store_record_values(struct cu_tx *tx, const char *tenant, const char *id,
                                   struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* What a read of one record needs, in one round trip (one snapshot in a read,
 * cu_tx_begin_read): the purpose (columns cu_col_purpose; no row: undeclared), the collection
 * (cu_col_collection; no row: unknown), the record (cu_col_record), its subject's restriction and
 * consent to the purpose (cu_col_gate of storage/gatestore.h; no row without the record) and its
 * values (cu_col_value), each reached by an index probe. The principal's facts (storage/
 * rolestore.h, cu_store_principal_step) join as one more step for a token naming roles. */
struct cu_record_read_out {
    struct cu_db_result *purpose, *collection, *record, *gates, *values;
};
enum cu_err cu_store_record_read(struct cu_tx *tx, const char *tenant, const char *purpose,
                                 const char *collection, const char *id, struct cu_arena *arena,
                                 struct cu_record_read_out *out,
                                 const struct cu_step *principal /* or NULL */) CU_WUR;
/* Marks deleted and drops its ciphertexts; *deleted = 0 when unknown or already deleted. */
enum cu_err cu_store_record_delete(struct cu_tx *tx, const char *tenant, const char *collection,
                                   const char *id, int *deleted) CU_WUR;
enum cu_err cu_store_record_touch(struct cu_tx *tx, const char *tenant, const char *id) CU_WUR;

/* Exact-match search by blind index. Columns: id, subject_id, tokens (json object text). */
enum cu_col_search {
    CU_COL_SEARCH_ID,
    CU_COL_SEARCH_SUBJECT_ID,
    CU_COL_SEARCH_TOKENS,
};
enum cu_err cu_store_search(struct cu_tx *tx, const char *tenant, const char *collection,
                            const char *field, const uint8_t *blind_index, size_t len, int limit,
                            struct cu_arena *arena, struct cu_db_result **out) CU_WUR;

/* Idempotency. Columns: request_hash, status, response. 0 rows: unused key. */
enum cu_col_idem {
    CU_COL_IDEM_REQUEST_HASH,
    CU_COL_IDEM_STATUS,
    CU_COL_IDEM_RESPONSE,
};
enum cu_err cu_store_idem_get(struct cu_tx *tx, const char *tenant, const char *principal,
                              const char *key, struct cu_arena *arena,
                              struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_idem_put(struct cu_tx *tx, const char *tenant, const char *principal,
                              const char *key, const uint8_t *hash, size_t hash_len, int status,
                              const char *response) CU_WUR;

/* The same as one step of the caller's pipeline (p: the caller's, and arena, alive until it
 * has run). */
void cu_store_idem_put_step(const char *tenant, const char *principal, const char *key,
                            const uint8_t *hash, size_t hash_len, int status, const char *response,
                            struct cu_arena *arena, struct cu_params *p, struct cu_step *step);

/* Platform idempotency (tenant creation), per principal; the transaction must have asked for
 * it (cu_tx_allow_platform_idem). Columns as cu_store_idem_get. */
enum cu_err cu_store_pidem_get(struct cu_tx *tx, const char *principal, const char *key,
                               struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_pidem_put(struct cu_tx *tx, const char *principal, const char *key,
                               const uint8_t *hash, size_t hash_len, int status,
                               const char *response) CU_WUR;
/* Forgets idempotency keys older than a day: a tenant's, or (tenant NULL, after
 * cu_tx_allow_platform_idem) the platform's. */
enum cu_err cu_store_idem_gc(struct cu_tx *tx, const char *tenant) CU_WUR;
/* Lets a transaction see the platform's idempotency keys, and nothing else of the platform. */
enum cu_err cu_tx_allow_platform_idem(struct cu_tx *tx) CU_WUR;

#endif
