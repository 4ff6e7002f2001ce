/* Collections, purposes, records, search and detokenize: decode → service → encode. */
#include "http/http.h"

#include "auth/jwt.h"
#include "service/vault.h"

#include <string.h>



/* Tenant and scope, with the refusal written to the tenant's audit trail. */
static enum cu_err
authorize(struct cu_req *req, const char *scope, const char *action, struct cu_actor *a)
{
    CU_GUARD(cu_need_tenant(req));
    cu_req_actor(req, a);
    if (scope == NULL) {
        return CU_OK;
    }
    enum cu_err rc = cu_need_scope(req, scope);
    if (rc != CU_OK) {
        cu_audit_denial(req->app->svc, a, action, cu_req_param(req, "c"));
    }
    return rc;
}

/* How a service's outcome is answered. */
static int
outcome_status(enum cu_outcome o)
{
    return o == CU_OUTCOME_CREATED ? 201 : o == CU_OUTCOME_ACCEPTED ? 202 : 200;
}

static enum cu_err
not_found_detail(struct cu_req *req, enum cu_err rc)
{
    if (rc == CU_ERR_NOT_FOUND) {
        req->problem_detail = "No such resource in this tenant";
    } else if (rc == CU_ERR_GONE) {
        req->problem_detail = "The record has been erased";
    }
    return rc;
}

enum cu_err
cu_h_collection_put(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "tenant:admin", "collection.put", &a));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_DONE;
    enum cu_err rc =
        cu_collection_put(req->app->svc, &a, cu_req_param(req, "name"), req->json, &p, &out,
                          &outcome);
    if (rc == CU_ERR_CONFLICT) {
        req->problem_detail = "The change would alter fields that hold data";
    }
    CU_GUARD(cu_req_problems(req, rc, &p));
    cu_resp_json(req, outcome_status(outcome), out);
    return CU_OK;
}

enum cu_err
cu_h_collection_get(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "tenant:admin", "collection.get", &a));
    json_t *out = NULL;
    CU_GUARD(not_found_detail(req, cu_collection_get(req->app->svc, &a,
                                                     cu_req_param(req, "name"), &out)));
    cu_resp_json(req, 200, out);
    return CU_OK;
}

enum cu_err
cu_h_collection_list(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "tenant:admin", "collection.list", &a));
    int limit = 0;
    const char *cursor = NULL;
    CU_GUARD(cu_req_page(req, &limit, &cursor));
    json_t *out = NULL;
    CU_GUARD(cu_collection_list(req->app->svc, &a, cursor, limit, &out));
    cu_resp_json(req, 200, out);
    return CU_OK;
}

enum cu_err
cu_h_purpose_put(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "tenant:admin", "purpose.put", &a));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_DONE;
    enum cu_err rc =
        cu_purpose_put(req->app->svc, &a, cu_req_param(req, "name"), req->json, &p, &out, &outcome);
    CU_GUARD(cu_req_problems(req, rc, &p));
    cu_resp_json(req, outcome_status(outcome), out);
    return CU_OK;
}

enum cu_err
cu_h_purpose_get(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "tenant:admin", "purpose.get", &a));
    json_t *out = NULL;
    CU_GUARD(not_found_detail(req,
                              cu_purpose_get(req->app->svc, &a, cu_req_param(req, "name"), &out)));
    cu_resp_json(req, 200, out);
    return CU_OK;
}

enum cu_err
cu_h_purpose_list(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "tenant:admin", "purpose.list", &a));
    int limit = 0;
    const char *cursor = NULL;
    CU_GUARD(cu_req_page(req, &limit, &cursor));
    json_t *out = NULL;
    CU_GUARD(cu_purpose_list(req->app->svc, &a, cursor, limit, &out));
    cu_resp_json(req, 200, out);
    return CU_OK;
}

enum cu_err
cu_h_records_create(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "records:write", "tokenize", &a));
    struct cu_idem idem;
    CU_GUARD(cu_req_idem(req, &idem));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_CREATED;
    enum cu_err rc = cu_records_create(req->app->svc, &a, cu_req_param(req, "c"), req->json, &idem,
                                       &p, &outcome, &out);
    CU_GUARD(not_found_detail(req, cu_req_problems(req, rc, &p)));
    cu_resp_json(req, outcome_status(outcome), out);
    return CU_OK;
}

static enum cu_err
level_param(struct cu_req *req, enum cu_level *out)
{
    *out = CU_LEVEL_PLAIN;
    const char *r = cu_req_query(req, "redaction");
    if (r != NULL && (cu_level_parse(r, out) != CU_OK || *out == CU_LEVEL_NONE)) {
        return cu_req_fail(req, CU_ERR_BAD_REQUEST, "redaction must be plain, masked or redacted");
    }
    return CU_OK;
}

enum cu_err
cu_h_record_get(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, NULL, "record.read", &a));
    enum cu_level level;
    CU_GUARD(level_param(req, &level));
    json_t *out = NULL;
    enum cu_err rc = cu_record_read(req->app->svc, &a, cu_req_param(req, "c"),
                                    cu_req_param(req, "id"), cu_req_header(req, "X-Purpose"),
                                    level, cu_req_query(req, "fields"), &out);
    CU_GUARD(not_found_detail(req, rc));
    cu_resp_json(req, 200, out);
    return CU_OK;
}

enum cu_err
cu_h_record_patch(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "records:write", "record.rectify", &a));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_record_rectify(req->app->svc, &a, cu_req_param(req, "c"),
                                       cu_req_param(req, "id"), req->json, &p, &out);
    CU_GUARD(not_found_detail(req, cu_req_problems(req, rc, &p)));
    cu_resp_json(req, 200, out);
    return CU_OK;
}

enum cu_err
cu_h_record_delete(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "records:delete", "record.delete", &a));
    CU_GUARD(not_found_detail(req, cu_record_delete(req->app->svc, &a, cu_req_param(req, "c"),
                                                    cu_req_param(req, "id"))));
    req->status = 204;
    return CU_OK;
}

enum cu_err
cu_h_records_search(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, "records:search", "records.search", &a));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_records_search(req->app->svc, &a, cu_req_param(req, "c"), req->json, &p,
                                       &out);
    CU_GUARD(not_found_detail(req, cu_req_problems(req, rc, &p)));
    cu_resp_json(req, 200, out);
    return CU_OK;
}

enum cu_err
cu_h_detokenize(struct cu_req *req)
{
    struct cu_actor a;
    CU_GUARD(authorize(req, NULL, "detokenize", &a));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc =
        cu_detokenize(req->app->svc, &a, cu_req_header(req, "X-Purpose"), req->json, &p, &out);
    CU_GUARD(not_found_detail(req, cu_req_problems(req, rc, &p)));
    cu_resp_json(req, 200, out);
    return CU_OK;
}
