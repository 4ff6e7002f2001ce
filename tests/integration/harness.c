/* Integration-test harness: libcurl for HTTP(S), raw sockets for framing, fork/exec for
 * extra servers. Everything here fails loudly: a missing environment aborts the test. */
#include "harness.h"

#include "support/hex.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char *
t_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        fprintf(stderr, "harness: %s is not set: run the tests with `make test`\n", name);
        abort();
    }
    return v;
}

long long
t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct t_server *
t_shared(void)
{
    static struct t_server s;
    if (s.port == 0) {
        snprintf(s.base, sizeof(s.base), "%s", t_env("CUSTOS_TEST_URL"));
        const char *colon = strrchr(s.base, ':');
        s.port = colon ? atoi(colon + 1) : 0;
        s.tls = strncmp(s.base, "https:", 6) == 0;
        snprintf(s.log_path, sizeof(s.log_path), "%s", t_env("CUSTOS_TEST_SERVER_LOG"));
    }
    return &s;
}

void
t_resp_free(struct t_resp *r)
{
    free(r->body);
    free(r->headers);
    if (r->json != NULL) {
        json_decref(r->json);
    }
    memset(r, 0, sizeof(*r));
}

struct growbuf {
    char *data;
    size_t len;
};

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct growbuf *b = userdata;
    size_t n = size * nmemb;
    char *p = realloc(b->data, b->len + n + 1);
    if (p == NULL) {
        return 0;
    }
    memcpy(p + b->len, ptr, n);
    b->data = p;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* t_request; quiet: no line on stderr when it fails (polling a server that is starting) */
static int
request(const struct t_server *s, const char *method, const char *path, const char *token,
        const char *body, const char *const *headers, int quiet, struct t_resp *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    if (c == NULL) {
        return -1;
    }
    char url[16384]; /* paths up to the server's request-line limit tests use */
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    struct curl_slist *hl = NULL;
    char auth[16384];
    if (token != NULL) {
        if (strncmp(token, "Basic ", 6) == 0 || strncmp(token, "Bearer ", 7) == 0) {
            snprintf(auth, sizeof(auth), "Authorization: %s", token);
        } else {
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        }
        hl = curl_slist_append(hl, auth);
    }
    int expect = 0;
    for (int i = 0; headers != NULL && headers[i] != NULL; i++) {
        hl = curl_slist_append(hl, headers[i]);
        expect |= strncasecmp(headers[i], "Expect:", 7) == 0;
    }
    if (!expect) {
        hl = curl_slist_append(hl, "Expect:");
    }
    struct growbuf b = {0}, h = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    /* a client that asks first waits for the answer, however loaded the machine */
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 20000L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (s->tls) {
        curl_easy_setopt(c, CURLOPT_CAINFO, t_env("CUSTOS_TEST_CA"));
    }
    CURLcode rc = curl_easy_perform(c);
    curl_off_t up = 0;
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
    out->uploaded = (long long)up;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    } else {
        /* curl's own words (e.g. "Recv failure: Connection reset by peer"), else its code */
        snprintf(out->error, sizeof(out->error), "curl error %d: %s", (int)rc,
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        if (!quiet) {
            /* in the test's output whatever its assertion says (some tests expect a cut) */
            fprintf(stderr, "harness: %s %s%s: %s\n", method, s->base, path, out->error);
        }
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = b.data ? b.data : calloc(1, 1);
    out->body_len = b.len;
    out->headers = h.data ? h.data : calloc(1, 1);
    if (b.len > 0) {
        out->json = json_loadb(out->body, out->body_len, 0, NULL);
    }
    return rc == CURLE_OK ? 0 : -1;
}

int
t_request(const struct t_server *s, const char *method, const char *path, const char *token,
          const char *body, const char *const *headers, struct t_resp *out)
{
    return request(s, method, path, token, body, headers, 0, out);
}

int
t_json(const struct t_server *s, const char *method, const char *path, const char *token,
       const char *body, struct t_resp *out)
{
    const char *headers[] = {"Content-Type: application/json", NULL};
    return t_request(s, method, path, token, body, headers, out);
}

int
t_header(const struct t_resp *r, const char *name, char *out, size_t out_len)
{
    size_t n = strlen(name);
    for (const char *line = r->headers; line != NULL && *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vlen = len - (size_t)(v - line);
            if (vlen >= out_len) {
                vlen = out_len - 1;
            }
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return 1;
        }
        line = end ? end + 2 : NULL;
    }
    return 0;
}

