/* SQL of the vault. Batches are JSON arrays expanded by json_to_recordset. */
#include "storage/vaultstore.h"

#include "storage/gatestore.h"

#include <stdio.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const struct cu_stmt q_coll_get = {
    "coll_get",
    "SELECT name, fields::text, coalesce(retention_days::text, ''), " TS("created_at") ", "
    TS("updated_at") ","
    " EXISTS (SELECT 1 FROM records r WHERE r.tenant_id = $1 AND r.collection = $2),"
    " (SELECT incarnation FROM tenants t WHERE t.tenant_id = $1)"
    " FROM collections WHERE tenant_id = $1 AND name = $2"};
static const struct cu_stmt q_coll_get_share = {
    "coll_get_share",
    "SELECT name, fields::text, coalesce(retention_days::text, ''), " TS("created_at") ", "
    TS("updated_at") ","
    " EXISTS (SELECT 1 FROM records r WHERE r.tenant_id = $1 AND r.collection = $2),"
    " (SELECT incarnation FROM tenants t WHERE t.tenant_id = $1)"
    " FROM collections WHERE tenant_id = $1 AND name = $2 FOR KEY SHARE"};
static const struct cu_stmt q_coll_get_update = {
    "coll_get_update",
    "SELECT name, fields::text, coalesce(retention_days::text, ''), " TS("created_at") ", "
    TS("updated_at") ","
    " EXISTS (SELECT 1 FROM records r WHERE r.tenant_id = $1 AND r.collection = $2),"
    " (SELECT incarnation FROM tenants t WHERE t.tenant_id = $1)"
    " FROM collections WHERE tenant_id = $1 AND name = $2 FOR UPDATE"};
static const struct cu_stmt q_coll_list = {
    "coll_list",
    "SELECT name, fields::text, coalesce(retention_days::text, ''), " TS("created_at") ", "
    TS("updated_at") ", false, ''"
    " FROM collections WHERE tenant_id = $1 AND name > $2 ORDER BY name LIMIT $3"};
static const struct cu_stmt q_coll_put = {
    "coll_put",
    "INSERT INTO collections (tenant_id, name, fields, retention_days)"
    " VALUES ($1, $2, $3::jsonb, nullif($4::int, 0))"
    " ON CONFLICT (tenant_id, name) DO UPDATE SET fields = EXCLUDED.fields,"
    " retention_days = EXCLUDED.retention_days, updated_at = now()"
    " RETURNING (xmax = 0)"};
static const struct cu_stmt q_purpose_get = {
    "purpose_get",
    "SELECT name, description, lawful_basis, " TS("created_at") ", " TS("updated_at")
    " FROM purposes WHERE tenant_id = $1 AND name = $2"};
static const struct cu_stmt q_purpose_list = {
    "purpose_list",
    "SELECT name, description, lawful_basis, " TS("created_at") ", " TS("updated_at")
    " FROM purposes WHERE tenant_id = $1 AND name > $2 ORDER BY name LIMIT $3"};
static const struct cu_stmt q_purpose_put = {
    "purpose_put",
    "INSERT INTO purposes (tenant_id, name, description, lawful_basis) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (tenant_id, name) DO UPDATE SET description = EXCLUDED.description,"
    " lawful_basis = EXCLUDED.lawful_basis, updated_at = now()"
    " RETURNING (xmax = 0)"};
/* A whole tokenize in one round trip: records, values, tokens, their names and the audit
 * entries. The foreign keys between them are checked at the end of the statement. A token
 * already named (issued before, in any record, collection or field, even deleted) fails the
 * statement: a unique violation for an unshared token (the caller draws new ones), a foreign
 * key violation (tokens_name) for a shared one named by another field. */
