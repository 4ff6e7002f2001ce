/* custos migrate: several replicas at once on a fresh database apply each migration exactly
 * once; a later run applies nothing. */
#include "harness.h"
#include "idp.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

    /* a schema older than the binary: not ready, 503 for the API (never a 500), until migrated */
    char latest[16];
    snprintf(cmd, sizeof(cmd), "psql -X -qtA '%s' -c \"SELECT max(version) FROM schema_migrations\"",
             url);
    p = popen(cmd, "r");
    cr_assert_not_null(fgets(latest, sizeof(latest), p));
    pclose(p);
    latest[strcspn(latest, "\n")] = '\0';
    snprintf(cmd, sizeof(cmd),
             "psql -X -q '%s' -c \"DELETE FROM schema_migrations WHERE version = %s\"", url,
             latest);
    cr_assert_eq(system(cmd), 0);
    char app_url[600], env_url[640];
    snprintf(app_url, sizeof(app_url), "%s", url);
    char *user = strstr(app_url, "user=postgres");
    cr_assert_not_null(user);
    snprintf(user, sizeof(app_url) - (size_t)(user - app_url), "user=custos_app");
    snprintf(env_url, sizeof(env_url), "CUSTOS_DATABASE_URL=%s", app_url);
    const char *env[] = {env_url, NULL};
    struct t_server srv;
    cr_assert_eq(t_spawn_unready(env, 0, &srv), 0);
    struct t_resp r1;
    cr_assert_eq(t_request(&srv, "GET", "/readyz", NULL, NULL, NULL, &r1), 0);
    cr_assert_eq(r1.status, 503, "%s", r1.body);
    t_resp_free(&r1);
    cr_assert_eq(t_request(&srv, "GET", "/v1/tenants", t_token(NULL, "vault:admin"), NULL, NULL,
                           &r1),
                 0);
    cr_assert_eq(r1.status, 503, "%s", r1.body);
    t_resp_free(&r1);
    /* the migration "arrives" (its objects are still there: only its row was taken away) */
    snprintf(cmd, sizeof(cmd),
             "psql -X -q '%s' -c \"INSERT INTO schema_migrations (version, name) VALUES (%s, 'x')\"",
             url, latest);
    cr_assert_eq(system(cmd), 0);
    long status = 0;
    for (int i = 0; i < 50 && status != 200; i++) {
        usleep(100 * 1000);
        cr_assert_eq(t_request(&srv, "GET", "/v1/tenants", t_token(NULL, "vault:admin"), NULL,
                               NULL, &r1),
                     0);
        status = r1.status;
        t_resp_free(&r1);
    }
    cr_assert_eq(status, 200, "still not serving after the migration");
    cr_assert_eq(t_stop(&srv), 0);
    mint_free_all();
    snprintf(sql, sizeof(sql), "DROP DATABASE mig_%s", db);
    free(t_sql(sql));
}