static int
free_port(void)
{
    /* below the kernel's ephemeral range (ip_local_port_range, 32768-60999 here): a port
     * picked there can be taken, before the server binds it, by any process's outgoing
     * connection; here only another free_port can, and it checks */
    static _Atomic unsigned seq;
    unsigned start = (unsigned)getpid() * 7919u + atomic_fetch_add(&seq, 1) * 104729u;
    for (unsigned i = 0; i < 2000; i++) {
        int port = 20000 + (int)((start + i * 7u) % 12000u);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok) {
            return port;
        }
    }
    return -1;
}

/* In a forked child: applies env overrides ("NAME=value"; "NAME=" unsets), sends output to
 * log_path and execs `custos verb`. Never returns. */
static void
exec_custos(const char *const *env, const char *verb, const char *log_path)
{
    for (int i = 0; env != NULL && env[i] != NULL; i++) {
        const char *eq = strchr(env[i], '=');
        char name[128];
        size_t n = (size_t)(eq - env[i]);
        snprintf(name, sizeof(name), "%.*s", (int)n, env[i]);
        if (eq[1] == '\0') {
            unsetenv(name);
        } else {
            setenv(name, eq + 1, 1);
        }
    }
    FILE *log = fopen(log_path, "a");
    if (log != NULL) {
        dup2(fileno(log), STDERR_FILENO);
        dup2(fileno(log), STDOUT_FILENO);
    }
    const char *bin = t_env("CUSTOS_TEST_BIN");
    execl(bin, bin, verb, (char *)NULL);
    _exit(127);
}

int
t_run(const char *const *env, const char *verb)
{
    char log_path[256];
    snprintf(log_path, sizeof(log_path), "%s/spawned-%s-%d.log", t_env("CUSTOS_TEST_WORKDIR"),
             verb, (int)getpid());
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        exec_custos(env, verb, log_path);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void log_tail(const char *path);

/* Polls path until it answers 200 (1), the server exits (-1) or tries run out (0). */
static int
wait_for(struct t_server *s, const char *path, int tries)
{
    for (int i = 0; i < tries; i++) {
        struct t_resp r;
        int ok = request(s, "GET", path, NULL, NULL, NULL, 1, &r) == 0 && r.status == 200;
        t_resp_free(&r);
        if (ok) {
            return 1;
        }
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1;
        }
        usleep(50 * 1000);
    }
    return 0;
}

static int
spawn(const char *const *env, int tls, int ready, struct t_server *out)
{
    memset(out, 0, sizeof(*out));
    out->port = free_port();
    out->tls = tls;
    snprintf(out->base, sizeof(out->base), "%s://127.0.0.1:%d", tls ? "https" : "http",
             out->port);
    snprintf(out->log_path, sizeof(out->log_path), "%s/spawned-%d.log",
             t_env("CUSTOS_TEST_WORKDIR"), out->port);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", out->port);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        setenv("CUSTOS_LISTEN", listen, 1);
        if (!tls) {
            unsetenv("CUSTOS_TLS_CERT_FILE");
            unsetenv("CUSTOS_TLS_KEY_FILE");
        }
        exec_custos(env, "serve", out->log_path);
    }
    out->pid = pid;
    int up = wait_for(out, "/healthz", 300);
    if (up == 0) {
        t_stop(out);
    }
    if (up != 1) {
        fprintf(stderr, "t_spawn: the server on port %d did not come up (log %s)\n", out->port,
                out->log_path);
        log_tail(out->log_path);
        return -1;
    }
    /* a loaded machine can fail the start-up readiness check (a database wait past its
     * deadline); the node retries each second: a test starts once it serves. Never ready in
     * 30 s: the test's own assertions say what answered. */
    return ready && wait_for(out, "/readyz", 600) < 0 ? -1 : 0;
}

int
t_spawn(const char *const *env, int tls, struct t_server *out)
{
    return spawn(env, tls, 1, out);
}

int
t_spawn_unready(const char *const *env, int tls, struct t_server *out)
{
    return spawn(env, tls, 0, out);
}