static const struct cu_stmt q_write_batch = {
    "write_batch",
    "WITH r AS (INSERT INTO records (tenant_id, id, collection, subject_id)"
    "   SELECT $1, x.id, x.collection, x.subject_id"
    "   FROM json_to_recordset($2::json) AS x(id text, collection text, subject_id text)),"
    " v AS (INSERT INTO record_values (tenant_id, record_id, collection, field, key_version,"
    "   ciphertext, blind_index, token)"
    "   SELECT $1, x.record_id, x.collection, x.field, x.key_version, decode(x.ct, 'hex'),"
    "   decode(x.bi, 'hex'), x.token"
    "   FROM json_to_recordset($3::json) AS x(record_id text, collection text, field text,"
    "   key_version int, ct text, bi text, token text)),"
    " t AS (INSERT INTO tokens (tenant_id, token, record_id, collection, field)"
    "   SELECT $1, x.token, x.record_id, x.collection, x.field"
    "   FROM json_to_recordset($4::json) AS x(token text, record_id text, collection text,"
    "   field text)),"
    " n AS (INSERT INTO token_names (tenant_id, token, collection, field, shared)"
    "   SELECT $1, x.token, x.collection, x.field, false"
    "   FROM json_to_recordset($4::json) AS x(token text, collection text, field text,"
    "   shared boolean, reserved boolean) WHERE NOT x.shared AND NOT x.reserved),"
    " ns AS (INSERT INTO token_names (tenant_id, token, collection, field, shared)"
    "   SELECT $1, x.token, x.collection, x.field, true"
    "   FROM json_to_recordset($4::json) AS x(token text, collection text, field text,"
    "   shared boolean) WHERE x.shared"
    "   ON CONFLICT (tenant_id, token) DO NOTHING),"
    " a AS (INSERT INTO audit_log (tenant_id, principal, action, collection, fields, record_id,"
    "   subject_id, purpose, redaction, outcome, request_id, incarnation)"
    "   SELECT $1, x.principal, x.action, x.collection, x.fields, x.record_id, x.subject_id,"
    "   x.purpose, x.redaction, x.outcome, x.request_id,"
    "   (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
    "   FROM json_to_recordset($5::json) AS x(principal text, action text, collection text,"
    "   fields text[], record_id text, subject_id text, purpose text, redaction text,"
    "   outcome text, request_id text))"
    " SELECT 1"};

static const struct cu_stmt q_values_upsert = {
    "values_upsert",
    "INSERT INTO record_values (tenant_id, record_id, collection, field, key_version, ciphertext,"
    " blind_index, token)"
    " SELECT $1, x.record_id, x.collection, x.field, x.key_version, decode(x.ct, 'hex'),"
    " decode(x.bi, 'hex'), x.token"
    " FROM json_to_recordset($2::json) AS x(record_id text, collection text, field text,"
    " key_version int, ct text, bi text, token text)"
    " ON CONFLICT (tenant_id, record_id, field) DO UPDATE SET key_version = EXCLUDED.key_version,"
    " ciphertext = EXCLUDED.ciphertext, blind_index = EXCLUDED.blind_index,"
    " token = EXCLUDED.token"};
static const struct cu_stmt q_tokens_insert = {
    "tokens_insert",
    "WITH n AS (INSERT INTO token_names (tenant_id, token, collection, field, shared)"
    "   SELECT $1, x.token, x.collection, x.field, false"
    "   FROM json_to_recordset($2::json) AS x(token text, collection text, field text,"
    "   shared boolean, reserved boolean) WHERE NOT x.shared AND NOT x.reserved),"
    " ns AS (INSERT INTO token_names (tenant_id, token, collection, field, shared)"
    "   SELECT $1, x.token, x.collection, x.field, true"
    "   FROM json_to_recordset($2::json) AS x(token text, collection text, field text,"
    "   shared boolean) WHERE x.shared"
    "   ON CONFLICT (tenant_id, token) DO NOTHING)"
    " INSERT INTO tokens (tenant_id, token, record_id, collection, field)"
    " SELECT $1, x.token, x.record_id, x.collection, x.field"
    " FROM json_to_recordset($2::json) AS x(token text, record_id text, collection text,"
    " field text)"
    " ON CONFLICT (tenant_id, token, record_id, field) DO UPDATE SET revoked = false"};
