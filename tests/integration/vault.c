/* The vault's test vocabulary (see vault.h): a tenant with `customers` and `support`, records,
 * tokens and what is stored of them. */
#include "vault.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenant.h"

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
    t_tenant_create(t_shared(), t->id, "Vault test");
    t->admin = t_token(t->id, ALL_SCOPES);
}

void
vault_setup(struct vt *t)
{
    tenant_create(t);
    t_collection_put(t_shared(), t->admin, "customers", customers_def);
    t_purpose_put(t_shared(), t->admin, "support", "Customer support", "contract");
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
