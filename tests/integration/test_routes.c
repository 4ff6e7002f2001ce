/* The route table as a specification: walks cu_routes (http/routes.c) and proves, for every
 * route, that its declared policy is what the server enforces: public routes answer without a
 * token; protected routes answer 401 without one and 403 to a token without their scope; a
 * denial on a tenant route is written to that tenant's audit trail under the route's action. */
#include "harness.h"
#include "idp.h"

#include "http/http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The route's pattern with each {param} replaced by a plausible value. */
static void
concrete_path(const char *pattern, char *out, size_t n)
{
    size_t used = 0;
    for (const char *p = pattern; *p != '\0' && used + 1 < n;) {
        if (*p != '{') {
            out[used++] = *p++;
            continue;
        }
        const char *close = strchr(p, '}');
        const char *v = strncmp(p, "{id}", 4) == 0 ? "rec_0123456789abcdef0123456789abcdef"
                                                   : "customers";
        int w = snprintf(out + used, n - used, "%s", v);
        used += (size_t)w < n - used ? (size_t)w : n - used - 1;
        p = close + 1;
    }
    out[used] = '\0';
}

static long
call(const struct cu_route *r, const char *token)
{
    char path[256];
    concrete_path(r->pattern, path, sizeof(path));
    struct t_resp resp;
    const char *form[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    int rc = (r->flags & CU_ROUTE_JSON_BODY)
                 ? t_json(t_shared(), r->method, path, token, "{}", &resp)
             : (r->flags & CU_ROUTE_FORM_BODY)
                 ? t_request(t_shared(), r->method, path, token, "a=1", form, &resp)
                 : t_request(t_shared(), r->method, path, token, NULL, NULL, &resp);
    cr_assert_eq(rc, 0, "%s %s: no answer", r->method, r->pattern);
    long status = resp.status;
    t_resp_free(&resp);
    return status;
}

static char *
new_tenant(void)
{
    static char id[32];
    t_tenant_id(id);
    char body[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\",\"name\":\"Route walk\"}", id);
    struct t_resp r;
    cr_assert_eq(t_json(t_shared(), "POST", "/v1/tenants", t_token(NULL, "vault:admin"), body, &r),
                 0);
    cr_assert_eq(r.status, 201, "tenant: %ld %s", r.status, r.body);
    t_resp_free(&r);
    return id;
}

static long
denials(const char *tenant, const char *action)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM audit_log WHERE tenant_id = '%s' AND action = '%s' "
             "AND outcome = 'denied'",
             tenant, action);
    char *v = t_sql(sql);
    cr_assert_not_null(v);
    long n = atol(v);
    free(v);
    return n;
}

Test(routes, public_routes_answer_without_a_token)
{
    for (size_t i = 0; i < cu_routes_count; i++) {
        const struct cu_route *r = &cu_routes[i];
        if (!(r->flags & CU_ROUTE_PUBLIC)) {
            continue;
        }
        long st = call(r, NULL);
        /* a secret in the path is the credential: a made-up one is the unknown-link page */
        long want = strstr(r->pattern, "{secret}") != NULL ? 404 : r->success;
        cr_expect_eq(st, want, "%s %s without a token: %ld", r->method, r->pattern, st);
    }
}

Test(routes, every_protected_route_answers_401_without_a_token)
{
    for (size_t i = 0; i < cu_routes_count; i++) {
        const struct cu_route *r = &cu_routes[i];
        if (r->flags & CU_ROUTE_PUBLIC) {
            continue;
        }
        long st = call(r, NULL);
        cr_expect_eq(st, 401, "%s %s without a token: %ld", r->method, r->pattern, st);
        st = call(r, "not.a.jwt");
        cr_expect_eq(st, 401, "%s %s with a malformed token: %ld", r->method, r->pattern, st);
    }
}

