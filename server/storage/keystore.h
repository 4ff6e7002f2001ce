/* Tenants and wrapped keys in PostgreSQL. Every function runs inside the caller's transaction
 * (cu_tx_begin with the tenant set), names its tenant in the WHERE clause as well (row-level
 * security is the second line), and returns rows owned by arena with the documented columns. */
#ifndef CU_STORAGE_KEYSTORE_H
#define CU_STORAGE_KEYSTORE_H

#include "storage/db.h"

/* Switches the tenant of an open transaction (SET LOCAL), for work that spans tenants in one
 * atomic transaction (root key rotation). */
enum cu_err cu_tx_set_tenant(struct cu_tx *tx, const char *tenant) CU_WUR;

/* Root key check value: *found = 0 when none is stored yet. */
enum cu_err cu_store_root_kcv(struct cu_tx *tx, struct cu_arena *arena, uint8_t **kcv, size_t *len,
                              int *found) CU_WUR;
/* The same, locking the row: CU_KCV_SHARE for a wrap under the root, CU_KCV_UPDATE for the
 * root rotation (one waits for the other). Column 0: root_kcv. */
enum cu_kcv_lock { CU_KCV_NO_LOCK, CU_KCV_SHARE, CU_KCV_UPDATE };
enum cu_err cu_store_root_kcv_locked(struct cu_tx *tx, enum cu_kcv_lock lock,
                                     struct cu_arena *arena, uint8_t **kcv, size_t *len,
                                     int *found) CU_WUR;
enum cu_err cu_store_root_kcv_put(struct cu_tx *tx, const uint8_t *kcv, size_t len) CU_WUR;
/* Replaces the stored value (root rotation); CU_ERR_CONFLICT when none was stored. */
enum cu_err cu_store_root_kcv_replace(struct cu_tx *tx, const uint8_t *kcv, size_t len) CU_WUR;

/* Creates tenant with KEK version 1 (wrapped) and its four data keys (wrapped by that KEK),
 * purposes in the order index, token, ff1, audit. CU_ERR_CONFLICT if it exists. */
enum cu_err cu_store_tenant_insert(struct cu_tx *tx, const char *tenant, const char *name,
                                   const uint8_t *kek, size_t kek_len, const uint8_t *const tdk[4],
                                   const size_t tdk_len[4]) CU_WUR;
/* Columns: tenant_id, name, current_kek_version, created_at (ISO 8601). 0 or 1 row. */
enum cu_col_tenant {
    CU_COL_TENANT_ID,
    CU_COL_TENANT_NAME,
    CU_COL_TENANT_KEK_VERSION,
    CU_COL_TENANT_CREATED_AT,
};
enum cu_err cu_store_tenant_get(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                                struct cu_db_result **out) CU_WUR;
/* Platform transaction only. Same columns, ordered by tenant_id, after `after` ("" = start). */
enum cu_err cu_store_tenant_list(struct cu_tx *tx, const char *after, int limit,
                                 struct cu_arena *arena, struct cu_db_result **out) CU_WUR;
/* Destroys the tenant's keys, then removes every row of it. *deleted = 0 if it did not exist. */
enum cu_err cu_store_tenant_delete(struct cu_tx *tx, const char *tenant, int *deleted) CU_WUR;
/* The current KEK version, with a share lock on the tenant row so that no rotation or
 * destruction of a version can commit in between (exclusive: FOR NO KEY UPDATE, which waits for
 * those share locks but not for the key-share locks of foreign keys that every insert takes).
 * inc (may be NULL): the tenant's incarnation. CU_ERR_NOT_FOUND for no tenant. */
enum { CU_INC_LEN = 40 };
enum cu_err cu_store_tenant_lock_kek(struct cu_tx *tx, const char *tenant, int exclusive,
                                     int *version, char inc[CU_INC_LEN]) CU_WUR;
/* The current KEK version (column 0) and incarnation, read without a lock, as one step of the
 * caller's pipeline (a group-committed write takes the share lock with
 * cu_store_tenant_lock_kek_step and checks the version it read). p: the caller's. */
void cu_store_tenant_kek_version_step(const char *tenant, struct cu_params *p,
                                      struct cu_db_result **out, struct cu_step *step);
/* cu_store_tenant_lock_kek's share lock as one step of the caller's pipeline (column 0: the
 * version; no row for no tenant): fills p (the caller's, alive until the steps have run). */
void cu_store_tenant_lock_kek_step(const char *tenant, struct cu_params *p,
                                   struct cu_db_result **out, struct cu_step *step);

/* Wrapped KEK of a version that is not destroyed; CU_ERR_NOT_FOUND otherwise. */
enum cu_err cu_store_kek_get(struct cu_tx *tx, const char *tenant, int version,
                             struct cu_arena *arena, uint8_t **wrapped, size_t *len) CU_WUR;
