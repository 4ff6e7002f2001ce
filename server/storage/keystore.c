/* SQL for tenants and the key hierarchy. Each statement names tenant_id explicitly even though
 * row-level security would filter it too. */
#include "storage/keystore.h"

#include <stdio.h>
#include <string.h>

static const struct cu_stmt q_set_tenant = {
    "set_tenant", "SELECT set_config('custos.tenant', $1, true)"};
static const struct cu_stmt q_kcv_get = {
    "kcv_get", "SELECT root_kcv FROM service_state WHERE singleton"};
/* the lock orders a root rotation (FOR UPDATE) against anything that wraps a key with the
 * root (FOR SHARE): a wrap either commits before the rotation reads the KEKs, or it waits and
 * sees the rotated check value */
static const struct cu_stmt q_kcv_share = {
    "kcv_share", "SELECT root_kcv FROM service_state WHERE singleton FOR SHARE"};
static const struct cu_stmt q_kcv_update = {
    "kcv_update", "SELECT root_kcv FROM service_state WHERE singleton FOR UPDATE"};
static const struct cu_stmt q_kcv_put = {
    "kcv_put", "INSERT INTO service_state (root_kcv) VALUES ($1) ON CONFLICT DO NOTHING"};
static const struct cu_stmt q_kcv_replace = {
    "kcv_replace",
    "UPDATE service_state SET root_kcv = $1, rotated_at = now() WHERE singleton"};
static const struct cu_stmt q_tenant_insert = {
    "tenant_insert", "INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)"};
static const struct cu_stmt q_kek_insert1 = {
    "kek_insert1", "INSERT INTO tenant_keys (tenant_id, version, wrapped) VALUES ($1, 1, $2)"};
static const struct cu_stmt q_tdk_insert = {
    "tdk_insert",
    "INSERT INTO tenant_data_keys (tenant_id, purpose, kek_version, wrapped)"
    " VALUES ($1, 'index', 1, $2), ($1, 'token', 1, $3), ($1, 'ff1', 1, $4), ($1, 'audit', 1, $5)"};
