/* SQL of capture sessions (migrations/0017). Every statement but the secret look-up names its
 * tenant; row-level security is the second line. */
#include "storage/capturestore.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* the columns of enum cu_col_capture, for a session s */
/* clang-format off */
#define CAP_COLS                                                                                   \
    "s.id, CASE WHEN s.status = 'completed' THEN 'completed'"                                      \
    " WHEN s.expires_at <= now() THEN 'expired' ELSE 'pending' END,"                               \
    " s.collection, s.subject_id, array_to_json(s.fields)::text, " TS("s.created_at") ", "        \
    TS("s.expires_at") ", coalesce(s.record_id, ''),"                                              \
    " coalesce((SELECT json_object_agg(t.field, t.token ORDER BY t.field)::text"                   \
    "   FROM tokens t JOIN records r ON r.tenant_id = t.tenant_id AND r.id = t.record_id"          \
    "   WHERE t.tenant_id = s.tenant_id AND t.record_id = s.record_id AND NOT t.revoked"           \
    "     AND r.deleted_at IS NULL), '')"
/* clang-format on */

static const struct cu_stmt q_cap_insert = {
    "cap_insert",
    "INSERT INTO capture_sessions (tenant_id, id, secret_hash, collection, subject_id, fields,"
    " principal, expires_at)"
    " VALUES ($1, $2, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)), $7,"
    " now() + make_interval(secs => $8::int))"
    " RETURNING " TS("expires_at")};
static const struct cu_stmt q_cap_get = {
    "cap_get", "SELECT " CAP_COLS " FROM capture_sessions s WHERE s.tenant_id = $1 AND s.id = $2"};
static const struct cu_stmt q_cap_by_secret = {
    "cap_by_secret",
    "SELECT " CAP_COLS ", s.tenant_id FROM capture_sessions s WHERE s.secret_hash = $1"};
static const struct cu_stmt q_cap_complete = {
    "cap_complete",
    "UPDATE capture_sessions SET status = 'completed', record_id = $3, completed_at = now()"
    " WHERE tenant_id = $1 AND secret_hash = $2 AND status = 'pending' AND expires_at > now()"};

enum cu_err
cu_store_capture_insert(struct cu_tx *tx, const char *tenant, const char *id,
                        const uint8_t hash[32], const char *collection, const char *subject_id,
                        const char *fields_json, const char *principal, int expires_in,
                        struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, id);
    cu_params_bin(&p, hash, 32);
    cu_params_text(&p, collection);
    cu_params_text(&p, subject_id);
    cu_params_text(&p, fields_json);
    cu_params_text(&p, principal);
    cu_params_int(&p, arena, expires_in);
    return cu_tx_exec(tx, &q_cap_insert, &p, arena, out);
}

enum cu_err
cu_store_capture_get(struct cu_tx *tx, const char *tenant, const char *id, struct cu_arena *arena,
                     struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, id);
    return cu_tx_exec(tx, &q_cap_get, &p, arena, out);
}

enum cu_err
cu_store_capture_by_secret(struct cu_tx *tx, const uint8_t hash[32], struct cu_arena *arena,
                           struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_bin(&p, hash, 32);
    return cu_tx_exec(tx, &q_cap_by_secret, &p, arena, out);
}

enum cu_err
cu_store_capture_complete(struct cu_tx *tx, const char *tenant, const uint8_t hash[32],
                          const char *record_id, int *done)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_bin(&p, hash, 32);
    cu_params_text(&p, record_id);
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_cap_complete, &p, arena, &r);
    if (rc == CU_OK) {
        *done = cu_res_affected(r) == 1;
    }
    cu_arena_free(arena);
    return rc;
}