/* The last lines of a server's log on stderr: test.sh removes the log with its directory, and a
 * crash at shutdown (once a SIGABRT in test_tenants, log gone) must leave its reason in CI's
 * output. */
static void
log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    char *lines[30] = {0};
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        free(lines[n % 30]);
        lines[n % 30] = strdup(line);
        n++;
    }
    fclose(f);
    fprintf(stderr, "t_stop: the log's last lines:\n");
    for (int i = n > 30 ? n - 30 : 0; i < n; i++) {
        fprintf(stderr, "  | %s", lines[i % 30] != NULL ? lines[i % 30] : "\n");
    }
    for (int i = 0; i < 30; i++) {
        free(lines[i]);
    }
}

int
t_stop(struct t_server *s)
{
    if (s->pid <= 0) {
        return -1;
    }
    kill(s->pid, SIGTERM);
    int status = 0;
    /* a server drains for up to 10 s; under SANITIZE on a loaded machine the rest of its
     * shutdown can take seconds more */
    for (int i = 0; i < 600; i++) {
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                fprintf(stderr, "t_stop: the server exited %d (log %s)\n", WEXITSTATUS(status),
                        s->log_path);
                log_tail(s->log_path);
            } else if (WIFSIGNALED(status)) {
                fprintf(stderr, "t_stop: the server died of signal %d (log %s)\n",
                        WTERMSIG(status), s->log_path);
                log_tail(s->log_path);
            }
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "t_stop: the server did not stop within 30 s of SIGTERM (log %s)\n",
            s->log_path);
    log_tail(s->log_path);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = 0;
    return -1;
}

static int
connect_from(int port, const char *src_ip)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    if (src_ip != NULL) {
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
        inet_pton(AF_INET, src_ip, &src.sin_addr);
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int
t_open_idle(int port, const char *src_ip)
{
    return connect_from(port, src_ip);
}

char *
t_raw(int port, const char *src_ip, const char *data, size_t len, int timeout_ms, int *closed)
{
    *closed = 0;
    int fd = connect_from(port, src_ip);
    if (fd < 0) {
        return NULL;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr <= 0) {
            break;
        }
        if (used + 1024 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = recv(fd, buf + used, cap - used - 1, 0);
        if (n <= 0) {
            *closed = 1;
            break;
        }
        used += (size_t)n;
    }
    buf[used] = '\0';
    close(fd);
    return buf;
}

void
t_tenant_id(char out[32])
{
    out[0] = 't';
    out[1] = '-';
    t_random_hex(6, out + 2);
}

void
t_db_url(const char *db, int admin, char *out, size_t out_len)
{
    /* libpq takes the last of a repeated keyword */
    snprintf(out, out_len, "%s dbname=%s",
             t_env(admin ? "CUSTOS_TEST_ADMIN_DB_URL" : "CUSTOS_DATABASE_URL"), db);
}

int
t_db_create(char out[64])
{
    char id[32];
    t_tenant_id(id);
    snprintf(out, 64, "custos_t_%s", id + 2);
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", out);
    char *done = t_sql(sql);
    if (done == NULL) {
        return -1;
    }
    free(done);
    char url[1024];
    t_db_url(out, 1, url, sizeof(url));
    char setting[1100];
    snprintf(setting, sizeof(setting), "CUSTOS_MIGRATE_DATABASE_URL=%s", url);
    const char *env[] = {setting, NULL};
    return t_run(env, "migrate") == 0 ? 0 : -1;
}

int
t_db_drop(const char *db)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    char *done = t_sql(sql);
    free(done);
    return done != NULL ? 0 : -1;
}

static char *
sql_at(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return NULL;
    }
    PGresult *r = PQexec(pg, sql);
    char *out = NULL;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) {
        out = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    } else if (st == PGRES_COMMAND_OK) {
        out = strdup(PQcmdTuples(r));
    }
    PQclear(r);
    PQfinish(pg);
    return out;
}

char *
t_sql(const char *sql)
{
    return sql_at(t_env("CUSTOS_TEST_ADMIN_DB_URL"), sql);
}

char *
t_sql_in(const char *db, const char *sql)
{
    char url[1024];
    t_db_url(db, 1, url, sizeof(url));
    return sql_at(url, sql);
}
