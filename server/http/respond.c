/* Responses: what handlers set (JSON, text, validation problems), the problem+json envelope,
 * the security headers, and the metrics and log line of every answered request.
 * Invariant: a response body is heap memory owned by MHD once queued and wiped when freed (it
 * may carry revealed values); nothing from the request arena is handed to MHD. */
#include "http/internal.h"

#include "core/log.h"
#include "core/metrics.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double
cu_http_elapsed(const struct cu_http_state *st)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - st->started.tv_sec) +
           (double)(now.tv_nsec - st->started.tv_nsec) / 1e9;
}

void
cu_resp_json(struct cu_req *req, int status, json_t *body)
{
    if (req->resp_json != NULL) {
        json_decref(req->resp_json);
    }
    req->status = status;
    req->resp_json = body;
}

void
cu_resp_text(struct cu_req *req, int status, const char *type, const char *body, size_t len)
{
    req->status = status;
    req->resp_text = cu_arena_strndup(req->arena, body, len);
    req->resp_text_len = len;
    req->resp_type = type;
}

void
cu_req_add_error(struct cu_req *req, const char *pointer, const char *detail)
{
    if (req->problem_errors == NULL) {
        req->problem_errors = json_array();
    }
    json_array_append_new(req->problem_errors,
                          json_pack("{s:s, s:s}", "pointer", pointer, "detail", detail));
}

static json_t *
problem_body(struct cu_req *req, enum cu_err err, const char *detail)
{
    int status = cu_err_status(err);
    json_t *p = json_pack("{s:s, s:s, s:i}", "type",
                          cu_arena_printf(req->arena, "https://custos.dev/problems/%s",
                                          cu_err_slug(err)),
                          "title", cu_err_title(err), "status", status);
    json_object_set_new(p, "detail", json_string(detail ? detail : cu_err_title(err)));
    if (req->problem_errors != NULL) {
        json_object_set(p, "errors", req->problem_errors);
    }
    if (req->request_id != NULL) {
        json_object_set_new(p, "request_id", json_string(req->request_id));
    }
    return p;
}

static void
free_wiped(void *p)
{
    if (p != NULL) {
        size_t n = malloc_usable_size(p);
        explicit_bzero(p, n);
        free(p);
        if (n >= CU_HTTP_TRIM_BYTES) {
            cu_http_trim_due();
        }
    }
}

/* The body to send, as heap memory the caller owns (NULL with *len 0 for none). */
static char *
body_text(struct cu_http_state *st, enum cu_err err, const char **type, size_t *len)
{
    struct cu_req *req = &st->req;
    char *text = NULL;
    *type = "application/json";
    *len = 0;
    if (err != CU_OK) {
        *type = "application/problem+json";
        const char *detail =
            st->refusal != CU_OK ? st->refusal_detail : cu_err_public_detail();
        json_t *p = problem_body(req, err, detail);
        text = json_dumps(p, JSON_COMPACT);
        json_decref(p);
    } else if (req->resp_json != NULL) {
        text = json_dumps(req->resp_json, JSON_COMPACT);
    } else if (req->resp_text != NULL) {
        *type = req->resp_type;
        text = cu_xstrndup(req->resp_text, req->resp_text_len);
        *len = req->resp_text_len;
        return text;
    }
    *len = text != NULL ? strlen(text) : 0;
    return text;
}

static void
add_headers(struct cu_http_state *st, struct MHD_Response *resp, const char *type, size_t len,
            enum cu_err err)
{
    struct cu_req *req = &st->req;
    if (len > 0 || err != CU_OK) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    if (req->challenge != NULL && (req->status == 401 || req->status == 403)) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, req->challenge);
    } else if (req->status == 401) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"custos\"");
    }
    char hint[24];
    if (req->retry_after == NULL && cu_err_retry_hint() > 0) {
        snprintf(hint, sizeof(hint), "%lld", cu_err_retry_hint());
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, hint);
    } else if (req->retry_after != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, req->retry_after);
    } else if (req->status == 503 || req->status == 429) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    if (req->rate.checked) {
        /* draft-ietf-httpapi-ratelimit-headers-06: the limit, what is left, the seconds until
         * the oldest counted event leaves the window, and the policy (limit;w=window) */
        char v[64];
        snprintf(v, sizeof(v), "%d", req->rate.limit);
        MHD_add_response_header(resp, "RateLimit-Limit", v);
        snprintf(v, sizeof(v), "%d", req->rate.remaining);
        MHD_add_response_header(resp, "RateLimit-Remaining", v);
        snprintf(v, sizeof(v), "%d", req->rate.reset_s);
        MHD_add_response_header(resp, "RateLimit-Reset", v);
        snprintf(v, sizeof(v), "%d;w=%d", req->rate.limit, req->rate.window_s);
        MHD_add_response_header(resp, "RateLimit-Policy", v);
    }
    if (req->location != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, req->location);
    }
    if (req->status == 405) {
        char allow[64];
        cu_router_allow(req->path, allow, sizeof(allow));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    if (req->route_index >= 0 && (cu_routes[req->route_index].flags & CU_ROUTE_PAGE)) {
        /* a page the customer types a value into: nothing but its own stylesheet loads, it
         * posts only to itself, it cannot be framed, and its URL (the secret) is never sent
         * on as a referrer */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; style-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (st->close) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
}

enum MHD_Result
cu_http_send(struct cu_http_state *st, struct MHD_Connection *conn, enum cu_err err)
{
    struct cu_req *req = &st->req;
    if (err != CU_OK) {
        req->status = cu_err_status(err);
    } else if (req->status == 0) {
        req->status = 200;
    }
    const char *type = NULL;
    size_t len = 0;
    char *text = body_text(st, err, &type, &len);
    /* from here on MHD owns text, and wipes it through free_wiped */
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, text,
                                                                                   free_wiped);
    enum MHD_Result r = MHD_NO;
    if (resp == NULL) {
        free_wiped(text);
    } else {
        add_headers(st, resp, type, len, err);
        r = MHD_queue_response(conn, (unsigned)req->status, resp);
        MHD_destroy_response(resp);
    }
    st->responded = 1;
    double secs = cu_http_elapsed(st);
    cu_metrics_observe(req->route_index, req->route_index >= 0 ? cu_routes[req->route_index].method
                                                               : NULL,
                       req->status, secs);
    const char *reason = NULL;
    if (err != CU_OK || req->status >= 500) {
        reason = st->refusal != CU_OK ? st->refusal_reason : cu_err_reason();
    }
    cu_log_request(req->request_id, req->method, req->route ? req->route : "unmatched",
                   req->status, secs * 1000.0, req->tenant, reason);
    return r;
}
