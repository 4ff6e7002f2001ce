/* SQL of data subjects: view, export, erasure, legal holds, retention and DSR requests. */
#include "storage/subjectstore.h"

#include <stdio.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define TSS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const struct cu_stmt q_lock = {
    "subject_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended('custos.subject/' || $1 || '/' || $2, 0))"};
static const struct cu_stmt q_values = {
    "subject_values",
    "SELECT r.id, r.collection, " TS("r.created_at") ", v.field, coalesce(v.key_version, 0),"
    " v.ciphertext, v.token, coalesce(sk.kek_version, 0), sk.wrapped,"
    " coalesce(c.fields -> v.field ->> 'type', ''),"
    " (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
    " FROM records r"
    " LEFT JOIN record_values v ON v.tenant_id = $1 AND v.record_id = r.id"
    " LEFT JOIN subject_keys sk ON sk.tenant_id = $1 AND sk.subject_id = r.subject_id"
    "      AND sk.version = v.key_version"
    " LEFT JOIN collections c ON c.tenant_id = $1 AND c.name = r.collection"
    " WHERE r.tenant_id = $1 AND r.subject_id = $2 AND r.deleted_at IS NULL"
    " ORDER BY r.collection, r.created_at, r.id, v.field"};
static const struct cu_stmt q_access = {
    "subject_access",
    "SELECT seq, " TS("ts") ", principal, action, coalesce(collection, ''),"
    " coalesce(array_to_json(fields)::text, ''), coalesce(record_id, ''), coalesce(purpose, ''),"
    " coalesce(redaction, ''), outcome"
    " FROM audit_log WHERE tenant_id = $1 AND subject_id = $2"
    " AND incarnation = (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
    " ORDER BY seq LIMIT $3"};
/* The values of every record of the subject go (those of records deleted before are gone
 * already); the statement's snapshot sees the records as they were before the UPDATE. */
static const struct cu_stmt q_erase = {
    "subject_erase",
    "WITH d AS (UPDATE records SET deleted_at = now(), updated_at = now()"
    "           WHERE tenant_id = $1 AND subject_id = $2 AND deleted_at IS NULL RETURNING id),"
    " v AS (DELETE FROM record_values WHERE tenant_id = $1 AND record_id IN"
    "       (SELECT id FROM records WHERE tenant_id = $1 AND subject_id = $2) RETURNING 1),"
    " k AS (DELETE FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2 RETURNING 1)"
    " SELECT (SELECT count(*) FROM d),"
    " (SELECT count(*) FROM records WHERE tenant_id = $1 AND subject_id = $2)"
    "   + (SELECT count(*) FROM k) + (SELECT count(*) FROM v),"
    " (SELECT count(*) FROM k), " TS("now()")};
/* A write of the subject's data in flight holds its key rows (it counts its encryptions): the
 * erasure waits for it, and its next statement then sees the records it wrote. */
static const struct cu_stmt q_lock_keys = {
    "subject_lock_keys",
    "SELECT count(*) FROM (SELECT 1 FROM subject_keys WHERE tenant_id = $1 AND subject_id = $2"
    " FOR UPDATE) x"};
static const struct cu_stmt q_audit_seq = {
    "audit_insert_seq",
    "INSERT INTO audit_log (tenant_id, principal, action, collection, fields, record_id,"
    " subject_id, purpose, redaction, outcome, request_id, incarnation)"
    " SELECT $1, x.principal, x.action, x.collection, x.fields, x.record_id, x.subject_id,"
    " x.purpose, x.redaction, x.outcome, x.request_id,"
    " (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
    " FROM json_to_recordset($2::json) AS x(principal text, action text, collection text,"
    " fields text[], record_id text, subject_id text, purpose text, redaction text,"
    " outcome text, request_id text)"
    " RETURNING seq"};
