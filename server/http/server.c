/* The libmicrohttpd daemon: TLS, limits, framing defences, body collection, dispatch and the
 * response envelope. Invariant: the access handler never queues a response on its first call
 * for a request it will serve (MHD 0.9.75 would then close the keep-alive connection), except
 * to refuse the request with Connection: close. */
#include "http/http.h"

#include "auth/jwt.h"
#include "core/id.h"
#include "core/log.h"
#include "core/metrics.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* TLS 1.3 and 1.2 only, ECDHE with AEAD ciphers only (Mozilla "intermediate"). */
static const char tls_priorities[] =
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SHA1:%SERVER_PRECEDENCE";

struct cu_server {
    struct MHD_Daemon *daemon;
    struct cu_app *app;
    char *cert_pem;
    char *key_pem;
    _Atomic int in_flight;
    long max_body;
};

/* An oversized body the client sends without waiting is read and discarded (never stored)
 * up to these bounds before the 413 goes out: answering while it is still arriving and closing
 * makes the kernel reset the connection, and the reset can overtake the answer (issue 13).
 * Past a bound the answer goes out at once and the connection is closed. */
enum { DRAIN_MAX_BYTES = 32 * 1024 * 1024, DRAIN_MAX_SECONDS = 30 };

struct req_state {
    struct cu_req req;
    struct cu_server *server;
    struct cu_buf body;
    struct timespec started;
    int route_index;
    int method_mismatch;
    int too_large;
    unsigned long long drained; /* bytes of an oversized body read and discarded */
    int close;
    int responded;
};

static double
elapsed(const struct timespec *from)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - from->tv_sec) + (double)(now.tv_nsec - from->tv_nsec) / 1e9;
}

/* ---- request accessors ---- */

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

enum cu_err
cu_req_fail(struct cu_req *req, enum cu_err err, const char *detail)
{
    req->problem_detail = detail;
    return err;
}

/* ---- framing ---- */

struct framing {
    int content_length;
    int transfer_encoding;
    int te_not_chunked;
    int host;
};

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        f->content_length++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        if (value == NULL || strcmp(value, "chunked") != 0) {
            f->te_not_chunked = 1;
        }
    } else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
        f->host++;
    }
    return MHD_YES;
}

/* RFC 9112 §6.3: a message whose framing is ambiguous must be answered 400 and the connection
 * closed. MHD 0.9.75 does not do it itself (it smuggles, or hangs). */
static int
framing_ok(struct MHD_Connection *conn, const char *version)
{
    struct framing f = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &f);
    if (f.content_length > 1 || f.transfer_encoding > 1 || f.te_not_chunked) {
        return 0;
    }
    if (f.content_length > 0 && f.transfer_encoding > 0) {
        return 0;
    }
    if (f.host > 1 || (f.host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)) {
        return 0;
    }
    return 1;
}

/* ---- responses ---- */

static json_t *
problem_body(struct cu_req *req, enum cu_err err)
{
    int status = cu_err_status(err);
    json_t *p = json_pack("{s:s, s:s, s:i}", "type",
                          cu_arena_printf(req->arena, "https://custos.dev/problems/%s",
                                          cu_err_slug(err)),
                          "title", cu_err_title(err), "status", status);
    const char *detail = req->problem_detail;
    if (detail == NULL) {
        detail = cu_err_public_detail();
    }
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
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
    }
}

