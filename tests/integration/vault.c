/* The vault's test vocabulary (see vault.h): owned resources freed in each suite's fini,
 * requests to the shared server, tenant set-up, records, tokens and what the database holds. */
#include "vault.h"

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

/* ---- HTTP ---- */

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

/* ---- tenants and their set-up ---- */

const char customers_def[] =
    "{\"fields\":{"
    "\"name\":{\"type\":\"name\",\"tokenization\":\"random\"},"
    "\"email\":{\"type\":\"email\",\"tokenization\":\"random\",\"searchable\":true},"
    "\"phone\":{\"type\":\"phone\",\"tokenization\":\"deterministic\",\"searchable\":true},"
    "\"card\":{\"type\":\"card_number\",\"tokenization\":\"format_preserving\"},"
    "\"ssn\":{\"type\":\"ssn\",\"tokenization\":\"format_preserving\"},"
    "\"note\":{\"type\":\"text\"},"
    "\"dob\":{\"type\":\"date\"}}}";

void
tenant_create(struct vt *t)
{
    t_tenant_id(t->id);
    struct t_resp *r = api("POST", "/v1/tenants", t_token(NULL, "vault:admin"),
                           dump(json_pack("{s:s, s:s}", "id", t->id, "name", "Vault test")));
    cr_assert_eq(r->status, 201, "tenant: %ld %s", r->status, r->body);
    t->admin = t_token(t->id, ALL_SCOPES);
}

/* A tenant with the collection `customers` and the purpose `support` (contract). */
void
vault_setup(struct vt *t)
{
    tenant_create(t);
    struct t_resp *r = api("PUT", "/v1/collections/customers", t->admin, customers_def);
    cr_assert_eq(r->status, 201, "collection: %ld %s", r->status, r->body);
    r = api("PUT", "/v1/purposes/support", t->admin,
            "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    cr_assert_eq(r->status, 201, "purpose: %ld %s", r->status, r->body);
}

const char *
rec_path(const char *id)
{
    return fmt(RECORDS "/%s", id);
}

json_t *
std_fields(const char *phone)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", "Jonathan Smith", "email",
                     "john.doe@example.com", "phone", phone, "card", "4111 1111 1111 1111", "ssn",
                     "123-45-6789", "note", "prefers email", "dob", "1990-05-17");
}

char *
records_body(const char *subject, json_t *fields)
{
    return dump(json_pack("{s:[{s:s, s:o}]}", "records", "subject_id", subject, "fields", fields));
}

/* Stores one record (fields consumed); records[0] of the 201 answer. */
json_t *
tokenize1(const struct vt *t, const char *subject, json_t *fields)
{
    struct t_resp *r = api("POST", RECORDS, t->admin, records_body(subject, fields));
    cr_assert_eq(r->status, 201, "tokenize: %ld %s", r->status, r->body);
    json_t *rec = json_array_get(json_object_get(r->json, "records"), 0);
    cr_assert_not_null(rec, "%s", r->body);
    return rec;
}

const char *
tok(json_t *rec, const char *field)
{
    const char *s = json_string_value(json_object_get(json_object_get(rec, "tokens"), field));
    cr_assert_not_null(s, "no token for %s in %s", field, show(rec));
    return s;
}

const char *
rid(json_t *rec)
{
    const char *s = json_string_value(json_object_get(rec, "id"));
    cr_assert_not_null(s, "no id in %s", show(rec));
    return s;
}

/* POST /v1/detokenize (tokens consumed); the results of the 200 answer, one per token. */
json_t *
detok(const char *bearer, const char *redaction, json_t *tokens)
{
    size_t n = json_array_size(tokens);
    json_t *body = json_pack("{s:o}", "tokens", tokens);
    if (redaction != NULL) {
        json_object_set_new(body, "redaction", json_string(redaction));
    }
    struct t_resp *r = api_p("POST", "/v1/detokenize", bearer, "support", dump(body));
    cr_assert_eq(r->status, 200, "detokenize: %ld %s", r->status, r->body);
    assert_no_store(r);
    json_t *res = json_object_get(r->json, "results");
    cr_assert_eq(json_array_size(res), n, "%s", r->body);
    return res;
}

json_t *
detok1(const char *bearer, const char *token, const char *redaction)
{
    return json_array_get(detok(bearer, redaction, json_pack("[s]", token)), 0);
}

const char *
value_of(json_t *item)
{
    cr_assert_null(json_object_get(item, "error"), "unexpected error: %s", show(item));
    const char *v = json_string_value(json_object_get(item, "value"));
    cr_assert_not_null(v, "no value: %s", show(item));
    return v;
}

/* The per-item error's status (0 when the item has none); an error item never has a value. */
long
item_status(json_t *item)
{
    json_t *e = json_object_get(item, "error");
    if (e == NULL) {
        return 0;
    }
    cr_assert_null(json_object_get(item, "value"), "an error item has a value: %s", show(item));
    return (long)json_integer_value(json_object_get(e, "status"));
}

const char *
plain(const struct vt *t, const char *token)
{
    return value_of(detok1(t->admin, token, "plain"));
}

/* ---- checks on tokens ---- */

int
is_base62(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            return 0;
        }
    }
    return 1;
}

int
is_token(const char *s, const char *prefix)
{
    size_t p = strlen(prefix);
    return strncmp(s, prefix, p) == 0 && strlen(s) == p + 22 && is_base62(s + p, 22);
}

int
all_digits(const char *s)
{
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

int
luhn_ok(const char *d)
{
    int sum = 0;
    int dbl = 0;
    for (size_t i = strlen(d); i-- > 0;) {
        int x = d[i] - '0';
        if (dbl) {
            x = x * 2 > 9 ? x * 2 - 9 : x * 2;
        }
        sum += x;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

int
is_ssn_shape(const char *s)
{
    if (strlen(s) != 11 || s[3] != '-' || s[6] != '-') {
        return 0;
    }
    for (int i = 0; i < 11; i++) {
        if (i != 3 && i != 6 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }
    return 1;
}

char *
random_hex(size_t bytes)
{
    char *s = own(malloc(2 * bytes + 1));
    t_random_hex(bytes, s);
    return s;
}

/* ---- the database, as the superuser: what is stored ---- */

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

long long
stored_records(const struct vt *t)
{
    return db_count(db_open("CUSTOS_TEST_ADMIN_DB_URL"),
                    "SELECT count(*) FROM records WHERE tenant_id = $1", t->id);
}

char *
batch_body(size_t n, const char *tag)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(list,
                              json_pack("{s:s, s:{s:s, s:s}}", "subject_id", fmt("crm-%zu", i % 10),
                                        "fields", "name", fmt("Person %s %zu", tag, i), "email",
                                        fmt("p%zu.%s@example.com", i, tag)));
    }
    return dump(json_pack("{s:o}", "records", list));
}

/* The records of a 200 search answer. */
json_t *
search(const char *bearer, const char *field, const char *value)
{
    struct t_resp *r = api("POST", "/v1/collections/customers/search", bearer,
                           dump(json_pack("{s:s, s:s}", "field", field, "value", value)));
    cr_assert_eq(r->status, 200, "search: %ld %s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    cr_assert(json_is_array(list), "%s", r->body);
    return list;
}

struct t_resp *
patch(const struct vt *t, const char *id, json_t *fields)
{
    return api("PATCH", rec_path(id), t->admin, dump(json_pack("{s:o}", "fields", fields)));
}