static const struct cu_stmt q_hold_get = {
    "hold_get",
    "SELECT reason, principal, " TS("created_at")
    " FROM subject_holds WHERE tenant_id = $1 AND subject_id = $2"};
static const struct cu_stmt q_hold_lock_records = {
    "hold_lock_records",
    "SELECT count(*) FROM (SELECT 1 FROM records WHERE tenant_id = $1 AND subject_id = $2"
    " AND deleted_at IS NULL FOR UPDATE) x"};
static const struct cu_stmt q_hold_put = {
    "hold_put",
    "INSERT INTO subject_holds (tenant_id, subject_id, reason, principal) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (tenant_id, subject_id) DO UPDATE SET reason = EXCLUDED.reason,"
    " principal = EXCLUDED.principal"
    " RETURNING (xmax = 0)"};
static const struct cu_stmt q_hold_delete = {
    "hold_delete", "DELETE FROM subject_holds WHERE tenant_id = $1 AND subject_id = $2"};
static const struct cu_stmt q_retention = {
    "retention_batch",
    "WITH e AS (SELECT r.id FROM records r"
    "   JOIN collections c ON c.tenant_id = $1 AND c.name = r.collection"
    "   WHERE r.tenant_id = $1 AND c.retention_days IS NOT NULL AND r.deleted_at IS NULL"
    "   AND r.created_at < now() - make_interval(days => c.retention_days)"
    "   AND NOT EXISTS (SELECT 1 FROM subject_holds h WHERE h.tenant_id = $1"
    "                   AND h.subject_id = r.subject_id)"
    "   ORDER BY r.created_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED),"
    " d AS (UPDATE records SET deleted_at = now(), updated_at = now()"
    "   WHERE tenant_id = $1 AND id IN (SELECT id FROM e) RETURNING id, collection, subject_id),"
    " v AS (DELETE FROM record_values WHERE tenant_id = $1 AND record_id IN (SELECT id FROM e))"
    " SELECT id, collection, subject_id FROM d ORDER BY id"};
/* Two sweepers may both find a subject in x; the UPDATE re-checks skip_audited_at on the row
 * version it locks (READ COMMITTED re-evaluates its WHERE after waiting), so only one of them
 * claims, and audits, the skip. */
static const struct cu_stmt q_retention_held = {
    "retention_held",
    "WITH x AS (SELECT h.subject_id, count(*) AS n FROM subject_holds h"
    "   JOIN records r ON r.tenant_id = $1 AND r.subject_id = h.subject_id"
    "   AND r.deleted_at IS NULL"
    "   JOIN collections c ON c.tenant_id = $1 AND c.name = r.collection"
    "   WHERE h.tenant_id = $1 AND c.retention_days IS NOT NULL"
    "   AND r.created_at < now() - make_interval(days => c.retention_days)"
    "   AND (h.skip_audited_at IS NULL OR h.skip_audited_at < now() - interval '1 day')"
    "   GROUP BY h.subject_id ORDER BY h.subject_id LIMIT $2),"
    " u AS (UPDATE subject_holds SET skip_audited_at = now()"
    "   WHERE tenant_id = $1 AND subject_id IN (SELECT subject_id FROM x)"
    "   AND (skip_audited_at IS NULL OR skip_audited_at < now() - interval '1 day')"
    "   RETURNING subject_id)"
    " SELECT x.subject_id, x.n FROM x JOIN u ON u.subject_id = x.subject_id"
    " ORDER BY x.subject_id"};

#define DSR_COLS                                                                                   \
    "id, subject_id, type, regulation, status, " TSS("received_at") ", " TSS("due_at") ", "        \
    "coalesce(" TS("extended_at") ", ''), coalesce(extension_reason, ''),"                         \
    " coalesce(blocked_reason, ''), coalesce(" TS("completed_at") ", ''),"                         \
    " coalesce(receipt::text, ''), (status = 'received' AND due_at < now()),"                      \
    " extract(epoch FROM received_at)::bigint"