static enum MHD_Result
send_response(struct req_state *st, struct MHD_Connection *conn, enum cu_err err)
{
    struct cu_req *req = &st->req;
    const char *type = "application/json";
    char *text = NULL;
    size_t len = 0;
    int free_text = 0;
    if (err != CU_OK) {
        req->status = cu_err_status(err);
        type = "application/problem+json";
        json_t *p = problem_body(req, err);
        text = json_dumps(p, JSON_COMPACT);
        json_decref(p);
        len = text ? strlen(text) : 0;
        free_text = 1;
    } else if (req->resp_json != NULL) {
        text = json_dumps(req->resp_json, JSON_COMPACT);
        len = text ? strlen(text) : 0;
        free_text = 1;
    } else if (req->resp_text != NULL) {
        text = (char *)req->resp_text;
        len = req->resp_text_len;
        type = req->resp_type;
    }
    if (req->status == 0) {
        req->status = 200;
    }
    struct MHD_Response *resp;
    if (free_text) {
        /* the body may carry revealed values: wiped when MHD is done with it */
        resp = MHD_create_response_from_buffer_with_free_callback(len, text, free_wiped);
    } else {
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
    }
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    if (len > 0 || err != CU_OK) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    if (req->status == 401) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer error=\"invalid_token\"");
    }
    if (req->retry_after != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, req->retry_after);
    } else if (req->status == 503 || req->status == 429) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    }
    if (req->location != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, req->location);
    }
    if (req->status == 405) {
        char allow[64];
        cu_router_allow(req->path, allow, sizeof(allow));
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    }
    if (st->close) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)req->status, resp);
    MHD_destroy_response(resp);
    st->responded = 1;
    double secs = elapsed(&st->started);
    cu_metrics_observe(st->route_index, req->method, req->status, secs);
    cu_log_request(req->request_id, req->method, req->route ? req->route : "unmatched",
                   req->status, secs * 1000.0, req->tenant,
                   err != CU_OK || req->status >= 500 ? cu_err_reason() : NULL);
    return r;
}

/* Refuses a request at once and closes the connection (framing, oversize). */
static enum MHD_Result
refuse(struct req_state *st, struct MHD_Connection *conn, enum cu_err err, const char *detail)
{
    st->close = 1;
    st->req.problem_detail = detail;
    return send_response(st, conn, err);
}

/* ---- dispatch ---- */

static int
is_json_type(const char *ct)
{
    if (ct == NULL) {
        return 0;
    }
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0) {
        return 0;
    }
    const char *rest = ct + n;
    while (*rest == ' ') {
        rest++;
    }
    if (*rest == '\0') {
        return 1;
    }
    if (*rest != ';') {
        return 0;
    }
    rest++;
    while (*rest == ' ') {
        rest++;
    }
    return strcasecmp(rest, "charset=utf-8") == 0 || strcasecmp(rest, "charset=\"utf-8\"") == 0;
}

static enum MHD_Result
count_authorization(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0) {
        (*(int *)cls)++;
    }
    return MHD_YES;
}

static enum cu_err
authenticate(struct cu_req *req)
{
    const char *authz = cu_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (authz == NULL) {
        return cu_err_set(CU_ERR_UNAUTHORIZED, __FILE__, __LINE__, "no authorization header");
    }
    /* MHD's look-up returns the first of several: which one counts must not be a guess */
    int n = 0;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_authorization, &n);
    if (n != 1) {
        return cu_err_set(CU_ERR_UNAUTHORIZED, __FILE__, __LINE__, "several authorization headers");
    }
    struct cu_principal *p = cu_arena_alloc(req->arena, sizeof(*p));
    CU_GUARD(cu_auth_verify(req->app->auth, authz, (long long)time(NULL), req->arena, p));
    req->principal = p;
    req->tenant = p->tenant;
    return CU_OK;
}