static const struct cu_stmt q_tokens_revoke = {
    "tokens_revoke",
    "UPDATE tokens t SET revoked = true"
    " FROM json_to_recordset($2::json) AS x(token text, record_id text, field text)"
    " WHERE t.tenant_id = $1 AND t.token = x.token AND t.record_id = x.record_id"
    " AND t.field = x.field"
    " AND t.token = ANY (ARRAY(SELECT json_array_elements($2::json) ->> 'token'))"};
/* Reserves random format-preserving tokens before they are written: the ones returned are now
 * the caller's; the others were taken (issued before, or repeated in the batch). */
static const struct cu_stmt q_token_names_reserve = {
    "token_names_reserve",
    "INSERT INTO token_names (tenant_id, token, collection, field, shared)"
    " SELECT $1, x.token, x.collection, x.field, false"
    " FROM json_to_recordset($2::json) AS x(token text, collection text, field text)"
    " ON CONFLICT (tenant_id, token) DO NOTHING RETURNING token"};
/* Audit entries name the tenant's incarnation (migrations/0006) once per statement: the
 * column's default would look it up once per row. A tenant that does not exist (a token naming
 * one) gets no entries, but the one recording its deletion (written after its row is gone). */
static const struct cu_stmt q_audit_insert = {
    "audit_insert",
    "INSERT INTO audit_log (tenant_id, principal, action, collection, fields, record_id,"
    " subject_id, purpose, redaction, outcome, request_id, incarnation)"
    " SELECT $1, x.principal, x.action, x.collection, x.fields, x.record_id, x.subject_id,"
    " x.purpose, x.redaction, x.outcome, x.request_id,"
    " (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
    " FROM json_to_recordset($2::json) AS x(principal text, action text, collection text,"
    " fields text[], record_id text, subject_id text, purpose text, redaction text,"
    " outcome text, request_id text)"
    " WHERE x.action = 'tenant.delete' OR EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)"};
/* Tokens are matched with = ANY(ARRAY(...)): PostgreSQL then plans an index probe per token,
 * where a join against json_array_elements_text (estimated at 100 rows) got a scan of the
 * tenant's whole tokens table. The record is a LATERAL subquery with LIMIT 1 (its primary key:
 * at most one row anyway), which the planner cannot flatten into a join: one index probe per
 * token row, where the generic plan of the plain join hashed the tenant's whole records table
 * (a sequential scan per reveal, growing with the tenant; seen by `make bench`'s plan check). */
static const struct cu_stmt q_detokenize = {
    "detokenize",
    "SELECT t.token, t.collection, t.field, t.record_id, r.subject_id,"
    " CASE WHEN t.revoked THEN 'revoked' WHEN r.deleted_at IS NOT NULL THEN 'deleted'"
    "      WHEN v.ciphertext IS NULL OR sk.wrapped IS NULL THEN 'erased' ELSE 'live' END,"
    " coalesce(v.key_version, 0), v.ciphertext, coalesce(sk.kek_version, 0), sk.wrapped,"
    " coalesce(c.fields -> t.field ->> 'type', ''),"
    " (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
    " FROM tokens t"
    " CROSS JOIN LATERAL (SELECT rr.subject_id, rr.deleted_at, rr.created_at FROM records rr"
    "      WHERE rr.tenant_id = $1 AND rr.id = t.record_id LIMIT 1) r"
    " LEFT JOIN record_values v ON v.tenant_id = $1 AND v.record_id = t.record_id"
    "      AND v.field = t.field AND NOT t.revoked"
    " LEFT JOIN subject_keys sk ON sk.tenant_id = $1 AND sk.subject_id = r.subject_id"
    "      AND sk.version = v.key_version"
    " LEFT JOIN collections c ON c.tenant_id = $1 AND c.name = t.collection"
    " WHERE t.tenant_id = $1"
    " AND t.token = ANY (ARRAY(SELECT json_array_elements_text($2::json)))"
    " ORDER BY t.token COLLATE \"C\","
    " (NOT t.revoked AND r.deleted_at IS NULL AND sk.wrapped IS NOT NULL) DESC, r.created_at"};
