/* SQL of restrictions, the consent ledger and the record of processing. */
#include "storage/gatestore.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const struct cu_stmt q_restriction_set = {
    "restriction_set",
    "WITH i AS (INSERT INTO subject_restrictions (tenant_id, subject_id, reason, principal)"
    "           VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, subject_id) DO NOTHING"
    "           RETURNING reason, principal, created_at)"
    " SELECT reason, principal, " TS("created_at") ", true FROM i"
    " UNION ALL"
    " SELECT reason, principal, " TS("created_at") ", false FROM subject_restrictions"
    " WHERE tenant_id = $1 AND subject_id = $2 AND NOT EXISTS (SELECT 1 FROM i)"};
static const struct cu_stmt q_restriction_clear = {
    "restriction_clear",
    "DELETE FROM subject_restrictions WHERE tenant_id = $1 AND subject_id = $2"};
static const struct cu_stmt q_restriction_get = {
    "restriction_get",
    "SELECT reason, principal, " TS("created_at") ", false FROM subject_restrictions"
    " WHERE tenant_id = $1 AND subject_id = $2"};

#define CONSENT_COLS "seq, purpose, status, source, evidence, principal, " TS("recorded_at")
static const struct cu_stmt q_consent_append = {
    "consent_append",
    "INSERT INTO consent_events (tenant_id, subject_id, purpose, status, source, evidence,"
    " principal, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''))"
    " RETURNING " CONSENT_COLS};
static const struct cu_stmt q_consent_withdraw_all = {
    "consent_withdraw_all",
    "INSERT INTO consent_events (tenant_id, subject_id, purpose, status, source, evidence,"
    " principal, request_id)"
    " SELECT $1, $2, cur.purpose, 'withdrawn', $3, $4, $5, nullif($6, '')"
    " FROM (SELECT DISTINCT ON (purpose) purpose, status FROM consent_events"
    "       WHERE tenant_id = $1 AND subject_id = $2 ORDER BY purpose, seq DESC) cur"
    " WHERE cur.status = 'granted' ORDER BY cur.purpose"
    " RETURNING " CONSENT_COLS};
static const struct cu_stmt q_consent_current = {
    "consent_current",
    "SELECT DISTINCT ON (purpose) " CONSENT_COLS " FROM consent_events"
    " WHERE tenant_id = $1 AND subject_id = $2 ORDER BY purpose, seq DESC"};
static const struct cu_stmt q_consent_history = {
    "consent_history",
    "SELECT " CONSENT_COLS " FROM consent_events"
    " WHERE tenant_id = $1 AND subject_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"};

/* The reveal's step reaches each token's record by an index probe (the LATERAL ... LIMIT 1 of
 * vaultstore.c's detokenize: a plain join's generic plan hashes the tenant's whole records table;
 * tests/integration/test_reveal_plan.c). The WHERE is uncorrelated, a one-time filter: in a
 * tenant with no restriction, a purpose that does not rest on consent costs two index probes and
 * returns no row (no subject is restricted, none needs a grant). */
/* The facts of one subject: restricted, and whether its latest event for the purpose grants. */
#define GATE_FACTS(subject)                                                                     \
    " EXISTS (SELECT 1 FROM subject_restrictions sr WHERE sr.tenant_id = $1"                  \
    "         AND sr.subject_id = " subject "),"                                               \
    " coalesce((SELECT ce.status = 'granted' FROM consent_events ce WHERE ce.tenant_id = $1"  \
    "           AND ce.subject_id = " subject " AND ce.purpose = $2"                           \
    "           ORDER BY ce.seq DESC LIMIT 1), false)"
const struct cu_stmt cu_q_reveal_gates = {
    "reveal_gates",
    "SELECT s.subject_id," GATE_FACTS("s.subject_id")
    " FROM (SELECT DISTINCT r.subject_id FROM tokens t"
    "       CROSS JOIN LATERAL (SELECT rr.subject_id FROM records rr"
    "            WHERE rr.tenant_id = $1 AND rr.id = t.record_id LIMIT 1) r"
    "       WHERE t.tenant_id = $1"
    "       AND t.token = ANY (ARRAY(SELECT json_array_elements_text($3::json)))) s"
    " WHERE EXISTS (SELECT 1 FROM subject_restrictions x WHERE x.tenant_id = $1)"
    " OR EXISTS (SELECT 1 FROM purposes p WHERE p.tenant_id = $1 AND p.name = $2"
    "            AND p.lawful_basis = 'consent')"
    " ORDER BY s.subject_id COLLATE \"C\""};
const struct cu_stmt cu_q_record_gates = {
    "record_gates",
    "SELECT r.subject_id," GATE_FACTS("r.subject_id")
    " FROM records r WHERE r.tenant_id = $1 AND r.collection = $3 AND r.id = $4"};
static const struct cu_stmt q_subject_gates = {
    "subject_gates", "SELECT $3::text," GATE_FACTS("$3")};

/* Accesses: allowed audit entries naming the collection in the window (the time index), but for
 * the collection's own definition (collection.put: configuration, not processing). */
