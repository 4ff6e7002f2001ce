/* The audit trail (audit:read): query, chain verification (against a checkpoint with POST),
 * signed checkpoints, the exposure report (JSON or CSV) and alerts: decode -> service
 * (service/audit_chain.h) -> encode. */
#include "http/http.h"

#include "service/audit_chain.h"
#include "service/audit_report.h"

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
            cu_req_add_error(req, "/checkpoint",
                             "required: a checkpoint from GET /v1/audit/checkpoint");
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

/* One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break; a cell a
 * spreadsheet would take for a formula (= + - @ tab CR first) gets a leading apostrophe. */
static void
csv_cell(struct cu_buf *b, const char *s)
{
    if (s == NULL) {
        return;
    }
    int formula =
        s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r';
    int quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote) {
        cu_buf_append(b, "\"", 1);
    }
    if (formula) {
        cu_buf_append(b, "'", 1);
    }
    for (const char *p = s; *p; p++) {
        if (*p == '"') {
            cu_buf_append(b, "\"\"", 2);
        } else {
            cu_buf_append(b, p, 1);
        }
    }
    if (quote) {
        cu_buf_append(b, "\"", 1);
    }
}

static void
csv_rows(struct cu_buf *b, const char *level, json_t *rows)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        csv_cell(b, level);
        static const char *const cols[] = {"subject_id", "collection", "field"};
        for (size_t c = 0; c < 3; c++) {
            cu_buf_append(b, ",", 1);
            csv_cell(b, json_string_value(json_object_get(row, cols[c])));
        }
        cu_buf_printf(b, ",%lld,", (long long)json_integer_value(json_object_get(row, "count")));
        csv_cell(b, json_string_value(json_object_get(row, "first")));
        cu_buf_append(b, ",", 1);
        csv_cell(b, json_string_value(json_object_get(row, "last")));
        cu_buf_append(b, "\r\n", 2);
    }
}

enum cu_err
cu_h_audit_exposure(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    const char *format = cu_req_query(req, "format");
    const char *accept = cu_req_header(req, "Accept");
    int csv = 0;
    if (format != NULL) {
        if (strcmp(format, "csv") == 0) {
            csv = 1;
        } else if (strcmp(format, "json") != 0) {
            cu_req_add_error(req, "/query/format", "must be json or csv");
            return cu_err_public(CU_ERR_AT(CU_ERR_BAD_REQUEST, "bad format"),
                                 "The query parameters are malformed");
        }
    } else if (accept != NULL && strstr(accept, "text/csv") != NULL &&
               strstr(accept, "application/json") == NULL) {
        csv = 1;
    }
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc =
        cu_audit_exposure(req->app->svc, &a, cu_req_query(req, "principal"),
                          cu_req_query(req, "from"), cu_req_query(req, "to"), &p, &out);
    CU_GUARD(cu_req_problems(req, tenant_gone(rc), &p));
    if (!csv) {
        cu_resp_json(req, 0, out);
        return CU_OK;
    }
    struct cu_buf b;
    cu_buf_init(&b);
    cu_buf_append_str(&b, "exposure,subject_id,collection,field,count,first_seen,last_seen\r\n");
    csv_rows(&b, "plain", json_object_get(out, "plain"));
    csv_rows(&b, "masked", json_object_get(out, "masked"));
    json_decref(out);
    cu_resp_text(req, 0, "text/csv; charset=utf-8; header=present", (const char *)b.data, b.len);
    cu_buf_cleanup(&b);
    return CU_OK;
}

enum cu_err
cu_h_alerts(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    CU_GUARD(tenant_gone(cu_audit_alerts(req->app->svc, &a, &out)));
    cu_resp_json(req, 0, out);
    return CU_OK;
}