static const struct cu_stmt q_record_get = {
    "record_get",
    "SELECT id, collection, subject_id, deleted_at IS NOT NULL, " TS("created_at") ", "
    TS("updated_at")
    " FROM records WHERE tenant_id = $1 AND collection = $2 AND id = $3"};
static const struct cu_stmt q_record_get_lock = {
    "record_get_lock",
    "SELECT id, collection, subject_id, deleted_at IS NOT NULL, " TS("created_at") ", "
    TS("updated_at")
    " FROM records WHERE tenant_id = $1 AND collection = $2 AND id = $3 FOR UPDATE"};
static const struct cu_stmt q_record_values = {
    "record_values",
    "SELECT v.field, v.key_version, v.ciphertext, v.token, coalesce(sk.kek_version, 0),"
    " sk.wrapped"
    " FROM record_values v JOIN records r ON r.tenant_id = $1 AND r.id = v.record_id"
    " LEFT JOIN subject_keys sk ON sk.tenant_id = $1 AND sk.subject_id = r.subject_id"
    "      AND sk.version = v.key_version"
    " WHERE v.tenant_id = $1 AND v.record_id = $2 ORDER BY v.field"};
static const struct cu_stmt q_record_delete = {
    "record_delete",
    "WITH d AS (UPDATE records SET deleted_at = now(), updated_at = now()"
    "           WHERE tenant_id = $1 AND collection = $2 AND id = $3 AND deleted_at IS NULL"
    "           RETURNING id),"
    " v AS (DELETE FROM record_values WHERE tenant_id = $1 AND record_id IN (SELECT id FROM d))"
    " SELECT count(*) FROM d"};
static const struct cu_stmt q_record_touch = {
    "record_touch", "UPDATE records SET updated_at = now() WHERE tenant_id = $1 AND id = $2"};
static const struct cu_stmt q_search = {
    "search",
    "SELECT r.id, r.subject_id,"
    " (SELECT json_object_agg(v2.field, v2.token ORDER BY v2.field) FROM record_values v2"
    "  WHERE v2.tenant_id = $1 AND v2.record_id = r.id)::text"
    " FROM record_values v JOIN records r ON r.tenant_id = $1 AND r.id = v.record_id"
    "      AND r.deleted_at IS NULL"
    " WHERE v.tenant_id = $1 AND v.collection = $2 AND v.field = $3 AND v.blind_index = $4"
    " ORDER BY r.created_at, r.id LIMIT $5"};
static const struct cu_stmt q_idem_get = {
    "idem_get",
    "SELECT request_hash, status, response FROM idempotency_keys"
    " WHERE tenant_id = $1 AND principal = $2 AND key = $3"};
static const struct cu_stmt q_idem_put = {
    "idem_put",
    "INSERT INTO idempotency_keys (tenant_id, principal, key, request_hash, status, response)"
    " VALUES ($1, $2, $3, $4, $5, $6)"};
static const struct cu_stmt q_pidem_get = {
    "pidem_get",
    "SELECT request_hash, status, response FROM platform_idempotency"
    " WHERE principal = $1 AND key = $2"};
static const struct cu_stmt q_pidem_put = {
    "pidem_put",
    "INSERT INTO platform_idempotency (principal, key, request_hash, status, response)"
    " VALUES ($1, $2, $3, $4, $5)"};
static const struct cu_stmt q_idem_gc = {
    "idem_gc",
    "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND created_at < now() - interval '24 hours'"};
static const struct cu_stmt q_pidem_gc = {
    "pidem_gc",
    "DELETE FROM platform_idempotency WHERE created_at < now() - interval '24 hours'"};
static const struct cu_stmt q_set_platform = {
    "set_platform_idem", "SELECT set_config('custos.platform_idem', 'on', true)"};

/* q_audit_insert, and the plain reveals of budgeted principals (entries with "budget":true)
 * counted in the same statement: a reveal counts exactly when its entry is durable. Only
 * entries that carry the mark pay for it (audit_stmt). Buckets older than two hours of the
 * principals counted go in the same statement. */
