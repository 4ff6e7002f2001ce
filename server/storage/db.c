/* Connection pool and statement execution on libpq's asynchronous API, so that every wait
 * has a deadline: a frozen or vanished server costs at most timeout_ms, then 503. */
#include "storage/db.h"

#include "core/log.h"

#include "storage/pg_internal.h"

#include <libpq-fe.h>

#include <errno.h>
#include <stdatomic.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_PREPARED = 128 };

struct db_conn {
    PGconn *pg;
    const struct cu_stmt *prepared[MAX_PREPARED];
    int nprepared;
    int busy;
};

struct cu_db {
    char *url;
    char *password;
    int size;
    int timeout_ms;
    struct db_conn *conns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic unsigned long long connect_failures;
    _Atomic unsigned long long timeouts;
};

struct cu_tx {
    struct cu_db *db;
    struct db_conn *conn;
    int open;
    int begun;          /* BEGIN has reached the server (it travels with the first statement) */
    char tenant[64];
    int platform;
};

struct cu_db_result {
    PGresult *res;
};

static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum cu_err
cu_db_new(const struct cu_db_opts *opts, struct cu_db **out)
{
    CU_ENSURE(opts->url != NULL && opts->pool_size > 0, CU_ERR_CONFIG, "bad pool options");
    struct cu_db *db = cu_xcalloc(1, sizeof(*db));
    db->url = cu_xstrdup(opts->url);
    db->password = opts->password ? cu_xstrdup(opts->password) : NULL;
    db->size = opts->pool_size;
    db->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 3000;
    db->conns = cu_xcalloc((size_t)db->size, sizeof(struct db_conn));
    pthread_mutex_init(&db->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&db->cv, &attr);
    pthread_condattr_destroy(&attr);
    *out = db;
    return CU_OK;
}

static void
conn_close(struct db_conn *c)
{
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->nprepared = 0;
}

void
cu_db_free(struct cu_db *db)
{
    if (db == NULL) {
        return;
    }
    for (int i = 0; i < db->size; i++) {
        conn_close(&db->conns[i]);
    }
    free(db->conns);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    cu_free_str_wiped(db->url);
    cu_free_str_wiped(db->password);
    free(db);
}

PGconn *
cu_db_connect(const char *url, const char *password, int timeout_ms, const char *app_name)
{
    char timeout[16];
    int secs = (timeout_ms + 999) / 1000;
    snprintf(timeout, sizeof(timeout), "%d", secs < 2 ? 2 : secs);
    /* later keywords override what the URL says; keepalives find a peer that went away */
    const char *keys[] = {"dbname",           "connect_timeout", "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "application_name",
                          password ? "password" : NULL, NULL};
    const char *vals[] = {url, timeout, "1", "10", "5", "2", app_name, password, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return NULL;
    }
    if (PQsetnonblocking(pg, 0) != 0) {
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static enum cu_err
acquire(struct cu_db *db, struct db_conn **out)
{
    long long deadline = now_ms() + db->timeout_ms;
    struct db_conn *c = NULL;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        /* prefer an open connection, else any free slot */
        for (int i = 0; i < db->size; i++) {
            if (!db->conns[i].busy && db->conns[i].pg != NULL) {
                c = &db->conns[i];
                break;
            }
        }
        for (int i = 0; c == NULL && i < db->size; i++) {
            if (!db->conns[i].busy) {
                c = &db->conns[i];
            }
        }
        if (c != NULL) {
            c->busy = 1;
            break;
        }
        long long left = deadline - now_ms();
        if (left <= 0) {
            db->timeouts++;
            pthread_mutex_unlock(&db->mu);
            return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                              "no database connection free in time");
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&db->cv, &db->mu, &ts);
    }
    pthread_mutex_unlock(&db->mu);

    if (c->pg != NULL && PQstatus(c->pg) != CONNECTION_OK) {
        conn_close(c);
    }
    if (c->pg == NULL) {
        c->pg = cu_db_connect(db->url, db->password, db->timeout_ms, "custos");
        if (c->pg == NULL) {
            pthread_mutex_lock(&db->mu);
            db->connect_failures++;
            c->busy = 0;
            pthread_cond_signal(&db->cv);
            pthread_mutex_unlock(&db->mu);
            return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                              "could not connect to the database");
        }
    }
    *out = c;
    return CU_OK;
}

