/* `custos migrate`: forward-only migrations, each applied once in its own transaction,
 * serialized across replicas by a session advisory lock. */
#include "storage/db.h"
#include "storage/migrations.h"

#include "storage/pg_internal.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An arbitrary constant shared by every replica: "custos" in ASCII. */
#define MIGRATE_LOCK_KEY "109355121372019"

int
cu_migrate_latest(void)
{
    int latest = 0;
    for (int i = 0; i < cu_migrations_count; i++) {
        if (cu_migrations[i].version > latest) {
            latest = cu_migrations[i].version;
        }
    }
    return latest;
}

static enum cu_err
run(PGconn *pg, const char *sql, const char *what)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(r);
        return CU_OK;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    /* migrations hold no customer data, so the server's message is safe to show here */
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    enum cu_err rc = cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "%s failed: %s (sqlstate %s)",
                                what, msg ? msg : PQerrorMessage(pg), state ? state : "none");
    PQclear(r);
    return rc;
}

static int
applied(PGconn *pg, int version)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", version);
    const char *params[] = {v};
    PGresult *r = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
                               params, NULL, NULL, 0);
    int found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    return found;
}

static enum cu_err
set_app_password(PGconn *pg, const char *password)
{
    char *lit = PQescapeLiteral(pg, password, strlen(password));
    CU_ENSURE(lit != NULL, CU_ERR_INTERNAL, "could not quote the password");
    size_t n = strlen(lit) + 64;
    char *sql = malloc(n);
    if (sql == NULL) {
        PQfreemem(lit);
        return cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "out of memory");
    }
    snprintf(sql, n, "ALTER ROLE custos_app PASSWORD %s", lit);
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    explicit_bzero(sql, n);
    free(sql);
    explicit_bzero(lit, strlen(lit));
    PQfreemem(lit);
    CU_ENSURE(ok, CU_ERR_INTERNAL, "could not set the custos_app password");
    return CU_OK;
}

/* Compares the stored root key check value, if the table and a value exist yet. */
static enum cu_err
check_root(PGconn *pg, const uint8_t kcv[32])
{
    PGresult *r = PQexec(pg, "SELECT to_regclass('service_state') IS NOT NULL");
    int has_table = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                    strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!has_table) {
        return CU_OK;
    }
    r = PQexecParams(pg, "SELECT root_kcv FROM service_state WHERE singleton", 0, NULL, NULL,
                     NULL, NULL, 1);
    enum cu_err rc = CU_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__, "could not read service_state");
    } else if (PQntuples(r) == 1) {
        const uint8_t *stored = (const uint8_t *)PQgetvalue(r, 0, 0);
        unsigned diff = PQgetlength(r, 0, 0) == 32 ? 0 : 1;
        for (int i = 0; diff == 0 && i < 32; i++) {
            diff |= (unsigned)(stored[i] ^ kcv[i]);
        }
        if (diff != 0) {
            rc = cu_err_set(CU_ERR_CONFIG, __FILE__, __LINE__,
                            "the root key (CUSTOS_ROOT_KEY_FILE) does not match the key this "
                            "database was created with; nothing was changed");
        }
    }
    PQclear(r);
    return rc;
}

static enum cu_err
store_root(PGconn *pg, const uint8_t kcv[32])
{
    const char *values[] = {(const char *)kcv};
    const int lens[] = {32};
    const int formats[] = {1};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO service_state (root_kcv) VALUES ($1) "
                               "ON CONFLICT DO NOTHING",
                               1, NULL, values, lens, formats, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    CU_ENSURE(ok, CU_ERR_INTERNAL, "could not store the root key check value");
    return CU_OK;
}

/* The role the service will connect as: the user of service_url, else custos_app. The schema
 * owner is a superuser legitimately; the service's role must not be one, nor have BYPASSRLS,
 * or row-level security would not apply to it. A role that does not exist yet passes (the
 * migrations create custos_app without either attribute). */
static enum cu_err
check_service_role(PGconn *pg, const char *service_url)
{
    char role[128] = "custos_app";
    PQconninfoOption *opts = service_url ? PQconninfoParse(service_url, NULL) : NULL;
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "user") == 0 && o->val != NULL && o->val[0] != '\0') {
            snprintf(role, sizeof(role), "%s", o->val);
        }
    }
    PQconninfoFree(opts);
    const char *params[] = {role};
    PGresult *r = PQexecParams(pg,
                               "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $1",
                               1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    int unsafe = ok && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    CU_ENSURE(ok, CU_ERR_UNAVAILABLE, "could not read the service role");
    CU_ENSURE(!unsafe, CU_ERR_CONFIG,
              "database role \"%s\" is a superuser (or has BYPASSRLS); row-level security would "
              "not apply; connect as custos_app",
              role);
    return CU_OK;
}

enum cu_err
cu_migrate(const char *url, const char *password, const char *service_url,
           const char *app_password, const uint8_t root_kcv[32], int timeout_ms)
{
    PGconn *pg = NULL;
    enum cu_err rc = CU_OK;
    int locked = 0;
    CU_TRY(cu_db_connect(url, password, cu_db_now_ms() + timeout_ms, "custos-migrate", &pg));
    CU_TRY(check_service_role(pg, service_url));
    CU_TRY(run(pg, "SET client_min_messages = warning", "settings"));
    CU_TRY(run(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "advisory lock"));
    locked = 1;
    CU_TRY(check_root(pg, root_kcv));
    CU_TRY(run(pg,
               "CREATE TABLE IF NOT EXISTS schema_migrations ("
               " version integer PRIMARY KEY, name text NOT NULL,"
               " applied_at timestamptz NOT NULL DEFAULT now())",
               "create schema_migrations"));
    for (int i = 0; i < cu_migrations_count; i++) {
        const struct cu_migration *m = &cu_migrations[i];
        if (applied(pg, m->version)) {
            continue;
        }
        CU_TRY(run(pg, "BEGIN", "begin"));
        rc = run(pg, m->sql, m->name);
        if (rc == CU_OK) {
            char v[16];
            snprintf(v, sizeof(v), "%d", m->version);
            const char *params[] = {v, m->name};
            PGresult *r =
                PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                             2, NULL, params, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = cu_err_set(CU_ERR_INTERNAL, __FILE__, __LINE__,
                                "could not record migration %s", m->name);
            }
            PQclear(r);
        }
        if (rc != CU_OK) {
            PQclear(PQexec(pg, "ROLLBACK"));
            goto out;
        }
        CU_TRY(run(pg, "COMMIT", "commit"));
        printf("applied migration %s\n", m->name);
    }
    CU_TRY(check_root(pg, root_kcv));
    CU_TRY(store_root(pg, root_kcv));
    if (app_password != NULL) {
        CU_TRY(set_app_password(pg, app_password));
    }
out:
    if (locked && pg != NULL && PQstatus(pg) == CONNECTION_OK) {
        PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    }
    PQfinish(pg);
    return rc;
}
