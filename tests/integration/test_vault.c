/* The vault end to end: collections, purposes, tokenize, detokenize, record reads, search,
 * rectify and delete over HTTPS against the real server and PostgreSQL, with their failure paths;
 * then the security tests: planted values absent from dumps, logs and the audit trail, hostile
 * JSON bodies, and row-level security as the second line of tenant isolation.
 * Invariant: every test makes its own tenant. */
#include "harness.h"
#include "idp.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- owned resources: everything made here dies in the suite's fini ---- */

enum { MAX_OWNED = 8192, MAX_RESPS = 1024, MAX_CONNS = 8 };

static char *owned[MAX_OWNED];
static size_t nowned;
static struct t_resp *resps[MAX_RESPS];
static size_t nresps;
static PGconn *conns[MAX_CONNS];
static size_t nconns;

static char *
own(char *s)
{
    if (s == NULL || nowned == MAX_OWNED) {
        abort();
    }
    owned[nowned++] = s;
    return s;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
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
static char *
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
static const char *
show(json_t *j)
{
    return j == NULL ? "(null)" : dump(json_incref(j));
}

static char *
repeat(char c, size_t n)
{
    char *s = own(malloc(n + 1));
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void
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

TestSuite(collections, .fini = cleanup_all);
TestSuite(purposes, .fini = cleanup_all);
TestSuite(tokenize, .fini = cleanup_all);
TestSuite(detokenize, .fini = cleanup_all);
TestSuite(record_read, .fini = cleanup_all);
TestSuite(search, .fini = cleanup_all);
TestSuite(rectify, .fini = cleanup_all);
TestSuite(delete, .fini = cleanup_all);
TestSuite(shared_token, .fini = cleanup_all);
TestSuite(security, .fini = cleanup_all);
TestSuite(rls, .fini = cleanup_all);

/* ---- HTTP ---- */

/* A response record that the suite's fini frees. */
static struct t_resp *
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

static struct t_resp *
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

static struct t_resp *
api(const char *method, const char *path, const char *token, const char *body)
{
    return send_req(method, path, token, NULL, NULL, body ? "application/json" : NULL, body);
}

static struct t_resp *
api_p(const char *method, const char *path, const char *token, const char *purpose,
      const char *body)
{
    return send_req(method, path, token, purpose, NULL, body ? "application/json" : NULL, body);
}

static int
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
static void
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

static void
assert_no_store(const struct t_resp *r)
{
    char v[64];
    cr_assert(t_header(r, "Cache-Control", v, sizeof(v)), "no Cache-Control");
    cr_assert_str_eq(v, "no-store");
}

/* ---- tenants and their set-up ---- */

#define ALL_SCOPES "tenant:admin records:write records:delete records:search detokenize:*.*:plain"
#define RECORDS "/v1/collections/customers/records"

struct vt {
    char id[32];
    char *admin; /* every vault scope of the tenant */
};

static const char customers_def[] =
    "{\"fields\":{"
    "\"name\":{\"type\":\"name\",\"tokenization\":\"random\"},"
    "\"email\":{\"type\":\"email\",\"tokenization\":\"random\",\"searchable\":true},"
    "\"phone\":{\"type\":\"phone\",\"tokenization\":\"deterministic\",\"searchable\":true},"
    "\"card\":{\"type\":\"card_number\",\"tokenization\":\"format_preserving\"},"
    "\"ssn\":{\"type\":\"ssn\",\"tokenization\":\"format_preserving\"},"
    "\"note\":{\"type\":\"text\"},"
    "\"dob\":{\"type\":\"date\"}}}";

static void
tenant_create(struct vt *t)
{
    t_tenant_id(t->id);
    struct t_resp *r = api("POST", "/v1/tenants", t_token(NULL, "vault:admin"),
                           dump(json_pack("{s:s, s:s}", "id", t->id, "name", "Vault test")));
    cr_assert_eq(r->status, 201, "tenant: %ld %s", r->status, r->body);
    t->admin = t_token(t->id, ALL_SCOPES);
}

/* A tenant with the collection `customers` and the purpose `support` (contract). */
static void
vault_setup(struct vt *t)
{
    tenant_create(t);
    struct t_resp *r = api("PUT", "/v1/collections/customers", t->admin, customers_def);
    cr_assert_eq(r->status, 201, "collection: %ld %s", r->status, r->body);
    r = api("PUT", "/v1/purposes/support", t->admin,
            "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    cr_assert_eq(r->status, 201, "purpose: %ld %s", r->status, r->body);
}

static const char *
rec_path(const char *id)
{
    return fmt(RECORDS "/%s", id);
}

static json_t *
std_fields(const char *phone)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", "Jonathan Smith", "email",
                     "john.doe@example.com", "phone", phone, "card", "4111 1111 1111 1111", "ssn",
                     "123-45-6789", "note", "prefers email", "dob", "1990-05-17");
}

static char *
records_body(const char *subject, json_t *fields)
{
    return dump(json_pack("{s:[{s:s, s:o}]}", "records", "subject_id", subject, "fields", fields));
}

/* Stores one record (fields consumed); records[0] of the 201 answer. */
static json_t *
tokenize1(const struct vt *t, const char *subject, json_t *fields)
{
    struct t_resp *r = api("POST", RECORDS, t->admin, records_body(subject, fields));
    cr_assert_eq(r->status, 201, "tokenize: %ld %s", r->status, r->body);
    json_t *rec = json_array_get(json_object_get(r->json, "records"), 0);
    cr_assert_not_null(rec, "%s", r->body);
    return rec;
}

static const char *
tok(json_t *rec, const char *field)
{
    const char *s = json_string_value(json_object_get(json_object_get(rec, "tokens"), field));
    cr_assert_not_null(s, "no token for %s in %s", field, show(rec));
    return s;
}

static const char *
rid(json_t *rec)
{
    const char *s = json_string_value(json_object_get(rec, "id"));
    cr_assert_not_null(s, "no id in %s", show(rec));
    return s;
}

/* POST /v1/detokenize (tokens consumed); the results of the 200 answer, one per token. */
static json_t *
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

static json_t *
detok1(const char *bearer, const char *token, const char *redaction)
{
    return json_array_get(detok(bearer, redaction, json_pack("[s]", token)), 0);
}

static const char *
value_of(json_t *item)
{
    cr_assert_null(json_object_get(item, "error"), "unexpected error: %s", show(item));
    const char *v = json_string_value(json_object_get(item, "value"));
    cr_assert_not_null(v, "no value: %s", show(item));
    return v;
}

/* The per-item error's status (0 when the item has none); an error item never has a value. */
static long
item_status(json_t *item)
{
    json_t *e = json_object_get(item, "error");
    if (e == NULL) {
        return 0;
    }
    cr_assert_null(json_object_get(item, "value"), "an error item has a value: %s", show(item));
    return (long)json_integer_value(json_object_get(e, "status"));
}

static const char *
plain(const struct vt *t, const char *token)
{
    return value_of(detok1(t->admin, token, "plain"));
}

/* ---- checks on tokens ---- */

static int
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

static int
is_token(const char *s, const char *prefix)
{
    size_t p = strlen(prefix);
    return strncmp(s, prefix, p) == 0 && strlen(s) == p + 22 && is_base62(s + p, 22);
}

static int
all_digits(const char *s)
{
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

static int
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

static int
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

static char *
random_hex(size_t bytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[32];
    if (bytes > sizeof(r) || getrandom(r, bytes, 0) != (ssize_t)bytes) {
        abort();
    }
    char *s = own(malloc(2 * bytes + 1));
    for (size_t i = 0; i < bytes; i++) {
        s[2 * i] = hex[r[i] >> 4];
        s[2 * i + 1] = hex[r[i] & 15];
    }
    s[2 * bytes] = '\0';
    return s;
}

/* ---- the database, as the superuser: what is stored ---- */

static PGconn *
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
static long long
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

static long long
db_count(PGconn *c, const char *sql, const char *p1)
{
    return db_count2(c, sql, p1, NULL);
}

static long long
stored_records(const struct vt *t)
{
    return db_count(db_open("CUSTOS_TEST_ADMIN_DB_URL"),
                    "SELECT count(*) FROM records WHERE tenant_id = $1", t->id);
}

/* ---- 1. collections ---- */

Test(collections, put_creates_then_replaces_and_get_returns_the_definition)
{
    struct vt t;
    tenant_create(&t);
    struct t_resp *r = api("PUT", "/v1/collections/customers", t.admin, customers_def);
    cr_assert_eq(r->status, 201, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "customers");
    r = api("PUT", "/v1/collections/customers", t.admin, customers_def);
    cr_assert_eq(r->status, 200, "replace: %ld %s", r->status, r->body);
    r = api("GET", "/v1/collections/customers", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 7, "%s", r->body);
    json_t *phone = json_object_get(f, "phone");
    cr_assert_str_eq(json_string_value(json_object_get(phone, "type")), "phone");
    cr_assert_str_eq(json_string_value(json_object_get(phone, "tokenization")), "deterministic");
    cr_assert(json_is_true(json_object_get(phone, "searchable")));
    json_t *card = json_object_get(f, "card");
    cr_assert_str_eq(json_string_value(json_object_get(card, "tokenization")), "format_preserving");
    /* the default kind is random, the default searchability false */
    json_t *note = json_object_get(f, "note");
    cr_assert_str_eq(json_string_value(json_object_get(note, "tokenization")), "random");
    cr_assert(json_is_false(json_object_get(note, "searchable")));
    r = api("GET", "/v1/collections/nothere", t.admin, NULL);
    assert_problem(r, 404, NULL);
}

Test(collections, list_paginates_with_limit_and_an_opaque_cursor)
{
    struct vt t;
    tenant_create(&t);
    cr_assert_eq(api("PUT", "/v1/collections/customers", t.admin, customers_def)->status, 201);
    cr_assert_eq(api("PUT", "/v1/collections/accounts", t.admin,
                     "{\"fields\":{\"iban\":{\"type\":\"string\"}}}")
                     ->status,
                 201);
    struct t_resp *r = api("GET", "/v1/collections", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "collections")), 2, "%s", r->body);
    cr_assert(json_is_null(json_object_get(r->json, "next_cursor")), "%s", r->body);

    r = api("GET", "/v1/collections?limit=1", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *page = json_object_get(r->json, "collections");
    cr_assert_eq(json_array_size(page), 1, "%s", r->body);
    const char *first = json_string_value(json_object_get(json_array_get(page, 0), "name"));
    const char *cursor = json_string_value(json_object_get(r->json, "next_cursor"));
    cr_assert_not_null(cursor, "no next_cursor: %s", r->body);

    r = api("GET", fmt("/v1/collections?limit=1&cursor=%s", cursor), t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    page = json_object_get(r->json, "collections");
    cr_assert_eq(json_array_size(page), 1, "%s", r->body);
    const char *second = json_string_value(json_object_get(json_array_get(page, 0), "name"));
    cr_assert_not_null(first);
    cr_assert_not_null(second);
    cr_assert_str_neq(first, second);
    cr_assert(json_is_null(json_object_get(r->json, "next_cursor")), "%s", r->body);

    assert_problem(api("GET", "/v1/collections?limit=0", t.admin, NULL), 400, NULL);
    assert_problem(api("GET", "/v1/collections?limit=1001", t.admin, NULL), 400, NULL);
}

Test(collections, invalid_definitions_are_422_with_pointers_and_create_nothing)
{
    struct vt t;
    tenant_create(&t);
    static const struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"fields\":{\"x\":{\"type\":\"bogus\"}}}", "/fields/x/type"},
        {"{\"fields\":{\"x\":{\"type\":\"string\",\"tokenization\":\"weird\"}}}",
         "/fields/x/tokenization"},
        {"{\"fields\":{\"x\":{\"type\":\"string\",\"color\":\"red\"}}}", "/fields/x"},
        {"{\"fields\":{\"x\":{\"type\":\"name\",\"tokenization\":\"format_preserving\"}}}",
         "/fields/x/tokenization"},
        {"{\"fields\":{\"x\":{\"tokenization\":\"random\"}}}", "/fields/x/type"},
        {"{\"fields\":{\"x\":{\"type\":\"email\",\"searchable\":\"yes\"}}}",
         "/fields/x/searchable"},
        {"{\"fields\":{\"x\":{\"type\":42}}}", "/fields/x/type"},
        {"{\"fields\":{}}", "/fields"},
        {"{\"fields\":[]}", "/fields"},
        {"{}", "/fields"},
        {"{\"fields\":{\"Bad-Name\":{\"type\":\"string\"}}}", "/fields"},
        {"{\"fields\":{\"x\":{\"type\":\"string\"}},\"retention_days\":0}", "/retention_days"},
        {"{\"fields\":{\"x\":{\"type\":\"string\"}},\"retention_days\":\"7\"}", "/retention_days"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_resp *r = api("PUT", "/v1/collections/bad", t.admin, cases[i].body);
        assert_problem(r, 422, cases[i].pointer);
    }
    assert_problem(api("GET", "/v1/collections/bad", t.admin, NULL), 404, NULL);
}

Test(collections, a_bad_name_in_the_path_is_refused)
{
    struct vt t;
    tenant_create(&t);
    const char *names[] = {"Bad-Name", "1abc",      "a%20b",        "%2e%2e",
                           "_x",       "caf%C3%A9", repeat('a', 64)};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct t_resp *r = api("PUT", fmt("/v1/collections/%s", names[i]), t.admin, customers_def);
        cr_assert(r->status >= 400 && r->status < 500, "%s gave %ld: %s", names[i], r->status,
                  r->body);
    }
    struct t_resp *r = api("GET", "/v1/collections", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "collections")), 0, "%s", r->body);
}

