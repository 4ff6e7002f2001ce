/* custos: start-up order, signals and verb dispatch; nothing else. */
#include "auth/jwt.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/keys.h"
#include "crypto/secret.h"
#include "http/http.h"
#include "storage/db.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

static void
usage(FILE *to)
{
    fprintf(to, "usage: custos <verb> [options]\n"
                "  serve                      run the HTTPS service\n"
                "  migrate                    apply database migrations\n"
                "  keygen                     print a fresh base64 root key\n"
                "  dev-token --tenant T --scope S [--sub S] [--ttl N]\n"
                "                             mint a development JWT (CUSTOS_DEV=1)\n"
                "  help                       this text and the configuration variables\n");
}

static int
fail(const char *what)
{
    const char *reason = cu_err_reason();
    fprintf(stderr, "custos: %s%s%s\n", what, reason[0] ? ": " : "", reason);
    return 1;
}

/* Core dumps could hold keys and customer data. */
static void
harden_process(void)
{
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

static void
apply_log_level(const struct cu_config *cfg)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (cfg->log_level != NULL && strcmp(cfg->log_level, names[i]) == 0) {
            cu_log_set_level((enum cu_log_level)i);
        }
    }
}

static void
auth_opts_from(const struct cu_config *cfg, struct cu_auth_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->jwks_file = cfg->jwks_file;
    o->issuer = cfg->jwt_issuer;
    o->audience = cfg->jwt_audience;
    o->tenant_claim = cfg->jwt_tenant_claim;
    o->hs256_secret = cfg->hs256_secret;
    o->hs256_secret_len = cfg->hs256_secret_len;
    o->dev = cfg->dev;
    o->cache_entries = (size_t)cfg->jwt_cache_entries;
    o->leeway_seconds = 60;
}

static int
cmd_serve(void)
{
    struct cu_config cfg;
    struct cu_db *db = NULL;
    struct cu_auth *auth = NULL;
    struct cu_server *server = NULL;
    struct cu_secret *root = NULL;
    int status = 1;

    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY | CU_NEED_AUTH) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    apply_log_level(&cfg);
    if (cfg.dev) {
        cu_log(CU_LOG_WARN, "development mode: HS256 tokens are accepted", NULL);
    }
    if (cu_root_key_load_file(cfg.root_key_file, &root) != CU_OK) {
        status = fail("could not load the root key");
        goto out;
    }
    struct cu_auth_opts ao;
    auth_opts_from(&cfg, &ao);
    if (cu_auth_new(&ao, &auth) != CU_OK) {
        status = fail("could not load the JWT keys");
        goto out;
    }
    struct cu_db_opts dbo = {.url = cfg.database_url, .password = cfg.database_password,
                             .pool_size = cfg.db_pool, .timeout_ms = cfg.db_timeout_ms};
    if (cu_db_new(&dbo, &db) != CU_OK) {
        status = fail("could not set up the database pool");
        goto out;
    }
    struct cu_app app = {.cfg = &cfg, .db = db, .auth = auth,
                         .schema_latest = cu_migrate_latest(), .keys_loaded = 1};

    const char *patterns[128];
    size_t nroutes = cu_routes_count < 128 ? cu_routes_count : 128;
    for (size_t i = 0; i < nroutes; i++) {
        patterns[i] = cu_routes[i].pattern;
    }
    cu_metrics_init(patterns, nroutes);

    /* signals are taken by sigwait below: block them before any thread starts */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (cu_server_start(&app, &server) != CU_OK) {
        status = fail("could not start");
        goto out;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg.listen_port);
    cu_log(CU_LOG_INFO, "listening", "host", cfg.listen_host, "port", port, "tls",
           cfg.tls_cert_file ? "on" : "off (behind a TLS proxy only)", NULL);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            if (cu_auth_reload(auth) == CU_OK) {
                cu_log(CU_LOG_INFO, "reloaded the JWKS", NULL);
            } else {
                cu_log(CU_LOG_ERROR, "kept the old JWKS: the new file was refused", "reason",
                       cu_err_reason(), NULL);
            }
            continue;
        }
        cu_log(CU_LOG_INFO, "shutting down: finishing in-flight requests", NULL);
        break;
    }
    cu_server_stop(server, 10000);
    status = 0;
    cu_log(CU_LOG_INFO, "stopped", NULL);
out:
    cu_db_free(db);
    cu_auth_free(auth);
    cu_secret_free(root);
    cu_config_cleanup(&cfg);
    return status;
}

static int
cmd_migrate(void)
{
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_MIGRATE_DB) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    int status = 0;
    const char *owner_password = cfg.migrate_database_password ? cfg.migrate_database_password
                                                                : cfg.database_password;
    if (cu_migrate(cfg.migrate_database_url, owner_password, cfg.app_db_password,
                   cfg.db_timeout_ms) != CU_OK) {
        status = fail("migration failed");
    }
    cu_config_cleanup(&cfg);
    return status;
}

static int
cmd_keygen(void)
{
    char key[64];
    if (cu_keygen_base64(key) != CU_OK) {
        return fail("could not generate a key");
    }
    printf("%s\n", key);
    cu_cleanse(key, sizeof(key));
    return 0;
}

static int
cmd_dev_token(int argc, char **argv)
{
    const char *tenant = NULL;
    const char *scope = NULL;
    const char *sub = "dev-user";
    long long ttl = 3600;
    static const struct option longopts[] = {{"tenant", required_argument, NULL, 't'},
                                             {"scope", required_argument, NULL, 's'},
                                             {"sub", required_argument, NULL, 'u'},
                                             {"ttl", required_argument, NULL, 'l'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            tenant = optarg;
            break;
        case 's':
            scope = optarg;
            break;
        case 'u':
            sub = optarg;
            break;
        case 'l':
            ttl = strtoll(optarg, NULL, 10);
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (scope == NULL || ttl <= 0 || ttl > 86400 * 30) {
        fprintf(stderr, "custos: dev-token needs --scope and a --ttl from 1 to 2592000\n");
        return 2;
    }
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_AUTH) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    struct cu_auth_opts ao;
    auth_opts_from(&cfg, &ao);
    char *token = NULL;
    int status = 0;
    if (cu_auth_mint_dev(&ao, tenant, scope, sub, (long long)time(NULL), ttl, &token) != CU_OK) {
        status = fail("could not mint a dev token");
    } else {
        printf("%s\n", token);
        cu_free_str_wiped(token);
    }
    cu_config_cleanup(&cfg);
    return status;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    harden_process();
    cu_secure_heap_init(1 << 20);
    const char *verb = argv[1];
    if (strcmp(verb, "serve") == 0) {
        return cmd_serve();
    }
    if (strcmp(verb, "migrate") == 0) {
        return cmd_migrate();
    }
    if (strcmp(verb, "keygen") == 0) {
        return cmd_keygen();
    }
    if (strcmp(verb, "dev-token") == 0) {
        return cmd_dev_token(argc - 1, argv + 1);
    }
    if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0) {
        usage(stdout);
        cu_config_print_help();
        return 0;
    }
    fprintf(stderr, "custos: unknown verb %s\n", verb);
    usage(stderr);
    return 2;
}
