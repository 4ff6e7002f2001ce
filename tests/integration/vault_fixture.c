/* The vault fixture of vault_fixture.h: tenants, requests and SQL for integration tests. */
#include "vault_fixture.h"

#include "idp.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FX_MAX_OWNED = 4096, FX_MAX_RESPS = 512 };

static char *owned[FX_MAX_OWNED];
static size_t nowned;
static struct t_resp *resps[FX_MAX_RESPS];
static size_t nresps;

static char *
own(char *s)
{
    if (s == NULL || nowned == FX_MAX_OWNED) {
        abort();
    }
    owned[nowned++] = s;
    return s;
}

char *
fx_fmt(const char *f, ...)
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

char *
fx_dump(json_t *j)
{
    if (j == NULL) {
        abort();
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return own(s);
}

void
fx_cleanup(void)
{
    for (size_t i = 0; i < nresps; i++) {
        t_resp_free(resps[i]);
        free(resps[i]);
    }
    nresps = 0;
    for (size_t i = 0; i < nowned; i++) {
        free(owned[i]);
    }
    nowned = 0;
    mint_free_all();
}

struct t_resp *
fx_api(const char *method, const char *path, const char *token, const char *purpose,
       const char *body)
{
    const char *h[3];
    size_t n = 0;
    if (body != NULL) {
        h[n++] = "Content-Type: application/json";
    }
    if (purpose != NULL) {
        h[n++] = fx_fmt("X-Purpose: %s", purpose);
    }
    h[n] = NULL;
    if (nresps == FX_MAX_RESPS) {
        abort();
    }
    struct t_resp *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        abort();
    }
    resps[nresps++] = r;
    cr_assert_eq(t_request(t_shared(), method, path, token, body, h, r), 0, "%s %s: no answer",
                 method, path);
    return r;
}

void
fx_tenant_create(struct fx_tenant *t)
{
    if (t->id[0] == '\0') {
        t_tenant_id(t->id);
    }
    struct t_resp *r = fx_api("POST", "/v1/tenants", t_token(NULL, "vault:admin"), NULL,
                              fx_dump(json_pack("{s:s, s:s}", "id", t->id, "name", "Fixture")));
    cr_assert_eq(r->status, 201, "tenant: %ld %s", r->status, r->body);
    t->admin = t_token(t->id, FX_ALL_SCOPES);
}

void
fx_vault(struct fx_tenant *t)
{
    fx_tenant_create(t);
    struct t_resp *r = fx_api("PUT", "/v1/collections/customers", t->admin, NULL,
                              "{\"fields\":{"
                              "\"name\":{\"type\":\"name\"},"
                              "\"email\":{\"type\":\"email\",\"searchable\":true},"
                              "\"phone\":{\"type\":\"phone\",\"tokenization\":\"deterministic\","
                              "\"searchable\":true}}}");
    cr_assert_eq(r->status, 201, "collection: %ld %s", r->status, r->body);
    r = fx_api("PUT", "/v1/purposes/support", t->admin, NULL,
               "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    cr_assert_eq(r->status, 201, "purpose: %ld %s", r->status, r->body);
}

json_t *
fx_tokenize1(const struct fx_tenant *t, const char *subject, json_t *fields)
{
    struct t_resp *r = fx_api(
        "POST", FX_RECORDS, t->admin, NULL,
        fx_dump(json_pack("{s:[{s:s, s:o}]}", "records", "subject_id", subject, "fields", fields)));
    cr_assert_eq(r->status, 201, "tokenize: %ld %s", r->status, r->body);
    json_t *rec = json_array_get(json_object_get(r->json, "records"), 0);
    cr_assert_not_null(rec, "%s", r->body);
    return rec;
}

const char *
fx_token(json_t *rec, const char *field)
{
    const char *s = json_string_value(json_object_get(json_object_get(rec, "tokens"), field));
    cr_assert_not_null(s, "no token for %s", field);
    return s;
}

const char *
fx_id(json_t *rec)
{
    const char *s = json_string_value(json_object_get(rec, "id"));
    cr_assert_not_null(s, "no record id");
    return s;
}

static PGconn *
connect_env(const char *env)
{
    PGconn *c = PQconnectdb(t_env(env));
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
        PQfinish(c);
        cr_assert_fail("%s: %s", env, msg);
    }
    return c;
}

/* Runs sql on c; the first column of the first row as a number (0 for a command). */
static long long
run(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(c);
        cr_assert_fail("%s: %s", sql, msg);
    }
    long long v = st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return v;
}

long long
fx_admin_count(const char *sql, const char *p1, const char *p2)
{
    const char *params[2] = {p1, p2};
    PGconn *c = connect_env("CUSTOS_TEST_ADMIN_DB_URL");
    long long v = run(c, sql, p2 != NULL ? 2 : p1 != NULL ? 1 : 0, params);
    PQfinish(c);
    return v;
}

void
fx_admin_exec(const char *sql, const char *p1)
{
    (void)fx_admin_count(sql, p1, NULL);
}

long long
fx_app_count(const char *tenant, const char *sql)
{
    PGconn *c = connect_env("CUSTOS_DATABASE_URL");
    const char *p[1] = {tenant};
    run(c, "BEGIN", 0, NULL);
    run(c, "SELECT set_config('custos.tenant', $1, true)", 1, p);
    long long v = run(c, sql, 0, NULL);
    run(c, "ROLLBACK", 0, NULL);
    PQfinish(c);
    return v;
}
