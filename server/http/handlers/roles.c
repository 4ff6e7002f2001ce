/* Roles (tenant:admin) and interactions (interactions:write): decode → service → encode. */
#include "http/http.h"

#include "service/roles.h"

static enum cu_err
not_found_detail(enum cu_err rc)
{
    return rc == CU_ERR_NOT_FOUND ? cu_err_public(rc, "No such resource in this tenant") : rc;
}

enum cu_err
cu_h_role_put(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_DONE;
    enum cu_err rc =
        cu_role_put(req->app->svc, &a, cu_req_param(req, "role"), req->json, &p, &out, &outcome);
    CU_GUARD(cu_req_problems(req, rc, &p));
    cu_resp_json(req, outcome == CU_OUTCOME_CREATED ? 201 : 200, out);
    return CU_OK;
}

enum cu_err
cu_h_role_get(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    enum cu_err rc = cu_role_get(req->app->svc, &a, cu_req_param(req, "role"), &out);
    return cu_req_reply(req, not_found_detail(rc), NULL, out);
}

enum cu_err
cu_h_role_list(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    int limit = 0;
    const char *cursor = NULL;
    CU_GUARD(cu_req_page(req, &limit, &cursor));
    json_t *out = NULL;
    enum cu_err rc = cu_role_list(req->app->svc, &a, cursor, limit, &out);
    return cu_req_reply(req, rc, NULL, out);
}

enum cu_err
cu_h_interaction_open(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_idem idem;
    CU_GUARD(cu_req_idem(req, &idem));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_interaction_open(req->app->svc, &a, req->json, &idem, &p, &out);
    return cu_req_reply(req, rc, &p, out);
}

enum cu_err
cu_h_interaction_end(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    CU_GUARD(not_found_detail(cu_interaction_end(req->app->svc, &a, cu_req_param(req, "id"))));
    return CU_OK;
}
