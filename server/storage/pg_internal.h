/* libpq internals shared inside storage/ only: the pool's connection slots, the wire helpers
 * that bound every wait by a deadline, and the error mapping. Nothing outside storage/ includes
 * this (or libpq). Connections of the pool are in non-blocking mode: a send never blocks, and
 * every flush, read and connect waits in poll() against a deadline. */
#ifndef CU_STORAGE_PG_INTERNAL_H
#define CU_STORAGE_PG_INTERNAL_H

#include "storage/db.h"

#include <libpq-fe.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

enum { CU_DB_MAX_PREPARED = 128 };

/* One slot of the pool; owned by the pool, lent to one transaction at a time (busy). */
struct cu_db_conn {
    PGconn *pg; /* NULL: not open (yet, or closed after a failure) */
    const struct cu_stmt *prepared[CU_DB_MAX_PREPARED];
    int nprepared;
    int busy;
};

struct cu_db {
    char *url;
    char *password;
    int size;
    int timeout_ms;
    int unnamed; /* no named prepared statements (see cu_db_opts) */
    struct cu_db_conn *conns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic unsigned long long connect_failures;
    _Atomic unsigned long long timeouts;
    _Atomic unsigned long long round_trips; /* pipelines and simple commands sent */
    _Atomic unsigned long long commits;     /* explicit COMMITs sent */
};

struct cu_db_result {
    PGresult *res;
};

/* Milliseconds of the monotonic clock (deadlines). */
static inline long long
cu_db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- pool.c ---- */

/* Opens a connection with our keepalives, waiting at most until deadline (CLOCK_MONOTONIC ms);
 * password overrides the URL's when set. The connection is left in blocking mode (callers that
 * pipeline switch it). CU_ERR_UNAVAILABLE when it cannot be had in time; the reason never holds
 * libpq's message (it can echo values). The caller PQfinish-es *out. */
enum cu_err cu_db_connect(const char *url, const char *password, long long deadline,
                          const char *app_name, PGconn **out) CU_WUR;
/* A free slot with an open, non-blocking connection of a safe role (waits for one until the
 * pool's timeout). CU_ERR_UNAVAILABLE when none can be had in time; CU_ERR_CONFIG when the role
 * is a superuser or has BYPASSRLS. Give it back with cu_db_release. */
enum cu_err cu_db_acquire(struct cu_db *db, struct cu_db_conn **out) CU_WUR;
void cu_db_release(struct cu_db *db, struct cu_db_conn *c);
/* Closes the slot's connection (after a loss or a timeout); the slot stays the caller's. */
void cu_db_conn_close(struct cu_db_conn *c);

/* ---- wire.c ---- */

/* Sends what libpq has buffered, reading input meanwhile (the server may be blocked writing
 * results we have not read), until deadline. CU_ERR_UNAVAILABLE (connection closed) on loss or
 * timeout. */
enum cu_err cu_db_flush(struct cu_db *db, struct cu_db_conn *c, long long deadline) CU_WUR;
/* Reads the results of one query up to its terminating NULL and returns the last one (or the
 * first error); the caller PQclear-s it. NULL and *lost = 1 on timeout or loss (the caller
 * closes the connection). */
PGresult *cu_db_next_result(struct cu_db *db, struct cu_db_conn *c, long long deadline,
                            int *lost);
/* Maps a failed result to an error code; the reason carries only the SQLSTATE. Closes the
 * connection when it is broken. */
enum cu_err cu_db_result_error(struct cu_db_conn *c, const PGresult *res, const char *what) CU_WUR;
/* 1 for PGRES_COMMAND_OK and PGRES_TUPLES_OK. */
int cu_db_ok_status(const PGresult *r);
/* Sends one parameterless command and waits for its answer, both until the pool's timeout. */
enum cu_err cu_db_simple(struct cu_db *db, struct cu_db_conn *c, const char *sql,
                         const char *what) CU_WUR;

#endif