Test(routes, every_route_with_a_scope_answers_403_without_it_and_audits_the_denial)
{
    const char *tenant = new_tenant();
    const char *unscoped = t_token(tenant, "");
    int walked = 0;
    for (size_t i = 0; i < cu_routes_count; i++) {
        const struct cu_route *r = &cu_routes[i];
        if ((r->flags & CU_ROUTE_PUBLIC) || r->scope == NULL) {
            continue;
        }
        walked++;
        long st = call(r, unscoped);
        cr_expect_eq(st, 403, "%s %s without %s: %ld", r->method, r->pattern, r->scope, st);
        if (r->flags & CU_ROUTE_TENANT) {
            cr_assert_not_null(r->audit_action, "%s %s has no audit action", r->method,
                               r->pattern);
            cr_expect_eq(denials(tenant, r->audit_action), 1, "%s %s: denial of %s not audited",
                         r->method, r->pattern, r->audit_action);
        }
    }
    cr_assert_gt(walked, 10);
}

/* The protected routes without a whole-request scope are the reveals, which read the token's
 * roles with their facts: detokenize decides per item (API.md: a token without any grant gets
 * 200 with a 403 per item; test_vault covers it), the record read refuses a token without any
 * detokenize grant 403 like the routes above (test_records covers it). */
Test(routes, only_the_reveals_leave_their_scope_to_the_service)
{
    for (size_t i = 0; i < cu_routes_count; i++) {
        const struct cu_route *r = &cu_routes[i];
        if (!(r->flags & CU_ROUTE_PUBLIC) && r->scope == NULL) {
            cr_expect(strcmp(r->pattern, "/v1/detokenize") == 0 ||
                          strcmp(r->pattern, "/v1/collections/{c}/records/{id}") == 0,
                      "%s %s has no scope", r->method, r->pattern);
        }
    }
}

/* The record read without any detokenize grant: 403 and audited, as the dispatcher refuses. */
Test(routes, the_record_read_answers_403_without_a_detokenize_grant_and_audits_it)
{
    const char *tenant = new_tenant();
    const char *unscoped = t_token(tenant, "records:write detokenize:bad");
    for (size_t i = 0; i < cu_routes_count; i++) {
        const struct cu_route *r = &cu_routes[i];
        if (strcmp(r->pattern, "/v1/collections/{c}/records/{id}") != 0 ||
            strcmp(r->method, "GET") != 0) {
            continue;
        }
        cr_expect_eq(call(r, unscoped), 403);
        cr_expect_eq(denials(tenant, "record.read"), 1);
    }
}

/* Only a platform operator's token may lack a tenant (auth answers 401 otherwise). */
Test(routes, tenant_routes_refuse_a_token_without_a_tenant)
{
    const char *everything = t_token(NULL, "vault:admin tenant:admin records:write "
                                           "records:delete records:search detokenize:*.*:plain");
    for (size_t i = 0; i < cu_routes_count; i++) {
        const struct cu_route *r = &cu_routes[i];
        if (!(r->flags & CU_ROUTE_TENANT)) {
            continue;
        }
        long st = call(r, everything);
        cr_expect_eq(st, 403, "%s %s without a tenant: %ld", r->method, r->pattern, st);
    }
}

/* The {c} segment is any UTF-8 and may be a value: a denial records it only when it is a
 * valid collection name. */
Test(routes, a_denial_never_records_an_invalid_collection_segment)
{
    const char *tenant = new_tenant();
    const char *unscoped = t_token(tenant, "");
    struct t_resp r;
    cr_assert_eq(t_json(t_shared(), "POST", "/v1/collections/ada.lovelace%40example.com/records",
                        unscoped, "{}", &r),
                 0);
    cr_assert_eq(r.status, 403, "%ld %s", r.status, r.body);
    t_resp_free(&r);
    cr_assert_eq(t_json(t_shared(), "POST", "/v1/collections/customers/records", unscoped, "{}",
                        &r),
                 0);
    cr_assert_eq(r.status, 403);
    t_resp_free(&r);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(coalesce(collection, '<null>'), ',' ORDER BY seq), '') "
             "FROM audit_log WHERE tenant_id = '%s' AND action = 'tokenize'",
             tenant);
    char *v = t_sql(sql);
    cr_assert_not_null(v);
    cr_expect_str_eq(v, "<null>,customers");
    free(v);
}