Test(collections, a_field_holding_data_keeps_its_type_but_new_fields_can_be_added)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *def = json_loads(customers_def, 0, NULL);
    cr_assert_not_null(def);

    json_t *changed = json_deep_copy(def);
    json_object_set_new(json_object_get(changed, "fields"), "phone",
                        json_pack("{s:s}", "type", "string"));
    assert_problem(api("PUT", "/v1/collections/customers", t.admin, dump(changed)), 409,
                   "/fields/phone");

    json_t *kind = json_deep_copy(def);
    json_object_set_new(json_object_get(kind, "fields"), "name",
                        json_pack("{s:s, s:s}", "type", "name", "tokenization", "deterministic"));
    assert_problem(api("PUT", "/v1/collections/customers", t.admin, dump(kind)), 409,
                   "/fields/name");

    json_t *dropped = json_deep_copy(def);
    json_object_del(json_object_get(dropped, "fields"), "note");
    assert_problem(api("PUT", "/v1/collections/customers", t.admin, dump(dropped)), 409,
                   "/fields/note");

    /* nothing of the refused changes stuck */
    struct t_resp *r = api("GET", "/v1/collections/customers", t.admin, NULL);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(f, "phone"), "type")),
                     "phone");
    cr_assert_not_null(json_object_get(f, "note"));

    json_t *added = json_deep_copy(def);
    json_object_set_new(json_object_get(added, "fields"), "vip",
                        json_pack("{s:s}", "type", "string"));
    r = api("PUT", "/v1/collections/customers", t.admin, dump(added));
    cr_assert_eq(r->status, 200, "adding a field: %ld %s", r->status, r->body);
    cr_assert_not_null(json_object_get(json_object_get(r->json, "fields"), "vip"), "%s", r->body);
    json_t *rec = tokenize1(&t, "crm-2", json_pack("{s:s}", "vip", "gold"));
    cr_assert_str_eq(plain(&t, tok(rec, "vip")), "gold");
    json_decref(def);
}

Test(collections, tenant_admin_is_required)
{
    struct vt t;
    tenant_create(&t);
    const char *user = t_token(t.id, "records:write records:delete records:search "
                                     "detokenize:*.*:plain");
    assert_problem(api("PUT", "/v1/collections/customers", user, customers_def), 403, NULL);
    assert_problem(api("GET", "/v1/collections/customers", user, NULL), 403, NULL);
    assert_problem(api("GET", "/v1/collections", user, NULL), 403, NULL);
    assert_problem(api("PUT", "/v1/collections/customers", NULL, customers_def), 401, NULL);
    /* a tenant:admin of another tenant does not reach this one */
    struct t_resp *r = api("GET", "/v1/collections", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "collections")), 0, "%s", r->body);
}

/* ---- 2. purposes ---- */

Test(purposes, put_get_and_list)
{
    struct vt t;
    tenant_create(&t);
    struct t_resp *r = api("PUT", "/v1/purposes/support", t.admin,
                           "{\"description\":\"Customer support\",\"lawful_basis\":\"contract\"}");
    cr_assert_eq(r->status, 201, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "lawful_basis")), "contract");
    r = api("PUT", "/v1/purposes/support", t.admin,
            "{\"description\":\"Support\",\"lawful_basis\":\"legal_obligation\"}");
    cr_assert_eq(r->status, 200, "replace: %ld %s", r->status, r->body);
    r = api("GET", "/v1/purposes/support", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "name")), "support");
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "description")), "Support");
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "lawful_basis")),
                     "legal_obligation");
    cr_assert_eq(api("PUT", "/v1/purposes/fraud-check", t.admin,
                     "{\"lawful_basis\":\"legitimate_interests\"}")
                     ->status,
                 201);
    r = api("GET", "/v1/purposes", t.admin, NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 2, "%s", r->body);
    r = api("GET", "/v1/purposes?limit=1", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 1, "%s", r->body);
    const char *cursor = json_string_value(json_object_get(r->json, "next_cursor"));
    cr_assert_not_null(cursor, "%s", r->body);
    r = api("GET", fmt("/v1/purposes?limit=1&cursor=%s", cursor), t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 1, "%s", r->body);
    cr_assert(json_is_null(json_object_get(r->json, "next_cursor")), "%s", r->body);
    assert_problem(api("GET", "/v1/purposes/nope", t.admin, NULL), 404, NULL);
    const char *user = t_token(t.id, "records:write");
    assert_problem(api("GET", "/v1/purposes", user, NULL), 403, NULL);
    assert_problem(api("PUT", "/v1/purposes/x", user, "{\"lawful_basis\":\"contract\"}"), 403,
                   NULL);
}

Test(purposes, an_unknown_lawful_basis_is_422)
{
    struct vt t;
    tenant_create(&t);
    assert_problem(api("PUT", "/v1/purposes/support", t.admin, "{\"lawful_basis\":\"because\"}"),
                   422, "/lawful_basis");
    assert_problem(api("PUT", "/v1/purposes/support", t.admin, "{\"description\":\"x\"}"), 422,
                   "/lawful_basis");
    assert_problem(api("PUT", "/v1/purposes/support", t.admin, "{\"lawful_basis\":7}"), 422,
                   "/lawful_basis");
    assert_problem(api("PUT", "/v1/purposes/support", t.admin,
                       "{\"lawful_basis\":\"contract\",\"description\":42}"),
                   422, "/description");
    struct t_resp *r = api("PUT", "/v1/purposes/Bad!", t.admin, "{\"lawful_basis\":\"contract\"}");
    cr_assert(r->status >= 400 && r->status < 500, "%ld", r->status);
    r = api("GET", "/v1/purposes", t.admin, NULL);
    cr_assert_eq(json_array_size(json_object_get(r->json, "purposes")), 0, "%s", r->body);
}

/* ---- 3. tokenize ---- */

Test(tokenize, a_record_gets_an_id_and_a_token_per_field)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-42", std_fields("+1 415-555-0100"));
    const char *id = rid(rec);
    cr_assert_eq(strncmp(id, "rec_", 4), 0, "%s", id);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "subject_id")), "crm-42");
    cr_assert_eq(json_object_size(json_object_get(rec, "tokens")), 7, "%s", show(rec));
    const char *random_fields[] = {"name", "email", "note", "dob"};
    for (size_t i = 0; i < 4; i++) {
        cr_assert(is_token(tok(rec, random_fields[i]), "tok_"), "%s: %s", random_fields[i],
                  tok(rec, random_fields[i]));
    }
    cr_assert(is_token(tok(rec, "phone"), "tokd_"), "phone: %s", tok(rec, "phone"));
    /* two random tokens of one record are unrelated */
    cr_assert_str_neq(tok(rec, "name"), tok(rec, "email"));
    /* values come back normalized */
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jonathan Smith");
    cr_assert_str_eq(plain(&t, tok(rec, "email")), "john.doe@example.com");
    cr_assert_str_eq(plain(&t, tok(rec, "phone")), "+14155550100");
    cr_assert_str_eq(plain(&t, tok(rec, "card")), "4111111111111111");
    cr_assert_str_eq(plain(&t, tok(rec, "ssn")), "123-45-6789");
    cr_assert_str_eq(plain(&t, tok(rec, "note")), "prefers email");
    cr_assert_str_eq(plain(&t, tok(rec, "dob")), "1990-05-17");
    json_t *item = detok1(t.admin, tok(rec, "email"), NULL);
    cr_assert_str_eq(json_string_value(json_object_get(item, "collection")), "customers");
    cr_assert_str_eq(json_string_value(json_object_get(item, "field")), "email");
    cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "plain");
    cr_assert_str_eq(json_string_value(json_object_get(item, "token")), tok(rec, "email"));
    /* an unknown collection */
    assert_problem(api("POST", "/v1/collections/nothere/records", t.admin,
                       records_body("crm-42", json_pack("{s:s}", "name", "X"))),
                   404, NULL);
}

Test(tokenize, the_same_phone_of_two_subjects_gets_the_same_deterministic_token)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-2", std_fields("+1 (415) 555-0100"));
    json_t *c = tokenize1(&t, "crm-3", std_fields("+14155550101"));
    cr_assert_str_neq(rid(a), rid(b));
    cr_assert_str_eq(tok(a, "phone"), tok(b, "phone"));
    cr_assert_str_neq(tok(a, "phone"), tok(c, "phone"));
    /* random tokens differ for the same value */
    cr_assert_str_neq(tok(a, "email"), tok(b, "email"));
    cr_assert_str_neq(tok(a, "name"), tok(b, "name"));
    cr_assert_str_eq(plain(&t, tok(a, "phone")), "+14155550100");
    /* the same value in another tenant gets another token */
    struct vt other;
    vault_setup(&other);
    json_t *o = tokenize1(&other, "crm-1", std_fields("+14155550100"));
    cr_assert_str_neq(tok(a, "phone"), tok(o, "phone"));
}

