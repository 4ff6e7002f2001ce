/* The dispatcher: enforces each route's policy from the table (routes.c) on the headers, before
 * any body byte is read, and audits every denial of a tenant route; then, with the body, parses
 * JSON and calls the handler. Handlers hold no authorization code. */
#include "http/internal.h"

#include "auth/jwt.h"
#include "auth/reject.h"
#include "auth/scope.h"
#include "service/vault.h"
#include "service/ident.h"
#include "service/roles.h"

#include <string.h>
#include <strings.h>
#include <time.h>

static enum MHD_Result
count_authorization(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0) {
        (*(int *)cls)++;
    }
    return MHD_YES;
}

/* The RFC 6750 challenge of a refused token: which check failed, as a phrase of the fixed
 * vocabulary of auth/reject.h (never a token or claim byte); a request that sent no bearer
 * token at all gets the bare challenge (§3.1). */
static const char *
challenge_401(struct cu_arena *arena)
{
    int why = cu_auth_reject_of(cu_err_public_detail());
    if (why < 0) {
        /* a refusal that named no class (a check added without one): no guess */
        return "Bearer realm=\"custos\", error=\"invalid_token\"";
    }
    if (why == CU_AUTH_MISSING || why == CU_AUTH_NOT_BEARER) {
        return "Bearer realm=\"custos\"";
    }
    return cu_arena_printf(arena, "Bearer realm=\"custos\", error=\"%s\", error_description=\"%s\"",
                           why == CU_AUTH_SEVERAL ? "invalid_request" : "invalid_token",
                           cu_auth_reject_phrase(why));
}

static enum cu_err
authenticate(struct cu_req *req)
{
    enum cu_err rc = CU_OK;
    const char *authz = cu_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    CU_AUTH_CHECK(authz != NULL, CU_AUTH_MISSING, "no authorization header");
    /* MHD's look-up returns the first of several: which one counts must not be a guess */
    int n = 0;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_authorization, &n);
    CU_AUTH_CHECK(n == 1, CU_AUTH_SEVERAL, "several authorization headers");
    struct cu_principal *p = cu_arena_alloc(req->arena, sizeof(*p));
    CU_TRY(cu_auth_verify(req->app->auth, authz, (long long)time(NULL), req->arena, p));
    req->principal = p;
    req->tenant = p->tenant;
out:
    if (rc == CU_ERR_UNAUTHORIZED) {
        req->challenge = challenge_401(req->arena);
    }
    return rc;
}

static int
holds_scope(struct cu_req *req, const char *scope)
{
    const struct cu_principal *p = req->principal;
    return cu_scope_has(p->scopes, p->nscopes, scope);
}

/* Tenant and scope of a protected route; a scope denial on a tenant route is audited. */
static enum cu_err
authorize(struct cu_req *req, const struct cu_route *route)
{
    if ((route->flags & CU_ROUTE_TENANT) && req->tenant == NULL) {
        cu_err_set(CU_ERR_FORBIDDEN, __FILE__, __LINE__, "no tenant in token");
        return cu_err_public(CU_ERR_FORBIDDEN, "The token names no tenant");
    }
    if (route->scope == NULL) {
        return CU_OK;
    }
    /* a token's roles add their scopes, read now when the token's own do not suffice (the
     * reveals, detokenize and the record read, name no scope: they read them in their own round
     * trip) */
    struct cu_principal *p = req->principal;
    if (p->nroles > 0 && req->tenant != NULL && !holds_scope(req, route->scope)) {
        const char **all = NULL;
        size_t n = 0;
        CU_GUARD(cu_roles_expand(req->app->svc, req->tenant, p->roles, p->nroles, p->scopes,
                                 p->nscopes, req->arena, &all, &n));
        p->scopes = all;
        p->nscopes = n;
    }
    if (holds_scope(req, route->scope)) {
        return CU_OK;
    }
    if (route->flags & CU_ROUTE_TENANT) {
        struct cu_actor a;
        cu_req_actor(req, &a);
        /* the raw segment may be any UTF-8, even a value: only a valid name is recorded */
        const char *c = cu_req_param(req, "c");
        cu_audit_denial(req->app->svc, &a, route->audit_action,
                        c != NULL && cu_ident_ok(c) ? c : NULL);
    }
    /* RFC 6750 §3.1: name the scope the route needs; the detail is the same text, built from
     * the route table only (never from the token) */
    const char *scope = route->scope;
    req->challenge = cu_arena_printf(
        req->arena, "Bearer realm=\"custos\", error=\"insufficient_scope\", scope=\"%s\"", scope);
    cu_err_set(CU_ERR_FORBIDDEN, __FILE__, __LINE__, "missing scope %s", route->scope);
    return cu_err_public(CU_ERR_FORBIDDEN,
                         cu_arena_printf(req->arena, "The token lacks the scope %s", scope));
}

