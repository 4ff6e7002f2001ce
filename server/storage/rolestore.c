/* SQL of roles, interactions and a principal's reveal facts (see rolestore.h). */
#include "storage/rolestore.h"

#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define ROLE_COLS                                                                                  \
    "name, array_to_json(scopes)::text, plain_requires_mfa,"                                       \
    " coalesce(plain_reveals_per_hour::text, ''), interaction_bound, " TS("created_at") ", "       \
    TS("updated_at")

static const struct cu_stmt q_role_put = {
    "role_put",
    "INSERT INTO roles (tenant_id, name, scopes, plain_requires_mfa, plain_reveals_per_hour,"
    " interaction_bound)"
    " VALUES ($1, $2, ARRAY(SELECT json_array_elements_text($3::json)), $4::boolean,"
    " nullif($5::int, -1), $6::boolean)"
    " ON CONFLICT (tenant_id, name) DO UPDATE SET scopes = EXCLUDED.scopes,"
    " plain_requires_mfa = EXCLUDED.plain_requires_mfa,"
    " plain_reveals_per_hour = EXCLUDED.plain_reveals_per_hour,"
    " interaction_bound = EXCLUDED.interaction_bound, updated_at = now()"
    " RETURNING (xmax = 0)"};
static const struct cu_stmt q_role_get = {
    "role_get", "SELECT " ROLE_COLS " FROM roles WHERE tenant_id = $1 AND name = $2"};
static const struct cu_stmt q_role_list = {
    "role_list",
    "SELECT " ROLE_COLS " FROM roles WHERE tenant_id = $1 AND name > $2 ORDER BY name LIMIT $3"};
static const struct cu_stmt q_role_scopes = {
    "role_scopes",
    "SELECT coalesce(json_agg(DISTINCT s), '[]')::text FROM roles r, unnest(r.scopes) s"
    " WHERE r.tenant_id = $1 AND r.name = ANY (ARRAY(SELECT json_array_elements_text($2::json)))"};

static const struct cu_stmt q_interaction_open = {
    "interaction_open",
    "INSERT INTO interactions (tenant_id, id, principal, subject_id, channel, expires_at)"
    " VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6::int))"
    " RETURNING id, " TS("expires_at")};
static const struct cu_stmt q_interaction_end = {
    "interaction_end",
    "UPDATE interactions SET ended_at = coalesce(ended_at, now())"
    " WHERE tenant_id = $1 AND id = $2 RETURNING id"};

/* One row whatever the roles: the aggregates of no rows are the answer for unknown roles. The
 * budget's window is the 61 minute buckets from the current minute back (never shorter than an
 * hour); the count falls below the budget when enough of its oldest buckets have left it. */
static const struct cu_stmt q_principal_facts = {
    "principal_facts",
    "WITH r AS (SELECT scopes, plain_requires_mfa, plain_reveals_per_hour, interaction_bound"
    "   FROM roles WHERE tenant_id = $1"
    "   AND name = ANY (ARRAY(SELECT json_array_elements_text($3::json)))),"
    " f AS (SELECT coalesce(bool_or(plain_requires_mfa), false) AS mfa,"
    "   min(plain_reveals_per_hour) AS budget,"
    "   coalesce(bool_or(interaction_bound), false) AS bound FROM r),"
    " w AS (SELECT u.bucket, u.n FROM reveal_use u, f"
    "   WHERE f.budget IS NOT NULL AND u.tenant_id = $1 AND u.principal = $2"
    "   AND u.bucket >= date_trunc('minute', now()) - interval '60 minutes'),"
    " t AS (SELECT coalesce(sum(n), 0)::bigint AS used FROM w)"
    " SELECT (SELECT coalesce(json_agg(DISTINCT s), '[]') FROM r, unnest(r.scopes) s)::text,"
    " f.mfa, coalesce(f.budget::text, ''), f.bound,"
    " CASE WHEN f.bound THEN (SELECT coalesce(json_agg(DISTINCT i.subject_id), '[]')"
    "   FROM (SELECT subject_id FROM interactions WHERE tenant_id = $1 AND principal = $2"
    "   AND ended_at IS NULL AND expires_at > now() LIMIT 1000) i)::text ELSE '[]' END,"
    " t.used,"
    " coalesce((SELECT ceil(extract(epoch FROM c.bucket + interval '61 minutes' - now()))::bigint"
    "   FROM (SELECT bucket, sum(n) OVER (ORDER BY bucket) AS cum FROM w) c"
    "   WHERE t.used - c.cum < f.budget ORDER BY c.bucket LIMIT 1), 0)"
    " FROM f, t"};

