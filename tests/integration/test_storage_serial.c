/* The storage layer against a database that misbehaves at a chosen moment, through a
 * Unix-socket proxy between a spawned server and the test cluster:
 * - every wait has a deadline, sends included: a database that stops reading in the middle of a
 *   batch of several MiB costs the request a 503, not a worker thread, and the server serves
 *   again once the database reads again (the proxy freezes at the first burst of more than
 *   1 MiB from the server: exactly when a large tokenize sends its writes);
 * - a COMMIT that fails (the proxy drops the connection when it sees one) answers 503 and
 *   leaks nothing built before it (under SANITIZE=1, scripts/test.sh fails on a leak report in
 *   the spawned server's log).
 * The proxy and its traps are process-wide, so the tests must not run in parallel with each
 * other: a serial suite (--jobs=1). Another test's COMMIT once took the drop meant for a GET. */
#include "harness.h"
#include "idp.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { FREEZE_AFTER = 1 << 20 };

static struct {
    int listen_fd;
    char dir[100];
    char upstream[108];
    atomic_int armed;  /* freeze at the next burst of more than FREEZE_AFTER bytes */
    atomic_int frozen; /* relays nothing, in either direction */
    atomic_int drop_commit; /* drops the connection that sends the next COMMIT */
    atomic_int stop;
    pthread_t thread;
} px;

static int
unix_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        close(fd);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int
write_all(int fd, const char *buf, ssize_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL); /* a closed peer is no SIGPIPE */
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        buf += w;
        n -= w;
    }
    return 0;
}

/* Relays one client connection to PostgreSQL until either side closes. */
static void *
relay(void *arg)
{
    int client = (int)(intptr_t)arg;
    int server = unix_connect(px.upstream);
    long long burst = 0; /* bytes from the client since the last byte from the server */
    char buf[65536];
    while (server >= 0 && !atomic_load(&px.stop)) {
        if (atomic_load(&px.frozen)) {
            usleep(10 * 1000);
            continue;
        }
        struct pollfd p[2] = {{.fd = client, .events = POLLIN}, {.fd = server, .events = POLLIN}};
        if (poll(p, 2, 50) <= 0) {
            continue;
        }
        if (p[0].revents) {
            ssize_t n = read(client, buf, sizeof(buf));
            if (n <= 0) {
                break;
            }
            if (memmem(buf, (size_t)n, "COMMIT", 6) != NULL &&
                atomic_exchange(&px.drop_commit, 0)) {
                break;
            }
            if (write_all(server, buf, n) != 0) {
                break;
            }
            burst += n;
            if (burst > FREEZE_AFTER && atomic_exchange(&px.armed, 0)) {
                atomic_store(&px.frozen, 1);
            }
        }
        if (p[1].revents) {
            ssize_t n = read(server, buf, sizeof(buf));
            if (n <= 0 || write_all(client, buf, n) != 0) {
                break;
            }
            burst = 0;
        }
    }
    close(client);
    if (server >= 0) {
        close(server);
    }
    return NULL;
}