static const struct cu_stmt q_tenant_get = {
    "tenant_get",
    "SELECT tenant_id, name, current_kek_version,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    " FROM tenants WHERE tenant_id = $1"};
static const struct cu_stmt q_tenant_list = {
    "tenant_list",
    "SELECT tenant_id, name, current_kek_version,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    " FROM tenants WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2"};
static const struct cu_stmt q_keys_destroy = {
    "keys_destroy",
    "WITH k AS (DELETE FROM tenant_keys WHERE tenant_id = $1),"
    " d AS (DELETE FROM tenant_data_keys WHERE tenant_id = $1),"
    " s AS (DELETE FROM subject_keys WHERE tenant_id = $1)"
    " SELECT 1"};
static const struct cu_stmt q_tenant_delete = {
    "tenant_delete", "DELETE FROM tenants WHERE tenant_id = $1"};
static const struct cu_stmt q_tenant_lock_share = {
    "tenant_lock_share",
    "SELECT current_kek_version, incarnation FROM tenants WHERE tenant_id = $1 FOR SHARE"};
static const struct cu_stmt q_tenant_kek_version = {
    "tenant_kek_version", "SELECT current_kek_version, incarnation FROM tenants WHERE tenant_id = $1"};
static const struct cu_stmt q_tenant_lock_update = {
    "tenant_lock_update",
    "SELECT current_kek_version, incarnation FROM tenants WHERE tenant_id = $1"
    " FOR NO KEY UPDATE"};
static const struct cu_stmt q_kek_get = {
    "kek_get",
    "SELECT wrapped FROM tenant_keys"
    " WHERE tenant_id = $1 AND version = $2 AND state <> 'destroyed'"};
static const struct cu_stmt q_kek_all = {
    "kek_all",
    "SELECT version, state, wrapped FROM tenant_keys"
    " WHERE tenant_id = $1 AND state <> 'destroyed' ORDER BY version"};
static const struct cu_stmt q_kek_rewrap = {
    "kek_rewrap",
    "UPDATE tenant_keys SET wrapped = $3 WHERE tenant_id = $1 AND version = $2"
    " AND state <> 'destroyed'"};
static const struct cu_stmt q_kek_add = {
    "kek_add",
    "WITH r AS (UPDATE tenant_keys SET state = 'retired', retired_at = now()"
    "           WHERE tenant_id = $1 AND state = 'active'),"
    " i AS (INSERT INTO tenant_keys (tenant_id, version, wrapped) VALUES ($1, $2, $3))"
    " UPDATE tenants SET current_kek_version = $2 WHERE tenant_id = $1"};
static const struct cu_stmt q_kek_destroy_unused = {
    "kek_destroy_unused",
    "UPDATE tenant_keys k SET state = 'destroyed', wrapped = NULL, destroyed_at = now()"
    " WHERE k.tenant_id = $1 AND k.state = 'retired'"
    " AND NOT EXISTS (SELECT 1 FROM subject_keys s"
    "                 WHERE s.tenant_id = $1 AND s.kek_version = k.version)"
    " AND NOT EXISTS (SELECT 1 FROM tenant_data_keys d"
    "                 WHERE d.tenant_id = $1 AND d.kek_version = k.version)"};
static const struct cu_stmt q_kek_status = {
    "kek_status",
    "SELECT k.version, k.state,"
    " to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
    " coalesce(to_char(k.retired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''),"
    " coalesce(to_char(k.destroyed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''),"
    " (SELECT count(*) FROM subject_keys s WHERE s.tenant_id = $1 AND s.kek_version = k.version),"
    " (SELECT count(*) FROM tenant_data_keys d WHERE d.tenant_id = $1"
    "  AND d.kek_version = k.version)"
    /* the 1000 newest versions (api/openapi.yaml: KeyStatus.versions maxItems) */
    " FROM (SELECT * FROM tenant_keys WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1000) k"
    " ORDER BY k.version"};
static const struct cu_stmt q_tdk_get = {
    "tdk_get",
    "SELECT kek_version, wrapped FROM tenant_data_keys WHERE tenant_id = $1 AND purpose = $2"};
static const struct cu_stmt q_tdk_rewrap = {
    "tdk_rewrap",
    "UPDATE tenant_data_keys SET kek_version = $3, wrapped = $4"
    " WHERE tenant_id = $1 AND purpose = $2"};
static const struct cu_stmt q_sk_stale = {
    "sk_stale",
    "SELECT subject_id, version, kek_version, wrapped FROM subject_keys"
    " WHERE tenant_id = $1 AND kek_version < $2 ORDER BY subject_id, version LIMIT $3"
    " FOR UPDATE SKIP LOCKED"};
static const struct cu_stmt q_sk_rewrap = {
    "sk_rewrap",
    "UPDATE subject_keys SET kek_version = $4, wrapped = $5"
    " WHERE tenant_id = $1 AND subject_id = $2 AND version = $3"};

static const struct cu_stmt q_sk_use_batch = {
    "sk_use_batch",
    "UPDATE subject_keys k SET encryptions = k.encryptions + x.n"
    " FROM (SELECT j.subject_id, sum(j.n)::bigint AS n"
    "   FROM json_to_recordset($2::json) AS j(subject_id text, n bigint) GROUP BY j.subject_id) x"
    " WHERE k.tenant_id = $1 AND k.subject_id = x.subject_id"
    " AND k.subject_id = ANY (ARRAY(SELECT json_array_elements($2::json) ->> 'subject_id'))"
    " AND k.version ="
    "   (SELECT max(m.version) FROM subject_keys m"
    "    WHERE m.tenant_id = $1 AND m.subject_id = x.subject_id)"
    " RETURNING k.subject_id, k.version, k.kek_version, k.wrapped, k.encryptions"};
/* the same keys read, nothing counted (a group-committed write counts them, sk_use_batch) */
static const struct cu_stmt q_sk_get_batch = {
    "sk_get_batch",
    "SELECT k.subject_id, k.version, k.kek_version, k.wrapped, k.encryptions"
    " FROM subject_keys k JOIN json_to_recordset($2::json) AS x(subject_id text, n bigint)"
    " ON k.subject_id = x.subject_id"
    " WHERE k.tenant_id = $1"
    " AND k.subject_id = ANY (ARRAY(SELECT json_array_elements($2::json) ->> 'subject_id'))"
    " AND k.version ="
    "   (SELECT max(m.version) FROM subject_keys m"
    "    WHERE m.tenant_id = $1 AND m.subject_id = x.subject_id)"};
static const struct cu_stmt q_sk_insert_batch = {
    "sk_insert_batch",
    "INSERT INTO subject_keys (tenant_id, subject_id, version, kek_version, wrapped,"
    " encryptions)"
    " SELECT $1, x.subject_id, x.version, x.kek_version, decode(x.wrapped, 'hex'), x.n"
    " FROM json_to_recordset($2::json) AS x(subject_id text, version int, kek_version int,"
    " wrapped text, n bigint)"
    " ON CONFLICT DO NOTHING RETURNING subject_id, version, kek_version, wrapped"};

static enum cu_err
exec_tmp(struct cu_tx *tx, const struct cu_stmt *stmt, const struct cu_params *p,
         long long *affected)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, stmt, p, arena, &r);
    if (rc == CU_OK && affected != NULL) {
        *affected = cu_res_affected(r);
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_tx_set_tenant(struct cu_tx *tx, const char *tenant)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return exec_tmp(tx, &q_set_tenant, &p, NULL);
}

enum cu_err
cu_store_root_kcv(struct cu_tx *tx, struct cu_arena *arena, uint8_t **kcv, size_t *len,
                  int *found)
{
    return cu_store_root_kcv_locked(tx, CU_KCV_NO_LOCK, arena, kcv, len, found);
}

enum cu_err
cu_store_root_kcv_locked(struct cu_tx *tx, enum cu_kcv_lock lock, struct cu_arena *arena,
                         uint8_t **kcv, size_t *len, int *found)
{
    struct cu_db_result *r = NULL;
    const struct cu_stmt *q = lock == CU_KCV_SHARE    ? &q_kcv_share
                              : lock == CU_KCV_UPDATE ? &q_kcv_update
                                                      : &q_kcv_get;
    CU_GUARD(cu_tx_exec(tx, q, NULL, arena, &r));
    *found = cu_res_rows(r) == 1;
    if (!*found) {
        return CU_OK;
    }
    return cu_res_bytea(r, 0, 0, arena, kcv, len);
}

enum cu_err
cu_store_root_kcv_put(struct cu_tx *tx, const uint8_t *kcv, size_t len)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_bin(&p, kcv, len);
    return exec_tmp(tx, &q_kcv_put, &p, NULL);
}

