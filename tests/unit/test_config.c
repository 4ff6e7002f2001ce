/* The configuration table: defaults, validation of every kind of variable, all problems reported
 * together, and secrets from files. */
#include "config/config.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const all_vars[] = {
    "CUSTOS_LISTEN",          "CUSTOS_TLS_CERT_FILE",      "CUSTOS_TLS_KEY_FILE",
    "CUSTOS_DATABASE_URL",    "CUSTOS_MIGRATE_DATABASE_URL", "CUSTOS_ROOT_KEY_FILE",
    "CUSTOS_JWKS_FILE",       "CUSTOS_JWT_ISSUER",         "CUSTOS_JWT_AUDIENCE",
    "CUSTOS_JWT_TENANT_CLAIM", "CUSTOS_DEV",               "CUSTOS_MAX_BODY_BYTES",
    "CUSTOS_THREADS",         "CUSTOS_DB_POOL",            "CUSTOS_JWT_HS256_SECRET",
    "CUSTOS_JWT_HS256_SECRET_FILE", "CUSTOS_LOG_LEVEL",    "CUSTOS_HTTP_MODE",
    "CUSTOS_DATABASE_PASSWORD_FILE", "CUSTOS_JWKS_URL",    "CUSTOS_OIDC_DISCOVERY",
    "CUSTOS_JWKS_CA_FILE",    "CUSTOS_JWKS_REFRESH",       "CUSTOS_JWKS_MIN_REFETCH",
    "CUSTOS_JWKS_TIMEOUT_MS", "CUSTOS_ROOT_KEY_NEXT_FILE", NULL};

static char key_file[] = "/tmp/custos-config-test-XXXXXX";

static void
clean_env(void)
{
    for (int i = 0; all_vars[i] != NULL; i++) {
        unsetenv(all_vars[i]);
    }
    int fd = mkstemp(key_file);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "secret-password\n", 16), 16);
    close(fd);
    cr_redirect_stderr();
}

static void
remove_file(void)
{
    unlink(key_file);
}

TestSuite(config, .init = clean_env, .fini = remove_file);

Test(config, defaults_fill_every_optional_variable)
{
    setenv("CUSTOS_DATABASE_URL", "host=/tmp dbname=x", 1);
    struct cu_config cfg;
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_DB), CU_OK);
    cr_assert_str_eq(cfg.listen_host, "127.0.0.1");
    cr_assert_eq(cfg.listen_port, 8443);
    cr_assert_eq(cfg.max_body_bytes, 1048576);
    cr_assert_str_eq(cfg.jwt_tenant_claim, "tid");
    cr_assert_str_eq(cfg.migrate_database_url, "host=/tmp dbname=x");
    cr_assert_str_eq(cfg.http_mode, "epoll");
    cr_assert_eq(cfg.dev, 0);
    cu_config_cleanup(&cfg);
}

Test(config, every_problem_is_reported_and_the_load_fails)
{
    setenv("CUSTOS_LISTEN", "nohostport", 1);
    setenv("CUSTOS_THREADS", "0", 1);
    setenv("CUSTOS_MAX_BODY_BYTES", "12abc", 1);
    setenv("CUSTOS_DEV", "yes", 1);
    setenv("CUSTOS_LOG_LEVEL", "loud", 1);
    setenv("CUSTOS_TLS_CERT_FILE", "/nonexistent.pem", 1);
    struct cu_config cfg;
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY | CU_NEED_AUTH),
                 CU_ERR_CONFIG);
    cu_config_cleanup(&cfg);
    fflush(stderr);
    /* one line per problem: listen, threads, body, dev, log level, cert file,
     * database, root key, issuer, audience, jwks */
    FILE *err = cr_get_redirected_stderr();
    char line[512];
    int lines = 0;
    while (fgets(line, sizeof(line), err) != NULL) {
        cr_assert_not_null(strstr(line, "custos: invalid configuration: CUSTOS_"), "%s", line);
        lines++;
    }
    cr_assert_eq(lines, 11, "%d problem lines", lines);
}

Test(config, an_hs256_secret_is_refused_outside_dev_mode)
{
    setenv("CUSTOS_JWT_HS256_SECRET", "0123456789abcdef0123456789abcdef", 1);
    struct cu_config cfg;
    cr_assert_eq(cu_config_load(&cfg, 0), CU_ERR_CONFIG);
    cu_config_cleanup(&cfg);
    setenv("CUSTOS_DEV", "1", 1);
    cr_assert_eq(cu_config_load(&cfg, 0), CU_OK);
    cr_assert_eq(cfg.hs256_secret_len, 32);
    cu_config_cleanup(&cfg);
}