static const struct cu_stmt q_audit_insert_budget = {
    "audit_insert_budget",
    "WITH a AS (INSERT INTO audit_log (tenant_id, principal, action, collection, fields,"
    "   record_id, subject_id, purpose, redaction, outcome, request_id, incarnation)"
    "   SELECT $1, x.principal, x.action, x.collection, x.fields, x.record_id, x.subject_id,"
    "   x.purpose, x.redaction, x.outcome, x.request_id,"
    "   (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
    "   FROM json_to_recordset($2::json) AS x(principal text, action text, collection text,"
    "   fields text[], record_id text, subject_id text, purpose text, redaction text,"
    "   outcome text, request_id text)"
    "   WHERE EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)),"
    " b AS (SELECT x.principal, count(*) AS n"
    "   FROM json_to_recordset($2::json) AS x(principal text, budget boolean)"
    "   WHERE x.budget AND EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)"
    "   GROUP BY x.principal),"
    " d AS (DELETE FROM reveal_use u USING b WHERE u.tenant_id = $1 AND u.principal = b.principal"
    "   AND u.bucket < now() - interval '2 hours')"
    " INSERT INTO reveal_use (tenant_id, principal, bucket, n)"
    " SELECT $1, b.principal, date_trunc('minute', now()), b.n FROM b"
    " ON CONFLICT (tenant_id, principal, bucket) DO UPDATE SET n = reveal_use.n + EXCLUDED.n"};

static const struct cu_stmt *
audit_stmt(const char *audit_json)
{
    /* json_dumps escapes every quote inside a string: the bare text is only ever a member */
    return strstr(audit_json, "\"budget\":true") != NULL ? &q_audit_insert_budget
                                                          : &q_audit_insert;
}

static enum cu_err
run2(struct cu_tx *tx, const struct cu_stmt *stmt, const char *a, const char *b,
     struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, a);
    cu_params_text(&p, b);
    if (out != NULL) {
        return cu_tx_exec(tx, stmt, &p, arena, out);
    }
    struct cu_arena *tmp = cu_arena_new();
    enum cu_err rc = cu_tx_exec(tx, stmt, &p, tmp, NULL);
    cu_arena_free(tmp);
    return rc;
}

static enum cu_err
run_list(struct cu_tx *tx, const struct cu_stmt *stmt, const char *tenant, const char *after,
         int limit, struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, after ? after : "");
    cu_params_int(&p, arena, limit);
    return cu_tx_exec(tx, stmt, &p, arena, out);
}

void
cu_store_collection_get_step(const char *tenant, const char *name, int lock, struct cu_params *p,
                             struct cu_db_result **out, struct cu_step *step)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, name);
    const struct cu_stmt *q = lock > 0 ? &q_coll_get_update : lock < 0 ? &q_coll_get_share
                                                                        : &q_coll_get;
    *step = (struct cu_step){.stmt = q, .p = p, .out = out, .merge = CU_STEP_ONCE};
}

enum cu_err
cu_store_collection_get(struct cu_tx *tx, const char *tenant, const char *name, int lock,
                        struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    struct cu_step step;
    cu_store_collection_get_step(tenant, name, lock, &p, out, &step);
    return cu_tx_exec(tx, step.stmt, &p, arena, out);
}

enum cu_err
cu_store_collection_list(struct cu_tx *tx, const char *tenant, const char *after, int limit,
                         struct cu_arena *arena, struct cu_db_result **out)
{
    return run_list(tx, &q_coll_list, tenant, after, limit, arena, out);
}

enum cu_err
cu_store_collection_put(struct cu_tx *tx, const char *tenant, const char *name,
                        const char *fields_json, int retention_days, int *created)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, name);
    cu_params_text(&p, fields_json);
    cu_params_int(&p, arena, retention_days > 0 ? retention_days : 0);
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_coll_put, &p, arena, &r);
    if (rc == CU_OK) {
        *created = cu_res_rows(r) == 1 && cu_res_text(r, 0, 0)[0] == 't';
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_purpose_get(struct cu_tx *tx, const char *tenant, const char *name,
                     struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_purpose_get, tenant, name, arena, out);
}