Test(tokenize, a_card_token_keeps_length_first_six_last_four_and_fails_luhn)
{
    struct vt t;
    vault_setup(&t);
    cr_assert(luhn_ok("4111111111111111"));
    cr_assert(luhn_ok("5555555555554444"));
    static const struct {
        const char *card, *normal, *first6, *last4;
    } cards[] = {
        {"4111 1111 1111 1111", "4111111111111111", "411111", "1111"},
        {"5555-5555-5555-4444", "5555555555554444", "555555", "4444"},
        {"378282246310005", "378282246310005", "378282", "0005"},
    };
    for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
        json_t *rec = tokenize1(&t, fmt("crm-%zu", i), json_pack("{s:s}", "card", cards[i].card));
        const char *ct = tok(rec, "card");
        size_t n = strlen(cards[i].normal);
        cr_assert_eq(strlen(ct), n, "%s", ct);
        cr_assert(all_digits(ct), "%s", ct);
        cr_assert_eq(strncmp(ct, cards[i].first6, 6), 0, "%s", ct);
        cr_assert_str_eq(ct + n - 4, cards[i].last4);
        cr_assert_str_neq(ct, cards[i].normal);
        cr_assert(!luhn_ok(ct), "the card token %s passes the Luhn check", ct);
        cr_assert_str_eq(plain(&t, ct), cards[i].normal);
    }
    json_t *rec = tokenize1(&t, "crm-ssn", json_pack("{s:s}", "ssn", "123-45-6789"));
    const char *st = tok(rec, "ssn");
    cr_assert(is_ssn_shape(st), "ssn token %s is not NNN-NN-NNNN", st);
    cr_assert_str_neq(st, "123-45-6789");
    cr_assert_str_eq(plain(&t, st), "123-45-6789");
    /* nine plain digits normalize to the dashed form */
    json_t *rec2 = tokenize1(&t, "crm-ssn2", json_pack("{s:s}", "ssn", "123456789"));
    cr_assert_str_eq(plain(&t, tok(rec2, "ssn")), "123-45-6789");
}

static char *
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

Test(tokenize, a_batch_of_1000_records_is_stored_in_one_request)
{
    struct vt t;
    vault_setup(&t);
    struct t_resp *r = api("POST", RECORDS, t.admin, batch_body(1000, "b"));
    cr_assert_eq(r->status, 201, "%ld %.300s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    cr_assert_eq(json_array_size(list), 1000);
    json_t *ids = json_object();
    for (size_t i = 0; i < 1000; i++) {
        json_t *rec = json_array_get(list, i);
        cr_assert_eq(strncmp(rid(rec), "rec_", 4), 0);
        cr_assert(is_token(tok(rec, "name"), "tok_"));
        cr_assert(is_token(tok(rec, "email"), "tok_"));
        cr_assert_str_eq(json_string_value(json_object_get(rec, "subject_id")),
                         fmt("crm-%zu", i % 10));
        json_object_set_new(ids, rid(rec), json_true());
    }
    size_t distinct = json_object_size(ids);
    json_decref(ids);
    cr_assert_eq(distinct, 1000, "record ids repeat");
    cr_assert_eq(stored_records(&t), 1000);
    /* answers are in request order */
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 0), "email")), "p0.b@example.com");
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 999), "name")), "Person b 999");
}

Test(tokenize, batches_of_1001_or_0_records_are_422)
{
    struct vt t;
    vault_setup(&t);
    assert_problem(api("POST", RECORDS, t.admin, batch_body(1001, "x")), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":[]}"), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "{}"), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":{}}"), 422, "/records");
    assert_problem(api("POST", RECORDS, t.admin, "[]"), 422, NULL);
    assert_problem(
        api("POST", RECORDS, t.admin,
            "{\"records\":[{\"subject_id\":\"a\",\"fields\":{\"name\":\"A\"}}],\"extra\":1}"),
        422, NULL);
    cr_assert_eq(stored_records(&t), 0);
}

Test(tokenize, a_mixed_batch_stores_the_good_records_and_reports_the_bad)
{
    struct vt t;
    vault_setup(&t);
    json_t *body =
        json_pack("{s:[{s:s, s:{s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]}",
                  "records", "subject_id", "crm-0", "fields", "name", "Good Zero",  /* 0 */
                  "subject_id", "crm-1", "fields", "name", "Bad One", "bogus", "x", /* 1 */
                  "subject_id", "crm-2", "fields", "email", "good.two@example.com", /* 2 */
                  "subject_id", "crm-3", "fields", "email", "not-an-email" /* 3 */);
    struct t_resp *r = api("POST", RECORDS, t.admin, dump(body));
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    cr_assert_eq(json_array_size(list), 4, "%s", r->body);
    static const struct {
        size_t i;
        const char *pointer;
    } bad[] = {{1, "/records/1/fields/bogus"}, {3, "/records/3/fields/email"}};
    for (size_t k = 0; k < 2; k++) {
        json_t *item = json_array_get(list, bad[k].i);
        json_t *e = json_object_get(item, "error");
        cr_assert_not_null(e, "item %zu: %s", bad[k].i, show(item));
        cr_assert_null(json_object_get(item, "id"), "a refused record has an id: %s", show(item));
        cr_assert_eq(json_integer_value(json_object_get(e, "status")), 422, "%s", show(e));
        cr_assert(has_pointer(json_object_get(e, "errors"), bad[k].pointer), "%s", show(e));
        cr_assert_eq(json_integer_value(json_object_get(item, "index")), (json_int_t)bad[k].i);
    }
    /* the problems never quote the value */
    cr_assert_null(strstr(r->body, "not-an-email"), "%s", r->body);
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 0), "name")), "Good Zero");
    cr_assert_str_eq(plain(&t, tok(json_array_get(list, 2), "email")), "good.two@example.com");
    cr_assert_eq(stored_records(&t), 2);
}

Test(tokenize, a_batch_of_only_bad_records_is_422_with_a_pointer_per_problem)
{
    struct vt t;
    vault_setup(&t);
    json_t *body =
        json_pack("{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]}", "records", "subject_id",
                  "crm-0", "fields", "bogus", "x", "subject_id", "crm-1", "fields", "email", "nope",
                  "subject_id", "crm-2", "fields", "dob", "2023-02-29");
    struct t_resp *r = api("POST", RECORDS, t.admin, dump(body));
    assert_problem(r, 422, "/records/0/fields/bogus");
    assert_problem(r, 422, "/records/1/fields/email");
    assert_problem(r, 422, "/records/2/fields/dob");
    cr_assert_eq(stored_records(&t), 0);
}

/* A one-record body with field = value (consumed) must be refused with a pointer to it. */
static void
assert_field_refused(const struct vt *t, const char *field, json_t *value)
{
    json_t *fields = json_object();
    json_object_set_new(fields, field, value);
    const char *body = records_body("crm-1", fields);
    struct t_resp *r = api("POST", RECORDS, t->admin, body);
    cr_assert_eq(r->status, 422, "%s: wanted 422, got %ld: %s", body, r->status, r->body);
    assert_problem(r, 422, fmt("/records/0/fields/%s", field));
}

Test(tokenize, values_of_the_wrong_json_type_unknown_fields_and_oversize_values_are_422)
{
    struct vt t;
    vault_setup(&t);
    assert_field_refused(&t, "name", json_integer(42));
    assert_field_refused(&t, "name", json_real(4.5));
    assert_field_refused(&t, "name", json_pack("[s]", "Jo"));
    assert_field_refused(&t, "name", json_null());
    assert_field_refused(&t, "name", json_true());
    assert_field_refused(&t, "name", json_object());
    assert_field_refused(&t, "bogus", json_string("x"));
    assert_field_refused(&t, "note", json_string(repeat('a', 65537)));
    assert_field_refused(&t, "name", json_string(repeat('a', 1025)));
    assert_problem(api("POST", RECORDS, t.admin, records_body("crm-1", json_object())), 422,
                   "/records/0/fields");
    cr_assert_eq(stored_records(&t), 0);
    /* the limits themselves are allowed */
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s}", "note", repeat('b', 65536)));
    cr_assert_eq(strlen(plain(&t, tok(rec, "note"))), 65536);
}

Test(tokenize, values_that_break_their_type_are_422)
{
    struct vt t;
    vault_setup(&t);
    assert_field_refused(&t, "card", json_string("4111 1111 1111 1112")); /* Luhn */
    assert_field_refused(&t, "card", json_string("4111-1111-1111-111x"));
    assert_field_refused(&t, "card", json_string("4111"));
    assert_field_refused(&t, "phone", json_string("4155550100")); /* no '+' */
    assert_field_refused(&t, "phone", json_string("+0155550100"));
    assert_field_refused(&t, "phone", json_string("+1415555010099999"));
    assert_field_refused(&t, "email", json_string("not-an-email"));
    assert_field_refused(&t, "email", json_string("a@b"));
    assert_field_refused(&t, "email", json_string("a@@example.com"));
    assert_field_refused(&t, "email", json_string("a..b@example.com"));
    assert_field_refused(&t, "dob", json_string("2023-02-29"));
    assert_field_refused(&t, "dob", json_string("2023-13-01"));
    assert_field_refused(&t, "dob", json_string("17/05/1990"));
    assert_field_refused(&t, "ssn", json_string("000-12-3456"));
    assert_field_refused(&t, "ssn", json_string("123-45-678"));
    assert_field_refused(&t, "name", json_string(""));
    assert_field_refused(&t, "name", json_string("   "));
    assert_field_refused(&t, "name", json_string("a\x01z"));
    cr_assert_eq(stored_records(&t), 0);
    /* 2024 is a leap year */
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s}", "dob", "2024-02-29"));
    cr_assert_str_eq(plain(&t, tok(rec, "dob")), "2024-02-29");
}

Test(tokenize, a_record_without_a_valid_subject_id_is_422)
{
    struct vt t;
    vault_setup(&t);
    assert_problem(
        api("POST", RECORDS, t.admin, "{\"records\":[{\"fields\":{\"name\":\"Jo Smith\"}}]}"), 422,
        "/records/0/subject_id");
    assert_problem(api("POST", RECORDS, t.admin,
                       "{\"records\":[{\"subject_id\":42,\"fields\":{\"name\":\"Jo Smith\"}}]}"),
                   422, "/records/0/subject_id");
    assert_problem(
        api("POST", RECORDS, t.admin, records_body("a b", json_pack("{s:s}", "name", "Jo"))), 422,
        "/records/0/subject_id");
    assert_problem(api("POST", RECORDS, t.admin,
                       records_body(repeat('s', 129), json_pack("{s:s}", "name", "Jo"))),
                   422, "/records/0/subject_id");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":[{\"subject_id\":\"crm-1\"}]}"), 422,
                   "/records/0/fields");
    assert_problem(api("POST", RECORDS, t.admin,
                       "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"name\":\"Jo\"},"
                       "\"extra\":true}]}"),
                   422, "/records/0");
    assert_problem(api("POST", RECORDS, t.admin, "{\"records\":[42]}"), 422, "/records/0");
    cr_assert_eq(stored_records(&t), 0);
}

Test(tokenize, sql_shaped_text_round_trips_byte_exact)
{
    struct vt t;
    vault_setup(&t);
    const char *sql = "'; DROP TABLE records; --";
    const char *name = "Robert'); DROP TABLE students;--";
    const char *quoted = "\"\\\" OR 1=1 -- $1 %s %n \\x00";
    json_t *rec = tokenize1(&t, "crm-1", json_pack("{s:s, s:s}", "note", sql, "name", name));
    json_t *rec2 = tokenize1(&t, "crm-2", json_pack("{s:s}", "note", quoted));
    cr_assert_str_eq(plain(&t, tok(rec, "note")), sql);
    cr_assert_str_eq(plain(&t, tok(rec, "name")), name);
    cr_assert_str_eq(plain(&t, tok(rec2, "note")), quoted);
    /* and the vault still works */
    json_t *rec3 = tokenize1(&t, "crm-3", json_pack("{s:s}", "name", "After Math"));
    cr_assert_str_eq(plain(&t, tok(rec3, "name")), "After Math");
    cr_assert_eq(stored_records(&t), 3);
}