Test(config, a_short_hs256_secret_is_refused)
{
    setenv("CUSTOS_DEV", "1", 1);
    setenv("CUSTOS_JWT_HS256_SECRET", "short", 1);
    struct cu_config cfg;
    cr_assert_eq(cu_config_load(&cfg, 0), CU_ERR_CONFIG);
    cu_config_cleanup(&cfg);
}

Test(config, secrets_come_from_files_without_their_line_end)
{
    setenv("CUSTOS_DATABASE_PASSWORD_FILE", key_file, 1);
    struct cu_config cfg;
    cr_assert_eq(cu_config_load(&cfg, 0), CU_OK);
    cr_assert_str_eq(cfg.database_password, "secret-password");
    cu_config_cleanup(&cfg);
    setenv("CUSTOS_DATABASE_PASSWORD_FILE", "/nonexistent/password", 1);
    cr_assert_eq(cu_config_load(&cfg, 0), CU_ERR_CONFIG);
    cu_config_cleanup(&cfg);
}

Test(config, listen_addresses_take_ipv6_brackets_and_refuse_bad_ports)
{
    struct cu_config cfg;
    setenv("CUSTOS_LISTEN", "[::1]:9443", 1);
    cr_assert_eq(cu_config_load(&cfg, 0), CU_OK);
    cr_assert_str_eq(cfg.listen_host, "::1");
    cr_assert_eq(cfg.listen_port, 9443);
    cu_config_cleanup(&cfg);
    const char *bad[] = {"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", ":80", "x:80x", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        setenv("CUSTOS_LISTEN", bad[i], 1);
        cr_assert_eq(cu_config_load(&cfg, 0), CU_ERR_CONFIG, "%s was accepted", bad[i]);
        cu_config_cleanup(&cfg);
    }
}

Test(config, required_variables_depend_on_the_verb)
{
    struct cu_config cfg;
    cr_assert_eq(cu_config_load(&cfg, 0), CU_OK);
    cu_config_cleanup(&cfg);
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_DB), CU_ERR_CONFIG);
    cu_config_cleanup(&cfg);
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_AUTH), CU_ERR_CONFIG);
    cu_config_cleanup(&cfg);
}

Test(config, the_http_mode_is_epoll_or_threads)
{
    struct cu_config cfg;
    setenv("CUSTOS_HTTP_MODE", "threads", 1);
    cr_assert_eq(cu_config_load(&cfg, 0), CU_OK);
    cu_config_cleanup(&cfg);
    setenv("CUSTOS_HTTP_MODE", "select", 1);
    cr_assert_eq(cu_config_load(&cfg, 0), CU_ERR_CONFIG);
    cu_config_cleanup(&cfg);
}

Test(config, the_jwks_comes_from_one_source_and_a_url_is_https)
{
    struct cu_config cfg;
    setenv("CUSTOS_JWT_ISSUER", "https://idp.example/", 1);
    setenv("CUSTOS_JWT_AUDIENCE", "custos", 1);
    setenv("CUSTOS_JWKS_URL", "https://idp.example/jwks.json", 1);
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_AUTH), CU_OK);
    cr_assert_str_eq(cfg.jwks_url, "https://idp.example/jwks.json");
    cr_assert_eq(cfg.jwks_refresh_s, 300);
    cr_assert_eq(cfg.jwks_min_refetch_s, 30);
    cr_assert_eq(cfg.jwks_timeout_ms, 2000);
    cu_config_cleanup(&cfg);
    setenv("CUSTOS_JWKS_URL", "http://idp.example/jwks.json", 1);
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_AUTH), CU_ERR_CONFIG, "plain http accepted");
    cu_config_cleanup(&cfg);
    setenv("CUSTOS_JWKS_URL", "https://idp.example/jwks.json", 1);
    setenv("CUSTOS_OIDC_DISCOVERY", "1", 1);
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_AUTH), CU_ERR_CONFIG, "two sources accepted");
    cu_config_cleanup(&cfg);
    unsetenv("CUSTOS_JWKS_URL");
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_AUTH), CU_OK, "discovery alone refused");
    cu_config_cleanup(&cfg);
    setenv("CUSTOS_JWT_ISSUER", "http://idp.example/", 1);
    cr_assert_eq(cu_config_load(&cfg, CU_NEED_AUTH), CU_ERR_CONFIG, "discovery over http");
    cu_config_cleanup(&cfg);
    unsetenv("CUSTOS_JWT_ISSUER");
    unsetenv("CUSTOS_JWT_AUDIENCE");
}
