/* custos migrate: several replicas at once on a fresh database apply each migration exactly
 * once; a later run applies nothing. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

Test(migrate, concurrent_replicas_apply_each_migration_once, .timeout = 60)
{
    char db[32], sql[128];
    t_tenant_id(db);
    for (char *p = db; *p; p++) {
        if (*p == '-') {
            *p = '_';
        }
    }
    snprintf(sql, sizeof(sql), "CREATE DATABASE mig_%s", db);
    char *r = t_sql(sql);
    cr_assert_not_null(r);
    free(r);
    /* the same server as the admin URL, another database */
    char url[512];
    snprintf(url, sizeof(url), "%s", t_env("CUSTOS_TEST_ADMIN_DB_URL"));
    char *dbname = strstr(url, "dbname=");
    cr_assert_not_null(dbname);
    char rest[256];
    snprintf(rest, sizeof(rest), "%s", strchrnul(dbname, ' '));
    snprintf(dbname, sizeof(url) - (size_t)(dbname - url), "dbname=mig_%s%s", db, rest);

    char cmd[1200];
    snprintf(cmd, sizeof(cmd),
             "pids=; for i in 1 2 3 4; do CUSTOS_MIGRATE_DATABASE_URL='%s' %s migrate "
             ">/dev/null 2>&1 & pids=\"$pids $!\"; done; ok=0; for p in $pids; do "
             "wait $p && ok=$((ok+1)); done; test $ok = 4",
             url, t_env("CUSTOS_TEST_BIN"));
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a concurrent migrate failed");

    snprintf(cmd, sizeof(cmd),
             "psql -X -qtA '%s' -c \"SELECT count(*) || '/' || count(DISTINCT version) || '/' "
             "|| (SELECT count(*) FROM service_state) FROM schema_migrations\"",
             url);
    FILE *p = popen(cmd, "r");
    char out[64] = "";
    cr_assert_not_null(fgets(out, sizeof(out), p));
    pclose(p);
    out[strcspn(out, "\n")] = '\0';
    char *applied = t_sql("SELECT count(*) || '/' || count(*) || '/1' FROM schema_migrations");
    cr_assert_str_eq(out, applied, "migrations applied: %s", out);
    free(applied);

    /* once more: nothing to apply, nothing printed */
    snprintf(cmd, sizeof(cmd), "CUSTOS_MIGRATE_DATABASE_URL='%s' %s migrate", url,
             t_env("CUSTOS_TEST_BIN"));
    p = popen(cmd, "r");
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        lines++;
    }
    cr_assert_eq(WEXITSTATUS(pclose(p)), 0);
    cr_assert_eq(lines, 0);
    snprintf(sql, sizeof(sql), "DROP DATABASE mig_%s", db);
    free(t_sql(sql));
}