Test(tokenize, unicode_values_round_trip_byte_exact_in_nfc_and_nfd)
{
    struct vt t;
    vault_setup(&t);
    const char *nfc = "Zo\xC3\xAB \xC3\x85kesson";   /* U+00EB, U+00C5 */
    const char *nfd = "Zoe\xCC\x88 A\xCC\x8Akesson"; /* e + U+0308, A + U+030A */
    const char *text = "\xF0\x9F\x98\x80 line one\nline\ttwo\r\n\xE4\xB8\xAD\xE6\x96\x87";
    json_t *a = tokenize1(&t, "crm-1", json_pack("{s:s, s:s}", "name", nfc, "note", text));
    json_t *b = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", nfd));
    json_t *ia = detok1(t.admin, tok(a, "name"), NULL);
    json_t *ib = detok1(t.admin, tok(b, "name"), NULL);
    cr_assert_str_eq(value_of(ia), nfc);
    cr_assert_eq(json_string_length(json_object_get(ia, "value")), strlen(nfc));
    cr_assert_str_eq(value_of(ib), nfd);
    cr_assert_eq(json_string_length(json_object_get(ib, "value")), strlen(nfd));
    cr_assert_str_eq(plain(&t, tok(a, "note")), text);
}

Test(tokenize, an_idempotency_key_replays_the_first_answer)
{
    struct vt t;
    vault_setup(&t);
    const char *body = records_body("crm-1", std_fields("+14155550177"));
    struct t_resp *r1 = send_req("POST", RECORDS, t.admin, NULL, "k1", "application/json", body);
    cr_assert_eq(r1->status, 201, "%s", r1->body);
    struct t_resp *r2 = send_req("POST", RECORDS, t.admin, NULL, "k1", "application/json", body);
    cr_assert_eq(r2->status, 201, "replay: %ld %s", r2->status, r2->body);
    cr_assert(json_equal(r1->json, r2->json), "replay differs:\n%s\n%s", r1->body, r2->body);
    json_t *rec = json_array_get(json_object_get(r1->json, "records"), 0);
    struct t_resp *s = api("POST", "/v1/collections/customers/search", t.admin,
                           "{\"field\":\"phone\",\"value\":\"+14155550177\"}");
    cr_assert_eq(s->status, 200, "%s", s->body);
    json_t *found = json_object_get(s->json, "records");
    cr_assert_eq(json_array_size(found), 1, "a replay stored a second record: %s", s->body);
    cr_assert_str_eq(rid(json_array_get(found, 0)), rid(rec));
    cr_assert_eq(stored_records(&t), 1);

    const char *other = records_body("crm-1", std_fields("+14155550178"));
    struct t_resp *r3 = send_req("POST", RECORDS, t.admin, NULL, "k1", "application/json", other);
    assert_problem(r3, 409, NULL);
    /* another key is another request */
    struct t_resp *r4 = send_req("POST", RECORDS, t.admin, NULL, "k2", "application/json", body);
    cr_assert_eq(r4->status, 201, "%s", r4->body);
    cr_assert_str_neq(rid(json_array_get(json_object_get(r4->json, "records"), 0)), rid(rec));
    /* a malformed key */
    struct t_resp *r5 =
        send_req("POST", RECORDS, t.admin, NULL, "bad key", "application/json", body);
    assert_problem(r5, 400, NULL);
    cr_assert_eq(stored_records(&t), 2);
    /* keys belong to their tenant: the same key elsewhere is a fresh request */
    struct vt o;
    vault_setup(&o);
    struct t_resp *r6 = send_req("POST", RECORDS, o.admin, NULL, "k1", "application/json", body);
    cr_assert_eq(r6->status, 201, "%s", r6->body);
    cr_assert_str_neq(rid(json_array_get(json_object_get(r6->json, "records"), 0)), rid(rec));
}

Test(tokenize, records_write_is_required)
{
    struct vt t;
    vault_setup(&t);
    const char *body = records_body("crm-1", std_fields("+14155550100"));
    const char *reader = t_token(t.id, "tenant:admin records:delete records:search "
                                       "detokenize:*.*:plain");
    assert_problem(api("POST", RECORDS, reader, body), 403, NULL);
    assert_problem(api("POST", RECORDS, NULL, body), 401, NULL);
    cr_assert_eq(stored_records(&t), 0);
}

/* ---- concurrent requests ---- */

enum { RACERS = 8 };

struct racer {
    pthread_barrier_t *start;
    const char *token;
    const char *body;
    const char *const *headers;
    struct t_resp *resp;
    int rc;
};

static void *
race_post(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    r->rc = t_request(t_shared(), "POST", RECORDS, r->token, r->body, r->headers, r->resp);
    return NULL;
}

/* POSTs bodies[i] to the records of `customers` from n threads released together. */
static void
race(const char *token, const char *const *bodies, const char *const *headers, size_t n,
     struct t_resp **out)
{
    pthread_barrier_t start;
    struct racer rs[RACERS];
    pthread_t th[RACERS];
    cr_assert_leq(n, RACERS);
    cr_assert_eq(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = new_resp();
        rs[i] = (struct racer){&start, token, bodies[i], headers, out[i], -1};
        cr_assert_eq(pthread_create(&th[i], NULL, race_post, &rs[i]), 0);
    }
    for (size_t i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&start);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(rs[i].rc, 0, "racer %zu: no answer (%s)", i, out[i]->error);
    }
}

/* Detokenizes tokens on server s; logs and counts the items that do not give want[k] back. */
static int
count_lost(const struct t_server *s, const char *bearer, json_t *tokens, const char *const *want,
           const char *const *ids, size_t per_round)
{
    const char *headers[] = {"Content-Type: application/json", "X-Purpose: support", NULL};
    const char *body = dump(json_pack("{s:O}", "tokens", tokens));
    struct t_resp *r = new_resp();
    cr_assert_eq(t_request(s, "POST", "/v1/detokenize", bearer, body, headers, r), 0);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *res = json_object_get(r->json, "results");
    int lost = 0;
    for (size_t k = 0; k < json_array_size(tokens); k++) {
        json_t *item = json_array_get(res, k);
        const char *v = json_string_value(json_object_get(item, "value"));
        if (v == NULL || strcmp(v, want[k]) != 0) {
            if (++lost <= 3) {
                cr_log_error("%s: record %s (round %zu): %s", s->base, ids[k], k / per_round,
                             show(item));
            }
        }
    }
    return lost;
}

Test(tokenize, concurrent_first_records_of_one_subject_all_stay_readable, .timeout = 60)
{
    struct vt t;
    vault_setup(&t);
    enum { ROUNDS = 6 };
    json_t *tokens = json_array();
    const char *want[ROUNDS * RACERS];
    const char *ids[ROUNDS * RACERS];
    const char *headers[] = {"Content-Type: application/json", NULL};
    for (int round = 0; round < ROUNDS; round++) {
        /* a subject without a data key yet, written by every racer at once */
        const char *subject = fmt("crm-race-%d-%s", round, random_hex(4));
        const char *bodies[RACERS];
        for (size_t i = 0; i < RACERS; i++) {
            want[round * RACERS + i] = fmt("value %d.%zu", round, i);
            bodies[i] = records_body(subject, json_pack("{s:s}", "note", want[round * RACERS + i]));
        }
        struct t_resp *out[RACERS];
        race(t.admin, bodies, headers, RACERS, out);
        for (size_t i = 0; i < RACERS; i++) {
            cr_assert_eq(out[i]->status, 201, "round %d racer %zu: %ld %s", round, i,
                         out[i]->status, out[i]->body);
            json_t *rec = json_array_get(json_object_get(out[i]->json, "records"), 0);
            json_array_append_new(tokens, json_string(tok(rec, "note")));
            ids[round * RACERS + i] = rid(rec);
        }
    }
    int lost = count_lost(t_shared(), t.admin, tokens, want, ids, RACERS);
    /* a server with an empty key cache reads every subject key from the database */
    struct t_server fresh;
    const char *env[] = {NULL};
    cr_assert_eq(t_spawn(env, 1, &fresh), 0, "could not start a second server");
    int lost_fresh = count_lost(&fresh, t.admin, tokens, want, ids, RACERS);
    cr_assert_eq(t_stop(&fresh), 0);
    json_decref(tokens);
    cr_assert(lost == 0 && lost_fresh == 0,
              "of %d values written concurrently for new subjects, %d do not come back from the "
              "server that wrote them and %d from a fresh server",
              ROUNDS * RACERS, lost, lost_fresh);
}

Test(tokenize, concurrent_retries_with_one_idempotency_key_store_one_record)
{
    struct vt t;
    vault_setup(&t);
    const char *body = records_body("crm-1", std_fields("+14155550142"));
    const char *bodies[RACERS];
    for (size_t i = 0; i < RACERS; i++) {
        bodies[i] = body;
    }
    const char *headers[] = {"Content-Type: application/json", "Idempotency-Key: race-1", NULL};
    struct t_resp *out[RACERS];
    race(t.admin, bodies, headers, RACERS, out);
    json_t *first = NULL;
    for (size_t i = 0; i < RACERS; i++) {
        /* a retry racing the first request may be told to come back (409), never more */
        cr_assert(out[i]->status == 201 || out[i]->status == 409, "racer %zu: %ld %s", i,
                  out[i]->status, out[i]->body);
        if (out[i]->status != 201) {
            continue;
        }
        if (first == NULL) {
            first = out[i]->json;
        }
        cr_assert(json_equal(first, out[i]->json), "two answers for one key:\n%s\n%s", show(first),
                  out[i]->body);
    }
    cr_assert_not_null(first, "no racer got the record stored");
    cr_assert_eq(stored_records(&t), 1);
    /* a later retry gets the stored answer */
    struct t_resp *r = send_req("POST", RECORDS, t.admin, NULL, "race-1", "application/json", body);
    cr_assert_eq(r->status, 201, "%s", r->body);
    cr_assert(json_equal(first, r->json));
}

/* ---- 4. detokenize ---- */

Test(detokenize, x_purpose_is_required_and_must_be_declared)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *body = dump(json_pack("{s:[s]}", "tokens", tok(rec, "email")));
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, NULL, body), 400, NULL);
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "marketing", body), 403, NULL);
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "Bad Purpose!", body), 403, NULL);
    struct t_resp *r = api_p("POST", "/v1/detokenize", t.admin, "", body);
    cr_assert(r->status == 400 || r->status == 403, "%ld", r->status);
    /* a purpose of another tenant is not declared here */
    struct vt o;
    tenant_create(&o);
    cr_assert_eq(
        api("PUT", "/v1/purposes/billing", o.admin, "{\"lawful_basis\":\"contract\"}")->status,
        201);
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "billing", body), 403, NULL);
}

Test(detokenize, a_consent_purpose_reveals_nothing_without_a_grant)
{
    struct vt t;
    vault_setup(&t);
    cr_assert_eq(
        api("PUT", "/v1/purposes/marketing", t.admin, "{\"lawful_basis\":\"consent\"}")->status,
        201);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    /* no consent was ever granted for crm-1: API.md refuses the purpose (403) for it */
    struct t_resp *r =
        api_p("POST", "/v1/detokenize", t.admin, "marketing",
              dump(json_pack("{s:[s,s]}", "tokens", tok(rec, "email"), tok(rec, "name"))));
    cr_assert(r->status == 200 || r->status == 403, "%ld %s", r->status, r->body);
    if (r->status == 200) {
        json_t *res = json_object_get(r->json, "results");
        for (size_t i = 0; i < json_array_size(res); i++) {
            cr_expect_eq(item_status(json_array_get(res, i)), 403,
                         "revealed under a consent purpose without consent: %s",
                         show(json_array_get(res, i)));
        }
    }
    cr_assert_null(strstr(r->body, "john.doe"), "POST /v1/detokenize X-Purpose: marketing -> %s",
                   r->body);
    r = api_p("GET", rec_path(rid(rec)), t.admin, "marketing", NULL);
    cr_assert_eq(r->status, 403, "GET record X-Purpose: marketing -> %ld %s", r->status, r->body);
}

