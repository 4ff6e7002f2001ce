/* `custos serve`: configuration, keys, auth and database in dependency order, the background
 * jobs thread (root-key check until ready, then the sweep on a timer), the HTTPS server, and
 * signals (SIGHUP reloads the JWKS file or refetches the JWKS URL, SIGTERM/SIGINT stop after
 * in-flight requests). */
#include "cmd/cmd.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crash.h"
#include "core/log.h"
#include "core/metrics.h"
#include "crypto/keys.h"
#include "crypto/secret.h"
#include "http/http.h"
#include "service/audit_chain.h"
#include "service/ratelimit.h"
#include "service/subjects.h"
#include "service/tenants.h"
#include "service/unit_commit.h"

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
run_sweep(struct cu_svc *svc, int first)
{
    int rewrapped = 0, destroyed = 0;
    if (cu_keys_sweep(svc, &rewrapped, &destroyed) != CU_OK) {
        cu_log(CU_LOG_WARN, "sweep failed", "reason", cu_err_reason(), NULL);
    } else if (rewrapped > 0 || destroyed > 0) {
        char a[24], b[24];
        snprintf(a, sizeof(a), "%d", rewrapped);
        snprintf(b, sizeof(b), "%d", destroyed);
        cu_log(CU_LOG_INFO, "sweep", "rewrapped_subject_keys", a, "destroyed_key_versions", b,
               NULL);
    }
    /* the audit pass (every tenant, several statements each) starts at the second pass: a node
     * that starts does its key jobs at once and is not slowed by it; the other nodes, and
     * verification itself, seal meanwhile */
    long long sealed = 0;
    if (!first && cu_audit_seal_all(svc, &sealed) != CU_OK) {
        cu_log(CU_LOG_WARN, "audit sealing failed", "reason", cu_err_reason(), NULL);
    }
    /* retention (several nodes at once take disjoint batches) and the DSR clock's gauges */
    long long expired = 0;
    if (!first && cu_retention_sweep_all(svc, &expired) != CU_OK) {
        cu_log(CU_LOG_WARN, "retention sweep failed", "reason", cu_err_reason(), NULL);
    } else if (expired > 0) {
        char n[24];
        snprintf(n, sizeof(n), "%lld", expired);
        cu_log(CU_LOG_INFO, "retention", "erased_records", n, NULL);
    }
    if (cu_dsr_count_all(svc) != CU_OK) {
        cu_log(CU_LOG_WARN, "dsr count failed", "reason", cu_err_reason(), NULL);
    }
    if (!first && cu_ratelimit_gc_all(svc) != CU_OK) {
        cu_log(CU_LOG_WARN, "rate-limit clean-up failed", "reason", cu_err_reason(), NULL);
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
        CU_BAIL(CU_ERR_UNAVAILABLE, "schema %d < %d", version, app->schema_latest);
    }
    return cu_keyring_verify_root(svc->keyring, svc->db);
}

