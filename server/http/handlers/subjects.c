/* Data subjects and the DSR workflow: decode → service (service/subjects.h) → encode. */
#include "http/http.h"

#include "service/receipt.h"
#include "service/subjects.h"

#include <string.h>

static enum cu_err
subject_detail(enum cu_err rc)
{
    if (rc == CU_ERR_NOT_FOUND && cu_err_public_detail() == NULL) {
        return cu_err_public(rc, "No such subject in this tenant");
    }
    return rc;
}

static enum cu_err
dsr_detail(enum cu_err rc)
{
    if (rc == CU_ERR_NOT_FOUND && cu_err_public_detail() == NULL) {
        return cu_err_public(rc, "No such request in this tenant");
    }
    return rc;
}

/* ?format=json|csv (default json): *csv 0 or 1; 400 otherwise. */
static enum cu_err
format_param(struct cu_req *req, int *csv)
{
    const char *f = cu_req_query(req, "format");
    *csv = f != NULL && strcmp(f, "csv") == 0;
    if (f != NULL && !*csv && strcmp(f, "json") != 0) {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "unknown export format");
        return cu_err_public(CU_ERR_BAD_REQUEST, "format must be json or csv");
    }
    return CU_OK;
}

/* The answer of an export: the JSON package, or the CSV (copied, then wiped here). */
static void
export_answer(struct cu_req *req, json_t *out, struct cu_buf *csv)
{
    if (out != NULL) {
        cu_resp_json(req, 0, out);
    } else {
        cu_resp_text(req, 0, "text/csv; charset=utf-8; header=present", (const char *)csv->data,
                     csv->len);
    }
    cu_buf_cleanup(csv);
}

enum cu_err
cu_h_subject_get(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    enum cu_err rc = cu_subject_view(req->app->svc, &a, cu_req_param(req, "sid"),
                                     cu_req_header(req, "X-Purpose"), &out);
    return cu_req_reply(req, subject_detail(rc), NULL, out);
}

enum cu_err
cu_h_subject_export(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    int csv = 0;
    CU_GUARD(format_param(req, &csv));
    json_t *out = NULL;
    struct cu_buf b;
    cu_buf_init(&b);
    enum cu_err rc = cu_subject_export(req->app->svc, &a, "subject.export",
                                       cu_req_param(req, "sid"), cu_req_header(req, "X-Purpose"),
                                       0, csv, &out, &b);
    if (rc != CU_OK) {
        cu_buf_cleanup(&b);
        return subject_detail(rc);
    }
    export_answer(req, out, &b);
    return CU_OK;
}

enum cu_err
cu_h_subject_erase(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_arena *arena = cu_arena_new();
    json_t *receipt = NULL;
    enum cu_err rc = cu_subject_erase(req->app->svc, &a, "subject.erase", cu_req_param(req, "sid"),
                                      arena, NULL, &receipt);
    cu_arena_free(arena);
    CU_GUARD(subject_detail(rc));
    cu_resp_json(req, 0, json_pack("{s:o}", "receipt", receipt));
    return CU_OK;
}

enum cu_err
cu_h_subject_hold(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_outcome outcome = CU_OUTCOME_CREATED;
    enum cu_err rc =
        cu_hold_put(req->app->svc, &a, cu_req_param(req, "sid"), req->json, &p, &outcome, &out);
    CU_GUARD(subject_detail(cu_req_problems(req, rc, &p)));
    cu_resp_json(req, outcome == CU_OUTCOME_CREATED ? 201 : 200, out);
    return CU_OK;
}

enum cu_err
cu_h_subject_unhold(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    enum cu_err rc = cu_hold_delete(req->app->svc, &a, cu_req_param(req, "sid"));
    if (rc == CU_ERR_NOT_FOUND && cu_err_public_detail() == NULL) {
        return cu_err_public(rc, "The subject is not under legal hold");
    }
    return rc;
}

enum cu_err
cu_h_receipt_verify(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *body = req->json;
    if (!json_is_object(body) || json_object_size(body) != 1 ||
        json_object_get(body, "receipt") == NULL) {
        cu_problem_add(&p, "/receipt", "the body must be {\"receipt\":{...}}");
        return cu_req_problems(req, CU_ERR_AT(CU_ERR_INVALID, "bad verify body"), &p);
    }
    int valid = 0;
    enum cu_err rc =
        cu_receipt_verify(req->app->svc, &a, json_object_get(body, "receipt"), &p, &valid);
    CU_GUARD(cu_req_problems(req, rc, &p));
    cu_resp_json(req, 0, json_pack("{s:b}", "valid", valid));
    return CU_OK;
}

enum cu_err
cu_h_dsr_create(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_idem idem;
    CU_GUARD(cu_req_idem(req, &idem));
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_dsr_create(req->app->svc, &a, req->json, &idem, &p, &out);
    if (rc == CU_ERR_CONFLICT && cu_err_public_detail() == NULL) {
        cu_err_public(rc, "The Idempotency-Key was used for another request");
    }
    return cu_req_reply(req, rc, &p, out);
}

enum cu_err
cu_h_dsr_list(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    int limit = 0;
    const char *cursor = NULL;
    CU_GUARD(cu_req_page(req, &limit, &cursor));
    const char *od = cu_req_query(req, "overdue");
    if (od != NULL && strcmp(od, "true") != 0 && strcmp(od, "false") != 0) {
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "bad overdue");
        return cu_err_public(CU_ERR_BAD_REQUEST, "overdue must be true or false");
    }
    json_t *out = NULL;
    enum cu_err rc = cu_dsr_list(req->app->svc, &a, cu_req_query(req, "status"),
                                 od != NULL && strcmp(od, "true") == 0, cursor, limit, &out);
    return cu_req_reply(req, rc, NULL, out);
}

enum cu_err
cu_h_dsr_get(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    enum cu_err rc = cu_dsr_get(req->app->svc, &a, cu_req_param(req, "id"), &out);
    return cu_req_reply(req, dsr_detail(rc), NULL, out);
}

enum cu_err
cu_h_dsr_extend(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc =
        cu_dsr_extend(req->app->svc, &a, cu_req_param(req, "id"), req->json, &p, &out);
    return cu_req_reply(req, dsr_detail(rc), &p, out);
}

enum cu_err
cu_h_dsr_execute(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc =
        cu_dsr_execute(req->app->svc, &a, cu_req_param(req, "id"), req->json, &p, &out);
    return cu_req_reply(req, dsr_detail(rc), &p, out);
}

enum cu_err
cu_h_dsr_result(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    int csv = 0;
    CU_GUARD(format_param(req, &csv));
    json_t *out = NULL;
    struct cu_buf b;
    cu_buf_init(&b);
    enum cu_err rc = cu_dsr_result(req->app->svc, &a, cu_req_param(req, "id"),
                                   cu_req_header(req, "X-Purpose"), csv, &out, &b);
    if (rc != CU_OK) {
        cu_buf_cleanup(&b);
        return dsr_detail(rc);
    }
    export_answer(req, out, &b);
    return CU_OK;
}
