/* Security: `serve` and `migrate` refuse a service role that is a superuser or has BYPASSRLS,
 * which would silently switch off the row-level-security backstop of tenant isolation. */
#include "harness.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `custos <verb>` with CUSTOS_DATABASE_URL's user replaced by role; returns its exit
 * status (-1 when it was still running after 30 s: killed) and its output (heap) in *out. */
static int
run_as(const char *verb, const char *role, char **out)
{
    char log_path[512];
    snprintf(log_path, sizeof(log_path), "%s/role-%s-%s-%d.log", t_env("CUSTOS_TEST_WORKDIR"),
             verb, role, (int)getpid());
    char url[512], listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", 40000 + (int)getpid() % 20000);
    snprintf(url, sizeof(url), "host=%s/run port=%s dbname=custos_test user=%s",
             t_env("CUSTOS_TEST_PG_DIR"), t_env("CUSTOS_TEST_PG_PORT"), role);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("CUSTOS_DATABASE_URL", url, 1);
        setenv("CUSTOS_LISTEN", listen, 1);
        unsetenv("CUSTOS_TLS_CERT_FILE");
        unsetenv("CUSTOS_TLS_KEY_FILE");
        FILE *log = fopen(log_path, "w");
        if (log != NULL) {
            dup2(fileno(log), STDERR_FILENO);
            dup2(fileno(log), STDOUT_FILENO);
        }
        const char *bin = t_env("CUSTOS_TEST_BIN");
        execl(bin, bin, verb, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    int code = -1;
    for (int i = 0; i < 300; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        usleep(100 * 1000);
    }
    if (code == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    FILE *f = fopen(log_path, "r");
    char *buf = calloc(1, 65536);
    if (f != NULL) {
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
    }
    *out = buf;
    return code;
}

static void
assert_refused(const char *verb, const char *role)
{
    char *out = NULL;
    int code = run_as(verb, role, &out);
    char want[256];
    snprintf(want, sizeof(want),
             "database role \"%s\" is a superuser (or has BYPASSRLS); row-level security would "
             "not apply; connect as custos_app",
             role);
    cr_assert(code > 0, "custos %s as %s: exit %d (-1: still running)\n%s", verb, role, code,
              out);
    cr_assert_not_null(strstr(out, want), "custos %s as %s: no clear message in:\n%s", verb,
                       role, out);
    free(out);
}

/* A fresh role with BYPASSRLS (and nothing else), dropped by the caller. */
static void
bypass_role(char out[64])
{
    char id[32];
    t_tenant_id(id);
    snprintf(out, 64, "bypass_%s", id + 2);
    char sql[256];
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN BYPASSRLS", out);
    char *res = t_sql(sql);
    cr_assert_not_null(res, "could not create the role");
    free(res);
}

static void
drop_role(const char *role)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
    free(t_sql(sql));
}

Test(security, serve_refuses_a_superuser_service_role, .timeout = 60)
{
    assert_refused("serve", "postgres");
}

Test(security, serve_refuses_a_bypassrls_service_role, .timeout = 60)
{
    char role[64];
    bypass_role(role);
    assert_refused("serve", role);
    drop_role(role);
}

Test(security, migrate_refuses_a_superuser_service_role, .timeout = 60)
{
    assert_refused("migrate", "postgres");
}

Test(security, migrate_refuses_a_bypassrls_service_role, .timeout = 60)
{
    char role[64];
    bypass_role(role);
    assert_refused("migrate", role);
    drop_role(role);
}

Test(security, migrate_accepts_the_ordinary_service_role, .timeout = 60)
{
    char *out = NULL;
    int code = run_as("migrate", "custos_app", &out);
    cr_assert_eq(code, 0, "custos migrate as custos_app: exit %d\n%s", code, out);
    free(out);
}
