/* SQL of the audit trail's reads and of the sealer (see auditstore.h; appends: vaultstore.c). */
#include "storage/auditstore.h"

/* The columns of enum cu_col_audit, in order. ts is rendered to the microsecond in UTC: the
 * chain MACs this text, so it must be the same on every read. */
#define ENTRY_COLS                                                                                 \
    "seq, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), principal,"         \
    " action, collection, array_to_json(fields)::text, record_id, subject_id, purpose,"            \
    " redaction, outcome, request_id, chain_pos, prev_hash, hash,"                                 \
    " (floor(extract(epoch FROM ts) * 1000000))::bigint::text || '-' || seq::text"

static const struct cu_stmt q_seal_lock = {
    "audit_seal_lock",
    "SELECT pg_try_advisory_xact_lock(hashtext('custos.audit.seal'), hashtext($1))"};
/* Read after the lock, in a statement of its own: a snapshot taken before the lock could miss
 * the positions another sealer has just committed. */
static const struct cu_stmt q_head = {
    "audit_head",
    "SELECT t.incarnation, coalesce(h.chain_pos, 0), h.hash"
    " FROM tenants t"
    " LEFT JOIN LATERAL (SELECT a.chain_pos, a.hash FROM audit_log a"
    "   WHERE a.tenant_id = $1 AND a.incarnation = t.incarnation AND a.chain_pos IS NOT NULL"
    "   ORDER BY a.chain_pos DESC LIMIT 1) h ON true"
    " WHERE t.tenant_id = $1"};
/* Once per pass, not per batch: it counts the whole backlog. */
static const struct cu_stmt q_backlog = {
    "audit_backlog", "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(ts)), 0)"
                     " FROM audit_log WHERE tenant_id = $1 AND hash IS NULL"};
static const struct cu_stmt q_unsealed = {
    "audit_unsealed", "SELECT " ENTRY_COLS " FROM audit_log WHERE tenant_id = $1 AND hash IS NULL"
                      " ORDER BY seq LIMIT $2"};
static const struct cu_stmt q_seal = {
    "audit_seal",
    "UPDATE audit_log a SET chain_pos = x.pos, prev_hash = decode(x.prev, 'hex'),"
    " hash = decode(x.hash, 'hex')"
    " FROM json_to_recordset($2::json) AS x(seq bigint, pos bigint, prev text, hash text)"
    " WHERE a.tenant_id = $1 AND a.seq = x.seq AND a.hash IS NULL"};
static const struct cu_stmt q_chain = {
    "audit_chain", "SELECT " ENTRY_COLS " FROM audit_log WHERE tenant_id = $1"
                   " AND incarnation = (SELECT incarnation FROM tenants WHERE tenant_id = $1)"
                   " AND chain_pos > $2 ORDER BY chain_pos LIMIT $3"};
static const struct cu_stmt q_hash_known = {
    "audit_hash_known", "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND hash = $2"};

/* Queries: one statement per leading index (principal, subject, time) so that each plan, also
 * a generic one, walks its index in (ts, seq) order; the other filters are checked on the way.
 * The principal and subject indexes hold sealed entries only (migrations/0012: a reveal's
 * INSERT does not pay for them; the sealer's UPDATE writes new index entries anyway), so those
 * two read the sealed entries by index and the few unsealed ones by audit_log_unsealed. */
#define QUERY_WHERE                                                                                \
    " tenant_id = $1"                                                                              \
    " AND ts >= coalesce($2::timestamptz, '-infinity') AND ts < coalesce($3::timestamptz,"         \
    " 'infinity')"                                                                                 \
    " AND ($4::text IS NULL OR principal = $4) AND ($5::text IS NULL OR subject_id = $5)"          \
    " AND ($6::text IS NULL OR action = $6) AND ($7::text IS NULL OR outcome = $7)"                \
    " AND ($9::bigint < 0 OR (ts >= to_timestamp($8::bigint / 1000000.0)"                          \
    "      AND (floor(extract(epoch FROM ts) * 1000000)::bigint, seq) > ($8::bigint, "             \
    "$9::bigint)))"
/* The unsealed entries are read whole through audit_log_unsealed (MATERIALIZED: otherwise the
 * planner may walk the time index in order looking for them, through every sealed entry). */
