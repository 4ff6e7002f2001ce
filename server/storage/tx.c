/* Transactions and pipelining: BEGIN and the tenant settings travel with a transaction's first
 * statement, PREPARE with a statement's first use on a connection, COMMIT with the last
 * statement when the caller asks; one round trip each, every wait bounded by the deadline.
 * With the pool's unnamed mode no statement is named: each is parsed, bound and executed in
 * the same pipeline (before its sync), so nothing outlives the transaction and a pooler in
 * transaction mode may hand the next one to another server connection. */
#include "storage/pg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cu_tx {
    struct cu_db *db;
    struct cu_db_conn *conn;
    int open;
    int begun; /* BEGIN has reached the server (it travels with the first statement) */
    char tenant[64];
    int platform;
};

static void
result_clear(void *p)
{
    struct cu_db_result *r = p;
    PQclear(r->res);
}

/* Hands a result to the arena (and *out when asked). */
static void
result_keep(PGresult *r, struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_db_result *res = cu_arena_alloc(arena, sizeof(*res));
    res->res = r;
    cu_arena_defer(arena, result_clear, res);
    if (out != NULL) {
        *out = res;
    }
}

enum cu_err
cu_tx_begin(struct cu_db *db, const char *tenant, struct cu_tx **out)
{
    CU_ENSURE(tenant == NULL || strlen(tenant) < 64, CU_ERR_INTERNAL, "tenant id too long");
    struct cu_db_conn *c = NULL;
    CU_GUARD(cu_db_acquire(db, &c));
    /* nothing is sent yet: BEGIN and the tenant settings go out in one pipeline with the
     * transaction's first statement, which saves a round trip per request */
    struct cu_tx *tx = cu_xcalloc(1, sizeof(*tx));
    tx->db = db;
    tx->conn = c;
    tx->open = 1;
    tx->platform = tenant == NULL;
    snprintf(tx->tenant, sizeof(tx->tenant), "%s", tenant ? tenant : "");
    *out = tx;
    return CU_OK;
}

static const char begin_settings[] =
    "SELECT set_config('custos.tenant', $1, true), set_config('custos.platform', $2, true),"
    " set_config('statement_timeout', $3, true)";

static int
is_prepared(const struct cu_db_conn *c, const struct cu_stmt *stmt)
{
    for (int i = 0; i < c->nprepared; i++) {
        if (c->prepared[i] == stmt) {
            return 1;
        }
    }
    return 0;
}

/* Queues the statement itself: named (prepared before) or unnamed (parsed here). */
static int
send_stmt(struct cu_tx *tx, const struct cu_stmt *stmt, const struct cu_params *p)
{
    PGconn *pg = tx->conn->pg;
    int n = p ? p->n : 0;
    const char *const *values = p ? p->values : NULL;
    const int *lens = p ? p->lens : NULL;
    const int *formats = p ? p->formats : NULL;
    return tx->db->unnamed
               ? PQsendQueryParams(pg, stmt->sql, n, NULL, values, lens, formats, 0) == 1
               : PQsendQueryPrepared(pg, stmt->name, n, values, lens, formats, 0) == 1;
}

/* Queues [BEGIN and the settings] [PREPARE] the statement [COMMIT] and a sync; nothing is
 * flushed yet (the connection is non-blocking, so this never waits). 0 on failure. */
static int
queue_pipeline(struct cu_tx *tx, int begin, int prepared, const struct cu_stmt *stmt,
               const struct cu_params *p, int commit)
{
    PGconn *pg = tx->conn->pg;
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", tx->db->timeout_ms);
    const char *settings[] = {tx->tenant, tx->platform ? "on" : "off", timeout};
    return PQenterPipelineMode(pg) == 1 &&
           (!begin || PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1) &&
           (!begin || PQsendQueryParams(pg, begin_settings, 3, NULL, settings, NULL, NULL, 0) == 1) &&
           (prepared || PQsendPrepare(pg, stmt->name, stmt->sql, 0, NULL) == 1) &&
           send_stmt(tx, stmt, p) &&
           (!commit || PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1) &&
           PQpipelineSync(pg) == 1;
}

/* One round trip: [BEGIN and the settings] [PREPARE] the statement [COMMIT], pipelined. With
 * begin, the transaction's first statement; with commit, its last. */
