/* custos: start-up order, signals and verb dispatch; nothing else. */
#include "auth/jwt.h"
#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/keys.h"
#include "crypto/secret.h"
#include "http/http.h"
#include "service/keyring.h"
#include "service/tenants.h"
#include "storage/db.h"

#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void
usage(FILE *to)
{
    fprintf(to, "usage: custos <verb> [options]\n"
                "  serve                      run the HTTPS service\n"
                "  migrate                    apply database migrations\n"
                "  keygen                     print a fresh base64 root key\n"
                "  sweep                      one pass of the background jobs, then exit\n"
                "  rotate-root --new-key-file F\n"
                "                             re-wrap every tenant key under a new root key\n"
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

/* Background work in serve: verify the root key until the database answers, then run the
 * sweep jobs on a timer. Stops when told to. */
struct jobs {
    struct cu_app *app;
    struct cu_svc *svc;
    int interval_s;
    atomic_int stop;
    atomic_int fatal;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void
run_sweep(struct cu_svc *svc)
{
    int rewrapped = 0, destroyed = 0;
    if (cu_keys_sweep(svc, &rewrapped, &destroyed) != CU_OK) {
        cu_log(CU_LOG_WARN, "sweep failed", "reason", cu_err_reason(), NULL);
        return;
    }
    if (rewrapped > 0 || destroyed > 0) {
        char a[24], b[24];
        snprintf(a, sizeof(a), "%d", rewrapped);
        snprintf(b, sizeof(b), "%d", destroyed);
        cu_log(CU_LOG_INFO, "sweep", "rewrapped_subject_keys", a, "destroyed_key_versions", b,
               NULL);
    }
}

/* Ready to serve tenant requests: the root key matches and the schema is at least the one this
 * binary was built for (migrations are additive, so an older binary keeps working during a
 * rolling upgrade). CU_ERR_CONFIG for a wrong root key; CU_ERR_UNAVAILABLE otherwise. */
static enum cu_err
check_ready(struct cu_app *app, struct cu_svc *svc)
{
    int version = 0;
    CU_GUARD(cu_db_schema_version(svc->db, &version));
    if (version < app->schema_latest) {
        static _Atomic int told;
        if (!atomic_exchange(&told, 1)) {
            char have[16], want[16];
            snprintf(have, sizeof(have), "%d", version);
            snprintf(want, sizeof(want), "%d", app->schema_latest);
            cu_log(CU_LOG_WARN, "the database schema is older than this binary: run custos migrate",
                   "schema", have, "needed", want, NULL);
        }
        CU_BAIL(CU_ERR_UNAVAILABLE, "schema %d < %d", version,
                          app->schema_latest);
    }
    return cu_keyring_verify_root(svc->keyring, svc->db);
}

static void *
jobs_main(void *arg)
{
    struct jobs *j = arg;
    int wait_s = 1;
    while (!atomic_load(&j->stop)) {
        if (!j->app->ready) {
            enum cu_err rc = check_ready(j->app, j->svc);
            if (rc == CU_OK) {
                j->app->ready = 1;
                cu_log(CU_LOG_INFO, "root key verified", NULL);
                wait_s = j->interval_s;
            } else if (rc == CU_ERR_CONFIG) {
                cu_log(CU_LOG_ERROR, "refusing to serve", "reason", cu_err_reason(), NULL);
                atomic_store(&j->fatal, 1);
                kill(getpid(), SIGTERM);
                return NULL;
            }
        } else {
            run_sweep(j->svc);
        }
        pthread_mutex_lock(&j->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_s;
        if (!atomic_load(&j->stop)) {
            pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        }
        pthread_mutex_unlock(&j->mu);
    }
    return NULL;
}

static int
cmd_serve(void)
{
    struct cu_config cfg;
    struct cu_db *db = NULL;
    struct cu_auth *auth = NULL;
    struct cu_server *server = NULL;
    struct cu_secret *root = NULL;
    struct cu_keyring *keyring = NULL;
    int status = 1;
    int jobs_started = 0;
    struct jobs jobs = {0};
    pthread_t jobs_thread;

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
    keyring = cu_keyring_new(root, 10000, 60);
    root = NULL;
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
    struct cu_svc svc = {.db = db, .keyring = keyring};
    struct cu_app app = {.cfg = &cfg, .db = db, .auth = auth, .svc = &svc,
                         .schema_latest = cu_migrate_latest(), .ready = 0};

    /* a wrong root key stops start-up before anything is served or written; a database that
     * is down only delays the check (readyz says 503 meanwhile) */
    enum cu_err vrc = check_ready(&app, &svc);
    if (vrc == CU_ERR_CONFIG) {
        status = fail("refusing to start");
        goto out;
    }
    app.ready = vrc == CU_OK;
    if (vrc != CU_OK) {
        cu_log(CU_LOG_WARN, "not ready at start (database or schema); will keep trying", NULL);
    }

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

    jobs.app = &app;
    jobs.svc = &svc;
    jobs.interval_s = cfg.sweep_interval_s;
    pthread_mutex_init(&jobs.mu, NULL);
    pthread_cond_init(&jobs.cv, NULL);
    if (pthread_create(&jobs_thread, NULL, jobs_main, &jobs) != 0) {
        status = fail("could not start the background jobs");
        goto out;
    }
    jobs_started = 1;

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
    status = atomic_load(&jobs.fatal) ? 1 : 0;
    cu_log(CU_LOG_INFO, "stopped", NULL);
out:
    if (jobs_started) {
        pthread_mutex_lock(&jobs.mu);
        atomic_store(&jobs.stop, 1);
        pthread_cond_signal(&jobs.cv);
        pthread_mutex_unlock(&jobs.mu);
        pthread_join(jobs_thread, NULL);
    }
    cu_db_free(db);
    cu_auth_free(auth);
    cu_keyring_free(keyring);
    cu_secret_free(root);
    cu_config_cleanup(&cfg);
    return status;
}

/* The verbs that work on the database without serving: a keyring with a verified root. */
static int
open_keyring(struct cu_config *cfg, struct cu_db **db, struct cu_keyring **kr)
{
    struct cu_secret *root = NULL;
    if (cu_root_key_load_file(cfg->root_key_file, &root) != CU_OK) {
        return fail("could not load the root key");
    }
    *kr = cu_keyring_new(root, 1000, 60);
    struct cu_db_opts dbo = {.url = cfg->database_url, .password = cfg->database_password,
                             .pool_size = 2, .timeout_ms = cfg->db_timeout_ms};
    if (cu_db_new(&dbo, db) != CU_OK) {
        return fail("could not set up the database pool");
    }
    if (cu_keyring_verify_root(*kr, *db) != CU_OK) {
        return fail("could not verify the root key");
    }
    return 0;
}

static int
cmd_sweep(void)
{
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    apply_log_level(&cfg);
    struct cu_db *db = NULL;
    struct cu_keyring *kr = NULL;
    int status = open_keyring(&cfg, &db, &kr);
    if (status == 0) {
        struct cu_svc svc = {.db = db, .keyring = kr};
        int rewrapped = 0, destroyed = 0;
        if (cu_keys_sweep(&svc, &rewrapped, &destroyed) != CU_OK) {
            status = fail("sweep failed");
        } else {
            printf("re-wrapped %d subject keys, destroyed %d key versions\n", rewrapped,
                   destroyed);
        }
    }
    cu_db_free(db);
    cu_keyring_free(kr);
    cu_config_cleanup(&cfg);
    return status;
}

static int
cmd_rotate_root(int argc, char **argv)
{
    const char *new_file = NULL;
    static const struct option longopts[] = {{"new-key-file", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c != 'n') {
            usage(stderr);
            return 2;
        }
        new_file = optarg;
    }
    if (new_file == NULL) {
        fprintf(stderr, "custos: rotate-root needs --new-key-file\n");
        return 2;
    }
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    struct cu_db *db = NULL;
    struct cu_keyring *kr = NULL;
    struct cu_secret *new_root = NULL;
    int status = open_keyring(&cfg, &db, &kr);
    if (status == 0 && cu_root_key_load_file(new_file, &new_root) != CU_OK) {
        status = fail("could not load the new root key");
    }
    int tenants = 0;
    if (status == 0 && cu_keyring_rotate_root(kr, db, new_root, &tenants) != CU_OK) {
        status = fail("root key rotation failed; nothing was changed");
    }
    if (status == 0) {
        printf("re-wrapped the keys of %d tenants under the new root key; point "
               "CUSTOS_ROOT_KEY_FILE at it and restart every node\n",
               tenants);
    }
    cu_secret_free(new_root);
    cu_db_free(db);
    cu_keyring_free(kr);
    cu_config_cleanup(&cfg);
    return status;
}

static int
cmd_migrate(void)
{
    struct cu_config cfg;
    if (cu_config_load(&cfg, CU_NEED_MIGRATE_DB | CU_NEED_ROOT_KEY) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    struct cu_secret *root = NULL;
    uint8_t kcv[32];
    if (cu_root_key_load_file(cfg.root_key_file, &root) != CU_OK ||
        cu_key_check_value(root, kcv) != CU_OK) {
        cu_secret_free(root);
        cu_config_cleanup(&cfg);
        return fail("could not load the root key");
    }
    cu_secret_free(root);
    int status = 0;
    const char *owner_password = cfg.migrate_database_password ? cfg.migrate_database_password
                                                                : cfg.database_password;
    if (cu_migrate(cfg.migrate_database_url, owner_password, cfg.app_db_password, kcv,
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
    cu_wipe(key, sizeof(key));
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
    /* jansson holds request values (plaintext PII) in its own strings: wipe them when freed */
    json_set_alloc_funcs(malloc, cu_free_wiped);
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
    if (strcmp(verb, "sweep") == 0) {
        return cmd_sweep();
    }
    if (strcmp(verb, "rotate-root") == 0) {
        return cmd_rotate_root(argc - 1, argv + 1);
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