static void
release(struct cu_db *db, struct db_conn *c)
{
    pthread_mutex_lock(&db->mu);
    c->busy = 0;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
}

/* Maps a failed result to an error code; the reason carries only the SQLSTATE. */
static enum cu_err
result_error(struct db_conn *c, PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: connection lost", what);
    }
    if (strcmp(state, "23505") == 0) {
        return cu_err_set(CU_ERR_CONFLICT, __FILE__, __LINE__, "%s: unique violation", what);
    }
    if (strncmp(state, "22", 2) == 0) {
        /* data exception: a value PostgreSQL refuses (encoding, range) is the client's */
        return cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "%s: sqlstate %s", what, state);
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strcmp(state, "57014") == 0 || strcmp(state, "53300") == 0) {
        conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: sqlstate %s", what, state);
    }
    return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "%s: sqlstate %s", what, state);
}

/* Waits for the whole answer to a sent command with a deadline. Returns the last result (the
 * caller clears it) or NULL with the connection closed on timeout or loss. */
static PGresult *
wait_result(struct cu_db *db, struct db_conn *c, long long deadline)
{
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(c->pg)) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                db->timeouts++;
                goto lost;
            }
            struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
            int n = poll(&pfd, 1, (int)left);
            if (n < 0 && errno != EINTR) {
                goto lost;
            }
            if (n > 0 && PQconsumeInput(c->pg) == 0) {
                goto lost;
            }
        }
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            return last;
        }
        if (last != NULL) {
            /* keep the first error if any, else the latest result */
            ExecStatusType st = PQresultStatus(last);
            if (st == PGRES_FATAL_ERROR) {
                PQclear(r);
                continue;
            }
            PQclear(last);
        }
        last = r;
    }
lost:
    PQclear(last);
    conn_close(c);
    return NULL;
}

static int
ok_status(PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static enum cu_err
simple(struct cu_db *db, struct db_conn *c, const char *sql, const char *what)
{
    long long deadline = now_ms() + db->timeout_ms;
    if (PQsendQuery(c->pg, sql) != 1) {
        conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: could not send", what);
    }
    PGresult *r = wait_result(db, c, deadline);
    if (r == NULL) {
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: no answer in time", what);
    }
    enum cu_err rc = ok_status(r) ? CU_OK : result_error(c, r, what);
    PQclear(r);
    return rc;
}

static enum cu_err
ensure_prepared(struct cu_db *db, struct db_conn *c, const struct cu_stmt *stmt, long long deadline)
{
    for (int i = 0; i < c->nprepared; i++) {
        if (c->prepared[i] == stmt) {
            return CU_OK;
        }
    }
    if (PQsendPrepare(c->pg, stmt->name, stmt->sql, 0, NULL) != 1) {
        conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "prepare %s: could not send",
                          stmt->name);
    }
    PGresult *r = wait_result(db, c, deadline);
    if (r == NULL) {
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "prepare %s: no answer",
                          stmt->name);
    }
    enum cu_err rc = ok_status(r) ? CU_OK : result_error(c, r, stmt->name);
    PQclear(r);
    if (rc == CU_OK && c->nprepared < MAX_PREPARED) {
        c->prepared[c->nprepared++] = stmt;
    }
    return rc;
}

static void
result_clear(void *p)
{
    struct cu_db_result *r = p;
    PQclear(r->res);
}

static enum cu_err
exec_on(struct cu_db *db, struct db_conn *c, const struct cu_stmt *stmt,
        const struct cu_params *p, struct cu_arena *arena, struct cu_db_result **out)
{
    long long deadline = now_ms() + db->timeout_ms;
    CU_GUARD(ensure_prepared(db, c, stmt, deadline));
    int n = p ? p->n : 0;
    if (PQsendQueryPrepared(c->pg, stmt->name, n, p ? p->values : NULL, p ? p->lens : NULL,
                            p ? p->formats : NULL, 0) != 1) {
        conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: could not send",
                          stmt->name);
    }
    PGresult *r = wait_result(db, c, deadline);
    if (r == NULL) {
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: no answer in time",
                          stmt->name);
    }
    if (!ok_status(r)) {
        enum cu_err rc = result_error(c, r, stmt->name);
        PQclear(r);
        return rc;
    }
    struct cu_db_result *res = cu_arena_alloc(arena, sizeof(*res));
    res->res = r;
    cu_arena_defer(arena, result_clear, res);
    if (out != NULL) {
        *out = res;
    }
    return CU_OK;
}