static const struct cu_stmt q_processing_report = {
    "processing_report",
    "WITH a AS (SELECT collection, principal, purpose, count(*) AS n, max(ts) AS last"
    "           FROM audit_log WHERE tenant_id = $1 AND ts >= now() - make_interval(days => $2)"
    "           AND outcome = 'allowed' AND collection IS NOT NULL"
    "           AND action NOT LIKE 'collection.%'"
    "           GROUP BY collection, principal, purpose),"
    " rc AS (SELECT collection, count(*) AS records, count(DISTINCT subject_id) AS subjects"
    "        FROM records WHERE tenant_id = $1 AND deleted_at IS NULL GROUP BY collection)"
    " SELECT c.name,"
    " coalesce((SELECT json_agg(DISTINCT f.value ->> 'type') FROM jsonb_each(c.fields) f),"
    "          '[]')::text,"
    " coalesce(c.retention_days::text, ''), coalesce(rc.records, 0), coalesce(rc.subjects, 0),"
    " coalesce((SELECT json_agg(json_build_object('purpose', u.purpose, 'lawful_basis',"
    "           coalesce(p.lawful_basis, ''), 'accesses', u.n) ORDER BY u.purpose)"
    "           FROM (SELECT purpose, sum(n) AS n FROM a WHERE a.collection = c.name"
    "                 AND purpose IS NOT NULL GROUP BY purpose) u"
    "           LEFT JOIN purposes p ON p.tenant_id = $1 AND p.name = u.purpose), '[]')::text,"
    " coalesce((SELECT json_agg(json_build_object('principal', x.principal, 'accesses', x.n,"
    "           'last_access', " TS("x.last") ") ORDER BY x.principal)"
    "           FROM (SELECT principal, sum(n) AS n, max(last) AS last FROM a"
    "                 WHERE a.collection = c.name GROUP BY principal) x), '[]')::text"
    " FROM collections c LEFT JOIN rc ON rc.collection = c.name"
    " WHERE c.tenant_id = $1 ORDER BY c.name COLLATE \"C\""};

enum cu_err
cu_store_restriction_set(struct cu_tx *tx, const char *tenant, const char *subject,
                         const char *reason, const char *principal, struct cu_arena *arena,
                         struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    cu_params_text(&p, reason);
    cu_params_text(&p, principal);
    return cu_tx_exec(tx, &q_restriction_set, &p, arena, out);
}

enum cu_err
cu_store_restriction_clear(struct cu_tx *tx, const char *tenant, const char *subject, int *lifted)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    struct cu_arena *tmp = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_tx_exec(tx, &q_restriction_clear, &p, tmp, &r);
    if (rc == CU_OK) {
        *lifted = cu_res_affected(r) > 0;
    }
    cu_arena_free(tmp);
    return rc;
}

enum cu_err
cu_store_restriction_get(struct cu_tx *tx, const char *tenant, const char *subject,
                         struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    return cu_tx_exec(tx, &q_restriction_get, &p, arena, out);
}

enum cu_err
cu_store_consent_append(struct cu_tx *tx, const char *tenant, const char *subject,
                        const char *purpose, const char *status, const char *source,
                        const char *evidence, const char *principal, const char *request_id,
                        struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    cu_params_text(&p, purpose);
    cu_params_text(&p, status);
    cu_params_text(&p, source);
    cu_params_text(&p, evidence ? evidence : "");
    cu_params_text(&p, principal);
    cu_params_text(&p, request_id ? request_id : "");
    return cu_tx_exec(tx, &q_consent_append, &p, arena, out);
}

enum cu_err
cu_store_consent_withdraw_all(struct cu_tx *tx, const char *tenant, const char *subject,
                              const char *source, const char *evidence, const char *principal,
                              const char *request_id, struct cu_arena *arena,
                              struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    cu_params_text(&p, source);
    cu_params_text(&p, evidence ? evidence : "");
    cu_params_text(&p, principal);
    cu_params_text(&p, request_id ? request_id : "");
    return cu_tx_exec(tx, &q_consent_withdraw_all, &p, arena, out);
}

enum cu_err
cu_store_consent_current(struct cu_tx *tx, const char *tenant, const char *subject,
                         struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    return cu_tx_exec(tx, &q_consent_current, &p, arena, out);
}

enum cu_err
cu_store_consent_history(struct cu_tx *tx, const char *tenant, const char *subject,
                         long long after, int limit, struct cu_arena *arena,
                         struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, subject);
    cu_params_int(&p, arena, after);
    cu_params_int(&p, arena, limit);
    return cu_tx_exec(tx, &q_consent_history, &p, arena, out);
}

enum cu_err
cu_store_subject_gates(struct cu_tx *tx, const char *tenant, const char *subject,
                       const char *purpose, struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_text(&p, purpose);
    cu_params_text(&p, subject);
    return cu_tx_exec(tx, &q_subject_gates, &p, arena, out);
}

enum cu_err
cu_store_processing_report(struct cu_tx *tx, const char *tenant, int days, struct cu_arena *arena,
                           struct cu_db_result **out)
{
    struct cu_params p;
    cu_params_init(&p);
    cu_params_text(&p, tenant);
    cu_params_int(&p, arena, days);
    return cu_tx_exec(tx, &q_processing_report, &p, arena, out);
}
