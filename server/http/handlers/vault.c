/* Collections, purposes, records, search and detokenize: decode → service → encode. */
#include "http/http.h"

#include "auth/jwt.h"
#include "service/vault.h"
#include "service/verify.h"

#include <string.h>

/* How a service's outcome is answered. */
static int
outcome_status(enum cu_outcome o)
{
    return o == CU_OUTCOME_CREATED ? 201 : o == CU_OUTCOME_ACCEPTED ? 202 : 200;
}

/* The public detail of an absent or erased resource. */
static enum cu_err
not_found_detail(enum cu_err rc)
{
    if (rc == CU_ERR_NOT_FOUND) {
        return cu_err_public(rc, "No such resource in this tenant");
    }
    if (rc == CU_ERR_GONE) {
        return cu_err_public(rc, "The record has been erased");
    }
    return rc;
}

enum cu_err
cu_h_collection_put(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_DONE;
    enum cu_err rc =
        cu_collection_put(req->app->svc, &a, cu_req_param(req, "name"), req->json, &p, &out,
                          &outcome);
    if (rc == CU_ERR_CONFLICT) {
        cu_err_public(rc, "The change would alter fields that hold data");
    }
    CU_GUARD(cu_req_problems(req, rc, &p));
    cu_resp_json(req, outcome_status(outcome), out);
    return CU_OK;
}

enum cu_err
cu_h_collection_get(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    enum cu_err rc = cu_collection_get(req->app->svc, &a, cu_req_param(req, "name"), &out);
    return cu_req_reply(req, not_found_detail(rc), NULL, out);
}

enum cu_err
cu_h_collection_list(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    int limit = 0;
    const char *cursor = NULL;
    CU_GUARD(cu_req_page(req, &limit, &cursor));
    json_t *out = NULL;
    enum cu_err rc = cu_collection_list(req->app->svc, &a, cursor, limit, &out);
    return cu_req_reply(req, rc, NULL, out);
}

enum cu_err
cu_h_purpose_put(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
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
    cu_req_actor(req, &a);
    json_t *out = NULL;
    enum cu_err rc = cu_purpose_get(req->app->svc, &a, cu_req_param(req, "name"), &out);
    return cu_req_reply(req, not_found_detail(rc), NULL, out);
}

enum cu_err
cu_h_purpose_list(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    int limit = 0;
    const char *cursor = NULL;
    CU_GUARD(cu_req_page(req, &limit, &cursor));
    json_t *out = NULL;
    enum cu_err rc = cu_purpose_list(req->app->svc, &a, cursor, limit, &out);
    return cu_req_reply(req, rc, NULL, out);
}

enum cu_err
cu_h_records_create(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_idem idem;
    CU_GUARD(cu_req_idem(req, &idem));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_CREATED;
    enum cu_err rc = cu_records_create(req->app->svc, &a, cu_req_param(req, "c"), req->json, &idem,
                                       &p, &outcome, &out);
    CU_GUARD(not_found_detail(cu_req_problems(req, rc, &p)));
    cu_resp_json(req, outcome_status(outcome), out);
    return CU_OK;
}

static enum cu_err
level_param(struct cu_req *req, enum cu_level *out)
{
    *out = CU_LEVEL_PLAIN;
    const char *r = cu_req_query(req, "redaction");
    if (r != NULL && (cu_level_parse(r, out) != CU_OK || *out == CU_LEVEL_NONE)) {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "unknown redaction level");
        return cu_err_public(CU_ERR_BAD_REQUEST, "redaction must be plain, masked or redacted");
    }
    return CU_OK;
}

enum cu_err
cu_h_record_get(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    enum cu_level level;
    CU_GUARD(level_param(req, &level));
    /* 64 names of 63 bytes and their commas (api/openapi.yaml: the fields parameter) */
    const char *fields = cu_req_query(req, "fields");
    if (fields != NULL && strlen(fields) > 4095) {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "fields parameter too long");
        return cu_err_public(CU_ERR_BAD_REQUEST, "fields must be at most 4095 characters");
    }
    json_t *out = NULL;
    enum cu_err rc = cu_record_read(req->app->svc, &a, cu_req_param(req, "c"),
                                    cu_req_param(req, "id"), cu_req_header(req, "X-Purpose"),
                                    level, fields, &out);
    if (rc == CU_ERR_FORBIDDEN && cu_err_public_detail() == cu_scope_detokenize_missing) {
        /* no detokenize grant at all, the roles' included: refused as a route refuses a token
         * without its scope (RFC 6750 §3.1) */
        req->challenge = "Bearer realm=\"custos\", error=\"insufficient_scope\","
                         " scope=\"detokenize:<collection>.<field>:<level>\"";
    }
    return cu_req_reply(req, not_found_detail(rc), NULL, out);
}

enum cu_err
cu_h_record_patch(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_record_rectify(req->app->svc, &a, cu_req_param(req, "c"),
                                       cu_req_param(req, "id"), req->json, &p, &out);
    return cu_req_reply(req, not_found_detail(rc), &p, out);
}

enum cu_err
cu_h_record_delete(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    CU_GUARD(not_found_detail(cu_record_delete(req->app->svc, &a, cu_req_param(req, "c"),
                                                    cu_req_param(req, "id"))));
    return CU_OK;
}

enum cu_err
cu_h_records_search(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_records_search(req->app->svc, &a, cu_req_param(req, "c"), req->json, &p,
                                       &out);
    return cu_req_reply(req, not_found_detail(rc), &p, out);
}

enum cu_err
cu_h_detokenize(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc =
        cu_detokenize(req->app->svc, &a, cu_req_header(req, "X-Purpose"), req->json, &p, &out);
    return cu_req_reply(req, not_found_detail(rc), &p, out);
}

enum cu_err
cu_h_verify(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    struct cu_rate_result rate;
    enum cu_err rc = cu_verify(req->app->svc, &a, req->json, &p, &rate, &out);
    req->rate = rate;
    if (rc == CU_ERR_RATE) {
        req->retry_after = cu_arena_printf(req->arena, "%d", rate.reset_s);
    }
    return cu_req_reply(req, rc, &p, out);
}
