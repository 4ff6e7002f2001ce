/* Migrations that rewrite data, run by `custos migrate` on a database left at the version before
 * them: 0006 gives audit entries the incarnation of their tenant (entries older than the current
 * tenant stay with none), 0007 turns stored HTTP statuses of Idempotency-Keys into outcomes,
 * 0010 names every token once (a token met in another field is replaced in the later record). */
#include "harness.h"

#include <criterion/criterion.h>
#include <glob.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char url[1100];

static PGconn *
open_db(void)
{
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

static void
exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
    PQclear(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%.80s: %s", sql, msg);
}

static char *
text_of(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    char *s = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return s;
}

/* A fresh database with migrations 1..upto applied as `custos migrate` would have. */
static PGconn *
database_at(int upto)
{
    char id[32], sql[128];
    t_tenant_id(id);
    for (char *p = id; *p; p++) {
        *p = *p == '-' ? '_' : *p;
    }
    snprintf(sql, sizeof(sql), "CREATE DATABASE migd_%s", id);
    char *r = t_sql(sql);
    cr_assert_not_null(r);
    free(r);
    char base[512];
    snprintf(base, sizeof(base), "%s", t_env("CUSTOS_TEST_ADMIN_DB_URL"));
    char *dbname = strstr(base, "dbname=");
    cr_assert_not_null(dbname);
    *dbname = '\0';
    const char *rest = strchrnul(strstr(t_env("CUSTOS_TEST_ADMIN_DB_URL"), "dbname="), ' ');
    snprintf(url, sizeof(url), "%sdbname=migd_%s%s", base, id, rest);

    PGconn *c = open_db();
    exec_ok(c, "SET client_min_messages = warning");
    exec_ok(c, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
               " applied_at timestamptz NOT NULL DEFAULT now())");
    glob_t g;
    cr_assert_eq(glob("migrations/[0-9][0-9][0-9][0-9]_*.sql", 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        int version = atoi(strrchr(g.gl_pathv[i], '/') + 1);
        if (version > upto) {
            continue;
        }
        FILE *f = fopen(g.gl_pathv[i], "r");
        cr_assert_not_null(f);
        char *text = NULL;
        size_t cap = 0;
        ssize_t n = getdelim(&text, &cap, '\0', f);
        fclose(f);
        cr_assert_gt(n, 0);
        exec_ok(c, "BEGIN");
        exec_ok(c, text);
        free(text);
        char ins[128];
        snprintf(ins, sizeof(ins),
                 "INSERT INTO schema_migrations (version, name) VALUES (%d, 'm%d')", version,
                 version);
        exec_ok(c, ins);
        exec_ok(c, "COMMIT");
    }
    globfree(&g);
    return c;
}

static void
migrate(void)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "CUSTOS_MIGRATE_DATABASE_URL='%s' %s migrate >/dev/null 2>&1", url,
             t_env("CUSTOS_TEST_BIN"));
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "custos migrate failed");
}

Test(migrate_data, audit_entries_get_the_incarnation_of_their_tenant_and_older_ones_none,
     .timeout = 60)
{
    PGconn *c = database_at(5);
    exec_ok(c, "INSERT INTO tenants (tenant_id, name, created_at) VALUES ('t-mig', 'm',"
               " now() - interval '1 hour')");
    exec_ok(c, "INSERT INTO audit_log (tenant_id, ts, principal, action, outcome) VALUES"
               " ('t-mig', now() - interval '2 hours', 'p', 'tokenize', 'allowed'),"
               " ('t-mig', now() - interval '1 minute', 'p', 'detokenize', 'allowed')");
    migrate();
    char *old = text_of(c, "SELECT count(*) FROM audit_log WHERE action = 'tokenize'"
                           " AND incarnation IS NULL");
    char *cur = text_of(c, "SELECT count(*) FROM audit_log a JOIN tenants t USING (tenant_id)"
                           " WHERE a.action = 'detokenize' AND a.incarnation = t.incarnation");
    cr_assert_str_eq(old, "1", "the entry of an earlier tenant was given the current one");
    cr_assert_str_eq(cur, "1", "the current tenant's entry has no incarnation");
    free(old);
    free(cur);
    PQfinish(c);
}