enum cu_err
cu_http_admit(struct cu_http_state *st, enum cu_http_body body, unsigned long long len)
{
    struct cu_req *req = &st->req;
    if (req->route_index < 0) {
        int mismatch = 0;
        (void)cu_router_match(req->method, req->path, NULL, &mismatch);
        return mismatch ? cu_err_set(CU_ERR_METHOD, __FILE__, __LINE__, "method not allowed")
                        : cu_err_set(CU_ERR_NOT_FOUND, __FILE__, __LINE__, "no route");
    }
    const struct cu_route *route = &cu_routes[req->route_index];
    if (!(route->flags & CU_ROUTE_PUBLIC)) {
        CU_GUARD(authenticate(req));
        if (!req->app->ready) {
            cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "not ready");
            return cu_err_public(CU_ERR_UNAVAILABLE,
                                 "The service is not ready yet (database, schema or root key)");
        }
        CU_GUARD(authorize(req, route));
    }
    if (body == CU_BODY_LENGTH && len > (unsigned long long)st->server->max_body) {
        cu_err_set(CU_ERR_TOO_LARGE, __FILE__, __LINE__, "content-length over the limit");
        return cu_err_public(CU_ERR_TOO_LARGE, "The request body is larger than allowed");
    }
    int optional = (route->flags & CU_ROUTE_OPTIONAL_BODY) && body == CU_BODY_NONE;
    if ((route->flags & CU_ROUTE_JSON_BODY) && !optional &&
        !cu_http_is_json(cu_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        return cu_err_set(CU_ERR_MEDIA_TYPE, __FILE__, __LINE__, "content type not json");
    }
    if ((route->flags & CU_ROUTE_FORM_BODY) &&
        !cu_http_is_form(cu_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        cu_err_set(CU_ERR_MEDIA_TYPE, __FILE__, __LINE__, "content type not a form");
        return cu_err_public(CU_ERR_MEDIA_TYPE,
                             "The body must be application/x-www-form-urlencoded");
    }
    return CU_OK;
}

/* The route's rate limit per principal and tenant: one event (or one per record), counted on
 * every node alike; a refusal is audited and answered 429 with Retry-After. A database that
 * cannot count fails the request (503): nothing passes unchecked. */
static enum cu_err
rate_check(struct cu_req *req, const struct cu_route *route, const struct cu_route_rate *rl)
{
    struct cu_svc *svc = req->app->svc;
    const struct cu_rate_policy *pol = cu_ratelimit_policy(svc, rl->bucket);
    if (pol == NULL || pol->limit <= 0 || req->tenant == NULL || rl->cost == CU_RATE_IN_SERVICE) {
        return CU_OK;
    }
    int cost = 1;
    json_t *records = json_object_get(req->json, "records");
    if (rl->cost == CU_RATE_PER_RECORD && json_is_array(records) && json_array_size(records) > 1) {
        cost = (int)json_array_size(records);
    }
    CU_GUARD(cu_ratelimit_hit(svc, req->tenant, rl->bucket, req->principal->sub, pol, cost,
                              &req->rate));
    if (req->rate.allowed) {
        return CU_OK;
    }
    struct cu_actor a;
    cu_req_actor(req, &a);
    cu_ratelimit_audit_refusal(svc, &a, route->audit_action, cu_req_param(req, "c"));
    req->retry_after = cu_arena_printf(req->arena, "%d", req->rate.reset_s);
    cu_err_set(CU_ERR_RATE, __FILE__, __LINE__, "rate limit %s", rl->bucket);
    return cu_err_public(CU_ERR_RATE, "The rate limit of this operation is reached; retry after "
                                      "Retry-After seconds");
}

enum cu_err
cu_http_dispatch(struct cu_http_state *st)
{
    struct cu_req *req = &st->req;
    const struct cu_route *route = &cu_routes[req->route_index];
    req->body = st->body.data;
    req->body_len = st->body.len;
    int optional = (route->flags & CU_ROUTE_OPTIONAL_BODY) && st->body.len == 0;
    if ((route->flags & CU_ROUTE_JSON_BODY) && !optional) {
        const char *detail = NULL;
        enum cu_err rc = cu_json_parse(req->arena, st->body.data, st->body.len, &req->json, &detail);
        if (rc != CU_OK) {
            return cu_err_public(rc, detail);
        }
    }
    if (route->flags & CU_ROUTE_FORM_BODY) {
        const char *detail = NULL;
        req->form = cu_arena_alloc(req->arena, sizeof(*req->form));
        enum cu_err rc = cu_form_parse(req->arena, st->body.data, st->body.len, req->form, &detail);
        if (rc != CU_OK) {
            return cu_err_public(rc, detail);
        }
    }
    const struct cu_route_rate *rl = cu_route_rate_of(route);
    if (rl != NULL) {
        CU_GUARD(rate_check(req, route, rl));
    }
    CU_GUARD(route->handler(req));
    if (req->status == 0) {
        req->status = route->success;
    }
    return CU_OK;
}