Test(detokenize, masks_follow_the_type_of_each_field)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *res =
        detok(t.admin, "masked",
              json_pack("[s,s,s,s,s,s,s]", tok(rec, "card"), tok(rec, "ssn"), tok(rec, "email"),
                        tok(rec, "phone"), tok(rec, "name"), tok(rec, "note"), tok(rec, "dob")));
    static const char *const masks[] = {"************1111", "***-**-6789",    "j***@example.com",
                                        "+*******0100",     "**********mith", "*********mail",
                                        "******5-17"};
    for (size_t i = 0; i < 7; i++) {
        json_t *item = json_array_get(res, i);
        cr_assert_str_eq(value_of(item), masks[i], "item %zu: %s", i, show(item));
        cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "masked");
    }
    /* a short value shows nothing */
    json_t *bob = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", "Bob"));
    cr_assert_str_eq(value_of(detok1(t.admin, tok(bob, "name"), "masked")), "***");
    res = detok(t.admin, "redacted",
                json_pack("[s,s,s]", tok(rec, "card"), tok(rec, "email"), tok(rec, "name")));
    for (size_t i = 0; i < 3; i++) {
        json_t *item = json_array_get(res, i);
        cr_assert_str_eq(value_of(item), "[REDACTED]");
        cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "redacted");
    }
}

Test(detokenize, the_level_is_the_lower_of_asked_and_granted)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *card = tok(rec, "card");
    const char *masked = t_token(t.id, "detokenize:customers.*:masked");
    json_t *item = detok1(masked, card, "plain");
    cr_assert_str_eq(value_of(item), "************1111");
    cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "masked");
    item = detok1(masked, card, NULL);
    cr_assert_str_eq(value_of(item), "************1111");
    item = detok1(masked, card, "redacted");
    cr_assert_str_eq(value_of(item), "[REDACTED]");
    cr_assert_str_eq(json_string_value(json_object_get(item, "redaction")), "redacted");
    const char *redacted = t_token(t.id, "detokenize:*.card:redacted");
    item = detok1(redacted, card, "masked");
    cr_assert_str_eq(value_of(item), "[REDACTED]");
    /* the best of several grants wins */
    const char *both = t_token(t.id, "detokenize:customers.*:redacted detokenize:*.card:plain");
    cr_assert_str_eq(value_of(detok1(both, card, NULL)), "4111111111111111");
    cr_assert_str_eq(value_of(detok1(both, tok(rec, "email"), NULL)), "[REDACTED]");
    /* a grant on another collection gives nothing here */
    const char *elsewhere = t_token(t.id, "detokenize:accounts.*:plain");
    cr_assert_eq(item_status(detok1(elsewhere, card, NULL)), 403);
}

Test(detokenize, a_field_grant_reveals_that_field_only)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *email_only = t_token(t.id, "detokenize:customers.email:plain");
    json_t *res = detok(email_only, NULL, json_pack("[s,s]", tok(rec, "email"), tok(rec, "phone")));
    cr_assert_str_eq(value_of(json_array_get(res, 0)), "john.doe@example.com");
    json_t *denied = json_array_get(res, 1);
    cr_assert_eq(item_status(denied), 403, "%s", show(denied));
    cr_assert_str_eq(json_string_value(json_object_get(denied, "token")), tok(rec, "phone"));
}

Test(detokenize, without_any_detokenize_scope_every_item_is_403)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *none = t_token(t.id, "tenant:admin records:write records:search");
    const char *fields[] = {"name", "email", "phone", "card", "ssn", "note", "dob"};
    json_t *tokens = json_array();
    for (size_t i = 0; i < 7; i++) {
        json_array_append_new(tokens, json_string(tok(rec, fields[i])));
    }
    struct t_resp *r = api_p("POST", "/v1/detokenize", none, "support",
                             dump(json_pack("{s:o}", "tokens", tokens)));
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *res = json_object_get(r->json, "results");
    cr_assert_eq(json_array_size(res), 7);
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(item_status(json_array_get(res, i)), 403, "%s", show(json_array_get(res, i)));
    }
    cr_assert_null(strstr(r->body, "john.doe"), "%s", r->body);
    cr_assert_null(strstr(r->body, "Jonathan"), "%s", r->body);
}

Test(detokenize, unknown_and_foreign_tokens_get_the_same_404)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *mine = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    json_t *theirs = tokenize1(&b, "crm-9",
                               json_pack("{s:s, s:s, s:s, s:s}", "email", "secret.b@example.org",
                                         "phone", "+442071838750", "card", "5555 5555 5555 4444",
                                         "name", "Bartholomew B"));
    const char *unknown = fmt("tok_%s", "0123456789abcdefABCDEF");
    json_t *res =
        detok(a.admin, NULL,
              json_pack("[s,s,s,s,s,s]", unknown, tok(theirs, "email"), tok(theirs, "phone"),
                        tok(theirs, "card"), tok(theirs, "name"), tok(mine, "email")));
    json_t *first = json_object_get(json_array_get(res, 0), "error");
    cr_assert_eq(item_status(json_array_get(res, 0)), 404, "%s", show(json_array_get(res, 0)));
    for (size_t i = 1; i < 5; i++) {
        json_t *item = json_array_get(res, i);
        cr_assert_eq(item_status(item), 404, "item %zu: %s", i, show(item));
        cr_assert(json_equal(json_object_get(item, "error"), first),
                  "a foreign token answers differently:\n%s\n%s", show(item), show(first));
        cr_assert_null(json_object_get(item, "collection"), "%s", show(item));
        cr_assert_null(json_object_get(item, "field"), "%s", show(item));
    }
    cr_assert_str_eq(value_of(json_array_get(res, 5)), "john.doe@example.com");
    /* B's own tokens work for B */
    cr_assert_str_eq(plain(&b, tok(theirs, "email")), "secret.b@example.org");
    /* and a malformed token is just unknown */
    cr_assert_eq(item_status(detok1(a.admin, "not a token", NULL)), 404);
}

Test(detokenize, a_batch_of_1000_tokens_is_answered_in_order)
{
    struct vt t;
    vault_setup(&t);
    struct t_resp *r = api("POST", RECORDS, t.admin, batch_body(1000, "d"));
    cr_assert_eq(r->status, 201, "%ld %.300s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    json_t *tokens = json_array();
    /* in reverse, mixing fields, so that order is not the order of storage */
    for (size_t i = 1000; i-- > 0;) {
        json_array_append_new(tokens,
                              json_string(tok(json_array_get(list, i), i % 2 ? "name" : "email")));
    }
    json_t *sent = json_incref(tokens);
    json_t *res = detok(t.admin, NULL, tokens);
    for (size_t k = 0; k < 1000; k++) {
        size_t i = 999 - k;
        json_t *item = json_array_get(res, k);
        cr_assert_str_eq(json_string_value(json_object_get(item, "token")),
                         json_string_value(json_array_get(sent, k)));
        const char *want = i % 2 ? fmt("Person d %zu", i) : fmt("p%zu.d@example.com", i);
        cr_assert_str_eq(value_of(item), want, "item %zu", k);
    }
    json_decref(sent);
}

Test(detokenize, malformed_bodies_are_422)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *many = json_array();
    for (size_t i = 0; i < 1001; i++) {
        json_array_append_new(many, json_string(tok(rec, "email")));
    }
    static const struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"tokens\":[]}", "/tokens"},
        {"{\"tokens\":\"tok_x\"}", "/tokens"},
        {"{}", "/tokens"},
        {"{\"tokens\":[42]}", "/tokens/0"},
        {"{\"tokens\":[\"tok_a\",null]}", "/tokens/1"},
        {"{\"tokens\":[\"\"]}", "/tokens/0"},
        {"{\"tokens\":[\"tok_a\"],\"redaction\":\"bogus\"}", "/redaction"},
        {"{\"tokens\":[\"tok_a\"],\"redaction\":\"none\"}", "/redaction"},
        {"{\"tokens\":[\"tok_a\"],\"redaction\":1}", "/redaction"},
        {"{\"tokens\":[\"tok_a\"],\"extra\":1}", NULL},
        {"[\"tok_a\"]", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_problem(api_p("POST", "/v1/detokenize", t.admin, "support", cases[i].body), 422,
                       cases[i].pointer);
    }
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "support",
                         dump(json_pack("{s:o}", "tokens", many))),
                   422, "/tokens");
    assert_problem(api_p("POST", "/v1/detokenize", t.admin, "support",
                         dump(json_pack("{s:[s]}", "tokens", repeat('t', 129)))),
                   422, "/tokens/0");
}

/* ---- 5. record read ---- */

Test(record_read, returns_only_the_requested_fields_at_the_requested_level)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    struct t_resp *r =
        api_p("GET", fmt("%s?redaction=masked&fields=email,card", rec_path(rid(rec))), t.admin,
              "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    assert_no_store(r);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 2, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(f, "email")), "j***@example.com");
    cr_assert_str_eq(json_string_value(json_object_get(f, "card")), "************1111");
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "id")), rid(rec));
    cr_assert_str_eq(json_string_value(json_object_get(r->json, "subject_id")), "crm-1");
    json_t *toks = json_object_get(r->json, "tokens");
    cr_assert_str_eq(json_string_value(json_object_get(toks, "card")), tok(rec, "card"));
    cr_assert_null(json_object_get(toks, "phone"), "%s", r->body);

    r = api_p("GET", rec_path(rid(rec)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 7, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(f, "phone")), "+14155550100");
    cr_assert_str_eq(json_string_value(json_object_get(f, "name")), "Jonathan Smith");

    r = api_p("GET", fmt("%s?redaction=redacted&fields=ssn", rec_path(rid(rec))), t.admin,
              "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "fields"), "ssn")),
                     "[REDACTED]");
    assert_problem(
        api_p("GET", fmt("%s?redaction=bogus", rec_path(rid(rec))), t.admin, "support", NULL), 400,
        NULL);
    /* a masked grant caps a plain read */
    const char *masked = t_token(t.id, "detokenize:customers.*:masked");
    r = api_p("GET", fmt("%s?fields=phone", rec_path(rid(rec))), masked, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r->json, "fields"), "phone")),
        "+*******0100");
}

Test(record_read, needs_a_declared_x_purpose)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    assert_problem(api_p("GET", rec_path(rid(rec)), t.admin, NULL, NULL), 400, NULL);
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), t.admin, "marketing", NULL);
    assert_problem(r, 403, NULL);
    cr_assert_null(strstr(r->body, "john.doe"), "%s", r->body);
}

Test(record_read, unknown_foreign_and_malformed_ids_are_404_alike)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *rec = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    struct t_resp *foreign = api_p("GET", rec_path(rid(rec)), b.admin, "support", NULL);
    assert_problem(foreign, 404, NULL);
    cr_assert_null(strstr(foreign->body, "john.doe"), "%s", foreign->body);
    struct t_resp *unknown =
        api_p("GET", rec_path(fmt("rec_%s", random_hex(16))), a.admin, "support", NULL);
    assert_problem(unknown, 404, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(foreign->json, "detail")),
                     json_string_value(json_object_get(unknown->json, "detail")));
    assert_problem(api_p("GET", rec_path("nope"), a.admin, "support", NULL), 404, NULL);
    assert_problem(api_p("GET", rec_path(fmt("rec_%s", repeat('Z', 32))), a.admin, "support", NULL),
                   404, NULL);
    /* the record in another collection of the same tenant is not there either */
    cr_assert_eq(
        api("PUT", "/v1/collections/other", a.admin, "{\"fields\":{\"name\":{\"type\":\"name\"}}}")
            ->status,
        201);
    assert_problem(
        api_p("GET", fmt("/v1/collections/other/records/%s", rid(rec)), a.admin, "support", NULL),
        404, NULL);
}

Test(record_read, a_deleted_record_is_410)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    cr_assert_eq(api("DELETE", rec_path(rid(rec)), t.admin, NULL)->status, 204);
    assert_problem(api_p("GET", rec_path(rid(rec)), t.admin, "support", NULL), 410, NULL);
}