enum cu_err
cu_tx_begin(struct cu_db *db, const char *tenant, struct cu_tx **out)
{
    CU_ENSURE(tenant == NULL || strlen(tenant) < 64, CU_ERR_INTERNAL, "tenant id too long");
    struct db_conn *c = NULL;
    CU_GUARD(acquire(db, &c));
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

/* Reads the results of one pipelined query (up to its NULL) and keeps the last one (or the
 * first error). NULL with the connection closed on timeout or loss. */
static PGresult *
pipeline_query_result(struct cu_db *db, struct db_conn *c, long long deadline, int *lost)
{
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(c->pg)) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                db->timeouts++;
                goto lost;
            }
            struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
            int n = poll(&pfd, 1, (int)left);
            if ((n < 0 && errno != EINTR) || (n > 0 && PQconsumeInput(c->pg) == 0)) {
                goto lost;
            }
        }
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            return keep;
        }
        if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(keep);
        keep = r;
    }
lost:
    PQclear(keep);
    *lost = 1;
    return NULL;
}

/* One round trip: [BEGIN and the settings] [PREPARE] the statement [COMMIT], pipelined. With
 * begin, the transaction's first statement; with commit, its last. */
static enum cu_err
exec_pipelined(struct cu_tx *tx, int begin, const struct cu_stmt *stmt,
               const struct cu_params *p, int commit, struct cu_arena *arena,
               struct cu_db_result **out)
{
    struct cu_db *db = tx->db;
    struct db_conn *c = tx->conn;
    long long deadline = now_ms() + db->timeout_ms;
    int prepared = 0;
    for (int i = 0; i < c->nprepared; i++) {
        prepared |= c->prepared[i] == stmt;
    }
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", db->timeout_ms);
    const char *settings[] = {tx->tenant, tx->platform ? "on" : "off", timeout};
    int n = p ? p->n : 0;
    tx->begun = 1;
    /* positions of the queries in the pipeline */
    int q_prepare = begin ? 2 : 0;
    int q_stmt = q_prepare + (prepared ? 0 : 1);
    int queries = q_stmt + 1 + (commit ? 1 : 0);
    if (PQenterPipelineMode(c->pg) != 1 ||
        (begin && PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1) ||
        (begin && PQsendQueryParams(c->pg, begin_settings, 3, NULL, settings, NULL, NULL, 0) != 1) ||
        (!prepared && PQsendPrepare(c->pg, stmt->name, stmt->sql, 0, NULL) != 1) ||
        PQsendQueryPrepared(c->pg, stmt->name, n, p ? p->values : NULL, p ? p->lens : NULL,
                            p ? p->formats : NULL, 0) != 1 ||
        (commit && PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1) ||
        PQpipelineSync(c->pg) != 1) {
        conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: could not send",
                          stmt->name);
    }
    while (PQflush(c->pg) == 1) {
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLOUT};
        if (deadline - now_ms() <= 0 || poll(&pfd, 1, (int)(deadline - now_ms())) < 0) {
            conn_close(c);
            return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: could not send",
                              stmt->name);
        }
    }
    int lost = 0;
    int prepare_ok = 0;
    enum cu_err rc = CU_OK;
    PGresult *last = NULL;
    for (int q = 0; q < queries && !lost; q++) {
        PGresult *r = pipeline_query_result(db, c, deadline, &lost);
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
                     : result_error(c, r, what);
        }
        if (q == q_stmt && rc == CU_OK) {
            last = r;
        } else {
            PQclear(r);
        }
        if (c->pg == NULL) {
            lost = 1; /* result_error closed a broken connection */
        }
    }
    if (!lost) {
        /* the sync's own result, then back to ordinary mode */
        PGresult *sync = pipeline_query_result(db, c, deadline, &lost);
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
        conn_close(c);
        return rc != CU_OK ? rc
                           : cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                                        "%s: no answer in time", stmt->name);
    }
    if (prepare_ok && c->nprepared < MAX_PREPARED) {
        c->prepared[c->nprepared++] = stmt;
    }
    if (rc != CU_OK) {
        PQclear(last);
        return rc;
    }
    struct cu_db_result *res = cu_arena_alloc(arena, sizeof(*res));
    res->res = last;
    cu_arena_defer(arena, result_clear, res);
    if (out != NULL) {
        *out = res;
    }
    return CU_OK;
}