enum cu_err
cu_store_purpose_list(struct cu_tx *tx, const char *tenant, const char *after, int limit,
                      struct cu_arena *arena, struct cu_db_result **out)
{
    return run_list(tx, &q_purpose_list, tenant, after, limit, arena, out);
}

enum cu_err
cu_store_purpose_put(struct cu_tx *tx, const char *tenant, const char *name,
                     const char *description, const char *lawful_basis, int *created)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, name);
    cu_params_text(&p, description);
    cu_params_text(&p, lawful_basis);
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_purpose_put, &p, arena, &r);
    if (rc == CU_OK) {
        *created = cu_res_rows(r) == 1 && cu_res_text(r, 0, 0)[0] == 't';
    }
    cu_arena_free(arena);
    return rc;
}

static void
write_batch_params(struct cu_params *p, const char *tenant, const char *records_json,
                   const char *values_json, const char *tokens_json, const char *audit_json)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, records_json);
    cu_params_text(p, values_json);
    cu_params_text(p, tokens_json);
    cu_params_text(p, audit_json);
}

const struct cu_stmt *
cu_store_stmt(const char *name)
{
    static const struct cu_stmt *const all[] = {&q_purpose_get, &q_detokenize, &q_audit_insert,
                                                &q_write_batch, &cu_q_reveal_gates};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(all[i]->name, name) == 0) {
            return all[i];
        }
    }
    return NULL;
}

enum cu_err
cu_store_reveal(struct cu_tx *tx, const char *tenant, const char *purpose, const char *tokens_json,
                struct cu_arena *arena, struct cu_db_result **purpose_out,
                struct cu_db_result **tokens_out, struct cu_db_result **gates_out,
                const struct cu_step *principal)
{
    struct cu_params pp, tp, gp;
    cu_params_init(&pp);
    cu_params_text(&pp, tenant);
    cu_params_text(&pp, purpose);
    cu_params_init(&tp);
    cu_params_text(&tp, tenant);
    cu_params_text(&tp, tokens_json);
    cu_params_init(&gp);
    cu_params_text(&gp, tenant);
    cu_params_text(&gp, purpose);
    cu_params_text(&gp, tokens_json);
    /* the large answer (the tokens' rows) comes last: a step sending a large parameter (a
     * 1000-token array) after it stalled behind PgBouncer until the deadline (2 of 2 runs of
     * test_detokenize's 1000-token batch through the pooler; 0 of 2 in this order) */
    struct cu_step steps[4] = {
        {.stmt = &q_purpose_get, .p = &pp, .out = purpose_out},
        {.stmt = &cu_q_reveal_gates, .p = &gp, .out = gates_out},
    };
    int n = 2;
    if (principal != NULL) {
        steps[n++] = *principal; /* small parameters: before the large answer, as above */
    }
    steps[n++] = (struct cu_step){.stmt = &q_detokenize, .p = &tp, .out = tokens_out};
    return cu_tx_exec_steps(tx, steps, n, arena);
}

void
cu_store_audit_insert_step(const char *tenant, const char *audit_json, struct cu_params *p,
                           struct cu_step *step)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, audit_json);
    *step = (struct cu_step){.stmt = audit_stmt(audit_json), .p = p, .merge = 1u << 1};
}

enum cu_err
cu_store_write_batch(struct cu_tx *tx, const char *tenant, const char *records_json,
                     const char *values_json, const char *tokens_json, const char *audit_json)
{
    struct cu_params p;
    write_batch_params(&p, tenant, records_json, values_json, tokens_json, audit_json);
    struct cu_arena *tmp = cu_arena_new();
    enum cu_err rc = cu_tx_exec(tx, &q_write_batch, &p, tmp, NULL);
    cu_arena_free(tmp);
    return rc;
}

enum cu_err
cu_store_write_batch_commit(struct cu_tx **tx, const char *tenant, const char *records_json,
                            const char *values_json, const char *tokens_json,
                            const char *audit_json)
{
    struct cu_params p;
    write_batch_params(&p, tenant, records_json, values_json, tokens_json, audit_json);
    return cu_tx_exec_commit(tx, &q_write_batch, &p);
}