Test(record_read, a_read_with_no_granted_field_is_403)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *note_only = t_token(t.id, "detokenize:customers.note:plain");
    struct t_resp *r =
        api_p("GET", fmt("%s?fields=email", rec_path(rid(rec))), note_only, "support", NULL);
    assert_problem(r, 403, NULL);
    const char *none = t_token(t.id, "records:write");
    assert_problem(api_p("GET", rec_path(rid(rec)), none, "support", NULL), 403, NULL);
    /* the granted field alone comes back */
    r = api_p("GET", rec_path(rid(rec)), note_only, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    json_t *f = json_object_get(r->json, "fields");
    cr_assert_eq(json_object_size(f), 1, "%s", r->body);
    cr_assert_str_eq(json_string_value(json_object_get(f, "note")), "prefers email");
    cr_assert_null(strstr(r->body, "john.doe"), "%s", r->body);
}

/* ---- 6. search ---- */

/* The records of a 200 search answer. */
static json_t *
search(const char *bearer, const char *field, const char *value)
{
    struct t_resp *r = api("POST", "/v1/collections/customers/search", bearer,
                           dump(json_pack("{s:s, s:s}", "field", field, "value", value)));
    cr_assert_eq(r->status, 200, "search: %ld %s", r->status, r->body);
    json_t *list = json_object_get(r->json, "records");
    cr_assert(json_is_array(list), "%s", r->body);
    return list;
}

Test(search, finds_a_record_by_its_normalized_value)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    tokenize1(&t, "crm-2", std_fields("+14155550199"));
    json_t *list = search(t.admin, "phone", "+1 (415) 555-0100");
    cr_assert_eq(json_array_size(list), 1, "%s", show(list));
    json_t *hit = json_array_get(list, 0);
    cr_assert_str_eq(rid(hit), rid(rec));
    cr_assert_str_eq(json_string_value(json_object_get(hit, "subject_id")), "crm-1");
    cr_assert_str_eq(tok(hit, "phone"), tok(rec, "phone"));
    cr_assert_str_eq(tok(hit, "email"), tok(rec, "email"));
    /* the domain of an email is case-insensitive */
    list = search(t.admin, "email", "john.doe@EXAMPLE.com");
    cr_assert_eq(json_array_size(list), 2, "%s", show(list));
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550111")), 0);
    cr_assert_eq(json_array_size(search(t.admin, "email", "John.doe@example.com")), 0,
                 "the local part of an email is case-sensitive");
}

Test(search, refuses_unsearchable_and_unknown_fields_and_invalid_values)
{
    struct vt t;
    vault_setup(&t);
    tokenize1(&t, "crm-1", std_fields("+14155550100"));
    static const struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"field\":\"name\",\"value\":\"Jonathan Smith\"}", "/field"},
        {"{\"field\":\"card\",\"value\":\"4111111111111111\"}", "/field"},
        {"{\"field\":\"bogus\",\"value\":\"x\"}", "/field"},
        {"{\"field\":\"phone\",\"value\":\"4155550100\"}", "/value"},
        {"{\"field\":\"email\",\"value\":\"not-an-email\"}", "/value"},
        {"{\"field\":\"phone\",\"value\":14155550100}", "/value"},
        {"{\"field\":\"phone\"}", "/value"},
        {"{\"value\":\"+14155550100\"}", "/field"},
        {"{\"field\":\"phone\",\"value\":\"+14155550100\",\"limit\":5}", NULL},
        {"[]", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_resp *r = api("POST", "/v1/collections/customers/search", t.admin, cases[i].body);
        assert_problem(r, 422, cases[i].pointer);
    }
    const char *no_search = t_token(t.id, "records:write detokenize:*.*:plain");
    assert_problem(api("POST", "/v1/collections/customers/search", no_search,
                       "{\"field\":\"phone\",\"value\":\"+14155550100\"}"),
                   403, NULL);
    assert_problem(api("POST", "/v1/collections/nothere/search", t.admin,
                       "{\"field\":\"phone\",\"value\":\"+14155550100\"}"),
                   404, NULL);
}

Test(search, another_tenant_finds_nothing)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    tokenize1(&a, "crm-1", std_fields("+14155550100"));
    cr_assert_eq(json_array_size(search(b.admin, "phone", "+14155550100")), 0);
    cr_assert_eq(json_array_size(search(b.admin, "email", "john.doe@example.com")), 0);
    cr_assert_eq(json_array_size(search(a.admin, "phone", "+14155550100")), 1);
}

/* ---- 7. rectify ---- */

static struct t_resp *
patch(const struct vt *t, const char *id, json_t *fields)
{
    return api("PATCH", rec_path(id), t->admin, dump(json_pack("{s:o}", "fields", fields)));
}

Test(rectify, random_tokens_stay_and_reveal_the_new_value)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    struct t_resp *r =
        patch(&t, rid(rec),
              json_pack("{s:s, s:s}", "name", "Jane Doe-Smith", "email", "jane@example.com"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(tok(r->json, "name"), tok(rec, "name"));
    cr_assert_str_eq(tok(r->json, "email"), tok(rec, "email"));
    cr_assert_str_eq(tok(r->json, "phone"), tok(rec, "phone"));
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jane Doe-Smith");
    cr_assert_str_eq(plain(&t, tok(rec, "email")), "jane@example.com");
    /* untouched fields keep their values */
    cr_assert_str_eq(plain(&t, tok(rec, "note")), "prefers email");
    /* the search index follows */
    cr_assert_eq(json_array_size(search(t.admin, "email", "jane@example.com")), 1);
    cr_assert_eq(json_array_size(search(t.admin, "email", "john.doe@example.com")), 0);
    /* a field the record did not have yet */
    json_t *small = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", "Short Record"));
    r = patch(&t, rid(small), json_pack("{s:s}", "note", "added later"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(plain(&t, tok(r->json, "note")), "added later");
}

Test(rectify, a_deterministic_token_follows_the_value_and_the_old_one_is_410)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    const char *old = tok(rec, "phone");
    struct t_resp *r = patch(&t, rid(rec), json_pack("{s:s}", "phone", "+14155550123"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    const char *fresh = tok(r->json, "phone");
    cr_assert(is_token(fresh, "tokd_"), "%s", fresh);
    cr_assert_str_neq(fresh, old);
    cr_assert_str_eq(plain(&t, fresh), "+14155550123");
    cr_assert_eq(item_status(detok1(t.admin, old, NULL)), 410);
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550100")), 0);
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550123")), 1);
    /* a format-preserving card token follows its value too */
    const char *old_card = tok(rec, "card");
    r = patch(&t, rid(rec), json_pack("{s:s}", "card", "5555 5555 5555 4444"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_neq(tok(r->json, "card"), old_card);
    cr_assert_str_eq(plain(&t, tok(r->json, "card")), "5555555555554444");
    cr_assert_eq(item_status(detok1(t.admin, old_card, NULL)), 410);
    /* back to the first value: the first token is live again */
    r = patch(&t, rid(rec), json_pack("{s:s}", "phone", "+1 415 555 0100"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(tok(r->json, "phone"), old);
    cr_assert_str_eq(plain(&t, old), "+14155550100");
    cr_assert_eq(item_status(detok1(t.admin, fresh, NULL)), 410);
}

Test(rectify, an_invalid_value_is_422_and_changes_nothing)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    assert_problem(patch(&t, rid(rec),
                         json_pack("{s:s, s:s}", "name", "Changed Name", "email", "not-an-email")),
                   422, "/fields/email");
    assert_problem(
        patch(&t, rid(rec),
              json_pack("{s:s, s:s}", "phone", "+14155550123", "card", "4111 1111 1111 1112")),
        422, "/fields/card");
    assert_problem(patch(&t, rid(rec), json_pack("{s:s}", "bogus", "x")), 422, "/fields/bogus");
    assert_problem(patch(&t, rid(rec), json_pack("{s:i}", "name", 5)), 422, "/fields/name");
    assert_problem(patch(&t, rid(rec), json_object()), 422, NULL);
    assert_problem(api("PATCH", rec_path(rid(rec)), t.admin, "{}"), 422, NULL);
    assert_problem(api("PATCH", rec_path(rid(rec)), t.admin,
                       "{\"fields\":{\"name\":\"X Y\"},\"subject_id\":\"crm-2\"}"),
                   422, NULL);
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jonathan Smith");
    cr_assert_str_eq(plain(&t, tok(rec, "email")), "john.doe@example.com");
    cr_assert_str_eq(plain(&t, tok(rec, "phone")), "+14155550100");
    cr_assert_str_eq(plain(&t, tok(rec, "card")), "4111111111111111");
    assert_problem(patch(&t, fmt("rec_%s", random_hex(16)), json_pack("{s:s}", "name", "A B")), 404,
                   NULL);
    const char *no_write = t_token(t.id, "records:delete detokenize:*.*:plain");
    assert_problem(
        api("PATCH", rec_path(rid(rec)), no_write, "{\"fields\":{\"name\":\"Changed Name\"}}"), 403,
        NULL);
    cr_assert_str_eq(plain(&t, tok(rec, "name")), "Jonathan Smith");
}

Test(rectify, another_tenant_cannot_rectify_and_a_deleted_record_is_410)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *rec = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    assert_problem(patch(&b, rid(rec), json_pack("{s:s}", "name", "Hijacked Name")), 404, NULL);
    cr_assert_str_eq(plain(&a, tok(rec, "name")), "Jonathan Smith");
    cr_assert_eq(api("DELETE", rec_path(rid(rec)), a.admin, NULL)->status, 204);
    assert_problem(patch(&a, rid(rec), json_pack("{s:s}", "name", "After Delete")), 410, NULL);
}

/* ---- 8. delete ---- */

Test(delete, a_deleted_record_and_its_tokens_answer_410)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *keep = tokenize1(&t, "crm-2", json_pack("{s:s}", "name", "Kept Record"));
    struct t_resp *r = api("DELETE", rec_path(rid(rec)), t.admin, NULL);
    cr_assert_eq(r->status, 204, "%ld %s", r->status, r->body);
    const char *fields[] = {"name", "email", "phone", "card", "ssn", "note", "dob"};
    json_t *tokens = json_array();
    for (size_t i = 0; i < 7; i++) {
        json_array_append_new(tokens, json_string(tok(rec, fields[i])));
    }
    json_t *res = detok(t.admin, NULL, tokens);
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(item_status(json_array_get(res, i)), 410, "%s: %s", fields[i],
                     show(json_array_get(res, i)));
    }
    assert_problem(api("DELETE", rec_path(rid(rec)), t.admin, NULL), 410, NULL);
    cr_assert_eq(json_array_size(search(t.admin, "phone", "+14155550100")), 0);
    cr_assert_str_eq(plain(&t, tok(keep, "name")), "Kept Record");
    assert_problem(api("DELETE", rec_path(fmt("rec_%s", random_hex(16))), t.admin, NULL), 404,
                   NULL);
    assert_problem(api("DELETE", rec_path("nope"), t.admin, NULL), 404, NULL);
}

Test(delete, another_tenant_cannot_delete_and_records_delete_is_required)
{
    struct vt a, b;
    vault_setup(&a);
    vault_setup(&b);
    json_t *rec = tokenize1(&a, "crm-1", std_fields("+14155550100"));
    assert_problem(api("DELETE", rec_path(rid(rec)), b.admin, NULL), 404, NULL);
    const char *no_delete = t_token(a.id, "records:write detokenize:*.*:plain");
    assert_problem(api("DELETE", rec_path(rid(rec)), no_delete, NULL), 403, NULL);
    cr_assert_str_eq(plain(&a, tok(rec, "email")), "john.doe@example.com");
    struct t_resp *r = api_p("GET", rec_path(rid(rec)), a.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
}

/* ---- 9. a deterministic token of several records ---- */

Test(shared_token, a_deterministic_token_outlives_the_deletion_of_one_of_its_records)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-2", std_fields("+14155550100"));
    const char *phone = tok(a, "phone");
    cr_assert_str_eq(phone, tok(b, "phone"));
    cr_assert_eq(api("DELETE", rec_path(rid(a)), t.admin, NULL)->status, 204);
    cr_assert_str_eq(plain(&t, phone), "+14155550100");
    json_t *list = search(t.admin, "phone", "+14155550100");
    cr_assert_eq(json_array_size(list), 1, "%s", show(list));
    cr_assert_str_eq(rid(json_array_get(list, 0)), rid(b));
    /* the other record's random tokens are its own */
    cr_assert_eq(item_status(detok1(t.admin, tok(a, "email"), NULL)), 410);
    cr_assert_str_eq(plain(&t, tok(b, "email")), "john.doe@example.com");
    cr_assert_eq(api("DELETE", rec_path(rid(b)), t.admin, NULL)->status, 204);
    cr_assert_eq(item_status(detok1(t.admin, phone, NULL)), 410);
}

Test(shared_token, rectifying_one_record_leaves_the_shared_token_live_for_the_other)
{
    struct vt t;
    vault_setup(&t);
    json_t *a = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    json_t *b = tokenize1(&t, "crm-2", std_fields("+14155550100"));
    const char *phone = tok(a, "phone");
    struct t_resp *r = patch(&t, rid(a), json_pack("{s:s}", "phone", "+14155550999"));
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_str_eq(plain(&t, phone), "+14155550100");
    json_t *list = search(t.admin, "phone", "+14155550100");
    cr_assert_eq(json_array_size(list), 1, "%s", show(list));
    cr_assert_str_eq(rid(json_array_get(list, 0)), rid(b));
}

/* ---- 10. security: planted values, the audit trail, hostile bodies ---- */

/* The whole content of a file (owned), or NULL when it cannot be read. */
static char *
slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap *= 2;
            char *p = realloc(buf, cap);
            if (p == NULL) {
                abort();
            }
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        if (n == 0) {
            break;
        }
        len += n;
    }
    fclose(f);
    buf[len] = '\0';
    return own(buf);
}

/* The standard output of a shell command (owned); *status its exit status. */
static char *
slurp_cmd(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "could not run %s", cmd);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap *= 2;
            char *q = realloc(buf, cap);
            if (q == NULL) {
                abort();
            }
            buf = q;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, p);
        if (n == 0) {
            break;
        }
        len += n;
    }
    buf[len] = '\0';
    *status = pclose(p);
    return own(buf);
}