enum cu_err
cu_tx_commit(struct cu_tx **txp)
{
    struct cu_tx *tx = *txp;
    *txp = NULL;
    enum cu_err rc = CU_ERR_UNAVAILABLE;
    if (!tx->begun) {
        rc = CU_OK; /* nothing was sent, so there is nothing to commit */
    } else if (tx->conn->pg != NULL) {
        rc = simple(tx->db, tx->conn, "COMMIT", "commit");
    } else {
        cu_err_set(rc, __FILE__, __LINE__, "commit: connection lost");
    }
    tx->open = 0;
    release(tx->db, tx->conn);
    free(tx);
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
        enum cu_err ignored = simple(tx->db, tx->conn, "ROLLBACK", "rollback");
        (void)ignored;
    }
    release(tx->db, tx->conn);
    free(tx);
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
        enum cu_err ignored = simple(tx->db, tx->conn, "ROLLBACK", "rollback");
        (void)ignored;
    }
    tx->open = 0;
    release(tx->db, tx->conn);
    free(tx);
    return rc;
}

enum cu_err
cu_db_exec_once(struct cu_db *db, const struct cu_stmt *stmt, const struct cu_params *p,
                struct cu_arena *arena, struct cu_db_result **out)
{
    struct db_conn *c = NULL;
    CU_GUARD(acquire(db, &c));
    enum cu_err rc = exec_on(db, c, stmt, p, arena, out);
    release(db, c);
    return rc;
}

void
cu_params_init(struct cu_params *p)
{
    memset(p, 0, sizeof(*p));
}

void
cu_params_text(struct cu_params *p, const char *value)
{
    if (p->n >= 32) {
        abort(); /* a programming error: statements here never take more */
    }
    p->values[p->n] = value;
    p->lens[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

void
cu_params_bin(struct cu_params *p, const uint8_t *data, size_t len)
{
    if (p->n >= 32) {
        abort();
    }
    p->values[p->n] = (const char *)data;
    p->lens[p->n] = (int)len;
    p->formats[p->n] = 1;
    p->n++;
}

void
cu_params_int(struct cu_params *p, struct cu_arena *arena, long long v)
{
    cu_params_text(p, cu_arena_printf(arena, "%lld", v));
}

int
cu_res_rows(const struct cu_db_result *r)
{
    return PQntuples(r->res);
}

int
cu_res_isnull(const struct cu_db_result *r, int row, int col)
{
    return PQgetisnull(r->res, row, col);
}

const char *
cu_res_text(const struct cu_db_result *r, int row, int col)
{
    return PQgetvalue(r->res, row, col);
}

long long
cu_res_int(const struct cu_db_result *r, int row, int col)
{
    return strtoll(PQgetvalue(r->res, row, col), NULL, 10);
}

enum cu_err
cu_res_bytea(const struct cu_db_result *r, int row, int col, struct cu_arena *arena,
             uint8_t **out, size_t *out_len)
{
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r->res, row, col), &n);
    CU_ENSURE(raw != NULL, CU_ERR_INTERNAL, "could not decode bytea");
    uint8_t *copy = cu_arena_alloc(arena, n ? n : 1);
    memcpy(copy, raw, n);
    cu_wipe(raw, n);
    PQfreemem(raw);
    *out = copy;
    *out_len = n;
    return CU_OK;
}

long long
cu_res_affected(const struct cu_db_result *r)
{
    return strtoll(PQcmdTuples(r->res), NULL, 10);
}

void
cu_db_stats(struct cu_db *db, struct cu_db_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&db->mu);
    out->size = db->size;
    for (int i = 0; i < db->size; i++) {
        out->in_use += db->conns[i].busy;
        out->open += db->conns[i].pg != NULL;
    }
    out->connect_failures = db->connect_failures;
    out->timeouts = db->timeouts;
    pthread_mutex_unlock(&db->mu);
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
