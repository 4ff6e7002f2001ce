/* Integration-test harness: talks to the server that scripts/test.sh started (HTTPS, real
 * PostgreSQL), spawns extra servers with their own settings, sends raw bytes for framing
 * tests, and mints tokens with the test identity provider's keys. */
#ifndef CU_TEST_HARNESS_H
#define CU_TEST_HARNESS_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

struct t_resp {
    long status;
    char *body;       /* NUL-terminated */
    size_t body_len;
    char *headers;    /* raw header block, NUL-terminated */
    json_t *json;     /* parsed body if it was JSON, else NULL */
    char error[320];  /* when t_request fails: curl's account of what happened */
    long long uploaded; /* request body bytes curl sent */
};

void t_resp_free(struct t_resp *r);

/* A target: the shared server (base URL from CUSTOS_TEST_URL) or a spawned one. */
struct t_server {
    pid_t pid;
    char base[128];   /* "https://127.0.0.1:PORT" or "http://..." */
    int port;
    int tls;
    char log_path[256];
};

/* The shared HTTPS server started by scripts/test.sh. */
const struct t_server *t_shared(void);

/* Sends a request. token may be NULL (no Authorization) or a full header value when it
 * starts with "Basic " / "Bearer "; otherwise it is sent as "Bearer <token>". body may be
 * NULL. headers: NULL-terminated list of extra "Name: value" lines. The body is sent without
 * waiting (no `Expect: 100-continue`) unless headers ask for it. Returns 0 on success; on a
 * transport failure -1, with curl's error text in out->error (also written to stderr). */
int t_request(const struct t_server *s, const char *method, const char *path, const char *token,
              const char *body, const char *const *headers, struct t_resp *out);
/* Shorthand for JSON bodies: sets Content-Type: application/json. */
int t_json(const struct t_server *s, const char *method, const char *path, const char *token,
           const char *body, struct t_resp *out);
/* A header value of the response (case-insensitive), copied into out; 1 if present. */
int t_header(const struct t_resp *r, const char *name, char *out, size_t out_len);

/* Spawns `custos serve` with the shared settings plus env overrides ("NAME=value", NULL
 * terminated; "NAME=" removes a variable). tls: 1 HTTPS, 0 plain HTTP. Waits for /healthz,
 * then up to 30 s for /readyz. -1 when the server exits or never answers. */
int t_spawn(const char *const *env, int tls, struct t_server *out);
/* The same without waiting for readiness (a server meant to stay not ready). */
int t_spawn_unready(const char *const *env, int tls, struct t_server *out);
/* SIGTERM, then waits; returns the exit status (or -1). */
int t_stop(struct t_server *s);

/* Raw TCP to 127.0.0.1:port: sends data, then reads until the peer closes or timeout_ms of
 * silence. src_ip: bind the client to this loopback address (NULL = default). Returns the
 * bytes read (heap, NUL-terminated) and sets *closed when the peer closed. */
char *t_raw(int port, const char *src_ip, const char *data, size_t len, int timeout_ms,
            int *closed);
/* Opens a TCP connection from src_ip and leaves it idle; returns the fd or -1. */
int t_open_idle(int port, const char *src_ip);

/* A fresh random tenant id for a test ("t-" + 12 hex). */
void t_tenant_id(char out[32]);

/* Runs sql as the database superuser (CUSTOS_TEST_ADMIN_DB_URL) and returns the first column
 * of the first row (heap; "" when no row), or NULL on error. */
char *t_sql(const char *sql);

/* A database of the test's own in the shared cluster, migrated as in production (for tests
 * that must not meet the shared server's background sweep). t_db_create names it in out and
 * returns 0; t_db_url gives its connection string for the service role (admin = 0) or the
 * superuser (admin = 1); t_db_drop removes it (stop the servers using it first). */
int t_db_create(char out[64]);
void t_db_url(const char *db, int admin, char *out, size_t out_len);
int t_db_drop(const char *db);
/* t_sql in that database. */
char *t_sql_in(const char *db, const char *sql);

/* Runs `custos <verb>` with the shared settings plus env overrides (as t_spawn) and waits;
 * returns its exit status (-1 when it did not exit). Its output goes to the work dir. */
int t_run(const char *const *env, const char *verb);

/* Environment helpers. */
const char *t_env(const char *name);
/* Milliseconds of a monotonic clock. */
long long t_now_ms(void);

#endif