enum cu_err
cu_store_root_kcv_replace(struct cu_tx *tx, const uint8_t *kcv, size_t len)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_bin(&p, kcv, len);
    long long n = 0;
    CU_GUARD(exec_tmp(tx, &q_kcv_replace, &p, &n));
    CU_ENSURE(n == 1, CU_ERR_CONFLICT, "no root key check value stored");
    return CU_OK;
}

enum cu_err
cu_store_tenant_insert(struct cu_tx *tx, const char *tenant, const char *name, const uint8_t *kek,
                       size_t kek_len, const uint8_t *const tdk[4], const size_t tdk_len[4])
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, name);
    CU_GUARD(exec_tmp(tx, &q_tenant_insert, &p, NULL));
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_bin(&p, kek, kek_len);
    CU_GUARD(exec_tmp(tx, &q_kek_insert1, &p, NULL));
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    for (int i = 0; i < 4; i++) {
        cu_params_bin(&p, tdk[i], tdk_len[i]);
    }
    return exec_tmp(tx, &q_tdk_insert, &p, NULL);
}

enum cu_err
cu_store_tenant_get(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                    struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return cu_tx_exec(tx, &q_tenant_get, &p, arena, out);
}

enum cu_err
cu_store_tenant_list(struct cu_tx *tx, const char *after, int limit, struct cu_arena *arena,
                     struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, after);
    cu_params_int(&p, arena, limit);
    return cu_tx_exec(tx, &q_tenant_list, &p, arena, out);
}