static enum cu_err
dispatch(struct req_state *st)
{
    struct cu_req *req = &st->req;
    if (st->too_large) {
        st->close = 1;
        return cu_err_set(CU_ERR_TOO_LARGE, __FILE__, __LINE__, "body over the limit");
    }
    if (st->route_index < 0) {
        return st->method_mismatch
                   ? cu_err_set(CU_ERR_METHOD, __FILE__, __LINE__, "method not allowed")
                   : cu_err_set(CU_ERR_NOT_FOUND, __FILE__, __LINE__, "no route");
    }
    const struct cu_route *route = &cu_routes[st->route_index];
    if (!(route->flags & CU_ROUTE_PUBLIC)) {
        CU_GUARD(authenticate(req));
        if (!req->app->ready) {
            req->problem_detail = "The service is not ready yet (database, schema or root key)";
            return cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "not ready");
        }
    }
    req->body = st->body.data;
    req->body_len = st->body.len;
    int want_body = route->flags & CU_ROUTE_JSON_BODY;
    int optional = route->flags & CU_ROUTE_OPTIONAL_BODY;
    if (want_body && !(optional && st->body.len == 0)) {
        if (!is_json_type(cu_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
            return cu_err_set(CU_ERR_MEDIA_TYPE, __FILE__, __LINE__, "content type not json");
        }
        const char *detail = NULL;
        enum cu_err rc = cu_json_parse(req->arena, st->body.data, st->body.len, &req->json, &detail);
        if (rc != CU_OK) {
            req->problem_detail = detail;
            return rc;
        }
    }
    return route->handler(req);
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

static struct req_state *
state_new(struct cu_server *s, struct MHD_Connection *conn, const char *url, const char *method)
{
    struct req_state *st = cu_xcalloc(1, sizeof(*st));
    clock_gettime(CLOCK_MONOTONIC, &st->started);
    st->server = s;
    cu_buf_init(&st->body);
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
    st->route_index = cu_router_match(method, url, req, &st->method_mismatch);
    req->route_index = st->route_index;
    req->route = st->route_index >= 0 ? cu_routes[st->route_index].pattern : NULL;
    atomic_fetch_add(&s->in_flight, 1);
    return st;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct cu_server *s = cls;
    struct req_state *st = *con_cls;
    if (st == NULL) {
        st = state_new(s, conn, url, method);
        *con_cls = st;
        cu_err_clear();
        if (!framing_ok(conn, version)) {
            cu_err_set(CU_ERR_BAD_FRAMING, __FILE__, __LINE__, "ambiguous framing");
            return refuse(st, conn, CU_ERR_BAD_FRAMING,
                          "Content-Length, Transfer-Encoding or Host is missing, repeated or "
                          "conflicting");
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long len = cl != NULL ? strtoull(cl, NULL, 10) : 0;
        if (len > (unsigned long long)s->max_body) {
            const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_EXPECT);
            if (len > DRAIN_MAX_BYTES || expect != NULL) {
                /* a client that asks first has sent nothing yet: refuse at once */
                cu_err_set(CU_ERR_TOO_LARGE, __FILE__, __LINE__, "content-length over the limit");
                return refuse(st, conn, CU_ERR_TOO_LARGE,
                              "The request body is larger than allowed");
            }
            st->too_large = 1; /* drained below, answered 413 when it has all arrived */
        }
        return MHD_YES;
    }
    if (st->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!st->too_large && st->body.len + n > (size_t)s->max_body) {
            /* a chunked body grew past the limit: drop what we hold, drain the rest */
            st->too_large = 1;
            cu_buf_cleanup(&st->body);
        }
        if (st->too_large) {
            st->drained += n;
            if (st->drained > DRAIN_MAX_BYTES || elapsed(&st->started) > DRAIN_MAX_SECONDS) {
                cu_err_set(CU_ERR_TOO_LARGE, __FILE__, __LINE__, "body over the drain bound");
                return refuse(st, conn, CU_ERR_TOO_LARGE,
                              "The request body is larger than allowed");
            }
            return MHD_YES;
        }
        cu_buf_append(&st->body, upload_data, n);
        return MHD_YES;
    }
    cu_err_clear();
    enum cu_err rc = dispatch(st);
    return send_response(st, conn, rc);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct cu_server *s = cls;
    struct req_state *st = *con_cls;
    if (st == NULL) {
        return;
    }
    if (st->req.resp_json != NULL) {
        json_decref(st->req.resp_json);
    }
    if (st->req.problem_errors != NULL) {
        json_decref(st->req.problem_errors);
    }
    cu_buf_cleanup(&st->body);
    cu_arena_free(st->req.arena);
    free(st);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* MHD's own messages name no request data beyond addresses; keep them, one line each */
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    cu_log(CU_LOG_DEBUG, "libmicrohttpd", "detail", msg, NULL);
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes %XX once, in place, for the path and query arguments — except NUL and '/', which
 * stay encoded: a decoded NUL would cut the string short ("/healthz%00x" must not become
 * "/healthz") and a decoded '/' would move segment boundaries. Such paths then match no route. */
static size_t
on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r != '\0'; r++) {
        if (r[0] == '%' && hex_value(r[1]) >= 0 && hex_value(r[2]) >= 0) {
            int v = hex_value(r[1]) * 16 + hex_value(r[2]);
            if (v != 0 && v != '/') {
                *w++ = (char)v;
                r += 2;
                continue;
            }
        }
        *w++ = *r;
    }
    *w = '\0';
    return (size_t)(w - s);
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct cu_buf b;
    cu_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        cu_buf_append(&b, chunk, n);
    }
    fclose(f);
    cu_wipe(chunk, sizeof(chunk));
    char *s = cu_xstrndup(cu_buf_cstr(&b), b.len);
    cu_buf_cleanup(&b);
    return s;
}