#define QUERY_SPLIT(lead)                                                                          \
    "WITH u AS MATERIALIZED (SELECT * FROM audit_log WHERE tenant_id = $1 AND hash IS NULL)"       \
    " (SELECT " ENTRY_COLS ", ts AS sort_ts, seq AS sort_seq FROM audit_log WHERE " lead           \
    " AND chain_pos IS NOT NULL AND" QUERY_WHERE " ORDER BY ts, seq LIMIT $10)"                    \
    " UNION ALL (SELECT " ENTRY_COLS ", ts, seq FROM u AS audit_log WHERE " lead                   \
    " AND" QUERY_WHERE " ORDER BY ts, seq LIMIT $10)"                                              \
    " ORDER BY sort_ts, sort_seq LIMIT $10"
static const struct cu_stmt q_query_principal = {"audit_query_principal",
                                                 QUERY_SPLIT("principal = $4")};
static const struct cu_stmt q_query_subject = {"audit_query_subject",
                                               QUERY_SPLIT("subject_id = $5")};
static const struct cu_stmt q_query_time = {"audit_query_time",
                                            "SELECT " ENTRY_COLS " FROM audit_log WHERE" QUERY_WHERE
                                            " ORDER BY ts, seq LIMIT $10"};

#define TSUS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define EXPO_WHERE                                                                                 \
    " tenant_id = $1 AND principal = $2 AND ts >= coalesce($3::timestamptz, '-infinity')"          \
    " AND ts < coalesce($4::timestamptz, 'infinity') AND outcome = 'allowed'"                      \
    " AND action IN ('detokenize', 'record.read') AND redaction IN ('plain', 'masked')"
static const struct cu_stmt q_exposure = {
    "audit_exposure",
    "WITH u AS MATERIALIZED (SELECT * FROM audit_log WHERE tenant_id = $1 AND hash IS NULL)"
    " SELECT a.redaction, a.subject_id, a.collection, f.field, count(*), " TSUS(
        "min(a.ts)") ", " TSUS("max(a.ts)") " FROM ("
                                            "SELECT redaction, subject_id, collection, fields, ts"
                                            " FROM audit_log WHERE chain_pos IS NOT NULL "
                                            "AND" EXPO_WHERE " UNION ALL SELECT redaction, "
                                            "subject_id, collection, fields, ts"
                                            " FROM u AS audit_log WHERE" EXPO_WHERE ") a"
                                            " CROSS JOIN LATERAL unnest(coalesce(a.fields, "
                                            "ARRAY[NULL::text])) AS f(field)"
                                            " GROUP BY a.redaction, a.subject_id, a.collection, "
                                            "f.field"
                                            " ORDER BY a.redaction DESC, a.subject_id COLLATE "
                                            "\"C\", a.collection COLLATE \"C\","
                                            " f.field COLLATE \"C\" LIMIT $5"};
/* now() (the transaction's start), not a CTE's clock: the time index takes it as a bound. The
 * last hour's reveals by time (few), then the week before only for the principals past the
 * minimum, each by the principal index (sealed entries: an entry older than an hour is sealed
 * unless the sealer is an hour behind, which understates the baseline: more alerts, not fewer). */
#define REVEALED " a.outcome = 'allowed' AND a.action IN ('detokenize', 'record.read')"
static const struct cu_stmt q_alerts = {
    "audit_alerts", "WITH h AS (SELECT a.principal, count(*) AS hour FROM audit_log a"
                    "   WHERE a.tenant_id = $1 AND a.ts >= now() - interval '1 hour' AND" REVEALED
                    "   GROUP BY a.principal HAVING count(*) >= $3::bigint)"
                    " SELECT h.principal, h.hour, to_char(b.before::numeric / $2::int, "
                    "'FM999999990.00'), " TSUS("(now() - interval '1 hour')") ", " TSUS(
                        "now()") " FROM h CROSS JOIN LATERAL (SELECT count(*) AS "
                                 "before FROM audit_log a"
                                 "   WHERE a.tenant_id = $1 AND a.principal = h.principal AND "
                                 "a.chain_pos IS NOT NULL"
                                 "   AND a.ts >= now() - make_interval(hours => $2::int + 1)"
                                 "   AND a.ts < now() - interval '1 hour' AND" REVEALED ") b"
                                 " WHERE h.hour > $4::int * (b.before::numeric / $2::int)"
                                 " ORDER BY h.hour DESC, h.principal COLLATE \"C\""
                                 " LIMIT 1000"};