static const struct cu_stmt q_dsr_insert = {
    "dsr_insert",
    "INSERT INTO dsr_requests (tenant_id, id, subject_id, type, regulation, received_at, due_at,"
    " principal) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint), to_timestamp($7::bigint),"
    " $8) RETURNING " DSR_COLS};
static const struct cu_stmt q_dsr_get = {
    "dsr_get", "SELECT " DSR_COLS " FROM dsr_requests WHERE tenant_id = $1 AND id = $2"};
static const struct cu_stmt q_dsr_get_lock = {
    "dsr_get_lock",
    "SELECT " DSR_COLS " FROM dsr_requests WHERE tenant_id = $1 AND id = $2 FOR UPDATE"};
static const struct cu_stmt q_dsr_list = {
    "dsr_list",
    "SELECT " DSR_COLS " FROM dsr_requests WHERE tenant_id = $1"
    " AND ($2::text IS NULL OR status = $2)"
    " AND (NOT $3::boolean OR (status = 'received' AND due_at < now()))"
    " AND id > $4 ORDER BY id LIMIT $5"};
static const struct cu_stmt q_dsr_extend = {
    "dsr_extend",
    "UPDATE dsr_requests SET due_at = to_timestamp($3::bigint), extended_at = now(),"
    " extension_reason = $4, updated_at = now() WHERE tenant_id = $1 AND id = $2"};
static const struct cu_stmt q_dsr_finish = {
    "dsr_finish",
    "UPDATE dsr_requests SET status = $3, blocked_reason = $4, receipt = $5::jsonb,"
    " completed_at = CASE WHEN $3 = 'completed' THEN now() END, updated_at = now()"
    " WHERE tenant_id = $1 AND id = $2"};
static const struct cu_stmt q_dsr_counts = {
    "dsr_counts",
    "SELECT count(*) FILTER (WHERE due_at < now()),"
    " count(*) FILTER (WHERE due_at >= now() AND due_at < now() + interval '7 days')"
    " FROM dsr_requests WHERE tenant_id = $1 AND status = 'received'"};

static enum cu_err
run(struct cu_tx *tx, const struct cu_stmt *q, const struct cu_params *p, struct cu_arena *arena,
    struct cu_db_result **out)
{
    if (out != NULL) {
        return cu_tx_exec(tx, q, p, arena, out);
    }
    struct cu_arena *tmp = cu_arena_new();
    enum cu_err rc = cu_tx_exec(tx, q, p, tmp, NULL);
    cu_arena_free(tmp);
    return rc;
}

static enum cu_err
run2(struct cu_tx *tx, const struct cu_stmt *q, const char *a, const char *b,
     struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, a);
    cu_params_text(&p, b);
    return run(tx, q, &p, arena, out);
}

enum cu_err
cu_store_subject_lock(struct cu_tx *tx, const char *tenant, const char *subject)
{
    return run2(tx, &q_lock, tenant, subject, NULL, NULL);
}

enum cu_err
cu_store_subject_values(struct cu_tx *tx, const char *tenant, const char *subject,
                        struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_values, tenant, subject, arena, out);
}

enum cu_err
cu_store_subject_access(struct cu_tx *tx, const char *tenant, const char *subject, int limit,
                        struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    cu_params_int(&p, arena, limit);
    return run(tx, &q_access, &p, arena, out);
}

enum cu_err
cu_store_subject_erase(struct cu_tx *tx, const char *tenant, const char *subject,
                       struct cu_arena *arena, struct cu_db_result **out)
{
    CU_GUARD(run2(tx, &q_lock_keys, tenant, subject, NULL, NULL));
    return run2(tx, &q_erase, tenant, subject, arena, out);
}

enum cu_err
cu_store_audit_insert_seq(struct cu_tx *tx, const char *tenant, const char *audit_json,
                          struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_audit_seq, tenant, audit_json, arena, out);
}