/* Columns: version, state, wrapped. Every KEK row of the tenant that is not destroyed. */
enum cu_col_kek {
    CU_COL_KEK_VERSION,
    CU_COL_KEK_STATE,
    CU_COL_KEK_WRAPPED,
};
enum cu_err cu_store_kek_all(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                             struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_kek_rewrap(struct cu_tx *tx, const char *tenant, int version,
                                const uint8_t *wrapped, size_t len) CU_WUR;
/* Adds version (active), retires the others, makes it current. */
enum cu_err cu_store_kek_add(struct cu_tx *tx, const char *tenant, int version,
                             const uint8_t *wrapped, size_t len) CU_WUR;
/* Destroys retired versions that no key references any more; *destroyed = how many. */
enum cu_err cu_store_kek_destroy_unused(struct cu_tx *tx, const char *tenant,
                                        int *destroyed) CU_WUR;
/* Columns: version, state, created_at, retired_at, destroyed_at ("" when not), subject_keys
 * (count wrapped by it), data_keys (count). */
enum cu_col_kek_status {
    CU_COL_KEKST_VERSION,
    CU_COL_KEKST_STATE,
    CU_COL_KEKST_CREATED_AT,
    CU_COL_KEKST_RETIRED_AT,
    CU_COL_KEKST_DESTROYED_AT,
    CU_COL_KEKST_SUBJECT_KEYS,
    CU_COL_KEKST_DATA_KEYS,
};
enum cu_err cu_store_kek_status(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                                struct cu_db_result **out) CU_WUR;

/* Tenant data keys. Columns: kek_version, wrapped. CU_ERR_NOT_FOUND when absent. */
enum cu_err cu_store_tdk_get(struct cu_tx *tx, const char *tenant, const char *purpose,
                             struct cu_arena *arena, int *kek_version, uint8_t **wrapped,
                             size_t *len) CU_WUR;
enum cu_err cu_store_tdk_rewrap(struct cu_tx *tx, const char *tenant, const char *purpose,
                                int kek_version, const uint8_t *wrapped, size_t len) CU_WUR;

/* Subject keys. Columns of the rows below: subject_id, version, kek_version, wrapped,
 * encryptions (cu_store_subject_keys_use only). */
enum cu_col_subject_key {
    CU_COL_SK_SUBJECT_ID,
    CU_COL_SK_VERSION,
    CU_COL_SK_KEK_VERSION,
    CU_COL_SK_WRAPPED,
    CU_COL_SK_ENCRYPTIONS,
};

/* Up to limit subject keys wrapped by a KEK older than current, locked (SKIP LOCKED).
 * Columns: subject_id, version, kek_version, wrapped. */
enum cu_err cu_store_subject_keys_stale(struct cu_tx *tx, const char *tenant, int current,
                                        int limit, struct cu_arena *arena,
                                        struct cu_db_result **out) CU_WUR;
enum cu_err cu_store_subject_key_rewrap(struct cu_tx *tx, const char *tenant, const char *subject,
                                        int version, int kek_version, const uint8_t *wrapped,
                                        size_t len) CU_WUR;
/* Subject keys in batches: the newest version of each subject's key, counting n encryptions.
 * subjects_json: [{"subject_id","n"}]. Columns: subject_id, version, kek_version, wrapped,
 * encryptions (cu_col_subject_key). Subjects without a key get no row. */
enum cu_err cu_store_subject_keys_use(struct cu_tx *tx, const char *tenant,
                                      const char *subjects_json, struct cu_arena *arena,
                                      struct cu_db_result **out) CU_WUR;
/* [{"subject_id","version","kek_version","wrapped" (hex),"n"}]; rows that already exist are
 * skipped. Columns of the result: subject_id, version, kek_version, wrapped of the rows
 * inserted (cu_col_subject_key). */
enum cu_err cu_store_subject_keys_insert(struct cu_tx *tx, const char *tenant,
                                         const char *keys_json, struct cu_arena *arena,
                                         struct cu_db_result **out) CU_WUR;
/* cu_store_subject_keys_use's rows, read, nothing counted; cu_store_subject_keys_use and
 * _insert: all three as steps of the caller's pipeline (p: the caller's,
 * alive until the steps have run). */
void cu_store_subject_keys_get_step(const char *tenant, const char *subjects_json,
                                    struct cu_params *p, struct cu_db_result **out,
                                    struct cu_step *step);
void cu_store_subject_keys_use_step(const char *tenant, const char *subjects_json,
                                    struct cu_params *p, struct cu_db_result **out,
                                    struct cu_step *step);
void cu_store_subject_keys_insert_step(const char *tenant, const char *keys_json,
                                       struct cu_params *p, struct cu_db_result **out,
                                       struct cu_step *step);

#endif