Test(migrate_data, stored_idempotency_statuses_become_outcomes, .timeout = 60)
{
    PGconn *c = database_at(6);
    exec_ok(c, "INSERT INTO tenants (tenant_id, name) VALUES ('t-mig', 'm')");
    exec_ok(c, "INSERT INTO idempotency_keys (tenant_id, principal, key, request_hash, status,"
               " response) VALUES ('t-mig', 'p', 'a', '\\x00', 201, '{}'),"
               " ('t-mig', 'p', 'b', '\\x00', 200, '{}'), ('t-mig', 'p', 'c', '\\x00', 202, '{}')");
    exec_ok(c, "INSERT INTO platform_idempotency (principal, key, request_hash, status, response)"
               " VALUES ('p', 'a', '\\x00', 201, '{}')");
    migrate();
    char *t = text_of(c, "SELECT string_agg(key || '=' || status, ',' ORDER BY key)"
                         " FROM idempotency_keys");
    char *p = text_of(c, "SELECT string_agg(key || '=' || status, ',') FROM platform_idempotency");
    cr_assert_str_eq(t, "a=1,b=2,c=3");
    cr_assert_str_eq(p, "a=1");
    free(t);
    free(p);
    PQfinish(c);
}

Test(migrate_data, a_token_met_in_two_fields_keeps_its_first_owner, .timeout = 60)
{
    PGconn *c = database_at(7);
    exec_ok(c, "INSERT INTO tenants (tenant_id, name) VALUES ('t-mig', 'm')");
    exec_ok(c, "INSERT INTO collections (tenant_id, name, fields) VALUES"
               " ('t-mig', 'customers', '{}'), ('t-mig', 'payments', '{}')");
    exec_ok(c, "INSERT INTO records (tenant_id, id, collection, subject_id) VALUES"
               " ('t-mig', 'r1', 'customers', 's1'), ('t-mig', 'r2', 'payments', 's2'),"
               " ('t-mig', 'r3', 'customers', 's3'), ('t-mig', 'r4', 'customers', 's4')");
    exec_ok(c, "INSERT INTO record_values (tenant_id, record_id, collection, field, key_version,"
               " ciphertext, token) VALUES"
               " ('t-mig', 'r1', 'customers', 'card', 1, '\\x00', '4111118305621111'),"
               " ('t-mig', 'r2', 'payments', 'card', 1, '\\x00', '4111118305621111'),"
               " ('t-mig', 'r3', 'customers', 'card', 1, '\\x00', '4111118305621111'),"
               " ('t-mig', 'r4', 'customers', 'name', 1, '\\x00', 'tok_hYzQIW1WcfTY7FTsJpjTQb')");
    /* r1 first; r3 the same value in the same field (shared); r2 later, in another field */
    exec_ok(c, "INSERT INTO tokens (tenant_id, token, record_id, collection, field, created_at)"
               " VALUES"
               " ('t-mig', '4111118305621111', 'r1', 'customers', 'card', now() - interval '2 h'),"
               " ('t-mig', '4111118305621111', 'r2', 'payments', 'card', now() - interval '1 h'),"
               " ('t-mig', '4111118305621111', 'r3', 'customers', 'card', now()),"
               " ('t-mig', 'tok_hYzQIW1WcfTY7FTsJpjTQb', 'r4', 'customers', 'name', now())");
    migrate();
    char *owner = text_of(c, "SELECT collection || '.' || field || ':' || shared FROM token_names"
                             " WHERE token = '4111118305621111'");
    cr_assert_str_eq(owner, "customers.card:true");
    char *holders = text_of(c, "SELECT string_agg(record_id, ',' ORDER BY record_id) FROM tokens"
                               " WHERE token = '4111118305621111'");
    cr_assert_str_eq(holders, "r1,r3");
    char *moved =
        text_of(c, "SELECT t.token FROM tokens t JOIN record_values v ON"
                   " v.record_id = t.record_id AND v.field = t.field AND v.token = t.token"
                   " JOIN token_names n ON n.token = t.token AND n.collection = 'payments'"
                   " AND NOT n.shared WHERE t.record_id = 'r2'");
    cr_assert(strlen(moved) == 26 && strncmp(moved, "tok_", 4) == 0 &&
                  strspn(moved + 4,
                         "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 22,
              "r2's new token: '%s'", moved);
    char *random = text_of(c, "SELECT shared::text FROM token_names"
                              " WHERE token = 'tok_hYzQIW1WcfTY7FTsJpjTQb'");
    cr_assert_str_eq(random, "false");
    /* from now on the database refuses a token of another field */
    PGresult *r = PQexec(c, "INSERT INTO tokens (tenant_id, token, record_id, collection, field)"
                            " VALUES ('t-mig', '4111118305621111', 'r2', 'payments', 'card')");
    cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
    cr_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23503");
    PQclear(r);
    free(owner);
    free(holders);
    free(moved);
    free(random);
    PQfinish(c);
}