void
cu_store_write_batch_step(const char *tenant, const char *records_json, const char *values_json,
                          const char *tokens_json, const char *audit_json, struct cu_params *p,
                          struct cu_step *step)
{
    write_batch_params(p, tenant, records_json, values_json, tokens_json, audit_json);
    /* the records, values, tokens and audit entries of several requests join */
    *step = (struct cu_step){.stmt = &q_write_batch, .p = p, .merge = 0x1e};
}

enum cu_err
cu_store_values_upsert(struct cu_tx *tx, const char *tenant, const char *values_json)
{
    return run2(tx, &q_values_upsert, tenant, values_json, NULL, NULL);
}

enum cu_err
cu_store_tokens_insert(struct cu_tx *tx, const char *tenant, const char *tokens_json)
{
    return run2(tx, &q_tokens_insert, tenant, tokens_json, NULL, NULL);
}

enum cu_err
cu_store_token_names_reserve(struct cu_tx *tx, const char *tenant, const char *names_json,
                             struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_token_names_reserve, tenant, names_json, arena, out);
}

enum cu_err
cu_store_tokens_revoke(struct cu_tx *tx, const char *tenant, const char *tokens_json)
{
    return run2(tx, &q_tokens_revoke, tenant, tokens_json, NULL, NULL);
}

enum cu_err
cu_store_audit_insert(struct cu_tx *tx, const char *tenant, const char *audit_json)
{
    return run2(tx, audit_stmt(audit_json), tenant, audit_json, NULL, NULL);
}

enum cu_err
cu_store_audit_insert_commit(struct cu_tx **tx, const char *tenant, const char *audit_json)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, audit_json);
    return cu_tx_exec_commit(tx, audit_stmt(audit_json), &p);
}

enum cu_err
cu_store_detokenize(struct cu_tx *tx, const char *tenant, const char *tokens_json,
                    struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_detokenize, tenant, tokens_json, arena, out);
}

enum cu_err
cu_store_record_get(struct cu_tx *tx, const char *tenant, const char *collection, const char *id,
                    int for_update, struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, collection);
    cu_params_text(&p, id);
    return cu_tx_exec(tx, for_update ? &q_record_get_lock : &q_record_get, &p, arena, out);
}

enum cu_err
cu_store_record_values(struct cu_tx *tx, const char *tenant, const char *id,
                       struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_record_values, tenant, id, arena, out);
}

enum cu_err
cu_store_record_read(struct cu_tx *tx, const char *tenant, const char *purpose,
                     const char *collection, const char *id, struct cu_arena *arena,
                     struct cu_record_read_out *out, const struct cu_step *principal)
{
    struct cu_params pp, cp, rp, gp, vp;
    cu_params_init(&pp);
    cu_params_text(&pp, tenant);
    cu_params_text(&pp, purpose);
    cu_params_init(&cp);
    cu_params_text(&cp, tenant);
    cu_params_text(&cp, collection);
    cu_params_init(&rp);
    cu_params_text(&rp, tenant);
    cu_params_text(&rp, collection);
    cu_params_text(&rp, id);
    cu_params_init(&gp);
    cu_params_text(&gp, tenant);
    cu_params_text(&gp, purpose);
    cu_params_text(&gp, collection);
    cu_params_text(&gp, id);
    cu_params_init(&vp);
    cu_params_text(&vp, tenant);
    cu_params_text(&vp, id);
    struct cu_step steps[6] = {
        {.stmt = &q_purpose_get, .p = &pp, .out = &out->purpose},
        {.stmt = &q_coll_get, .p = &cp, .out = &out->collection},
        {.stmt = &q_record_get, .p = &rp, .out = &out->record},
        {.stmt = &cu_q_record_gates, .p = &gp, .out = &out->gates},
    };
    int n = 4;
    if (principal != NULL) {
        steps[n++] = *principal;
    }
    steps[n++] = (struct cu_step){.stmt = &q_record_values, .p = &vp, .out = &out->values};
    return cu_tx_exec_steps(tx, steps, n, arena);
}

