/* PostgreSQL stopped under load: every request that needs it answers 503 within 5 s (never
 * 500, never a hang), /readyz says 503, and service comes back by itself when the database
 * does. Runs alone, after the other suites, because it stops the shared cluster. */
#include "harness.h"
#include "idp.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct t_server srv;
static atomic_int stop_load;
static atomic_int n_500, n_slow, n_ok, n_503, n_other;

static void
pg(const char *verb)
{
    char cmd[1024];
    if (strcmp(verb, "stop") == 0) {
        snprintf(cmd, sizeof(cmd), "scripts/pg.sh stop %s", t_env("CUSTOS_TEST_PG_DIR"));
    } else {
        snprintf(cmd, sizeof(cmd), "scripts/pg.sh start %s %s fast", t_env("CUSTOS_TEST_PG_DIR"),
                 t_env("CUSTOS_TEST_PG_PORT"));
    }
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

static void *
load(void *arg)
{
    const char *path = arg;
    char *admin = t_token(NULL, "vault:admin");
    while (!atomic_load(&stop_load)) {
        struct t_resp r;
        long long t0 = t_now_ms();
        int rc = t_request(&srv, "GET", path, admin, NULL, NULL, &r);
        long long took = t_now_ms() - t0;
        if (rc != 0 || took > 5500) {
            atomic_fetch_add(&n_slow, 1);
        } else if (r.status >= 500 && r.status != 503) {
            atomic_fetch_add(&n_500, 1);
        } else if (r.status == 503) {
            atomic_fetch_add(&n_503, 1);
        } else if (r.status == 200) {
            atomic_fetch_add(&n_ok, 1);
        } else {
            atomic_fetch_add(&n_other, 1);
        }
        t_resp_free(&r);
        usleep(20 * 1000);
    }
    return NULL;
}

static long
status_of(const char *path)
{
    struct t_resp r;
    char *admin = t_token(NULL, "vault:admin");
    long s = t_request(&srv, "GET", path, admin, NULL, NULL, &r) == 0 ? r.status : -1;
    t_resp_free(&r);
    return s;
}

Test(outage, database_down_gives_503_and_service_recovers_without_restart, .timeout = 120)
{
    const char *env[] = {"CUSTOS_DB_TIMEOUT_MS=2000", NULL};
    cr_assert_eq(t_spawn(env, 0, &srv), 0);
    cr_assert_eq(status_of("/readyz"), 200);

    const char *paths[] = {"/readyz", "/v1/tenants", "/readyz", "/v1/tenants"};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, load, (void *)paths[i]);
    }
    usleep(300 * 1000);
    pg("stop");
    sleep(3);
    long during = status_of("/readyz");
    long long t0 = t_now_ms();
    long during_api = status_of("/v1/tenants");
    long long api_ms = t_now_ms() - t0;
    pg("start");
    long after = -1;
    for (int i = 0; i < 100 && after != 200; i++) {
        usleep(100 * 1000);
        after = status_of("/readyz");
    }
    long after_api = status_of("/v1/tenants");
    atomic_store(&stop_load, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    cr_assert_eq(t_stop(&srv), 0);

    cr_assert_eq(during, 503, "readyz during the outage: %ld", during);
    cr_assert_eq(during_api, 503, "an API call during the outage: %ld", during_api);
    cr_assert_lt(api_ms, 5000, "the 503 took %lld ms", api_ms);
    cr_assert_eq(after, 200, "readyz after the outage: %ld", after);
    cr_assert_eq(after_api, 200, "an API call after the outage: %ld", after_api);
    cr_assert_eq(atomic_load(&n_500), 0, "%d responses were 5xx other than 503",
                 atomic_load(&n_500));
    cr_assert_eq(atomic_load(&n_slow), 0, "%d requests hung or failed", atomic_load(&n_slow));
    cr_assert_gt(atomic_load(&n_503), 0);
    cr_assert_gt(atomic_load(&n_ok), 0);
}