static const struct cu_stmt q_budget_alerts = {
    "budget_alerts",
    "SELECT principal, count(*), " TS("min(ts)") ", " TS("max(ts)") " FROM audit_log"
    " WHERE tenant_id = $1 AND ts >= now() - interval '1 hour' AND outcome = 'denied_budget'"
    " GROUP BY principal ORDER BY count(*) DESC, principal COLLATE \"C\" LIMIT 100"};

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

enum cu_err
cu_store_role_put(struct cu_tx *tx, const char *tenant, const char *name, const char *scopes_json,
                  int mfa, long long budget, int bound, int *created)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, name);
    cu_params_text(&p, scopes_json);
    cu_params_text(&p, mfa ? "true" : "false");
    cu_params_int(&p, arena, budget < 0 ? -1 : budget);
    cu_params_text(&p, bound ? "true" : "false");
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_role_put, &p, arena, &r);
    if (rc == CU_OK) {
        *created = cu_res_rows(r) == 1 && cu_res_text(r, 0, 0)[0] == 't';
    }
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_store_role_get(struct cu_tx *tx, const char *tenant, const char *name, struct cu_arena *arena,
                  struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, name);
    return run(tx, &q_role_get, &p, arena, out);
}

enum cu_err
cu_store_role_list(struct cu_tx *tx, const char *tenant, const char *after, int limit,
                   struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, after != NULL ? after : "");
    cu_params_int(&p, arena, limit);
    return run(tx, &q_role_list, &p, arena, out);
}

enum cu_err
cu_store_role_scopes(struct cu_tx *tx, const char *tenant, const char *roles_json,
                     struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, roles_json);
    return run(tx, &q_role_scopes, &p, arena, out);
}

enum cu_err
cu_store_interaction_open(struct cu_tx *tx, const char *tenant, const char *id,
                          const char *principal, const char *subject_id, const char *channel,
                          int expires_in, struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, id);
    cu_params_text(&p, principal);
    cu_params_text(&p, subject_id);
    cu_params_text(&p, channel);
    cu_params_int(&p, arena, expires_in);
    return run(tx, &q_interaction_open, &p, arena, out);
}

enum cu_err
cu_store_interaction_end(struct cu_tx *tx, const char *tenant, const char *id, int *found)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, id);
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_interaction_end, &p, arena, &r);
    if (rc == CU_OK) {
        *found = cu_res_rows(r) == 1;
    }
    cu_arena_free(arena);
    return rc;
}

static void
principal_params(struct cu_params *p, const char *tenant, const char *principal,
                 const char *roles_json)
{
    cu_params_init(p);
    cu_params_text(p, tenant);
    cu_params_text(p, principal);
    cu_params_text(p, roles_json);
}

void
cu_store_principal_step(struct cu_step *step, struct cu_params *p, const char *tenant,
                        const char *principal, const char *roles_json, struct cu_db_result **out)
{
    principal_params(p, tenant, principal, roles_json);
    *step = (struct cu_step){.stmt = &q_principal_facts, .p = p, .out = out};
}

enum cu_err
cu_store_principal_facts(struct cu_tx *tx, const char *tenant, const char *principal,
                         const char *roles_json, struct cu_arena *arena,
                         struct cu_db_result **out)
{
    struct cu_params p;
    principal_params(&p, tenant, principal, roles_json);
    return run(tx, &q_principal_facts, &p, arena, out);
}

enum cu_err
cu_store_budget_alerts(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                       struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return run(tx, &q_budget_alerts, &p, arena, out);
}