enum cu_err
cu_store_tenant_delete(struct cu_tx *tx, const char *tenant, int *deleted)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    /* keys first: once they are gone nothing of the tenant can be decrypted, whatever the
     * rest of the deletion does */
    CU_GUARD(exec_tmp(tx, &q_keys_destroy, &p, NULL));
    long long n = 0;
    CU_GUARD(exec_tmp(tx, &q_tenant_delete, &p, &n));
    *deleted = (int)n;
    return CU_OK;
}

static enum cu_err
tenant_kek(struct cu_tx *tx, const struct cu_stmt *stmt, const char *tenant, int *version,
           char inc[CU_INC_LEN])
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, stmt, &p, arena, &r);
    if (rc == CU_OK) {
        if (cu_res_rows(r) == 1) {
            *version = (int)cu_res_int(r, 0, 0);
            if (inc != NULL) {
                snprintf(inc, CU_INC_LEN, "%s", cu_res_text(r, 0, 1));
            }
        } else {
            rc = cu_err_set(CU_ERR_NOT_FOUND, __FILE__, __LINE__, "no such tenant");
        }
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_tenant_lock_kek(struct cu_tx *tx, const char *tenant, int exclusive, int *version,
                         char inc[CU_INC_LEN])
{
    return tenant_kek(tx, exclusive ? &q_tenant_lock_update : &q_tenant_lock_share, tenant,
                      version, inc);
}

void
cu_store_tenant_lock_kek_step(const char *tenant, struct cu_params *p, struct cu_db_result **out,
                              struct cu_step *step)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    *step = (struct cu_step){.stmt = &q_tenant_lock_share, .p = p, .out = out, .merge = CU_STEP_ONCE};
}

enum cu_err
cu_store_kek_get(struct cu_tx *tx, const char *tenant, int version, struct cu_arena *arena,
                 uint8_t **wrapped, size_t *len)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, version);
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_tx_exec(tx, &q_kek_get, &p, arena, &r));
    CU_ENSURE(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no usable key version %d", version);
    return cu_res_bytea(r, 0, 0, arena, wrapped, len);
}

enum cu_err
cu_store_kek_all(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                 struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return cu_tx_exec(tx, &q_kek_all, &p, arena, out);
}

enum cu_err
cu_store_kek_rewrap(struct cu_tx *tx, const char *tenant, int version, const uint8_t *wrapped,
                    size_t len)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", version);
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, v);
    cu_params_bin(&p, wrapped, len);
    return exec_tmp(tx, &q_kek_rewrap, &p, NULL);
}

enum cu_err
cu_store_kek_add(struct cu_tx *tx, const char *tenant, int version, const uint8_t *wrapped,
                 size_t len)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", version);
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, v);
    cu_params_bin(&p, wrapped, len);
    return exec_tmp(tx, &q_kek_add, &p, NULL);
}

enum cu_err
cu_store_kek_destroy_unused(struct cu_tx *tx, const char *tenant, int *destroyed)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    long long n = 0;
    CU_GUARD(exec_tmp(tx, &q_kek_destroy_unused, &p, &n));
    *destroyed = (int)n;
    return CU_OK;
}

enum cu_err
cu_store_kek_status(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                    struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return cu_tx_exec(tx, &q_kek_status, &p, arena, out);
}