/* the columns of enum cu_col_rate_alert; bounded by now() like q_alerts (the time index) */
static const struct cu_stmt q_rate_alerts = {
    "audit_rate_alerts",
    "SELECT a.principal, count(*), string_agg(DISTINCT a.action, ',' ORDER BY a.action), "
    TSUS("(now() - interval '1 hour')") ", " TSUS("now()")
    " FROM audit_log a WHERE a.tenant_id = $1 AND a.ts >= now() - interval '1 hour'"
    " AND a.outcome = 'rate_limited'"
    " GROUP BY a.principal HAVING count(*) >= $2::int"
    " ORDER BY count(*) DESC, a.principal COLLATE \"C\" LIMIT 100"};

static enum cu_err
one_int(struct cu_tx *tx, const struct cu_stmt *q, const struct cu_params *p, long long *out)
{
    struct cu_arena *tmp = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, q, p, tmp, &r);
    if (rc == CU_OK) {
        *out = cu_res_rows(r) > 0 ? cu_res_int(r, 0, 0) : 0;
    }
    cu_arena_free(tmp);
    return rc;
}

enum cu_err
cu_store_audit_seal_lock(struct cu_tx *tx, const char *tenant, int *got)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    struct cu_arena *tmp = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_seal_lock, &p, tmp, &r);
    if (rc == CU_OK) {
        *got = cu_res_rows(r) > 0 && cu_res_text(r, 0, 0)[0] == 't';
    }
    cu_arena_free(tmp);
    return rc;
}

enum cu_err
cu_store_audit_head(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                    struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return cu_tx_exec(tx, &q_head, &p, arena, out);
}

enum cu_err
cu_store_audit_backlog(struct cu_tx *tx, const char *tenant, struct cu_arena *arena,
                       struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    return cu_tx_exec(tx, &q_backlog, &p, arena, out);
}

enum cu_err
cu_store_audit_unsealed(struct cu_tx *tx, const char *tenant, int limit, struct cu_arena *arena,
                        struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, limit);
    return cu_tx_exec(tx, &q_unsealed, &p, arena, out);
}

enum cu_err
cu_store_audit_seal(struct cu_tx *tx, const char *tenant, const char *seals_json, long long *sealed)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, seals_json);
    struct cu_arena *tmp = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_seal, &p, tmp, &r);
    if (rc == CU_OK) {
        *sealed = cu_res_affected(r);
    }
    cu_arena_free(tmp);
    return rc;
}

enum cu_err
cu_store_audit_chain(struct cu_tx *tx, const char *tenant, long long after, int limit,
                     struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, after);
    cu_params_int(&p, arena, limit);
    return cu_tx_exec(tx, &q_chain, &p, arena, out);
}

enum cu_err
cu_store_audit_hash_known(struct cu_tx *tx, const char *tenant, const uint8_t *hash, size_t len,
                          long long *n)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_bin(&p, hash, len);
    return one_int(tx, &q_hash_known, &p, n);
}

enum cu_err
cu_store_audit_query(struct cu_tx *tx, const char *tenant, const struct cu_audit_filter *f,
                     int limit, struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, f->from);
    cu_params_text(&p, f->to);
    cu_params_text(&p, f->principal);
    cu_params_text(&p, f->subject_id);
    cu_params_text(&p, f->action);
    cu_params_text(&p, f->outcome);
    cu_params_int(&p, arena, f->after_us);
    cu_params_int(&p, arena, f->after_seq);
    cu_params_int(&p, arena, (long long)limit + 1);
    const struct cu_stmt *q = f->principal != NULL    ? &q_query_principal
                              : f->subject_id != NULL ? &q_query_subject
                                                      : &q_query_time;
    return cu_tx_exec(tx, q, &p, arena, out);
}

enum cu_err
cu_store_audit_exposure(struct cu_tx *tx, const char *tenant, const char *principal,
                        const char *from, const char *to, int limit, struct cu_arena *arena,
                        struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, principal);
    cu_params_text(&p, from);
    cu_params_text(&p, to);
    cu_params_int(&p, arena, (long long)limit + 1);
    return cu_tx_exec(tx, &q_exposure, &p, arena, out);
}

enum cu_err
cu_store_audit_alerts(struct cu_tx *tx, const char *tenant, int baseline_hours, int min_reveals,
                      int factor, struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, baseline_hours);
    cu_params_int(&p, arena, min_reveals);
    cu_params_int(&p, arena, factor);
    return cu_tx_exec(tx, &q_alerts, &p, arena, out);
}

enum cu_err
cu_store_audit_rate_alerts(struct cu_tx *tx, const char *tenant, int min_refusals,
                           struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, min_refusals);
    return cu_tx_exec(tx, &q_rate_alerts, &p, arena, out);
}
