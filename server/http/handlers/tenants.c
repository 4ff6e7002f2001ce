/* Tenants and tenant keys: decode -> service -> encode (scopes: routes.c). */
#include "http/http.h"

#include "auth/jwt.h"
#include "service/tenants.h"

enum cu_err
cu_h_tenant_create(struct cu_req *req)
{
    struct cu_problems p = {0};
    json_t *out = NULL;
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_idem idem;
    CU_GUARD(cu_req_idem(req, &idem));
    enum cu_outcome outcome = CU_OUTCOME_CREATED;
    enum cu_err rc = cu_tenant_create(req->app->svc, &a, req->json, &idem, &p, &outcome, &out);
    CU_GUARD(cu_req_problems(req, rc, &p));
    req->location = cu_arena_printf(req->arena, "/v1/tenants/%s",
                                    json_string_value(json_object_get(out, "id")));
    cu_resp_json(req, outcome == CU_OUTCOME_CREATED ? 201 : 200, out);
    return CU_OK;
}

enum cu_err
cu_h_tenant_list(struct cu_req *req)
{
    int limit = 0;
    const char *cursor = NULL;
    CU_GUARD(cu_req_page(req, &limit, &cursor));
    json_t *out = NULL;
    CU_GUARD(cu_tenant_list(req->app->svc, cursor, limit, &out));
    cu_resp_json(req, 0, out);
    return CU_OK;
}

enum cu_err
cu_h_tenant_get(struct cu_req *req)
{
    json_t *out = NULL;
    CU_GUARD(cu_tenant_get(req->app->svc, cu_req_param(req, "id"), &out));
    cu_resp_json(req, 0, out);
    return CU_OK;
}

enum cu_err
cu_h_tenant_delete(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    CU_GUARD(cu_tenant_delete(req->app->svc, &a, cu_req_param(req, "id")));
    return CU_OK;
}

enum cu_err
cu_h_keys_rotate(struct cu_req *req)
{
    json_t *out = NULL;
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_idem idem;
    CU_GUARD(cu_req_idem(req, &idem));
    enum cu_err rc = cu_keys_rotate(req->app->svc, &a, &idem, &out);
    if (rc == CU_ERR_NOT_FOUND) {
        return cu_err_public(rc, "The tenant of this token does not exist");
    }
    return cu_req_reply(req, rc, NULL, out);
}

enum cu_err
cu_h_keys_status(struct cu_req *req)
{
    json_t *out = NULL;
    enum cu_err rc = cu_keys_status(req->app->svc, req->tenant, &out);
    if (rc == CU_ERR_NOT_FOUND) {
        return cu_err_public(rc, "The tenant of this token does not exist");
    }
    return cu_req_reply(req, rc, NULL, out);
}
