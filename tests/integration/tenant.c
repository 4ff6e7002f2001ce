/* Tenant set-up for integration tests: operator token, tenant, collection, purpose, reveal. */
#include "tenant.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "idp.h"

char *
t_operator_token(void)
{
    return t_token(NULL, "vault:admin");
}

/* Sends body (consumed) as JSON and requires want; frees the answer. */
static void
expect_json(const struct t_server *s, const char *method, const char *path, const char *token,
            json_t *body, long want)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    cr_assert_not_null(text);
    struct t_resp r;
    int rc = t_json(s, method, path, token, text, &r);
    free(text);
    cr_assert_eq(rc, 0, "%s %s: no answer (%s)", method, path, r.error);
    cr_assert_eq(r.status, want, "%s %s: %ld %s", method, path, r.status, r.body);
    t_resp_free(&r);
}

void
t_tenant_create(const struct t_server *s, const char *id, const char *name)
{
    expect_json(s, "POST", "/v1/tenants", t_operator_token(),
                json_pack("{s:s, s:s}", "id", id, "name", name), 201);
}

void
t_collection_put(const struct t_server *s, const char *token, const char *name, const char *def)
{
    json_error_t e;
    json_t *body = json_loads(def, 0, &e);
    cr_assert_not_null(body, "collection %s: bad definition in the test: %s", name, e.text);
    char path[256];
    snprintf(path, sizeof(path), "/v1/collections/%s", name);
    expect_json(s, "PUT", path, token, body, 201);
}

void
t_purpose_put(const struct t_server *s, const char *token, const char *name,
              const char *description, const char *lawful_basis)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/purposes/%s", name);
    expect_json(s, "PUT", path, token,
                json_pack("{s:s, s:s}", "description", description, "lawful_basis", lawful_basis),
                201);
}

long
t_reveal(const struct t_server *s, const char *bearer, const char *token, char *value, size_t n)
{
    json_t *j = json_pack("{s:[s]}", "tokens", token);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cr_assert_not_null(body);
    const char *headers[] = {"Content-Type: application/json", "X-Purpose: support", NULL};
    struct t_resp r;
    int rc = t_request(s, "POST", "/v1/detokenize", bearer, body, headers, &r);
    free(body);
    cr_assert_eq(rc, 0, "detokenize: no answer (%s)", r.error);
    long status = r.status;
    if (status == 200) {
        json_t *item = json_array_get(json_object_get(r.json, "results"), 0);
        json_t *err = json_object_get(item, "error");
        if (err != NULL) {
            status = (long)json_integer_value(json_object_get(err, "status"));
        } else if (value != NULL) {
            snprintf(value, n, "%s", json_string_value(json_object_get(item, "value")));
        }
    }
    t_resp_free(&r);
    return status;
}