/* Lower-case hex of the bytes of s, as bytea columns print in a dump. */
static char *
hex_of(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    char *out = own(malloc(2 * n + 1));
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[(unsigned char)s[i] >> 4];
        out[2 * i + 1] = hex[(unsigned char)s[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

Test(security, a_planted_value_is_absent_from_the_dump_the_logs_and_the_audit_trail, .timeout = 60)
{
    struct vt t;
    vault_setup(&t);
    const char *mark = random_hex(10);
    const char *canary = fmt("CANARY-%s", mark);
    const char *email = fmt("%s@example.com", canary);
    const char *later = fmt("CANARY-%s", random_hex(10));
    /* one record goes through every operation; the other stays live for the dump */
    json_t *gone = tokenize1(&t, "crm-1",
                             json_pack("{s:s, s:s, s:s, s:s}", "note", canary, "email", email,
                                       "name", canary, "phone", "+14155550100"));
    const char *kept_body =
        records_body("crm-2", json_pack("{s:s, s:s, s:s}", "note", fmt("text %s text", canary),
                                        "email", email, "name", canary));
    struct t_resp *r =
        send_req("POST", RECORDS, t.admin, NULL, "planted-1", "application/json", kept_body);
    cr_assert_eq(r->status, 201, "%s", r->body);
    json_t *kept = json_array_get(json_object_get(r->json, "records"), 0);

    cr_assert_str_eq(plain(&t, tok(gone, "note")), canary);
    cr_assert_str_eq(plain(&t, tok(gone, "email")), email);
    value_of(detok1(t.admin, tok(gone, "name"), "masked"));
    r = api_p("GET", rec_path(rid(gone)), t.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
    cr_assert_eq(json_array_size(search(t.admin, "email", email)), 2);
    r = patch(&t, rid(gone), json_pack("{s:s, s:s}", "note", later, "name", later));
    cr_assert_eq(r->status, 200, "%s", r->body);
    /* refused values do not leak through the error path either */
    r = api("POST", RECORDS, t.admin,
            records_body("crm-3", json_pack("{s:s, s:s}", "email", fmt("%s@@bad", canary), "phone",
                                            canary)));
    assert_problem(r, 422, "/records/0/fields/email");
    cr_assert_null(strstr(r->body, mark), "%s", r->body);
    r = api("POST", "/v1/collections/customers/search", t.admin,
            dump(json_pack("{s:s, s:s}", "field", "phone", "value", canary)));
    assert_problem(r, 422, "/value");
    cr_assert_null(strstr(r->body, mark), "%s", r->body);
    r = patch(&t, rid(gone), json_pack("{s:s}", "email", fmt("%s@", canary)));
    assert_problem(r, 422, "/fields/email");
    cr_assert_null(strstr(r->body, mark), "%s", r->body);
    cr_assert_eq(api("DELETE", rec_path(rid(gone)), t.admin, NULL)->status, 204);
    cr_assert_str_eq(plain(&t, tok(kept, "name")), canary);

    const char *marks[] = {mark, later + strlen("CANARY-"), hex_of(canary), hex_of(later)};
    char *log = slurp_file(t_env("CUSTOS_TEST_SERVER_LOG"));
    cr_assert_not_null(log, "cannot read the server log");
    cr_assert_not_null(strstr(log, t.id), "the server log does not show this tenant's requests");
    char *pglog = slurp_file(fmt("%s/postgres.log", t_env("CUSTOS_TEST_PG_DIR")));
    cr_assert_not_null(pglog, "cannot read the PostgreSQL log");
    int status = 0;
    char *dumped =
        slurp_cmd(fmt("pg_dump --dbname='%s' 2>&1", t_env("CUSTOS_TEST_ADMIN_DB_URL")), &status);
    cr_assert_eq(status, 0, "pg_dump failed: %.500s", dumped);
    cr_assert_not_null(strstr(dumped, t.id), "the dump does not hold this tenant");
    cr_assert_not_null(strstr(dumped, rid(kept)), "the dump does not hold the live record");
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        cr_assert_null(strstr(log, marks[i]), "the server log holds planted value %zu", i);
        cr_assert_null(strstr(pglog, marks[i]), "the PostgreSQL log holds planted value %zu", i);
        const char *at = strstr(dumped, marks[i]);
        cr_assert_null(at, "the dump holds planted value %zu: ...%.200s", i,
                       at ? (at - dumped > 100 ? at - 100 : dumped) : "");
    }
    PGconn *db = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_gt(db_count(db, "SELECT count(*) FROM audit_log WHERE tenant_id = $1", t.id), 0);
    cr_assert_eq(db_count2(db,
                           "SELECT count(*) FROM audit_log a WHERE a.tenant_id = $1"
                           " AND strpos(upper(a::text), upper($2)) > 0",
                           t.id, mark),
                 0, "an audit entry holds the planted value");
    cr_assert_eq(db_count2(db,
                           "SELECT count(*) FROM idempotency_keys k WHERE k.tenant_id = $1"
                           " AND strpos(upper(k::text), upper($2)) > 0",
                           t.id, mark),
                 0, "a stored idempotent answer holds the planted value");
}

Test(security, every_access_is_audited_with_its_outcome)
{
    struct vt t;
    vault_setup(&t);
    json_t *rec = tokenize1(&t, "crm-1", std_fields("+14155550100"));
    value_of(detok1(t.admin, tok(rec, "email"), NULL));
    const char *none = t_token_sub(t.id, "records:write", "agent-no-grant");
    cr_assert_eq(api_p("POST", "/v1/detokenize", none, "support",
                       dump(json_pack("{s:[s]}", "tokens", tok(rec, "email"))))
                     ->status,
                 200);
    cr_assert_eq(api_p("POST", "/v1/detokenize", t.admin, "marketing",
                       dump(json_pack("{s:[s]}", "tokens", tok(rec, "email"))))
                     ->status,
                 403);
    cr_assert_eq(api_p("GET", rec_path(rid(rec)), t.admin, "support", NULL)->status, 200);
    search(t.admin, "phone", "+14155550100");
    cr_assert_eq(patch(&t, rid(rec), json_pack("{s:s}", "name", "Jane Doe"))->status, 200);
    cr_assert_eq(api("POST", RECORDS, t_token(t.id, "records:search"),
                     records_body("crm-2", json_pack("{s:s}", "name", "Jo Smith")))
                     ->status,
                 403);
    cr_assert_eq(api("DELETE", rec_path(rid(rec)), t.admin, NULL)->status, 204);

    PGconn *db = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    static const char *const actions[] = {"tokenize",       "detokenize",     "record.read",
                                          "records.search", "record.rectify", "record.delete"};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        cr_assert_gt(db_count2(db,
                               "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                               " AND action = $2 AND outcome = 'allowed'",
                               t.id, actions[i]),
                     0, "no allowed %s entry", actions[i]);
    }
    cr_assert_gt(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'detokenize' AND outcome = 'denied'"
                          " AND principal = 'agent-no-grant' AND record_id IS NOT NULL"
                          " AND purpose = 'support'",
                          t.id),
                 0, "the per-item denial is not audited");
    cr_assert_gt(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'detokenize' AND outcome <> 'allowed'"
                          " AND principal = 'test-user' AND record_id IS NULL",
                          t.id),
                 0, "the undeclared purpose is not audited");
    cr_assert_gt(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'tokenize' AND outcome = 'denied'",
                          t.id),
                 0, "the refused tokenize is not audited");
    cr_assert_eq(db_count(db,
                          "SELECT count(*) FROM audit_log WHERE tenant_id = $1"
                          " AND action = 'detokenize' AND outcome = 'allowed'"
                          " AND (record_id IS NULL OR subject_id <> 'crm-1'"
                          "      OR purpose <> 'support' OR redaction <> 'plain')",
                          t.id),
                 0, "an allowed reveal is audited without its record, subject or level");
}

