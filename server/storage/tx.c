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
    int begun;    /* BEGIN has reached the server (it travels with the first statement) */
    int implicit; /* a read: no BEGIN; each pipeline is one implicit read-only transaction */
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

static enum cu_err
tx_begin(struct cu_db *db, const char *tenant, int implicit, struct cu_tx **out)
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
    tx->implicit = implicit;
    tx->platform = tenant == NULL;
    snprintf(tx->tenant, sizeof(tx->tenant), "%s", tenant ? tenant : "");
    *out = tx;
    return CU_OK;
}

enum cu_err
cu_tx_begin(struct cu_db *db, const char *tenant, struct cu_tx **out)
{
    return tx_begin(db, tenant, 0, out);
}

enum cu_err
cu_tx_begin_read(struct cu_db *db, const char *tenant, struct cu_tx **out)
{
    return tx_begin(db, tenant, 1, out);
}

static const char begin_settings[] =
    "SELECT set_config('custos.tenant', $1, true), set_config('custos.platform', $2, true),"
    " set_config('statement_timeout', $3, true)";
/* a read's implicit transaction is read-only too */
static const char read_settings[] =
    "SELECT set_config('custos.tenant', $1, true), set_config('custos.platform', $2, true),"
    " set_config('statement_timeout', $3, true), set_config('transaction_read_only', 'on', true)";
static const char switch_tenant[] =
    "SELECT set_config('custos.tenant', $1, true), set_config('custos.platform', 'off', true)";

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

/* What each query of a pipeline is, so that its result goes where it belongs. */
enum q_kind { Q_SETUP, Q_PREPARE, Q_STEP, Q_COMMIT };
struct q_slot {
    enum q_kind kind;
    int step;
};
enum { MAX_QUERIES = 4 + 3 * CU_DB_MAX_STEPS };

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

/* Queues [BEGIN] [the settings] then per step [the tenant switch] [PREPARE] the statement,
 * then [COMMIT] and a sync; nothing is flushed yet (the connection is non-blocking, so this
 * never waits). Fills slots (what each query is) and *nq; *prepares the statements this
 * pipeline prepares. 0 on failure. */
static int
queue_pipeline(struct cu_tx *tx, int begin, const struct cu_step *steps, int n, int commit,
               struct q_slot *slots, int *nq, const struct cu_stmt **prepares, int *np)
{
    PGconn *pg = tx->conn->pg;
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", tx->db->timeout_ms);
    const char *settings[] = {tx->tenant, tx->platform ? "on" : "off", timeout};
    int q = 0;
    *np = 0;
    if (PQenterPipelineMode(pg) != 1) {
        return 0;
    }
    if (begin && !tx->implicit) {
        if (PQsendQueryParams(pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1) {
            return 0;
        }
        slots[q++] = (struct q_slot){Q_SETUP, -1};
    }
    if (begin) {
        if (PQsendQueryParams(pg, tx->implicit ? read_settings : begin_settings, 3, NULL, settings,
                              NULL, NULL, 0) != 1) {
            return 0;
        }
        slots[q++] = (struct q_slot){Q_SETUP, -1};
    }
    for (int i = 0; i < n; i++) {
        const struct cu_stmt *stmt = steps[i].stmt;
        if (steps[i].tenant != NULL) {
            const char *t[] = {steps[i].tenant};
            if (PQsendQueryParams(pg, switch_tenant, 1, NULL, t, NULL, NULL, 0) != 1) {
                return 0;
            }
            slots[q++] = (struct q_slot){Q_SETUP, i};
        }
        int prepared = tx->db->unnamed || is_prepared(tx->conn, stmt);
        for (int k = 0; k < *np && !prepared; k++) {
            prepared = prepares[k] == stmt; /* prepared earlier in this pipeline */
        }
        if (!prepared) {
            if (PQsendPrepare(pg, stmt->name, stmt->sql, 0, NULL) != 1) {
                return 0;
            }
            prepares[(*np)++] = stmt;
            slots[q++] = (struct q_slot){Q_PREPARE, i};
        }
        if (!send_stmt(tx, stmt, steps[i].p)) {
            return 0;
        }
        slots[q++] = (struct q_slot){Q_STEP, i};
    }
    if (commit && !tx->implicit) {
        if (PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1) {
            return 0;
        }
        slots[q++] = (struct q_slot){Q_COMMIT, -1};
    }
    *nq = q;
    return PQpipelineSync(pg) == 1;
}

/* One round trip: [BEGIN and the settings] the steps [COMMIT], pipelined, with what each
 * statement needs prepared on the way. With begin, the transaction's first statements; with
 * commit, its last. In a read (implicit) every pipeline sends the settings and is a
 * transaction of its own, ended by its sync. */
static enum cu_err
exec_pipelined(struct cu_tx *tx, int begin, const struct cu_step *steps, int n, int commit,
               struct cu_arena *arena)
{
    struct cu_db *db = tx->db;
    struct cu_db_conn *c = tx->conn;
    CU_ENSURE(n >= 1 && n <= CU_DB_MAX_STEPS, CU_ERR_INTERNAL, "bad pipeline of %d steps", n);
    const char *name = steps[0].stmt->name;
    long long deadline = cu_db_now_ms() + db->timeout_ms;
    begin = begin || tx->implicit;
    tx->begun = 1;
    atomic_fetch_add(&db->round_trips, 1);
    if (commit && !tx->implicit) {
        atomic_fetch_add(&db->commits, 1);
    }
    struct q_slot slots[MAX_QUERIES];
    const struct cu_stmt *prepares[CU_DB_MAX_STEPS];
    int queries = 0, nprep = 0;
    if (!queue_pipeline(tx, begin, steps, n, commit, slots, &queries, prepares, &nprep)) {
        cu_db_conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: could not send", name);
    }
    /* a batch of several MiB does not fit the socket buffer: it goes out as the server reads,
     * and a server that stops reading costs the deadline, not a worker thread */
    CU_GUARD(cu_db_flush(db, c, deadline));
    int lost = 0;
    int prepared_ok[CU_DB_MAX_STEPS] = {0};
    enum cu_err rc = CU_OK;
    PGresult *kept[CU_DB_MAX_STEPS] = {0};
    for (int q = 0; q < queries && !lost; q++) {
        PGresult *r = cu_db_next_result(db, c, deadline, &lost);
        if (lost) {
            break;
        }
        struct q_slot sl = slots[q];
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (sl.kind == Q_PREPARE && st == PGRES_COMMAND_OK) {
            /* the statement exists on the connection now, whatever its execution does */
            prepared_ok[sl.step] = 1;
        }
        if (rc == CU_OK && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char *what = sl.kind == Q_STEP || sl.kind == Q_PREPARE ? steps[sl.step].stmt->name
                               : sl.kind == Q_COMMIT                      ? "commit"
                                                                          : "begin";
            rc = st == PGRES_PIPELINE_ABORTED
                     ? cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "%s: pipeline aborted",
                                  name)
                     : cu_db_result_error(c, r, what);
        }
        if (sl.kind == Q_STEP && rc == CU_OK) {
            kept[sl.step] = r;
        } else {
            PQclear(r);
        }
        if (c->pg == NULL) {
            lost = 1; /* cu_db_result_error closed a broken connection */
        }
    }
    if (!lost) {
        /* the sync's own result (in a read, after its implicit transaction ended), then back
         * to ordinary mode */
        PGresult *sync = cu_db_next_result(db, c, deadline, &lost);
        if (!lost && sync != NULL && PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
            lost = 1;
        }
        PQclear(sync);
        if (!lost && PQexitPipelineMode(c->pg) != 1) {
            lost = 1;
        }
    }
    if (!lost) {
        for (int i = 0, k = 0; i < n && k < nprep; i++) {
            if (prepared_ok[i] && c->nprepared < CU_DB_MAX_PREPARED) {
                c->prepared[c->nprepared++] = steps[i].stmt;
                k++;
            }
        }
    }
    if (lost || rc != CU_OK) {
        for (int i = 0; i < n; i++) {
            PQclear(kept[i]);
        }
        if (lost) {
            cu_db_conn_close(c);
        }
        return rc != CU_OK ? rc
                           : cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                                        "%s: no answer in time", name);
    }
    for (int i = 0; i < n; i++) {
        result_keep(kept[i], arena, steps[i].out);
    }
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
    if (tx->implicit) {
        /* a read: each pipeline was a transaction of its own, already ended */
    } else if (tx->begun && tx->conn->pg != NULL) {
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
    if (tx->open && tx->begun && !tx->implicit && tx->conn->pg != NULL) {
        enum cu_err ignored = cu_db_simple(tx->db, tx->conn, "ROLLBACK", "rollback");
        (void)ignored;
    }
    tx_end(tx);
}

