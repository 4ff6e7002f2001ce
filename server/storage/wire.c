/* The wire: flushing sends, reading results and mapping errors, every wait in poll() against a
 * deadline, so a frozen or vanished server costs at most the pool's timeout, then 503. */
#include "storage/pg_internal.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

/* Waits for events on the connection's socket until deadline; 1 ready, 0 not yet (signal),
 * -1 timeout or error. */
static int
wait_socket(struct cu_db *db, struct cu_db_conn *c, short events, long long deadline,
            short *revents)
{
    long long left = deadline - cu_db_now_ms();
    if (left <= 0) {
        db->timeouts++;
        return -1;
    }
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = events};
    int n = poll(&pfd, 1, (int)left);
    if (n < 0) {
        return errno == EINTR ? 0 : -1;
    }
    *revents = pfd.revents;
    return n > 0;
}

enum cu_err
cu_db_flush(struct cu_db *db, struct cu_db_conn *c, long long deadline)
{
    for (;;) {
        int f = PQflush(c->pg);
        if (f == 0) {
            return CU_OK;
        }
        short ev = 0;
        int n = f < 0 ? -1 : wait_socket(db, c, POLLIN | POLLOUT, deadline, &ev);
        /* the server may be blocked sending us results: read them, or neither side moves */
        if (n < 0 || (n > 0 && (ev & POLLIN) && PQconsumeInput(c->pg) == 0)) {
            cu_db_conn_close(c);
            return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__,
                              "could not send to the database in time");
        }
    }
}

PGresult *
cu_db_next_result(struct cu_db *db, struct cu_db_conn *c, long long deadline, int *lost)
{
    PGresult *keep = NULL;
    for (;;) {
        while (PQisBusy(c->pg)) {
            short ev = 0;
            int n = wait_socket(db, c, POLLIN, deadline, &ev);
            if (n < 0 || (n > 0 && PQconsumeInput(c->pg) == 0)) {
                PQclear(keep);
                *lost = 1;
                return NULL;
            }
        }
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            return keep;
        }
        /* keep the first error if any, else the latest result */
        if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(keep);
        keep = r;
    }
}

int
cu_db_ok_status(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

enum cu_err
cu_db_result_error(struct cu_db_conn *c, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        cu_db_conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: connection lost", what);
    }
    if (strcmp(state, "23505") == 0) {
        return cu_err_set(CU_ERR_CONFLICT, __FILE__, __LINE__, "%s: unique violation", what);
    }
    if (strcmp(state, "23503") == 0) {
        /* a row names another that does not exist (or a token of another field); the name of
         * the constraint is schema, never data */
        const char *con = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
        return cu_err_set(CU_ERR_CONFLICT, __FILE__, __LINE__, "%s: foreign key violation (%s)",
                          what, con ? con : "?");
    }
    if (strncmp(state, "22", 2) == 0) {
        /* data exception: a value PostgreSQL refuses (encoding, range) is the client's */
        return cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "%s: sqlstate %s", what, state);
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strcmp(state, "57014") == 0 || strcmp(state, "53300") == 0) {
        cu_db_conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: sqlstate %s", what, state);
    }
    return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "%s: sqlstate %s", what, state);
}

enum cu_err
cu_db_simple(struct cu_db *db, struct cu_db_conn *c, const char *sql, const char *what)
{
    long long deadline = cu_db_now_ms() + db->timeout_ms;
    atomic_fetch_add(&db->round_trips, 1);
    if (strcmp(sql, "COMMIT") == 0) {
        atomic_fetch_add(&db->commits, 1);
    }
    if (PQsendQuery(c->pg, sql) != 1) {
        cu_db_conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: could not send", what);
    }
    CU_GUARD(cu_db_flush(db, c, deadline));
    int lost = 0;
    PGresult *r = cu_db_next_result(db, c, deadline, &lost);
    if (lost) {
        cu_db_conn_close(c);
        return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "%s: no answer in time", what);
    }
    enum cu_err rc = cu_db_ok_status(r) ? CU_OK : cu_db_result_error(c, r, what);
    PQclear(r);
    return rc;
}