enum cu_err
cu_store_tdk_get(struct cu_tx *tx, const char *tenant, const char *purpose,
                 struct cu_arena *arena, int *kek_version, uint8_t **wrapped, size_t *len)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, purpose);
    struct cu_db_result *r = NULL;
    CU_GUARD(cu_tx_exec(tx, &q_tdk_get, &p, arena, &r));
    CU_ENSURE(cu_res_rows(r) == 1, CU_ERR_NOT_FOUND, "no %s key", purpose);
    *kek_version = (int)cu_res_int(r, 0, 0);
    return cu_res_bytea(r, 0, 1, arena, wrapped, len);
}

enum cu_err
cu_store_tdk_rewrap(struct cu_tx *tx, const char *tenant, const char *purpose, int kek_version,
                    const uint8_t *wrapped, size_t len)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", kek_version);
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, purpose);
    cu_params_text(&p, v);
    cu_params_bin(&p, wrapped, len);
    return exec_tmp(tx, &q_tdk_rewrap, &p, NULL);
}

enum cu_err
cu_store_subject_keys_stale(struct cu_tx *tx, const char *tenant, int current, int limit,
                            struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, current);
    cu_params_int(&p, arena, limit);
    return cu_tx_exec(tx, &q_sk_stale, &p, arena, out);
}

enum cu_err
cu_store_subject_key_rewrap(struct cu_tx *tx, const char *tenant, const char *subject,
                            int version, int kek_version, const uint8_t *wrapped, size_t len)
{
    char v[16], kv[16];
    snprintf(v, sizeof(v), "%d", version);
    snprintf(kv, sizeof(kv), "%d", kek_version);
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    cu_params_text(&p, v);
    cu_params_text(&p, kv);
    cu_params_bin(&p, wrapped, len);
    return exec_tmp(tx, &q_sk_rewrap, &p, NULL);
}

/* A statement of (tenant, a JSON array) as a step of the caller's pipeline, or run at once. */
static void
json_step(const struct cu_stmt *stmt, const char *tenant, const char *json, struct cu_params *p,
          struct cu_db_result **out, struct cu_step *step)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, json);
    *step = (struct cu_step){.stmt = stmt, .p = p, .out = out};
}

static enum cu_err
exec_json(struct cu_tx *tx, const struct cu_stmt *stmt, const char *tenant, const char *json,
          struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    struct cu_step step;
    json_step(stmt, tenant, json, &p, out, &step);
    return cu_tx_exec(tx, stmt, &p, arena, out);
}

enum cu_err
cu_store_subject_keys_use(struct cu_tx *tx, const char *tenant, const char *subjects_json,
                          struct cu_arena *arena, struct cu_db_result **out)
{
    return exec_json(tx, &q_sk_use_batch, tenant, subjects_json, arena, out);
}

enum cu_err
cu_store_subject_keys_insert(struct cu_tx *tx, const char *tenant, const char *keys_json,
                             struct cu_arena *arena, struct cu_db_result **out)
{
    return exec_json(tx, &q_sk_insert_batch, tenant, keys_json, arena, out);
}

void
cu_store_subject_keys_get_step(const char *tenant, const char *subjects_json, struct cu_params *p,
                               struct cu_db_result **out, struct cu_step *step)
{
    json_step(&q_sk_get_batch, tenant, subjects_json, p, out, step);
}

void
cu_store_tenant_kek_version_step(const char *tenant, struct cu_params *p,
                                 struct cu_db_result **out, struct cu_step *step)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    *step = (struct cu_step){.stmt = &q_tenant_kek_version, .p = p, .out = out};
}

void
cu_store_subject_keys_use_step(const char *tenant, const char *subjects_json, struct cu_params *p,
                               struct cu_db_result **out, struct cu_step *step)
{
    json_step(&q_sk_use_batch, tenant, subjects_json, p, out, step);
    step->merge = 1u << 1; /* the subjects (their counts summed per subject) */
}

void
cu_store_subject_keys_insert_step(const char *tenant, const char *keys_json, struct cu_params *p,
                                  struct cu_db_result **out, struct cu_step *step)
{
    json_step(&q_sk_insert_batch, tenant, keys_json, p, out, step);
    step->merge = 1u << 1; /* the keys */
}