enum cu_err
cu_store_hold_get(struct cu_tx *tx, const char *tenant, const char *subject,
                  struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, &q_hold_get, tenant, subject, arena, out);
}

enum cu_err
cu_store_hold_put(struct cu_tx *tx, const char *tenant, const char *subject, const char *reason,
                  const char *principal, int *created)
{
    CU_GUARD(run2(tx, &q_hold_lock_records, tenant, subject, NULL, NULL));
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    cu_params_text(&p, reason);
    cu_params_text(&p, principal);
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_hold_put, &p, arena, &r);
    if (rc == CU_OK) {
        *created = cu_res_rows(r) == 1 && cu_res_text(r, 0, 0)[0] == 't';
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_hold_delete(struct cu_tx *tx, const char *tenant, const char *subject, int *deleted)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = run2(tx, &q_hold_delete, tenant, subject, arena, &r);
    if (rc == CU_OK) {
        *deleted = cu_res_affected(r) > 0;
    }
    cu_arena_free(arena);
    return rc;
}

static enum cu_err
run_limit(struct cu_tx *tx, const struct cu_stmt *q, const char *tenant, int limit,
          struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, limit);
    return run(tx, q, &p, arena, out);
}

enum cu_err
cu_store_retention_batch(struct cu_tx *tx, const char *tenant, int limit, struct cu_arena *arena,
                         struct cu_db_result **out)
{
    return run_limit(tx, &q_retention, tenant, limit, arena, out);
}

enum cu_err
cu_store_retention_held(struct cu_tx *tx, const char *tenant, int limit, struct cu_arena *arena,
                        struct cu_db_result **out)
{
    return run_limit(tx, &q_retention_held, tenant, limit, arena, out);
}

enum cu_err
cu_store_dsr_insert(struct cu_tx *tx, const char *tenant, const char *id, const char *subject,
                    const char *type, const char *regulation, long long received_at,
                    long long due_at, const char *principal, struct cu_arena *arena,
                    struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, id);
    cu_params_text(&p, subject);
    cu_params_text(&p, type);
    cu_params_text(&p, regulation);
    cu_params_int(&p, arena, received_at);
    cu_params_int(&p, arena, due_at);
    cu_params_text(&p, principal);
    return run(tx, &q_dsr_insert, &p, arena, out);
}

enum cu_err
cu_store_dsr_get(struct cu_tx *tx, const char *tenant, const char *id, int for_update,
                 struct cu_arena *arena, struct cu_db_result **out)
{
    return run2(tx, for_update ? &q_dsr_get_lock : &q_dsr_get, tenant, id, arena, out);
}

enum cu_err
cu_store_dsr_list(struct cu_tx *tx, const char *tenant, const char *status, int overdue,
                  const char *after, int limit, struct cu_arena *arena,
                  struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, status);
    cu_params_text(&p, overdue ? "true" : "false");
    cu_params_text(&p, after != NULL ? after : "");
    cu_params_int(&p, arena, limit);
    return run(tx, &q_dsr_list, &p, arena, out);
}

enum cu_err
cu_store_dsr_extend(struct cu_tx *tx, const char *tenant, const char *id, long long due_at,
                    const char *reason)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, id);
    cu_params_int(&p, arena, due_at);
    cu_params_text(&p, reason);
    enum cu_err rc = cu_tx_exec(tx, &q_dsr_extend, &p, arena, NULL);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_dsr_finish(struct cu_tx *tx, const char *tenant, const char *id, const char *status,
                    const char *blocked_reason, const char *receipt_json)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, id);
    cu_params_text(&p, status);
    cu_params_text(&p, blocked_reason);
    cu_params_text(&p, receipt_json);
    return run(tx, &q_dsr_finish, &p, NULL, NULL);
}

enum cu_err
cu_store_dsr_counts(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                    struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return run(tx, &q_dsr_counts, &p, arena, out);
}
