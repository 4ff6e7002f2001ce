/* The connection pool: a fixed number of slots, connections opened lazily with a deadline,
 * waits for a free slot bounded by the pool's timeout, and the refusal of an unsafe role. */
#include "storage/pg_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cu_err
cu_db_new(const struct cu_db_opts *opts, struct cu_db **out)
{
    CU_ENSURE(opts->url != NULL && opts->pool_size > 0, CU_ERR_CONFIG, "bad pool options");
    struct cu_db *db = cu_xcalloc(1, sizeof(*db));
    db->url = cu_xstrdup(opts->url);
    db->password = opts->password ? cu_xstrdup(opts->password) : NULL;
    db->size = opts->pool_size;
    db->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 3000;
    db->unnamed = opts->unnamed != 0;
    db->conns = cu_xcalloc((size_t)db->size, sizeof(struct cu_db_conn));
    pthread_mutex_init(&db->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&db->cv, &attr);
    pthread_condattr_destroy(&attr);
    *out = db;
    return CU_OK;
}

void
cu_db_conn_close(struct cu_db_conn *c)
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
        cu_db_conn_close(&db->conns[i]);
    }
    free(db->conns);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->cv);
    cu_free_str_wiped(db->url);
    cu_free_str_wiped(db->password);
    free(db);
}

enum cu_err
cu_db_connect(const char *url, const char *password, long long deadline, const char *app_name,
              PGconn **out)
{
    char timeout[24];
    long long secs = (deadline - cu_db_now_ms() + 999) / 1000;
    snprintf(timeout, sizeof(timeout), "%lld", secs < 2 ? 2 : secs);
    /* later keywords override what the URL says; keepalives find a peer that went away */
    const char *keys[] = {"dbname",           "connect_timeout", "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "application_name",
                          password ? "password" : NULL, NULL};
    const char *vals[] = {url, timeout, "1", "10", "5", "2", app_name, password, NULL};
    /* the asynchronous handshake, so that a server that accepts and then says nothing costs
     * no more than the deadline */
    PGconn *pg = PQconnectStartParams(keys, vals, 1);
    if (pg == NULL || PQstatus(pg) == CONNECTION_BAD) {
        PQfinish(pg);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                          "could not connect to the database");
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        long long left = deadline - cu_db_now_ms();
        if (st == PGRES_POLLING_FAILED || left <= 0) {
            PQfinish(pg);
            return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s",
                              left <= 0 ? "no database connection in time"
                                        : "could not connect to the database");
        }
        struct pollfd pfd = {.fd = PQsocket(pg),
                             .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno != EINTR) {
            st = PGRES_POLLING_FAILED;
        } else if (n > 0) {
            st = PQconnectPoll(pg);
        }
    }
    *out = pg;
    return CU_OK;
}

/* Row-level security is the second line of tenant isolation; a superuser or a BYPASSRLS role
 * silently switches it off, so the pool refuses such a role outright. */
static enum cu_err
check_role(struct cu_db *db, struct cu_db_conn *c, long long deadline)
{
    static const char sql[] = "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles"
                              " WHERE rolname = current_user";
    if (PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0) != 1) {
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "role check: could not send");
    }
    CU_GUARD(cu_db_flush(db, c, deadline));
    int lost = 0;
    PGresult *r = cu_db_next_result(db, c, deadline, &lost);
    if (lost) {
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "role check: no answer");
    }
    if (!cu_db_ok_status(r)) {
        enum cu_err rc = cu_db_result_error(c, r, "role check");
        PQclear(r);
        return rc;
    }
    enum cu_err rc = CU_OK;
    if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
        rc = cu_err_set(CU_ERR_CONFIG, __FILE__, __LINE__,
                        "database role \"%s\" is a superuser (or has BYPASSRLS); row-level "
                        "security would not apply; connect as custos_app",
                        PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}

/* Opens the slot's connection: connect, non-blocking mode, role check. */
static enum cu_err
conn_open(struct cu_db *db, struct cu_db_conn *c, long long deadline)
{
    CU_GUARD(cu_db_connect(db->url, db->password, deadline, "custos", &c->pg));
    if (PQsetnonblocking(c->pg, 1) != 0) {
        cu_db_conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                          "could not make the database connection non-blocking");
    }
    enum cu_err rc = check_role(db, c, deadline);
    if (rc != CU_OK) {
        cu_db_conn_close(c);
    }
    return rc;
}

enum cu_err
cu_db_acquire(struct cu_db *db, struct cu_db_conn **out)
{
    long long deadline = cu_db_now_ms() + db->timeout_ms;
    struct cu_db_conn *c = NULL;
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
        long long left = deadline - cu_db_now_ms();
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
        cu_db_conn_close(c);
    }
    if (c->pg == NULL) {
        enum cu_err rc = conn_open(db, c, deadline);
        if (rc != CU_OK) {
            db->connect_failures++;
            cu_db_release(db, c);
            return rc;
        }
    }
    *out = c;
    return CU_OK;
}

void
cu_db_release(struct cu_db *db, struct cu_db_conn *c)
{
    pthread_mutex_lock(&db->mu);
    c->busy = 0;
    pthread_cond_signal(&db->cv);
    pthread_mutex_unlock(&db->mu);
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
    out->round_trips = db->round_trips;
    out->commits = db->commits;
    pthread_mutex_unlock(&db->mu);
}