enum cu_err
cu_server_start(struct cu_app *app, struct cu_server **out)
{
    const struct cu_config *cfg = app->cfg;
    struct cu_server *s = cu_xcalloc(1, sizeof(*s));
    s->app = app;
    s->max_body = cfg->max_body_bytes;
    enum cu_err rc = CU_OK;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    if (getaddrinfo(cfg->listen_host, port, &hints, &ai) != 0 || ai == NULL) {
        CU_FAIL(CU_ERR_CONFIG, "could not resolve listen address %s", cfg->listen_host);
    }
    /* epoll with a thread pool measured fastest (README, Performance); thread-per-connection
     * stays selectable for comparison */
    int per_connection = strcmp(cfg->http_mode, "threads") == 0;
    unsigned flags = (per_connection ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                                     : MHD_USE_EPOLL_INTERNAL_THREAD) |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    struct MHD_OptionItem opts[20];
    int n = 0;
    if (!per_connection) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, NULL};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                        cfg->connection_timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        cfg->per_ip_connections, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL};
    /* header buffer per connection: headers and the JWT fit; bodies stream to us */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)on_unescape, NULL};
    if (cfg->tls_cert_file != NULL) {
        s->cert_pem = read_file(cfg->tls_cert_file);
        s->key_pem = read_file(cfg->tls_key_file);
        if (s->cert_pem == NULL || s->key_pem == NULL) {
            CU_FAIL(CU_ERR_CONFIG, "could not read the TLS certificate or key");
        }
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem};
        opts[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->listen_port, NULL, NULL, on_request, s,
                                 MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (s->daemon == NULL) {
        CU_FAIL(CU_ERR_CONFIG, "could not start the HTTP server on %s:%d (address in use, or a "
                               "bad TLS certificate or key)",
                cfg->listen_host, cfg->listen_port);
    }
    *out = s;
out:
    if (ai != NULL) {
        freeaddrinfo(ai);
    }
    if (rc != CU_OK) {
        cu_free_str_wiped(s->key_pem);
        free(s->cert_pem);
        free(s);
    }
    return rc;
}

void
cu_server_stop(struct cu_server *s, int grace_ms)
{
    if (s == NULL) {
        return;
    }
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
    }
    for (int waited = 0; atomic_load(&s->in_flight) > 0 && waited < grace_ms; waited += 10) {
        usleep(10 * 1000);
    }
    MHD_stop_daemon(s->daemon);
    cu_free_str_wiped(s->key_pem);
    free(s->cert_pem);
    free(s);
}