enum cu_err
cu_tx_exec(struct cu_tx *tx, const struct cu_stmt *stmt, const struct cu_params *p,
           struct cu_arena *arena, struct cu_db_result **out)
{
    struct cu_step step = {.stmt = stmt, .p = p, .out = out};
    return cu_tx_exec_steps(tx, &step, 1, arena);
}

enum cu_err
cu_tx_exec_steps(struct cu_tx *tx, const struct cu_step *steps, int n, struct cu_arena *arena)
{
    CU_ENSURE(tx->conn->pg != NULL, CU_ERR_UNAVAILABLE, "%s: connection lost",
              n > 0 ? steps[0].stmt->name : "pipeline");
    return exec_pipelined(tx, !tx->begun, steps, n, 0, arena);
}

enum cu_err
cu_tx_exec_commit(struct cu_tx **txp, const struct cu_stmt *stmt, const struct cu_params *p)
{
    struct cu_step step = {.stmt = stmt, .p = p};
    return cu_tx_exec_steps_commit(txp, &step, 1);
}

enum cu_err
cu_tx_exec_steps_commit(struct cu_tx **txp, const struct cu_step *steps, int n)
{
    struct cu_arena *arena = cu_arena_new();
    enum cu_err rc = cu_tx_exec_steps_commit_in(txp, steps, n, arena);
    cu_arena_free(arena);
    return rc;
}

enum cu_err
cu_tx_exec_steps_commit_in(struct cu_tx **txp, const struct cu_step *steps, int n,
                           struct cu_arena *arena)
{
    struct cu_tx *tx = *txp;
    *txp = NULL;
    enum cu_err rc = CU_ERR_UNAVAILABLE;
    if (tx->conn->pg == NULL) {
        cu_err_set(rc, __FILE__, __LINE__, "%s: connection lost",
                   n > 0 ? steps[0].stmt->name : "pipeline");
    } else {
        rc = exec_pipelined(tx, !tx->begun, steps, n, 1, arena);
    }
    if (rc != CU_OK && !tx->implicit && tx->conn->pg != NULL) {
        /* a statement or COMMIT failed: the transaction is still open, in error */
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
    struct cu_step step = {.stmt = stmt, .p = p, .out = out};
    enum cu_err rc = exec_pipelined(&once, 0, &step, 1, 0, arena);
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