static enum cu_err
exec_pipelined(struct cu_tx *tx, int begin, const struct cu_stmt *stmt,
               const struct cu_params *p, int commit, struct cu_arena *arena,
               struct cu_db_result **out)
{
    struct cu_db *db = tx->db;
    struct cu_db_conn *c = tx->conn;
    long long deadline = cu_db_now_ms() + db->timeout_ms;
    /* unnamed: nothing to prepare, ever */
    int prepared = db->unnamed || is_prepared(c, stmt);
    tx->begun = 1;
    /* positions of the queries in the pipeline */
    int q_prepare = begin ? 2 : 0;
    int q_stmt = q_prepare + (prepared ? 0 : 1);
    int queries = q_stmt + 1 + (commit ? 1 : 0);
    if (!queue_pipeline(tx, begin, prepared, stmt, p, commit)) {
        cu_db_conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: could not send",
                          stmt->name);
    }
    /* a batch of several MiB does not fit the socket buffer: it goes out as the server reads,
     * and a server that stops reading costs the deadline, not a worker thread */
    CU_GUARD(cu_db_flush(db, c, deadline));
    int lost = 0;
    int prepare_ok = 0;
    enum cu_err rc = CU_OK;
    PGresult *last = NULL;
    for (int q = 0; q < queries && !lost; q++) {
        PGresult *r = cu_db_next_result(db, c, deadline, &lost);
        if (lost) {
            break;
        }
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (!prepared && q == q_prepare && st == PGRES_COMMAND_OK) {
            /* the statement exists on the connection now, whatever its execution does */
            prepare_ok = 1;
        }
        if (rc == CU_OK && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char *what = q == q_stmt ? stmt->name : q > q_stmt ? "commit" : "begin";
            rc = st == PGRES_PIPELINE_ABORTED
                     ? cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "%s: pipeline aborted",
                                  stmt->name)
                     : cu_db_result_error(c, r, what);
        }
        if (q == q_stmt && rc == CU_OK) {
            last = r;
        } else {
            PQclear(r);
        }
        if (c->pg == NULL) {
            lost = 1; /* cu_db_result_error closed a broken connection */
        }
    }
    if (!lost) {
        /* the sync's own result, then back to ordinary mode */
        PGresult *sync = cu_db_next_result(db, c, deadline, &lost);
        if (!lost && sync != NULL && PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
            lost = 1;
        }
        PQclear(sync);
        if (!lost && PQexitPipelineMode(c->pg) != 1) {
            lost = 1;
        }
    }
    if (lost) {
        PQclear(last);
        cu_db_conn_close(c);
        return rc != CU_OK ? rc
                           : cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                                        "%s: no answer in time", stmt->name);
    }
    if (prepare_ok && c->nprepared < CU_DB_MAX_PREPARED) {
        c->prepared[c->nprepared++] = stmt;
    }
    if (rc != CU_OK) {
        PQclear(last);
        return rc;
    }
    result_keep(last, arena, out);
    return CU_OK;
}

/* Ends the transaction: returns the connection and frees tx. */
static void
tx_end(struct cu_tx *tx)
{
    tx->open = 0;
    cu_db_release(tx->db, tx->conn);
    free(tx);
}

enum cu_err
cu_tx_commit(struct cu_tx **txp)
{
    struct cu_tx *tx = *txp;
    *txp = NULL;
    enum cu_err rc = CU_OK; /* nothing was sent, so there is nothing to commit */
    if (tx->begun && tx->conn->pg != NULL) {
        rc = cu_db_simple(tx->db, tx->conn, "COMMIT", "commit");
    } else if (tx->begun) {
        rc = cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "commit: connection lost");
    }
    tx_end(tx);
    return rc;
}

void
cu_tx_abort(struct cu_tx **txp)
{
    if (txp == NULL || *txp == NULL) {
        return;
    }
    struct cu_tx *tx = *txp;
    *txp = NULL;
    if (tx->open && tx->begun && tx->conn->pg != NULL) {
        enum cu_err ignored = cu_db_simple(tx->db, tx->conn, "ROLLBACK", "rollback");
        (void)ignored;
    }
    tx_end(tx);
}

enum cu_err
cu_tx_exec(struct cu_tx *tx, const struct cu_stmt *stmt, const struct cu_params *p,
           struct cu_arena *arena, struct cu_db_result **out)
{
    CU_ENSURE(tx->conn->pg != NULL, CU_ERR_UNAVAILABLE, "%s: connection lost", stmt->name);
    return exec_pipelined(tx, !tx->begun, stmt, p, 0, arena, out);
}

enum cu_err
cu_tx_exec_commit(struct cu_tx **txp, const struct cu_stmt *stmt, const struct cu_params *p)
{
    struct cu_tx *tx = *txp;
    *txp = NULL;
    enum cu_err rc = CU_ERR_UNAVAILABLE;
    if (tx->conn->pg == NULL) {
        cu_err_set(rc, __FILE__, __LINE__, "%s: connection lost", stmt->name);
    } else {
        struct cu_arena *arena = cu_arena_new();
        rc = exec_pipelined(tx, !tx->begun, stmt, p, 1, arena, NULL);
        cu_arena_free(arena);
    }
    if (rc != CU_OK && tx->conn->pg != NULL) {
        /* the statement or COMMIT failed: the transaction is still open, in error */
        enum cu_err ignored = cu_db_simple(tx->db, tx->conn, "ROLLBACK", "rollback");
        (void)ignored;
    }
    tx_end(tx);
    return rc;
}

/* A statement outside an explicit transaction: [PREPARE] and the statement pipelined with a
 * sync, which ends the implicit transaction either way. */
enum cu_err
cu_db_exec_once(struct cu_db *db, const struct cu_stmt *stmt, const struct cu_params *p,
                struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_db_conn *c = NULL;
    CU_GUARD(cu_db_acquire(db, &c));
    struct cu_tx once = {.db = db, .conn = c};
    enum cu_err rc = exec_pipelined(&once, 0, stmt, p, 0, arena, out);
    cu_db_release(db, c);
    return rc;
}

static const struct cu_stmt stmt_schema_version = {
    "schema_version", "SELECT coalesce(max(version), 0) FROM schema_migrations"};

enum cu_err
cu_db_schema_version(struct cu_db *db, int *out)
{
    struct cu_arena *arena = cu_arena_new();
    struct cu_db_result *r = NULL;
    enum cu_err rc = cu_db_exec_once(db, &stmt_schema_version, NULL, arena, &r);
    if (rc == CU_OK) {
        *out = cu_res_rows(r) == 1 ? (int)cu_res_int(r, 0, 0) : 0;
    }
    cu_arena_free(arena);
    return rc;
}
