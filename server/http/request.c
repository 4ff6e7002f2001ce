/* One request's life in libmicrohttpd's access handler: admission on the headers, the body
 * (kept for admitted requests, discarded after an early refusal), the answer, the clean-up.
 *
 * Early refusals (issue 13): a response queued before the body is read makes MHD 0.9.75 stop
 * reading and close the connection with the client's bytes unread, and the kernel's reset
 * can overtake the response. So a refusal decided on the headers is held while the body is
 * read and discarded — never stored, parsed or counted against memory — and sent when the body
 * ends, keeping the connection alive; not so for malformed fields or ambiguous framing (the
 * body's extent is unknown: 400 and close at once, the body never runs as a request). Bounds: a client that announces more than
 * linger_bytes gets its answer at once (and the connection closes); one that sends more than
 * linger_bytes, or keeps sending past linger_s, is cut. Expect: 100-continue gets the refusal
 * directly, no 100. Invariant: the access handler never queues a response on its first call
 * except to refuse with Connection: close (MHD would close the keep-alive connection anyway). */
#include "http/internal.h"

#include "core/id.h"
#include "core/log.h"
#include "core/metrics.h"

#include <stdlib.h>
#include <string.h>

const char *
cu_req_query(const struct cu_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
cu_req_header(const struct cu_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static int
valid_request_id(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':')) {
            return 0;
        }
    }
    return n >= 1 && n <= 128;
}

static struct cu_http_state *
state_new(struct cu_server *s, struct MHD_Connection *conn, const char *url, const char *method)
{
    struct cu_http_state *st = cu_xcalloc(1, sizeof(*st));
    clock_gettime(CLOCK_MONOTONIC, &st->started);
    st->server = s;
    cu_buf_init(&st->body);
    st->track = cu_http_track_of(conn);
    struct cu_req *req = &st->req;
    req->arena = cu_arena_new();
    req->app = s->app;
    req->conn = conn;
    req->method = cu_arena_strdup(req->arena, method);
    req->path = cu_arena_strdup(req->arena, url);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid != NULL && valid_request_id(rid)) {
        req->request_id = cu_arena_strdup(req->arena, rid);
    } else {
        char hex[33];
        cu_random_hex(hex, 16);
        req->request_id = cu_arena_strdup(req->arena, hex);
    }
    int mismatch = 0;
    req->route_index = cu_router_match(method, url, req, &mismatch);
    req->route = req->route_index >= 0 ? cu_routes[req->route_index].pattern : NULL;
    atomic_fetch_add(&s->in_flight, 1);
    return st;
}

/* Keeps a refusal for later: the thread-local detail and reason belong to whatever this
 * thread serves next. */
static void
hold_refusal(struct cu_http_state *st, enum cu_err rc)
{
    st->refusal = rc;
    st->refusal_detail = cu_err_public_detail();
    st->refusal_reason = cu_arena_strdup(st->req.arena, cu_err_reason());
}

/* Answers the held refusal now. */
static enum MHD_Result
send_refusal(struct cu_http_state *st, struct MHD_Connection *conn)
{
    return cu_http_send(st, conn, st->refusal);
}

/* Cuts a client that went past the discard bounds: MHD would otherwise keep reading (a
 * response queued now is only sent after the whole body), so the connection is dropped. */
static enum MHD_Result
cut(struct cu_http_state *st, const char *why)
{
    struct cu_req *req = &st->req;
    st->responded = 1;
    double secs = cu_http_elapsed(st);
    int status = cu_err_status(st->refusal);
    cu_metrics_observe(req->route_index,
                       req->route_index >= 0 ? cu_routes[req->route_index].method : NULL, status,
                       secs);
    cu_log_request(req->request_id, req->method, req->route ? req->route : "unmatched", status,
                   secs * 1000.0, req->tenant, why);
    cu_metrics_count("http_discard_cut", 1);
    return MHD_NO;
}