enum cu_err
cu_store_record_delete(struct cu_tx *tx, const char *tenant, const char *collection,
                       const char *id, int *deleted)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, collection);
    cu_params_text(&p, id);
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_record_delete, &p, arena, &r);
    if (rc == CU_OK) {
        *deleted = (int)cu_res_int(r, 0, 0);
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_record_touch(struct cu_tx *tx, const char *tenant, const char *id)
{
    return run2(tx, &q_record_touch, tenant, id, NULL, NULL);
}

enum cu_err
cu_store_search(struct cu_tx *tx, const char *tenant, const char *collection, const char *field,
                const uint8_t *blind_index, size_t len, int limit, struct cu_arena *arena,
                struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, collection);
    cu_params_text(&p, field);
    cu_params_bin(&p, blind_index, len);
    cu_params_int(&p, arena, limit);
    return cu_tx_exec(tx, &q_search, &p, arena, out);
}

enum cu_err
cu_store_idem_get(struct cu_tx *tx, const char *tenant, const char *principal, const char *key,
                  struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, principal);
    cu_params_text(&p, key);
    return cu_tx_exec(tx, &q_idem_get, &p, arena, out);
}

void
cu_store_idem_put_step(const char *tenant, const char *principal, const char *key,
                       const uint8_t *hash, size_t hash_len, int status, const char *response,
                       struct cu_arena *arena, struct cu_params *p, struct cu_step *step)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, principal);
    cu_params_text(p, key);
    cu_params_bin(p, hash, hash_len);
    cu_params_int(p, arena, status);
    cu_params_text(p, response);
    *step = (struct cu_step){.stmt = &q_idem_put, .p = p};
}

enum cu_err
cu_store_idem_put(struct cu_tx *tx, const char *tenant, const char *principal, const char *key,
                  const uint8_t *hash, size_t hash_len, int status, const char *response)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    struct cu_step step;
    cu_store_idem_put_step(tenant, principal, key, hash, hash_len, status, response, arena, &p,
                           &step);
    enum cu_err rc = cu_tx_exec(tx, &q_idem_put, &p, arena, NULL);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_pidem_get(struct cu_tx *tx, const char *principal, const char *key,
                   struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_pidem_get, principal, key, arena, out);
}

enum cu_err
cu_store_pidem_put(struct cu_tx *tx, const char *principal, const char *key, const uint8_t *hash,
                   size_t hash_len, int status, const char *response)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, principal);
    cu_params_text(&p, key);
    cu_params_bin(&p, hash, hash_len);
    cu_params_int(&p, arena, status);
    cu_params_text(&p, response);
    enum cu_err rc = cu_tx_exec(tx, &q_pidem_put, &p, arena, NULL);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_idem_gc(struct cu_tx *tx, const char *tenant)
{
    struct cu_params p;
    cu_params_init(&p);
    if (tenant == NULL) {
        struct cu_arena *tmp = cu_arena_new();
        enum cu_err rc = cu_tx_exec(tx, &q_pidem_gc, &p, tmp, NULL);
        cu_arena_free(tmp);
        return rc;
    }
    cu_params_text(&p, tenant);
    struct cu_arena *tmp = cu_arena_new();
    enum cu_err rc = cu_tx_exec(tx, &q_idem_gc, &p, tmp, NULL);
    cu_arena_free(tmp);
    return rc;
}

enum cu_err
cu_tx_allow_platform_idem(struct cu_tx *tx)
{
    struct cu_arena *tmp = cu_arena_new();
    enum cu_err rc = cu_tx_exec(tx, &q_set_platform, NULL, tmp, NULL);
    cu_arena_free(tmp);
    return rc;
}

void
cu_store_detokenize_step(const char *tenant, const char *tokens_json, struct cu_params *p,
                         struct cu_db_result **out, struct cu_step *step)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, tokens_json);
    *step = (struct cu_step){.stmt = &q_detokenize, .p = p, .out = out};
}
