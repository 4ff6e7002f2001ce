/* The audit trail (audit:read): query, chain verification (against a checkpoint with POST) and
 * signed checkpoints: decode -> service (service/audit_chain.h) -> encode. */
#include "http/http.h"

#include "service/audit_chain.h"

#include <string.h>

static enum cu_err
tenant_gone(enum cu_err rc)
{
    if (rc == CU_ERR_NOT_FOUND) {
        return cu_err_public(rc, "The tenant of this token does not exist");
    }
    return rc;
}

enum cu_err
cu_h_audit_list(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_audit_query q = {0};
    CU_GUARD(cu_req_page(req, &q.limit, &q.cursor));
    q.from = cu_req_query(req, "from");
    q.to = cu_req_query(req, "to");
    q.principal = cu_req_query(req, "principal");
    q.subject_id = cu_req_query(req, "subject_id");
    q.action = cu_req_query(req, "action");
    q.outcome = cu_req_query(req, "outcome");
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_audit_list(req->app->svc, &a, &q, &p, &out);
    CU_GUARD(cu_req_problems(req, tenant_gone(rc), &p));
    cu_resp_json(req, 0, out);
    return CU_OK;
}

enum cu_err
cu_h_audit_verify(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *checkpoint = NULL;
    if (strcmp(req->method, "POST") == 0) {
        static const char *const allowed[] = {"checkpoint", NULL};
        checkpoint = json_object_get(req->json, "checkpoint");
        if (!json_is_object(req->json) || checkpoint == NULL ||
            cu_unknown_members(req->json, allowed) > 0) {
            cu_req_add_error(req, "/checkpoint", "required: a checkpoint from GET /v1/audit/checkpoint");
            return cu_err_public(CU_ERR_AT(CU_ERR_INVALID, "no checkpoint"),
                                 "The body must be {\"checkpoint\":{...}}");
        }
    }
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_audit_verify(req->app->svc, &a, checkpoint, &p, &out);
    CU_GUARD(cu_req_problems(req, tenant_gone(rc), &p));
    cu_resp_json(req, 0, out);
    return CU_OK;
}

enum cu_err
cu_h_audit_checkpoint(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    CU_GUARD(tenant_gone(cu_audit_checkpoint(req->app->svc, &a, &out)));
    cu_resp_json(req, 0, out);
    return CU_OK;
}