static void *
jobs_main(void *arg)
{
    struct jobs *j = arg;
    int wait_s = 1;
    int passes = 0;
    while (!atomic_load(&j->stop)) {
        if (!j->app->ready) {
            enum cu_err rc = check_ready(j->app, j->svc);
            if (rc == CU_OK) {
                j->app->ready = 1;
                cu_log(CU_LOG_INFO, "root key verified", NULL);
                wait_s = j->interval_s > 0 ? j->interval_s : 3600;
            } else if (rc == CU_ERR_CONFIG) {
                cu_log(CU_LOG_ERROR, "refusing to serve", "reason", cu_err_reason(), NULL);
                atomic_store(&j->fatal, 1);
                kill(getpid(), SIGTERM);
                return NULL;
            }
        } else if (j->interval_s > 0) {
            /* a rotation by another process is noticed here too, not only by requests and
             * /readyz (the result is logged by the keyring) */
            if (cu_keyring_root_check(j->svc->keyring, j->svc->db) == CU_OK) {
                run_sweep(j->svc, passes++ == 0);
            }
            /* ready from the start: the first pass ran at once, the next after the interval
             * (wait_s stayed at the readiness retry's second, so the sweep ran every second) */
            wait_s = j->interval_s;
        } else {
            wait_s = 3600; /* no timer on this node: `custos sweep` runs elsewhere */
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

int
cu_cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct cu_config cfg;
    struct cu_db *db = NULL;
    struct cu_auth *auth = NULL;
    struct cu_server *server = NULL;
    struct cu_secret *root = NULL;
    struct cu_keyring *keyring = NULL;
    int status = 1;
    int jobs_started = 0;
    struct cu_unit_commit *audit_writer = NULL;
    struct cu_unit_commit *unit_writer = NULL;
    struct jobs jobs = {0};
    pthread_t jobs_thread;

    if (cu_config_load(&cfg, CU_NEED_DB | CU_NEED_ROOT_KEY | CU_NEED_AUTH) != CU_OK) {
        cu_config_cleanup(&cfg);
        return 1;
    }
    cu_cmd_apply_log_level(&cfg);
    if (cfg.dev) {
        cu_log(CU_LOG_WARN, "development mode: HS256 tokens are accepted", NULL);
    }
    if (cu_root_key_load_file(cfg.root_key_file, &root) != CU_OK) {
        status = cu_cmd_fail("could not load the root key");
        goto out;
    }
    keyring = cu_keyring_new(root, 10000, 60);
    root = NULL;
    cu_keyring_set_root_files(keyring, cfg.root_key_file, cfg.root_key_next_file);
    struct cu_auth_opts ao;
    cu_cmd_auth_opts(&cfg, &ao);
    if (cu_auth_new(&ao, &auth) != CU_OK) {
        status = cu_cmd_fail("could not load the JWT keys");
        goto out;
    }
    struct cu_db_opts dbo = {.url = cfg.database_url,
                             .password = cfg.database_password,
                             .pool_size = cfg.db_pool,
                             .timeout_ms = cfg.db_timeout_ms,
                             .unnamed = !cfg.db_prepared};
    if (cu_db_new(&dbo, &db) != CU_OK) {
        status = cu_cmd_fail("could not set up the database pool");
        goto out;
    }
    struct cu_rate_limits rate;
    cu_ratelimit_limits(&rate, cfg.rate_tokenize, cfg.rate_tokenize_window_s, cfg.rate_search,
                        cfg.rate_search_window_s, cfg.rate_verify, cfg.rate_verify_window_s,
                        cfg.verify_attempts, cfg.verify_window_s);
    struct cu_svc svc = {.db = db, .keyring = keyring, .rate = &rate};
    struct cu_app app = {.cfg = &cfg,
                         .db = db,
                         .auth = auth,
                         .svc = &svc,
                         .schema_latest = cu_migrate_latest(),
                         .ready = 0};

    /* a wrong root key stops start-up before anything is served or written; a database that
     * is down only delays the check (readyz says 503 meanwhile) */
    enum cu_err vrc = check_ready(&app, &svc);
    if (vrc == CU_ERR_CONFIG) {
        status = cu_cmd_fail("refusing to start");
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
    cu_crash_report_install();

    if (cu_auth_start(auth) != CU_OK) {
        status = cu_cmd_fail("could not start the JWKS refresher");
        goto out;
    }
    jobs.app = &app;
    jobs.svc = &svc;
    jobs.interval_s = cfg.sweep_interval_s;
    pthread_mutex_init(&jobs.mu, NULL);
    pthread_cond_init(&jobs.cv, NULL);
    if (pthread_create(&jobs_thread, NULL, jobs_main, &jobs) != 0) {
        status = cu_cmd_fail("could not start the background jobs");
        goto out;
    }
    jobs_started = 1;
    /* the group-commit writer of audit entries (a thread: after the signals are blocked) */
    if (cu_unit_commit_new(db, &audit_writer) != CU_OK) {
        status = cu_cmd_fail("could not start the audit writer");
        goto out;
    }
    svc.audit_writer = audit_writer;
    /* and of tokenize's rows */
    if (cu_unit_commit_new(db, &unit_writer) != CU_OK) {
        status = cu_cmd_fail("could not start the tokenize writer");
        goto out;
    }
    svc.unit_writer = unit_writer;

    if (cu_server_start(&app, &server) != CU_OK) {
        status = cu_cmd_fail("could not start");
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
                cu_log(CU_LOG_INFO,
                       cfg.jwks_file != NULL ? "reloaded the JWKS"
                                             : "asked the identity provider for its keys",
                       NULL);
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
    /* after the server: no request waits on it any more */
    cu_unit_commit_free(unit_writer);
    cu_unit_commit_free(audit_writer);
    cu_db_free(db);
    cu_auth_free(auth);
    cu_keyring_free(keyring);
    cu_secret_free(root);
    cu_config_cleanup(&cfg);
    return status;
}