Test(security, hostile_json_bodies_are_refused_and_store_nothing)
{
    struct vt t;
    vault_setup(&t);
    char deep[256];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s", "{\"records\":");
    for (int i = 0; i < 38; i++) {
        deep[n++] = '[';
    }
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "%s",
                          "{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"x\"}}");
    for (int i = 0; i < 38; i++) {
        deep[n++] = ']';
    }
    deep[n++] = '}';
    deep[n] = '\0';
    /* status 0: 400 or 422, a refusal either way */
    const struct {
        const char *what, *ctype;
        long status;
        const char *body;
    } cases[] = {
        {"invalid UTF-8", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\xC0\xAF"
         "b\"}}]}"},
        {"overlong UTF-8", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\xE0\x80\xAF\"}}]}"},
        {"encoded surrogate", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"\xED\xA0\x80\"}}]}"},
        {"beyond U+10FFFF", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"\xF4\x90\x80\x80\"}}]}"},
        {"NUL escape in a value", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\\u0000b\"}}]}"},
        {"NUL escape in a key", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\\u0000\":\"ab\"}}]}"},
        {"lone surrogate", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\\uD800b\"}}]}"},
        {"lone low surrogate", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"\\uDC00\"}}]}"},
        {"duplicate field", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\",\"note\":\"b\"}}]}"},
        {"duplicate subject", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"subject_id\":\"crm-2\","
         "\"fields\":{\"note\":\"a\"}}]}"},
        {"duplicate records", "application/json", 0,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}],\"records\":[]}"},
        {"nesting depth 40", "application/json", 0, deep},
        {"text/plain", "text/plain", 415,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"json with another charset", "application/json; charset=latin1", 415,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"form encoded", "application/x-www-form-urlencoded", 415, "records=1"},
        {"no content type", NULL, 415,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"truncated", "application/json", 400, "{\"records\":[{\"subject_id\":\"crm-1\""},
        {"trailing garbage", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]} x"},
        {"two documents", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}{}"},
        {"single quotes", "application/json", 400,
         "{'records':[{'subject_id':'crm-1','fields':{'note':'a'}}]}"},
        {"comment", "application/json", 400,
         "{\"records\":[/* x */{\"subject_id\":\"crm-1\",\"fields\":{\"note\":\"a\"}}]}"},
        {"NaN", "application/json", 400,
         "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":NaN}}]}"},
        {"empty body", "application/json", 400, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct t_resp *r =
            send_req("POST", RECORDS, t.admin, NULL, NULL, cases[i].ctype, cases[i].body);
        if (cases[i].status == 0) {
            cr_assert(r->status == 400 || r->status == 422, "%s: got %ld %s", cases[i].what,
                      r->status, r->body);
        } else {
            cr_assert_eq(r->status, cases[i].status, "%s: got %ld %s", cases[i].what, r->status,
                         r->body);
        }
        char ct[128];
        cr_assert(t_header(r, "Content-Type", ct, sizeof(ct)), "%s", cases[i].what);
        cr_assert_str_eq(ct, "application/problem+json", "%s", cases[i].what);
    }
    /* a body over the limit (1 MiB by default) */
    struct t_resp *big =
        api("POST", RECORDS, t.admin,
            records_body("crm-1", json_pack("{s:s}", "note", repeat('a', 1100000))));
    assert_problem(big, 413, NULL);
    cr_assert_eq(stored_records(&t), 0, "a hostile body stored a record");
    /* the same record, well formed, goes in */
    struct t_resp *ok =
        send_req("POST", RECORDS, t.admin, NULL, NULL, "application/json; charset=utf-8",
                 "{\"records\":[{\"subject_id\":\"crm-1\",\"fields\":{\"note\":"
                 "\"a\\u00e9\\ud83d\\ude00\"}}]}");
    cr_assert_eq(ok->status, 201, "%s", ok->body);
    json_t *rec = json_array_get(json_object_get(ok->json, "records"), 0);
    cr_assert_str_eq(plain(&t, tok(rec, "note")), "a\xC3\xA9\xF0\x9F\x98\x80");
    cr_assert_eq(stored_records(&t), 1);
}

/* ---- 11. row-level security: the second line of tenant isolation ---- */

static const char *const tenant_tables[] = {
    "records",  "tokens",    "record_values",    "subject_keys",     "tenant_keys", "collections",
    "purposes", "audit_log", "idempotency_keys", "tenant_data_keys", "tenants",
};
#define NTABLES (sizeof(tenant_tables) / sizeof(tenant_tables[0]))

/* A tenant with two records; returns the first record's id. */
static const char *
seeded(struct vt *t)
{
    vault_setup(t);
    const char *body = dump(json_pack("{s:[{s:s, s:o}, {s:s, s:o}]}", "records", "subject_id",
                                      "crm-1", "fields", std_fields("+14155550100"), "subject_id",
                                      "crm-2", "fields", std_fields("+14155550101")));
    struct t_resp *r = send_req("POST", RECORDS, t->admin, NULL, "seed", "application/json", body);
    cr_assert_eq(r->status, 201, "%s", r->body);
    return rid(json_array_get(json_object_get(r->json, "records"), 0));
}

/* Runs one statement; the rows it affected, or -1 with its SQLSTATE when it failed. */
static long
db_exec(PGconn *c, const char *sql, const char *p1, const char *p2, char state[6])
{
    const char *params[2] = {p1, p2};
    int n = p2 != NULL ? 2 : p1 != NULL ? 1 : 0;
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    long rows = -1;
    state[0] = '\0';
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        rows = atol(PQcmdTuples(res));
    } else {
        const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(state, 6, "%s", s ? s : "?????");
    }
    PQclear(res);
    return rows;
}

static void
db_ok(PGconn *c, const char *sql, const char *p1)
{
    char state[6];
    cr_assert_geq(db_exec(c, sql, p1, NULL, state), 0, "%s: SQLSTATE %s", sql, state);
}

Test(rls, without_a_tenant_setting_the_service_role_sees_no_rows)
{
    struct vt a;
    seeded(&a);
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    cr_assert_eq(db_count(admin, "SELECT count(*) FROM records WHERE tenant_id = $1", a.id), 2);
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    for (size_t i = 0; i < NTABLES; i++) {
        cr_assert_eq(db_count(app, fmt("SELECT count(*) FROM %s", tenant_tables[i]), NULL), 0,
                     "%s shows rows without a tenant", tenant_tables[i]);
    }
    /* nor with an empty one */
    db_ok(app, "SELECT set_config('custos.tenant', '', false)", NULL);
    for (size_t i = 0; i < NTABLES; i++) {
        cr_assert_eq(db_count(app, fmt("SELECT count(*) FROM %s", tenant_tables[i]), NULL), 0,
                     "%s shows rows for an empty tenant", tenant_tables[i]);
    }
}

Test(rls, inside_a_tenant_transaction_only_that_tenant_rows_are_visible)
{
    struct vt a, b;
    seeded(&a);
    seeded(&b);
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    for (size_t i = 0; i < NTABLES; i++) {
        const char *table = tenant_tables[i];
        cr_assert_eq(
            db_count(app, fmt("SELECT count(*) FROM %s WHERE tenant_id <> $1", table), a.id), 0,
            "%s shows another tenant's rows", table);
        long long mine = db_count(app, fmt("SELECT count(*) FROM %s", table), NULL);
        long long truth =
            db_count(admin, fmt("SELECT count(*) FROM %s WHERE tenant_id = $1", table), a.id);
        cr_assert_eq(mine, truth, "%s: %lld visible, %lld stored", table, mine, truth);
    }
    cr_assert_eq(db_count(app, "SELECT count(*) FROM records", NULL), 2);
    cr_assert_gt(db_count(app, "SELECT count(*) FROM tokens", NULL), 0);
    cr_assert_eq(db_count(app, "SELECT count(*) FROM records WHERE tenant_id = $1", b.id), 0);
    db_ok(app, "ROLLBACK", NULL);
    /* SET LOCAL died with the transaction */
    cr_assert_eq(db_count(app, "SELECT count(*) FROM records", NULL), 0);
}

Test(rls, a_tenant_transaction_cannot_move_or_write_another_tenant_rows)
{
    struct vt a, b;
    const char *ra = seeded(&a);
    const char *rb = seeded(&b);
    PGconn *admin = db_open("CUSTOS_TEST_ADMIN_DB_URL");
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    char state[6];

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    long rows = db_exec(app, "UPDATE records SET tenant_id = $1 WHERE id = $2", b.id, ra, state);
    cr_assert(rows <= 0, "a record moved to another tenant (%ld rows)", rows);
    db_ok(app, "ROLLBACK", NULL);

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    rows = db_exec(app, "UPDATE purposes SET tenant_id = $1 WHERE name = 'support'", b.id, NULL,
                   state);
    cr_assert(rows <= 0, "a purpose moved to another tenant (%ld rows)", rows);
    db_ok(app, "ROLLBACK", NULL);

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_eq(db_exec(app, "UPDATE records SET subject_id = 'x' WHERE id = $1", rb, NULL, state),
                 0, "SQLSTATE %s", state);
    cr_assert_eq(db_exec(app, "DELETE FROM records WHERE id = $1", rb, NULL, state), 0,
                 "SQLSTATE %s", state);
    cr_assert_eq(db_exec(app, "DELETE FROM tokens WHERE tenant_id = $1", b.id, NULL, state), 0,
                 "SQLSTATE %s", state);
    db_ok(app, "ROLLBACK", NULL);

    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    rows = db_exec(app,
                   "INSERT INTO purposes (tenant_id, name, lawful_basis)"
                   " VALUES ($1, 'planted', 'contract')",
                   b.id, NULL, state);
    cr_assert_eq(rows, -1, "a row was written for another tenant");
    cr_assert_str_eq(state, "42501", "not refused by the row-level policy");
    db_ok(app, "ROLLBACK", NULL);

    cr_assert_eq(
        db_count2(admin, "SELECT count(*) FROM records WHERE tenant_id = $1 AND id = $2", a.id, ra),
        1);
    cr_assert_eq(db_count2(admin,
                           "SELECT count(*) FROM records WHERE tenant_id = $1 AND id = $2"
                           " AND subject_id <> 'x'",
                           b.id, rb),
                 1);
    cr_assert_eq(db_count(admin,
                          "SELECT count(*) FROM purposes WHERE name = 'planted'"
                          " AND tenant_id = $1",
                          b.id),
                 0);
    /* and B still reads its own record */
    struct t_resp *r = api_p("GET", rec_path(rb), b.admin, "support", NULL);
    cr_assert_eq(r->status, 200, "%s", r->body);
}

Test(rls, the_service_role_cannot_rewrite_or_erase_the_audit_trail)
{
    struct vt a;
    seeded(&a);
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    char state[6];
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_gt(db_count(app, "SELECT count(*) FROM audit_log", NULL), 0);
    cr_assert_eq(db_exec(app, "UPDATE audit_log SET outcome = 'allowed'", NULL, NULL, state), -1,
                 "the service can rewrite audit entries");
    cr_assert_str_eq(state, "42501");
    db_ok(app, "ROLLBACK", NULL);
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_eq(db_exec(app, "DELETE FROM audit_log", NULL, NULL, state), -1,
                 "the service can erase audit entries");
    cr_assert_str_eq(state, "42501");
    db_ok(app, "ROLLBACK", NULL);
    db_ok(app, "BEGIN", NULL);
    db_ok(app, "SELECT set_config('custos.tenant', $1, true)", a.id);
    cr_assert_eq(db_exec(app, "TRUNCATE audit_log", NULL, NULL, state), -1,
                 "the service can truncate the audit trail");
    db_ok(app, "ROLLBACK", NULL);
}

Test(rls, the_service_role_is_no_superuser_bypasses_no_rls_and_owns_no_table)
{
    PGconn *app = db_open("CUSTOS_DATABASE_URL");
    cr_assert_eq(db_count(app, "SELECT count(*) FROM pg_roles WHERE rolname = current_user", NULL),
                 1);
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_roles WHERE rolname = current_user"
                          " AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)",
                          NULL),
                 0, "the service role is privileged");
    /* nor through a role it belongs to */
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_roles r WHERE r.rolname <> current_user"
                          " AND pg_has_role(current_user, r.oid, 'USAGE')"
                          " AND (r.rolsuper OR r.rolbypassrls)",
                          NULL),
                 0, "the service role inherits a privileged role");
    cr_assert_eq(
        db_count(app, "SELECT count(*) FROM pg_tables WHERE tableowner = current_user", NULL), 0,
        "the service role owns tables (owners skip non-forced policies)");
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"
                          " AND has_schema_privilege(current_user, oid, 'CREATE')",
                          NULL),
                 0, "the service role may create objects in public");
    /* every table with a tenant_id forces its row-level security */
    cr_assert_eq(db_count(app,
                          "SELECT count(*) FROM pg_class c"
                          " JOIN pg_namespace n ON n.oid = c.relnamespace"
                          " WHERE n.nspname = 'public' AND c.relkind = 'r'"
                          " AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
                          "             AND a.attname = 'tenant_id' AND NOT a.attisdropped)"
                          " AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
                          NULL),
                 0, "a tenant table does not force row-level security");
}
