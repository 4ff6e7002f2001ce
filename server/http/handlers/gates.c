/* Restriction, consents and the record of processing (service/gates.h): decode → service →
 * encode. */
#include "http/http.h"

#include "service/gates.h"

static enum cu_err
subject_detail(enum cu_err rc)
{
    if (rc == CU_ERR_NOT_FOUND && cu_err_public_detail() == NULL) {
        return cu_err_public(rc, "No such subject: a subject id is 1 to 128 of A-Z a-z 0-9 . _ : "
                                 "@ + - and never an email address or a phone number");
    }
    return rc;
}

enum cu_err
cu_h_restriction_post(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_DONE;
    enum cu_err rc = cu_gates_restrict_api(req->app->svc, &a, cu_req_param(req, "sid"), req->json,
                                           &p, &out, &outcome);
    return cu_req_reply(req, subject_detail(rc), &p, out);
}

enum cu_err
cu_h_restriction_delete(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    CU_GUARD(subject_detail(cu_gates_unrestrict_api(req->app->svc, &a, cu_req_param(req, "sid"))));
    return CU_OK;
}

enum cu_err
cu_h_consent_put(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_gates_consent_put_api(req->app->svc, &a, cu_req_param(req, "sid"),
                                              cu_req_param(req, "purpose"), req->json, &p, &out);
    return cu_req_reply(req, subject_detail(rc), &p, out);
}

enum cu_err
cu_h_consents_get(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    enum cu_err rc = cu_gates_consents_api(req->app->svc, &a, cu_req_param(req, "sid"), &out);
    return cu_req_reply(req, subject_detail(rc), NULL, out);
}

enum cu_err
cu_h_report_processing(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    enum cu_err rc = cu_gates_processing_report_api(req->app->svc, &a, &out);
    return cu_req_reply(req, rc, NULL, out);
}