/* The first call: the headers are complete, no body byte has been read. */
static enum MHD_Result
on_headers(struct cu_http_state *st, struct MHD_Connection *conn, const char *version)
{
    struct cu_server *s = st->server;
    enum cu_http_headers h = cu_http_headers_check(conn, version);
    if (h == CU_HEADERS_MALFORMED || h == CU_HEADERS_FRAMING) {
        /* the body's extent is unknown: nothing can be drained, nothing runs */
        if (h == CU_HEADERS_MALFORMED) {
            cu_err_set(CU_ERR_BAD_FRAMING, __FILE__, __LINE__, "malformed header field");
            cu_err_public(CU_ERR_BAD_FRAMING, "A header field is malformed (whitespace or a "
                                              "control character in its name, a control "
                                              "character in its value, or a folded line)");
        } else {
            cu_err_set(CU_ERR_BAD_FRAMING, __FILE__, __LINE__, "ambiguous framing");
            cu_err_public(CU_ERR_BAD_FRAMING, "Content-Length, Transfer-Encoding or Host is "
                                              "missing, repeated or conflicting");
        }
        hold_refusal(st, CU_ERR_BAD_FRAMING);
        st->close = 1;
        return send_refusal(st, conn);
    }
    unsigned long long len = 0;
    enum cu_http_body body = cu_http_body_kind(conn, &len);
    cu_http_track_phase(s, st->track, body == CU_BODY_NONE ? CU_PHASE_BUSY : CU_PHASE_BODY);
    enum cu_err rc = CU_OK;
    if (h == CU_HEADERS_DUPLICATE) {
        /* framed soundly: refused like any other early refusal, the body is drained */
        rc = cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "repeated header");
        cu_err_public(CU_ERR_BAD_REQUEST,
                      "X-Purpose, Idempotency-Key and Content-Type may appear only once");
    } else {
        rc = cu_http_admit(st, body, len);
    }
    if (rc == CU_OK) {
        if (body == CU_BODY_LENGTH) {
            /* sized once from Content-Length (admitted: at most max_body) */
            st->body.data = cu_xmalloc((size_t)len + 1);
            st->body.cap = (size_t)len + 1;
        }
        return MHD_YES;
    }
    hold_refusal(st, rc);
    if (body == CU_BODY_NONE) {
        return MHD_YES; /* answered on the final call; the connection stays open */
    }
    if (cu_http_expects_continue(conn) ||
        (body == CU_BODY_LENGTH && len > (unsigned long long)s->linger_bytes)) {
        /* the client waits for our word, or announced more than we would discard */
        st->close = 1;
        return send_refusal(st, conn);
    }
    return MHD_YES;
}

/* A piece of the body. */
static enum MHD_Result
on_body(struct cu_http_state *st, struct MHD_Connection *conn, const char *data, size_t n)
{
    (void)conn;
    struct cu_server *s = st->server;
    cu_http_track_bytes(s, st->track, n);
    if (st->refusal != CU_OK) {
        st->discarded += n;
        if (st->discarded > (unsigned long long)s->linger_bytes) {
            return cut(st, "client sent more than the discard bound after an early refusal");
        }
        if (cu_http_elapsed(st) > (double)s->linger_s) {
            return cut(st, "client sent for longer than the discard bound after an early refusal");
        }
        return MHD_YES;
    }
    if (st->body.len + n > (size_t)s->max_body) {
        /* a chunked body grew past the limit: stop keeping it, discard the rest */
        cu_buf_cleanup(&st->body);
        cu_err_set(CU_ERR_TOO_LARGE, __FILE__, __LINE__, "chunked body over the limit");
        cu_err_public(CU_ERR_TOO_LARGE, "The request body is larger than allowed");
        hold_refusal(st, CU_ERR_TOO_LARGE);
        st->discarded = n;
        return MHD_YES;
    }
    cu_buf_append(&st->body, data, n);
    return MHD_YES;
}

/* What on_uri answers for a request target MHD would accept but RFC 9112 §3.2 does not. */
static char bad_target;

void *
cu_http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            return &bad_target;
        }
    }
    return NULL;
}

enum MHD_Result
cu_http_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                   const char *version, const char *upload_data, size_t *upload_data_size,
                   void **con_cls)
{
    struct cu_http_state *st = *con_cls;
    if (st == (void *)&bad_target) {
        st = state_new(cls, conn, url, method);
        *con_cls = st;
        cu_err_clear();
        cu_err_set(CU_ERR_BAD_REQUEST, __FILE__, __LINE__, "whitespace or control in the target");
        cu_err_public(CU_ERR_BAD_REQUEST,
                      "The request target contains whitespace or a control character");
        hold_refusal(st, CU_ERR_BAD_REQUEST);
        st->close = 1;
        return send_refusal(st, conn);
    }
    if (st == NULL) {
        st = state_new(cls, conn, url, method);
        *con_cls = st;
        cu_err_clear();
        return on_headers(st, conn, version);
    }
    if (st->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return on_body(st, conn, upload_data, n);
    }
    cu_http_track_phase(st->server, st->track, CU_PHASE_BUSY);
    if (st->refusal != CU_OK) {
        return send_refusal(st, conn);
    }
    cu_err_clear();
    enum cu_err rc = cu_http_dispatch(st);
    return cu_http_send(st, conn, rc);
}

void
cu_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                     enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct cu_server *s = cls;
    struct cu_http_state *st = *con_cls;
    if (st == NULL || st == (void *)&bad_target) {
        *con_cls = NULL; /* MHD refused the request itself before the access handler */
        return;
    }
    if (st->req.resp_json != NULL) {
        json_decref(st->req.resp_json);
    }
    if (st->req.problem_errors != NULL) {
        json_decref(st->req.problem_errors);
    }
    /* the next request's headers are due within header_timeout_s from now */
    cu_http_track_phase(s, st->track, CU_PHASE_HEADERS);
    int large = st->body.cap >= CU_HTTP_TRIM_BYTES;
    cu_buf_cleanup(&st->body);
    cu_arena_free(st->req.arena);
    free(st);
    if (large) {
        cu_http_trim_due();
    }
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}
