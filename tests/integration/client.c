/* The integration tests' HTTP client and owned resources (see client.h). */
#include "client.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/hex.h"

/* ---- owned resources: everything made here dies in the suite's fini ---- */

enum { MAX_OWNED = 8192, MAX_RESPS = 1024, MAX_CONNS = 8 };

static char *owned[MAX_OWNED];
static size_t nowned;
static struct t_resp *resps[MAX_RESPS];
static size_t nresps;
static PGconn *conns[MAX_CONNS];
static size_t nconns;

char *
own(char *s)
{
    if (s == NULL || nowned == MAX_OWNED) {
        abort();
    }
    owned[nowned++] = s;
    return s;
}

char *
fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    int n = vasprintf(&s, f, ap);
    va_end(ap);
    if (n < 0) {
        abort();
    }
    return own(s);
}

/* Compact JSON text of j, which it consumes. */
char *
dump(json_t *j)
{
    if (j == NULL) {
        abort();
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return own(s);
}

/* For messages: the JSON text of a borrowed value. */
const char *
show(json_t *j)
{
    return j == NULL ? "(null)" : dump(json_incref(j));
}

char *
repeat(char c, size_t n)
{
    char *s = own(malloc(n + 1));
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

char *
random_hex(size_t bytes)
{
    char *s = own(malloc(2 * bytes + 1));
    t_random_hex(bytes, s);
    return s;
}

void
cleanup_all(void)
{
    for (size_t i = 0; i < nresps; i++) {
        t_resp_free(resps[i]);
        free(resps[i]);
    }
    nresps = 0;
    for (size_t i = 0; i < nconns; i++) {
        PQfinish(conns[i]);
    }
    nconns = 0;
    for (size_t i = 0; i < nowned; i++) {
        free(owned[i]);
    }
    nowned = 0;
    mint_free_all();
}

/* A response record that the suite's fini frees. */
struct t_resp *
new_resp(void)
{
    if (nresps == MAX_RESPS) {
        abort();
    }
    struct t_resp *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        abort();
    }
    resps[nresps++] = r;
    return r;
}

struct t_resp *
send_req(const char *method, const char *path, const char *token, const char *purpose,
         const char *idem, const char *ctype, const char *body)
{
    const char *h[4];
    size_t n = 0;
    if (ctype != NULL) {
        h[n++] = fmt("Content-Type: %s", ctype);
    }
    if (purpose != NULL) {
        h[n++] = fmt("X-Purpose: %s", purpose);
    }
    if (idem != NULL) {
        h[n++] = fmt("Idempotency-Key: %s", idem);
    }
    h[n] = NULL;
    struct t_resp *r = new_resp();
    cr_assert_eq(t_request(t_shared(), method, path, token, body, h, r), 0, "%s %s: no answer (%s)",
                 method, path, r->error);
    return r;
}

struct t_resp *
api(const char *method, const char *path, const char *token, const char *body)
{
    return send_req(method, path, token, NULL, NULL, body ? "application/json" : NULL, body);
}

struct t_resp *
api_p(const char *method, const char *path, const char *token, const char *purpose,
      const char *body)
{
    return send_req(method, path, token, purpose, NULL, body ? "application/json" : NULL, body);
}

int
has_pointer(json_t *errors, const char *pointer)
{
    for (size_t i = 0; i < json_array_size(errors); i++) {
        const char *p = json_string_value(json_object_get(json_array_get(errors, i), "pointer"));
        if (p != NULL && strcmp(p, pointer) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A problem answer with this status and, when pointer is set, an errors[] entry for it. */
void
assert_problem(const struct t_resp *r, long status, const char *pointer)
{
    cr_assert_eq(r->status, status, "wanted %ld, got %ld: %s", status, r->status, r->body);
    char ct[128];
    cr_assert(t_header(r, "Content-Type", ct, sizeof(ct)), "no Content-Type");
    cr_assert_str_eq(ct, "application/problem+json");
    cr_assert_not_null(r->json, "not JSON: %s", r->body);
    cr_assert_eq(json_integer_value(json_object_get(r->json, "status")), status, "%s", r->body);
    cr_assert_not_null(json_object_get(r->json, "title"), "%s", r->body);
    if (pointer != NULL) {
        cr_assert(has_pointer(json_object_get(r->json, "errors"), pointer), "no pointer %s in %s",
                  pointer, r->body);
    }
}

void
assert_no_store(const struct t_resp *r)
{
    char v[64];
    cr_assert(t_header(r, "Cache-Control", v, sizeof(v)), "no Cache-Control");
    cr_assert_str_eq(v, "no-store");
}

PGconn *
db_open(const char *env)
{
    if (nconns == MAX_CONNS) {
        abort();
    }
    PGconn *c = PQconnectdb(t_env(env));
    conns[nconns++] = c;
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s: %s", env, PQerrorMessage(c));
    return c;
}

/* The first column of the first row of a query with up to two parameters, as a number. */
long long
db_count2(PGconn *c, const char *sql, const char *p1, const char *p2)
{
    const char *params[2] = {p1, p2};
    int n = p2 != NULL ? 2 : p1 != NULL ? 1 : 0;
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
        PQclear(res);
        cr_assert_fail("%s: %s", sql, msg);
    }
    long long v = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

long long
db_count(PGconn *c, const char *sql, const char *p1)
{
    return db_count2(c, sql, p1, NULL);
}

/* Finds counter name in s's /metrics: 1 and *v, or 0 when it is not there. */
static int
metric_find(const struct t_server *s, const char *name, unsigned long long *v)
{
    struct t_resp r;
    cr_assert_eq(t_request(s, "GET", "/metrics", NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    const char *at = strstr(r.body, fmt("\n%s ", name));
    if (at != NULL) {
        *v = strtoull(at + strlen(name) + 2, NULL, 10);
    }
    t_resp_free(&r);
    return at != NULL;
}

unsigned long long
t_metric(const struct t_server *s, const char *name)
{
    unsigned long long v = 0;
    cr_assert(metric_find(s, name, &v), "no %s in /metrics", name);
    return v;
}

unsigned long long
t_metric_or(const struct t_server *s, const char *name, unsigned long long absent)
{
    unsigned long long v = absent;
    (void)metric_find(s, name, &v);
    return v;
}