static void *
acceptor(void *arg)
{
    (void)arg;
    while (!atomic_load(&px.stop)) {
        struct pollfd p = {.fd = px.listen_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        int fd = accept(px.listen_fd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        pthread_t t;
        pthread_create(&t, NULL, relay, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

/* Listens at <workdir>/proxy-<pid>/.s.PGSQL.<port>, relaying to the test cluster's socket. */
static void
proxy_start(void)
{
    const char *port = t_env("CUSTOS_TEST_PG_PORT");
    snprintf(px.upstream, sizeof(px.upstream), "%s/run/.s.PGSQL.%s", t_env("CUSTOS_TEST_PG_DIR"),
             port);
    snprintf(px.dir, sizeof(px.dir), "%s/proxy-%d", t_env("CUSTOS_TEST_WORKDIR"), (int)getpid());
    mkdir(px.dir, 0700);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.%s", px.dir, port);
    cr_assert_lt(n, (int)sizeof(sa.sun_path), "socket path too long");
    unlink(sa.sun_path);
    px.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(px.listen_fd, 0);
    cr_assert_eq(bind(px.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s",
                 strerror(errno));
    cr_assert_eq(listen(px.listen_fd, 64), 0);
    cr_assert_eq(pthread_create(&px.thread, NULL, acceptor, NULL), 0);
}

static void
proxy_stop(void)
{
    atomic_store(&px.frozen, 0);
    atomic_store(&px.stop, 1);
    pthread_join(px.thread, NULL);
    close(px.listen_fd);
}

static long
post(const struct t_server *srv, const char *path, const char *token, const char *body,
     struct t_resp *r)
{
    return t_json(srv, "POST", path, token, body, r) == 0 ? r->status : -1;
}

/* n records of one text field of len bytes each (heap). */
static char *
notes_batch(int n, size_t len)
{
    char *note = malloc(len + 1);
    memset(note, 'x', len);
    note[len] = '\0';
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        char subject[32];
        snprintf(subject, sizeof(subject), "crm-%d", i);
        json_array_append_new(list, json_pack("{s:s, s:{s:s}}", "subject_id", subject, "fields",
                                              "note", note));
    }
    json_t *body = json_pack("{s:o}", "records", list);
    char *out = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    free(note);
    return out;
}

/* A server whose database is behind the proxy, with no background sweep: its statements would
 * meet the proxy's traps first (its first pass at start walks every tenant of the shared test
 * database, and once took the COMMIT drop meant for a GET). */
static void
spawn_behind_proxy(struct t_server *srv)
{
    proxy_start();
    static char url[512], body_env[64];
    snprintf(url, sizeof(url), "CUSTOS_DATABASE_URL=host=%s port=%s dbname=custos_test "
             "user=custos_app", px.dir, t_env("CUSTOS_TEST_PG_PORT"));
    snprintf(body_env, sizeof(body_env), "CUSTOS_MAX_BODY_BYTES=%d", 16 << 20);
    const char *env[] = {url, body_env, "CUSTOS_DB_TIMEOUT_MS=2000",
                         "CUSTOS_SWEEP_INTERVAL=0", NULL};
    cr_assert_eq(t_spawn(env, 0, srv), 0, "the server did not start");
}

Test(storage, a_large_batch_to_a_database_that_stops_reading_answers_503_and_service_resumes,
     .timeout = 180)
{
    struct t_server srv;
    spawn_behind_proxy(&srv);

    char tenant[32];
    t_tenant_id(tenant);
    struct t_resp r;
    char body[256];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"deadlines\"}", tenant);
    cr_assert_eq(post(&srv, "/v1/tenants", t_token(NULL, "vault:admin"), body, &r), 201, "%s",
                 r.body);
    t_resp_free(&r);
    char *admin = t_token(tenant, "tenant:admin records:write");
    cr_assert_eq(t_json(&srv, "PUT", "/v1/collections/notes", admin,
                        "{\"fields\":{\"note\":{\"type\":\"text\"}}}", &r),
                 0);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    t_resp_free(&r);
    const char *records = "/v1/collections/notes/records";
    char *small = notes_batch(1, 10);
    cr_assert_eq(post(&srv, records, admin, small, &r), 201, "%s", r.body);
    t_resp_free(&r);

    /* 1000 values of 4 KiB: the writes carry more than 8 MiB of hex ciphertext, far more than
     * a Unix socket buffers */
    char *big = notes_batch(1000, 4096);
    atomic_store(&px.armed, 1);
    long status = post(&srv, records, admin, big, &r);
    int froze = atomic_load(&px.frozen);
    atomic_store(&px.frozen, 0);
    cr_assert(froze, "the proxy never froze: the batch was not sent in one burst");
    cr_assert_eq(status, 503, "a frozen database during a large send: %ld (-1: no answer) %s",
                 status, status > 0 ? r.body : "");
    t_resp_free(&r);

    /* the database reads again: so does the server, without a restart */
    long again = -1;
    for (int i = 0; i < 20 && again != 201; i++) {
        again = post(&srv, records, admin, small, &r);
        t_resp_free(&r);
        if (again != 201) {
            usleep(200 * 1000);
        }
    }
    cr_assert_eq(again, 201, "after the freeze: %ld", again);
    cr_assert_eq(t_stop(&srv), 0);
    proxy_stop();
    free(small);
    free(big);
}

static long
get(const struct t_server *srv, const char *path, const char *token)
{
    struct t_resp r;
    long status = t_request(srv, "GET", path, token, NULL, NULL, &r) == 0 ? r.status : -1;
    t_resp_free(&r);
    return status;
}

Test(storage, a_failed_commit_answers_503_and_the_reads_built_before_it_leak_nothing,
     .timeout = 120)
{
    struct t_server srv;
    spawn_behind_proxy(&srv);
    char tenant[32];
    t_tenant_id(tenant);
    struct t_resp r;
    char body[256];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"commits\"}", tenant);
    cr_assert_eq(post(&srv, "/v1/tenants", t_token(NULL, "vault:admin"), body, &r), 201, "%s",
                 r.body);
    t_resp_free(&r);
    char *admin = t_token(tenant, "tenant:admin");
    cr_assert_eq(t_json(&srv, "PUT", "/v1/collections/notes", admin,
                        "{\"fields\":{\"note\":{\"type\":\"text\"}}}", &r),
                 0);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    t_resp_free(&r);
    cr_assert_eq(t_json(&srv, "PUT", "/v1/purposes/support", admin,
                        "{\"description\":\"Support\",\"lawful_basis\":\"contract\"}", &r),
                 0);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    t_resp_free(&r);

    const char *paths[] = {"/v1/collections/notes", "/v1/collections", "/v1/purposes/support",
                           "/v1/purposes"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        cr_assert_eq(get(&srv, paths[i], admin), 200, "%s before", paths[i]);
        atomic_store(&px.drop_commit, 1);
        long status = get(&srv, paths[i], admin);
        int dropped = !atomic_load(&px.drop_commit);
        atomic_store(&px.drop_commit, 0);
        cr_assert(dropped, "%s: no COMMIT went through the proxy", paths[i]);
        cr_assert_eq(status, 503, "%s with a failed COMMIT: %ld", paths[i], status);
        cr_assert_eq(get(&srv, paths[i], admin), 200, "%s after", paths[i]);
    }
    cr_assert_eq(t_stop(&srv), 0);
    proxy_stop();
}
